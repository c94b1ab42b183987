import { afterEach, describe, expect, it } from 'vitest';
import {
  type ClusterHarness,
  node,
  nodeView,
  pod,
  podsTracked,
  report,
  reservationsHeld,
  startCluster,
} from '../support/cluster-harness.js';
import { waitFor } from '../support/fake-apiserver.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

let h: ClusterHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface BindArgs {
  PodName: string;
  PodNamespace: string;
  PodUID: string;
  Node: string;
}

function bind(server: TestServer, args: BindArgs) {
  return call<{ Error: string }>(`${server.url}/scheduler/bind`, 'POST', args);
}

function argsFor(cluster: ClusterHarness, name: string, target: string): BindArgs {
  const uid = cluster.api.getPod('default', name)?.metadata?.uid ?? '';
  return { PodName: name, PodNamespace: 'default', PodUID: uid, Node: target };
}

describe('bind', () => {
  it('without cluster access answers an Error that says why', async () => {
    const server = await startTestServer({ cluster: { mode: 'off' } });
    try {
      const res = await bind(server, { PodName: 'p', PodNamespace: 'default', PodUID: 'u', Node: 'n1' });
      expect(res.status).toBe(200);
      expect(res.body.Error).toMatch(/^ioplace runs without cluster access/);
    } finally {
      await server.close();
    }
  });

  it('creates the Binding and reserves the demand at once, then hands over to the watch', async () => {
    const cluster = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      api.addPod(pod('web', { iops: '3k' }));
    });
    h = cluster;
    await report(cluster.server, 'n1', { capacity: { iops: 10_000 } });
    await waitFor(async () => (await podsTracked(cluster.server)) === 1, 5000, 'the pod');

    const res = await bind(cluster.server, argsFor(cluster, 'web', 'n1'));
    expect(res.body).toEqual({ Error: '' });
    expect(cluster.api.bindings).toEqual([
      {
        namespace: 'default',
        name: 'web',
        node: 'n1',
        uid: cluster.api.getPod('default', 'web')?.metadata?.uid,
      },
    ]);
    expect(cluster.api.getPod('default', 'web')?.spec?.nodeName).toBe('n1');
    // The watch shows the pod bound: the reservation ends and the pod's own commitment remains, once.
    await waitFor(
      async () => (await reservationsHeld(cluster.server)) === 0,
      5000,
      'the reservation to be released',
    );
    expect((await nodeView(cluster.server, 'n1')).committed.iops).toBe(3000);
  });

  it('refuses a node that no longer fits, against reservations the watch has not shown yet', async () => {
    const cluster = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      api.addPod(pod('a', { iops: '5k' }));
      api.addPod(pod('b', { iops: '5k' }));
    });
    h = cluster;
    await report(cluster.server, 'n1', { capacity: { iops: 10_000 } }); // 9k allocatable
    await waitFor(async () => (await podsTracked(cluster.server)) === 2, 5000, 'the pods');
    // Both pods passed filter against an empty node; the second bind must see the first reservation.
    const first = bind(cluster.server, argsFor(cluster, 'a', 'n1'));
    const second = bind(cluster.server, argsFor(cluster, 'b', 'n1'));
    const answers = (await Promise.all([first, second])).map((r) => r.body.Error);
    expect(answers.filter((e) => e === '')).toHaveLength(1);
    expect(answers.find((e) => e !== '')).toMatch(
      /^pod default\/[ab] no longer fits on node n1: ioplace: not enough iops: needs 5k, 4k free of 9k allocatable$/,
    );
    expect(cluster.api.bindings).toHaveLength(1);
  });

  it('releases the reservation and answers the API error when the binding fails', async () => {
    const cluster = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      api.addPod(pod('web', { iops: '3k' }));
    });
    h = cluster;
    await report(cluster.server, 'n1', { capacity: { iops: 10_000 } });
    await waitFor(async () => (await podsTracked(cluster.server)) === 1, 5000, 'the pod');
    cluster.api.failNext('POST', /\/binding$/, 500);
    const res = await bind(cluster.server, argsFor(cluster, 'web', 'n1'));
    expect(res.body.Error).toMatch(/^binding default\/web to n1 failed: .*\(HTTP 500\)$/);
    expect(await reservationsHeld(cluster.server)).toBe(0);
    expect((await nodeView(cluster.server, 'n1')).committed).toEqual({});
    // The scheduler retries: now it works.
    expect((await bind(cluster.server, argsFor(cluster, 'web', 'n1'))).body.Error).toBe('');
  });

  it('reads a pod the store does not hold, and refuses one that was replaced', async () => {
    const cluster = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      api.addPod(pod('plain')); // asks for nothing: not in the pod store
    });
    h = cluster;
    const res = await bind(cluster.server, argsFor(cluster, 'plain', 'n1'));
    expect(res.body.Error).toBe('');
    expect(
      cluster.api.requests.some(
        (r) => r.method === 'GET' && r.path === '/api/v1/namespaces/default/pods/plain',
      ),
    ).toBe(true);

    cluster.api.addPod(pod('other'));
    const replaced = await bind(cluster.server, { ...argsFor(cluster, 'other', 'n1'), PodUID: 'old-uid' });
    expect(replaced.body.Error).toMatch(/^pod default\/other was replaced \(uid .+, expected old-uid\)$/);
    const missing = await bind(cluster.server, {
      PodName: 'gone',
      PodNamespace: 'default',
      PodUID: 'x',
      Node: 'n1',
    });
    expect(missing.body.Error).toMatch(/^cannot read pod default\/gone: .*\(HTTP 404\)$/);
  });

  it('binds one pod after another on kept connections, and reads none the watch has shown', async () => {
    const cluster = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      for (let i = 0; i < 10; i++) api.addPod(pod(`web-${i}`, { iops: '100' }));
    });
    h = cluster;
    await report(cluster.server, 'n1', { capacity: { iops: 10_000 } });
    await waitFor(async () => (await podsTracked(cluster.server)) === 10, 5000, 'the pods');
    const connections = cluster.api.connections;
    for (let i = 0; i < 10; i++) {
      expect((await bind(cluster.server, argsFor(cluster, `web-${i}`, 'n1'))).body.Error).toBe('');
    }
    expect(cluster.api.bindings).toHaveLength(10);
    // The lists' kept connection carries the binds (or at most one new one does): not one each.
    expect(cluster.api.connections - connections).toBeLessThanOrEqual(1);
    expect(cluster.api.requests.filter((r) => r.method === 'GET' && /\/pods\/web-/.test(r.path))).toEqual([]);
  });

  it('never overcommits a node in a burst of 50 binds onto 5 nodes', async () => {
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const cluster = await startCluster({}, (api) => {
      for (const n of nodes) api.addNode(node(n));
      for (let i = 0; i < 50; i++) api.addPod(pod(`burst-${i}`, { iops: '1k', ingress: '100M' }));
    });
    h = cluster;
    // Each node has 7.2k iops allocatable of which 2.2k are in use: 5 such pods fit (bandwidth
    // would allow 9), so 25 of the 50 fit. The usage hides none of the reservations.
    for (const n of nodes) {
      await report(cluster.server, n, {
        capacity: { iops: 8_000, ingressBandwidth: 1e9 },
        usage: { iops: 2_200 },
      });
    }
    await waitFor(async () => (await podsTracked(cluster.server)) === 50, 5000, 'the pods');

    // The scheduler filtered every pod against empty nodes and now binds them all at once.
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        bind(cluster.server, argsFor(cluster, `burst-${i}`, nodes[i % 5] as string)),
      ),
    );
    const bound = answers.filter((a) => a.body.Error === '').length;
    expect(bound).toBe(25);
    expect(answers.filter((a) => /no longer fits/.test(a.body.Error))).toHaveLength(25);

    const perNode = new Map<string, number>();
    for (const b of cluster.api.bindings) perNode.set(b.node, (perNode.get(b.node) ?? 0) + 1);
    for (const n of nodes) expect(perNode.get(n)).toBe(5);
    // Once the watch has caught up the pods count as bound but not yet measured: still no room.
    await waitFor(async () => (await reservationsHeld(cluster.server)) === 0, 5000, 'the watch to catch up');
    for (const n of nodes) {
      const view = await nodeView(cluster.server, n);
      expect(view.committed.iops).toBe(5000);
      expect(view.free.iops).toBe(0);
    }
  });
});
