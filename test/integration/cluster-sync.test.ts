import { afterEach, describe, expect, it } from 'vitest';
import {
  type ClusterHarness,
  node,
  nodeView,
  pod,
  podsTracked,
  report,
  startCluster,
  watchConnected,
} from '../support/cluster-harness.js';
import { FakeApiServer, waitFor } from '../support/fake-apiserver.js';
import { call, startTestServer } from '../support/test-server.js';

let h: ClusterHarness;
afterEach(async () => {
  await h?.close();
});

const CAPACITY = { capacity: { iops: 10_000, ingressBandwidth: 1e9 } };

async function committedIops(name: string): Promise<number> {
  return (await nodeView(h.server, name)).committed.iops ?? 0;
}

function watchRequests(path: string) {
  return h.api.requests.filter((r) => r.path === path && r.query.watch === 'true');
}

describe('cluster sync', () => {
  it('accounts every live pod with demand on its node, and nothing for pending or finished pods', async () => {
    h = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      api.addNode(node('n2'));
      api.addPod(pod('a', { node: 'n1', iops: '1k' }));
      api.addPod(pod('b', { node: 'n1', iops: '500' }));
      api.addPod(pod('c', { node: 'n2', iops: '2k', phase: 'Succeeded' }));
      api.addPod(pod('d', { iops: '3k' }));
      api.addPod(pod('plain', { node: 'n2' }));
    });
    expect(await report(h.server, 'n1', CAPACITY)).toBe(200);
    expect(await report(h.server, 'n2', CAPACITY)).toBe(200);
    expect(await committedIops('n1')).toBe(1500);
    expect(await committedIops('n2')).toBe(0);
    expect(await podsTracked(h.server)).toBe(3); // a, b and the pending d: not c (finished) nor plain
    // The list asked the API server for live pods only.
    const list = h.api.requests.find((r) => r.path === '/api/v1/pods' && r.query.watch === undefined);
    expect(list?.query.fieldSelector).toBe('status.phase!=Succeeded,status.phase!=Failed');
  });

  it('lists in pages, gzipped when big, and accounts every pod of every page', async () => {
    h = await startCluster({ cluster: { listPageSize: 10 } }, (api) => {
      api.addNode(node('n1'));
      for (let i = 0; i < 25; i++) {
        const p = pod(`p${String(i).padStart(2, '0')}`, { node: 'n1', iops: '100' });
        // Bulky, as real pods are (managedFields, last-applied): ten of them make a page the API
        // server compresses.
        p.metadata = { ...p.metadata, annotations: { note: `{"x":"${'y'.repeat(14_000)}"}` } };
        api.addPod(p);
      }
      api.addPod(pod('plain', { node: 'n1' }));
    });
    await report(h.server, 'n1', CAPACITY);
    expect(await committedIops('n1')).toBe(2500);
    expect(await podsTracked(h.server)).toBe(25);
    const lists = h.api.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === undefined);
    expect(lists.map((r) => [r.query.limit, r.query.continue === undefined])).toEqual([
      ['10', true],
      ['10', false],
      ['10', false],
    ]);
    expect(h.api.gzippedResponses).toBeGreaterThanOrEqual(2);
  });

  it('follows binding, termination and deletion through the watch', async () => {
    h = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      api.addPod(pod('a', { iops: '1k' }));
    });
    await report(h.server, 'n1', CAPACITY);
    h.api.updatePod('default', 'a', (p) => {
      p.spec = { ...p.spec, containers: p.spec?.containers ?? [], nodeName: 'n1' };
    });
    await waitFor(async () => (await committedIops('n1')) === 1000, 5000, 'the bound pod to count');
    h.api.addPod(pod('b', { node: 'n1', iops: '2k' }));
    await waitFor(async () => (await committedIops('n1')) === 3000, 5000, 'the new pod to count');
    h.api.updatePod('default', 'a', (p) => {
      p.status = { phase: 'Succeeded' };
    });
    await waitFor(async () => (await committedIops('n1')) === 2000, 5000, 'the finished pod to be released');
    h.api.deletePod('default', 'b');
    await waitFor(async () => (await committedIops('n1')) === 0, 5000, 'the deleted pod to be released');
  });

  it('counts a newly bound pod on top of measured usage until a report after it started running', async () => {
    h = await startCluster({}, (api) => api.addNode(node('n1')));
    const usage = (iops: number) => ({ capacity: { iops: 1_000 }, usage: { iops } });
    await report(h.server, 'n1', usage(550)); // 900 allocatable, 350 free
    h.api.addPod(pod('new', { node: 'n1', iops: '100' })); // bound, still Pending: not in usage
    await waitFor(
      async () => (await nodeView(h.server, 'n1')).free.iops === 250,
      5000,
      'the pod on top of usage',
    );
    await report(h.server, 'n1', usage(550)); // a report while it is not running changes nothing
    expect((await nodeView(h.server, 'n1')).free.iops).toBe(250);
    h.api.updatePod('default', 'new', (p) => {
      p.status = { phase: 'Running' };
    });
    const uid = h.api.getPod('default', 'new')?.metadata?.uid ?? '';
    await waitFor(() => h.server.app.watches?.pod(uid)?.phase === 'Running', 5000, 'the phase');
    expect(await podsTracked(h.server, 'unmeasured')).toBe(1);
    h.server.clock.now += 10_000;
    await report(h.server, 'n1', usage(600)); // now its 50 iops of real use are in the usage
    expect((await nodeView(h.server, 'n1')).free.iops).toBe(300);
    expect(await podsTracked(h.server, 'unmeasured')).toBe(0);
  });

  it('resumes a dropped watch from the last resourceVersion, bookmarks included', async () => {
    h = await startCluster({}, (api) => api.addNode(node('n1')));
    await waitFor(() => watchRequests('/api/v1/pods').length === 1, 5000, 'the first pod watch');
    h.api.addPod(pod('a', { node: 'n1', iops: '1k' }));
    await waitFor(async () => (await podsTracked(h.server)) === 1, 5000, 'the pod');
    h.api.addNode(node('n2')); // moves the global resourceVersion on; the pod watch hears a bookmark
    h.api.sendBookmarks();
    const bookmarked = h.api.resourceVersion;
    await waitFor(() => h.server.app.watches?.pods.resourceVersion === bookmarked, 5000, 'the bookmark');
    h.api.dropWatches();
    await waitFor(() => watchRequests('/api/v1/pods').length === 2, 5000, 'the watch to be reopened');
    expect(watchRequests('/api/v1/pods')[1]?.query.resourceVersion).toBe(bookmarked);
    // No relist was needed.
    expect(
      h.api.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === undefined),
    ).toHaveLength(1);
  });

  it.each(['event', 'http'] as const)(
    'lists again and replaces the state on 410 Gone (%s), releasing what vanished meanwhile',
    async (as) => {
      h = await startCluster({}, (api) => {
        api.addNode(node('n1'));
        api.addPod(pod('a', { node: 'n1', iops: '1k' }));
        api.addPod(pod('b', { node: 'n1', iops: '2k' }));
      });
      await report(h.server, 'n1', CAPACITY);
      expect(await committedIops('n1')).toBe(3000);
      await h.api.stop();
      h.api.deletePod('default', 'a');
      h.api.compact({ as });
      await h.api.restart();
      await waitFor(async () => (await committedIops('n1')) === 2000, 5000, 'the relist');
      const lists = h.api.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === undefined);
      expect(lists.length).toBeGreaterThanOrEqual(2);
    },
  );

  it('keeps serving from the last known state while the API server is away, and catches up after', async () => {
    h = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      api.addPod(pod('a', { node: 'n1', iops: '8k' }));
    });
    await report(h.server, 'n1', CAPACITY);
    await h.api.stop();
    await waitFor(
      async () => (await watchConnected(h.server, 'pods')) === false,
      5000,
      'the watch to notice',
    );
    // 9000 allocatable - 8000 committed: a 2k pod does not fit, from the last known state.
    const args = { Pod: pod('new', { iops: '2k' }), NodeNames: ['n1'] };
    const filtered = await call<{ FailedNodes: Record<string, string> }>(
      `${h.server.url}/scheduler/filter`,
      'POST',
      args,
    );
    expect(filtered.body.FailedNodes.n1).toBe(
      'ioplace: not enough iops: needs 2k, 1k free of 9k allocatable',
    );
    expect((await call(`${h.server.url}/readyz`, 'GET')).status).toBe(200);
    h.api.deletePod('default', 'a');
    await h.api.restart();
    await waitFor(async () => (await committedIops('n1')) === 0, 5000, 'catching up after the outage');
  });

  it('forgets a node deleted from the cluster and refuses reports for nodes that do not exist', async () => {
    h = await startCluster({}, (api) => api.addNode(node('n1')));
    expect(await report(h.server, 'n1', CAPACITY)).toBe(200);
    const ghost = await call<{ error: string }>(`${h.server.url}/v1/nodes/ghost/report`, 'PUT', CAPACITY);
    expect(ghost.status).toBe(404);
    expect(ghost.body.error).toBe(
      'node ghost does not exist in the cluster; reports are taken only for cluster nodes',
    );
    h.api.deleteNode('n1');
    await waitFor(
      async () => (await call(`${h.server.url}/v1/nodes/n1`, 'GET')).status === 404,
      5000,
      'forgetting',
    );
  });

  it('is not ready until the first lists have synced', async () => {
    const api = await FakeApiServer.start();
    api.failNext('GET', /^\/api\/v1\/nodes$/, 500);
    // A long first backoff keeps ioplace unsynced while we look.
    const server = await startTestServer(
      { cluster: { mode: 'on', backoffInitialSeconds: 30, backoffMaxSeconds: 30 } },
      { kubeConfig: api.kubeConfig() },
    );
    h = {
      api,
      server,
      close: async () => {
        await server.close();
        await api.close();
      },
    };
    await waitFor(() => server.app.watches?.pods.synced, 5000, 'the pod list');
    const waiting = await call<{ waitingFor: string[] }>(`${server.url}/readyz`, 'GET');
    expect(waiting.status).toBe(503);
    expect(waiting.body.waitingFor).toEqual(['initial list of pods and nodes']);
    expect(server.app.watches?.nodes.synced).toBe(false);
  });
});
