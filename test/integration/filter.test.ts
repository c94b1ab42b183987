import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CapturedArgs, capture } from '../support/captures.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

interface FilterResult {
  Nodes: { metadata: unknown; items: { metadata: { name: string } }[] } | null;
  NodeNames: string[] | null;
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
}

const G = 1e9;
const M = 1e6;

let server: TestServer;

async function report(node: string, body: unknown): Promise<void> {
  const res = await call(`${server.url}/v1/nodes/${node}/report`, 'PUT', body);
  expect(res.status).toBe(200);
}

/** node-c roomy; node-d busy (20M ingress free); node-a tiny (never fits 100M); node-b and node-e silent. */
async function seedInventory(): Promise<void> {
  await report('node-c', { capacity: { ingressBandwidth: G, egressBandwidth: G, iops: 50_000 } });
  await report('node-d', {
    capacity: { ingressBandwidth: G, egressBandwidth: G, iops: 50_000 },
    usage: { ingressBandwidth: 880 * M },
  });
  await report('node-a', { capacity: { ingressBandwidth: 100 * M, egressBandwidth: 100 * M } });
}

function filter(body: unknown) {
  return call<FilterResult>(`${server.url}/scheduler/filter`, 'POST', body);
}

beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

describe('filter in NodeNames mode (nodeCacheCapable)', () => {
  it('answers with NodeNames, per-node reasons, and Nodes null, for the captured request', async () => {
    await seedInventory();
    const args = capture<CapturedArgs>('filter-nodecache-true'); // ingress 100M, egress 50M by annotation
    const res = await filter(args);

    expect(res.status).toBe(200);
    expect(res.contentType).toContain('application/json');
    expect(Object.keys(res.body).sort()).toEqual(
      ['Error', 'FailedAndUnresolvableNodes', 'FailedNodes', 'NodeNames', 'Nodes'].sort(),
    );
    expect(res.body).toEqual({
      Nodes: null,
      NodeNames: ['node-c'],
      FailedNodes: {
        'node-d': 'ioplace: not enough ingressBandwidth: needs 100M, 20M free of 900M allocatable',
      },
      FailedAndUnresolvableNodes: { 'node-e': 'ioplace: no report from this node' },
      Error: '',
    });
  });

  it('names only nodes of the request and accounts for every one of them exactly once', async () => {
    await seedInventory();
    const args = capture<CapturedArgs>('filter-fail-one-response-FailedNodes');
    const res = await filter(args);
    const answered = [
      ...(res.body.NodeNames ?? []),
      ...Object.keys(res.body.FailedNodes),
      ...Object.keys(res.body.FailedAndUnresolvableNodes),
    ].sort();
    expect(answered).toEqual([...(args.NodeNames ?? [])].sort());
  });

  it('puts a node whose capacity is below the demand in FailedAndUnresolvableNodes', async () => {
    await seedInventory();
    const res = await filter(capture('filter-fail-one-response-FailedNodes'));
    expect(res.body.FailedAndUnresolvableNodes['node-a']).toBe(
      'ioplace: not enough ingressBandwidth: needs 100M, 90M free of 90M allocatable',
    );
    expect(res.body.FailedNodes['node-a']).toBeUndefined();
  });

  it('lets a pod with no demand through on every node, even with an empty inventory', async () => {
    const args = capture<CapturedArgs>('filter-nodecache-true-plainpod');
    const res = await filter(args);
    expect(res.body.NodeNames).toEqual(args.NodeNames);
    expect(res.body.FailedNodes).toEqual({});
    expect(res.body.FailedAndUnresolvableNodes).toEqual({});
  });

  it('treats a stale report like no report', async () => {
    await seedInventory();
    server.clock.now += 31_000;
    const res = await filter(capture('filter-nodecache-true'));
    expect(res.body.NodeNames).toEqual([]);
    expect(res.body.FailedAndUnresolvableNodes['node-c']).toBe('ioplace: report from this node is stale');
  });

  it('fails every node with the quoted bad value when a quantity is malformed (still 200)', async () => {
    await seedInventory();
    const args = capture<CapturedArgs>('filter-nodecache-true');
    args.Pod.metadata.annotations = {
      ...args.Pod.metadata.annotations,
      'kubernetes.io/ingress-bandwidth': '10 Mbit',
    };
    const res = await filter(args);
    expect(res.status).toBe(200);
    expect(res.body.NodeNames).toEqual([]);
    expect(Object.keys(res.body.FailedAndUnresolvableNodes).sort()).toEqual(['node-c', 'node-d', 'node-e']);
    expect(res.body.FailedAndUnresolvableNodes['node-c']).toBe(
      'ioplace: invalid demand: annotation kubernetes.io/ingress-bandwidth "10 Mbit" is not a quantity',
    );
  });

  it('reads extended resources of the containers and refuses a negative one', async () => {
    await seedInventory();
    const args = capture<CapturedArgs & { Pod: { spec: { containers: { resources: unknown }[] } } }>(
      'filter-nodecache-true-plainpod',
    );
    const container = args.Pod.spec.containers[0];
    if (container === undefined) throw new Error('capture has no container');
    container.resources = { requests: { 'ioplace.io/iops': '45k' }, limits: { 'ioplace.io/iops': '45k' } };
    let res = await filter(args);
    // 45k of 50k with a 10% reserve: fits exactly on node-c and node-d, never on the others.
    expect(res.body.NodeNames).toEqual(['node-c', 'node-d']);
    expect(res.body.FailedAndUnresolvableNodes['node-a']).toBe('ioplace: node does not report iops');

    container.resources = { requests: { 'ioplace.io/iops': '-5' } };
    res = await filter(args);
    expect(res.body.FailedAndUnresolvableNodes['node-c']).toBe(
      'ioplace: invalid demand: container "c" ioplace.io/iops "-5" is negative',
    );
  });

  it('reads request keys case-insensitively, as Go does, and answers in Go spelling', async () => {
    await seedInventory();
    const args = capture<CapturedArgs>('filter-nodecache-true');
    const res = await filter({ pod: args.Pod, NODENAMES: args.NodeNames, nodes: null });
    expect(res.status).toBe(200);
    expect(res.body.NodeNames).toEqual(['node-c']);
    expect(res.body.Nodes).toBeNull();
  });

  it('lets the last of two keys that differ only in case win, as Go does', async () => {
    await seedInventory();
    const args = capture<CapturedArgs>('filter-nodecache-true');
    const res = await filter({ Pod: args.Pod, NodeNames: ['node-a'], nodeNames: ['node-c'] });
    expect(res.body.NodeNames).toEqual(['node-c']);
    expect(res.body.FailedNodes).toEqual({});
  });
});

describe('filter in Nodes mode (full NodeList)', () => {
  it('returns the passing Node objects unchanged and NodeNames null', async () => {
    await seedInventory();
    const args = capture<CapturedArgs>('filter-nodecache-false'); // ingress 100M
    const res = await filter(args);
    expect(res.status).toBe(200);
    expect(res.body.NodeNames).toBeNull();
    const nodeC = args.Nodes?.items.find((n) => n.metadata.name === 'node-c');
    expect(res.body.Nodes).toEqual({ metadata: {}, items: [nodeC] });
    expect(Object.keys(res.body.FailedNodes)).toEqual(['node-d']);
    expect(Object.keys(res.body.FailedAndUnresolvableNodes).sort()).toEqual(['node-a', 'node-b', 'node-e']);
    expect(res.body.Error).toBe('');
  });

  it('passes the whole NodeList back for a pod with no demand', async () => {
    const args = capture<CapturedArgs>('filter-preemptor-after-preemption-nodecache-false');
    const res = await filter(args);
    expect(res.body.Nodes).toEqual(args.Nodes);
  });
});
