import { Watch } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClusterHarness, node, pod, report, startCluster } from '../support/cluster-harness.js';
import { waitFor } from '../support/fake-apiserver.js';
import { call } from '../support/test-server.js';

const ANNOTATION = 'ioplace.io/capacity-freed-at';
let h: ClusterHarness;
afterEach(async () => {
  await h.close();
});

/** Patches of the Node itself: the annotations, not the status patches that advertise resources. */
const annotations = () => h.api.patches.filter((p) => p.subresource === undefined);

function filter(podName: string, iops: string) {
  return call<{ NodeNames: string[]; FailedNodes: Record<string, string> }>(
    `${h.server.url}/scheduler/filter`,
    'POST',
    {
      Pod: pod(podName, { iops }),
      NodeNames: ['n1'],
    },
  );
}

describe('retry signal', () => {
  it('annotates the node only when a turned-away pod fits, so the scheduler retries it', async () => {
    h = await startCluster({}, (api) => api.addNode(node('n1')));
    const { server } = h;
    await report(server, 'n1', { capacity: { iops: 10_000 }, usage: { iops: 8_000 } });
    expect((await filter('waiting', '4k')).body.FailedNodes.n1).toBe(
      'ioplace: not enough iops: needs 4k, 1k free of 9k allocatable',
    );

    // A rise that is not enough for the waiting pod is no news.
    server.clock.now += 10_000;
    await report(server, 'n1', { capacity: { iops: 10_000 }, usage: { iops: 6_000 } });
    server.clock.now += 10_000;
    const freedAt = new Date(server.clock.now).toISOString();
    await report(server, 'n1', { capacity: { iops: 10_000 }, usage: { iops: 2_000 } });

    await waitFor(() => annotations().length > 0, 5000, 'the node annotation');
    await new Promise((resolve) => setImmediate(resolve));
    expect(annotations()).toEqual([
      {
        name: 'n1',
        contentType: 'application/merge-patch+json',
        patch: { metadata: { annotations: { [ANNOTATION]: freedAt } } },
      },
    ]);
    expect(h.api.getNode('n1')?.metadata?.annotations?.[ANNOTATION]).toBe(freedAt);
    expect((await filter('waiting', '4k')).body.NodeNames).toEqual(['n1']);
  });

  it('wakes a scheduler that watches nodes when a terminated pod frees the room', async () => {
    h = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      api.addPod(pod('hog', { node: 'n1', iops: '8k' }));
    });
    await report(h.server, 'n1', { capacity: { iops: 10_000 } });
    expect((await filter('waiting', '4k')).body.NodeNames).toEqual([]);

    // A stand-in for kube-scheduler's queue: on a Node update it runs the pod's filter again.
    const retried: string[][] = [];
    const controller = await new Watch(h.api.kubeConfig()).watch(
      '/api/v1/nodes',
      { resourceVersion: h.api.resourceVersion },
      (type, object: { metadata?: { annotations?: Record<string, string> } }) => {
        if (type === 'MODIFIED' && object.metadata?.annotations?.[ANNOTATION]) {
          void filter('waiting', '4k').then((res) => retried.push(res.body.NodeNames));
        }
      },
      () => {},
    );
    try {
      h.api.updatePod('default', 'hog', (p) => {
        p.status = { phase: 'Succeeded' };
      });
      await waitFor(() => retried.length > 0, 5000, 'the retried filter');
      expect(retried[0]).toEqual(['n1']);
    } finally {
      controller.abort();
    }
  });

  it('sends at most one update per node per interval, and the deferred one is not lost', async () => {
    h = await startCluster({ retrySignal: { minIntervalSeconds: 0.2 } }, (api) => api.addNode(node('n1')));
    const { server } = h;
    await report(server, 'n1', { capacity: { iops: 10_000 }, usage: { iops: 9_000 } });
    await filter('a', '2k');
    await report(server, 'n1', { capacity: { iops: 10_000 }, usage: { iops: 6_000 } });
    await filter('b', '5k'); // turned away again, right after the first signal
    await report(server, 'n1', { capacity: { iops: 10_000 }, usage: { iops: 0 } });
    expect(annotations().length).toBeLessThanOrEqual(1);
    server.clock.now += 1_000; // the deferred update is due once the interval has passed
    await waitFor(() => annotations().length === 2, 5000, 'the deferred update');
  });

  it('is off when retrySignal.enabled is false', async () => {
    h = await startCluster({ retrySignal: { enabled: false } }, (api) => api.addNode(node('n1')));
    const { server } = h;
    // What makes the enabled signal annotate the node (the first test): a turned-away pod fits now.
    await report(server, 'n1', { capacity: { iops: 10_000 }, usage: { iops: 8_000 } });
    expect((await filter('waiting', '4k')).body.NodeNames).toEqual([]);
    server.clock.now += 10_000;
    await report(server, 'n1', { capacity: { iops: 10_000 }, usage: { iops: 2_000 } });
    expect((await filter('waiting', '4k')).body.NodeNames).toEqual(['n1']);
    // Enabled, the annotation reaches the API server within milliseconds; none comes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(annotations()).toEqual([]);
  });
});
