import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

let server: TestServer;
const reportUrl = (node: string) => `${server.url}/v1/nodes/${node}/report`;

beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

describe('PUT /v1/nodes/{node}/report', () => {
  it('stores the report and answers the stored entry with the time it was received', async () => {
    const res = await call(reportUrl('node-1'), 'PUT', {
      capacity: { ingressBandwidth: 1e9, egressBandwidth: 1e9, iops: 10_000 },
      usage: { ingressBandwidth: 2e8, iops: 9_500 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      node: 'node-1',
      fresh: true,
      receivedAt: '2026-11-25T20:00:00.000Z',
      ageSeconds: 0,
      capacity: { ingressBandwidth: 1e9, egressBandwidth: 1e9, iops: 10_000 },
      usage: { ingressBandwidth: 2e8, iops: 9_500 },
      committed: {},
      commitments: { pods: {}, unmeasured: {}, reserved: {} },
      allocatable: { ingressBandwidth: 9e8, egressBandwidth: 9e8, iops: 9_000 },
      free: { ingressBandwidth: 7e8, egressBandwidth: 9e8, iops: 0 },
      capacityUnknown: [],
    });
  });

  it('names the dimensions a report gives no capacity for, in the node and the list', async () => {
    await call(reportUrl('node-1'), 'PUT', { capacity: { ingressBandwidth: 1e9, egressBandwidth: 1e9 } });
    await call(reportUrl('node-2'), 'PUT', { capacity: {} });
    const view = await call<{ capacityUnknown: string[] }>(`${server.url}/v1/nodes/node-1`, 'GET');
    expect(view.body.capacityUnknown).toEqual(['iops']);
    const list = await call<{ nodes: { node: string; capacityUnknown: string[] }[] }>(
      `${server.url}/v1/nodes`,
      'GET',
    );
    expect(list.body.nodes.map((n) => [n.node, n.capacityUnknown])).toEqual([
      ['node-1', ['iops']],
      ['node-2', ['ingressBandwidth', 'egressBandwidth', 'iops']],
    ]);
  });

  it('replaces the previous report whole, so a dimension no longer measured disappears', async () => {
    await call(reportUrl('node-1'), 'PUT', { capacity: { iops: 100, ingressBandwidth: 1e9 } });
    server.clock.now += 5_000;
    const res = await call(reportUrl('node-1'), 'PUT', { capacity: { iops: 200 } });
    expect(res.body).toMatchObject({ capacity: { iops: 200 }, receivedAt: '2026-11-25T20:00:05.000Z' });
    const view = await call<{ capacity: unknown }>(`${server.url}/v1/nodes/node-1`, 'GET');
    expect(view.body.capacity).toEqual({ iops: 200 });
  });

  it.each([
    [{}, "body must have required property 'capacity'"],
    [{ capacity: { iops: -1 } }, 'body/capacity/iops must be >= 0'],
    [{ capacity: { iops: '100' } }, 'body/capacity/iops must be number'],
    [{ capacity: { iops: 1e19 } }, 'body/capacity/iops must be <= 1000000000000000000'],
    [
      { capacity: { disk: 5 } },
      'body/capacity must NOT have additional properties: "disk" is not one (known: ingressBandwidth, egressBandwidth, iops)',
    ],
    [{ capacity: {}, usage: { egressBandwidth: null } }, 'body/usage/egressBandwidth must be number'],
    [
      { capacity: {}, extra: true },
      'body must NOT have additional properties: "extra" is not one (known: capacity, usage, enforcement)',
    ],
    [[], 'body must be object'],
  ])('refuses %j with 400 naming the field, and stores nothing', async (body, message) => {
    const res = await call<{ error: string }>(reportUrl('node-1'), 'PUT', body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(message);
    expect((await call(`${server.url}/v1/nodes/node-1`, 'GET')).status).toBe(404);
  });

  it('refuses a node name that is not a Kubernetes node name', async () => {
    const res = await call<{ error: string }>(reportUrl('Node_1'), 'PUT', { capacity: {} });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(
      "params/node must be a node name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (a DNS subdomain, RFC 1123)",
    );
  });

  it('keeps the old report when a new one is refused', async () => {
    await call(reportUrl('node-1'), 'PUT', { capacity: { iops: 100 } });
    const bad = await call(reportUrl('node-1'), 'PUT', { capacity: { iops: -100 } });
    expect(bad.status).toBe(400);
    const view = await call<{ capacity: unknown }>(`${server.url}/v1/nodes/node-1`, 'GET');
    expect(view.body.capacity).toEqual({ iops: 100 });
  });

  it('refuses new nodes beyond inventory.maxNodes with 507 but still updates known ones', async () => {
    await server.close();
    server = await startTestServer({ inventory: { maxNodes: 2 } });
    expect((await call(reportUrl('a'), 'PUT', { capacity: { iops: 1 } })).status).toBe(200);
    expect((await call(reportUrl('b'), 'PUT', { capacity: { iops: 1 } })).status).toBe(200);
    const full = await call<{ error: string }>(reportUrl('c'), 'PUT', { capacity: { iops: 1 } });
    expect(full.status).toBe(507);
    expect(full.body.error).toContain('inventory.maxNodes is 2');
    expect((await call(reportUrl('a'), 'PUT', { capacity: { iops: 2 } })).status).toBe(200);
  });
});

describe('GET and DELETE /v1/nodes', () => {
  it('lists nodes by name with fresh and stale counts, and marks old reports stale', async () => {
    await call(reportUrl('node-b'), 'PUT', { capacity: { iops: 10 } });
    server.clock.now += 20_000;
    await call(reportUrl('node-a'), 'PUT', { capacity: { iops: 10 } });
    server.clock.now += 15_000;
    const res = await call<{ nodes: { node: string; fresh: boolean; ageSeconds: number }[] }>(
      `${server.url}/v1/nodes`,
      'GET',
    );
    expect(res.body).toMatchObject({ count: 2, fresh: 1, stale: 1 });
    expect(res.body.nodes.map((n) => [n.node, n.fresh, n.ageSeconds])).toEqual([
      ['node-a', true, 15],
      ['node-b', false, 35],
    ]);
  });

  it('answers a JSON 404 for an unknown node', async () => {
    const res = await call<{ error: string }>(`${server.url}/v1/nodes/ghost`, 'GET');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'node ghost is not in the inventory' });
  });

  it('forgets a node on DELETE, then answers 404', async () => {
    await call(reportUrl('node-1'), 'PUT', { capacity: { iops: 10 } });
    const del = await call(`${server.url}/v1/nodes/node-1`, 'DELETE');
    expect(del.status).toBe(204);
    expect((await call(`${server.url}/v1/nodes/node-1`, 'GET')).status).toBe(404);
    expect((await call(`${server.url}/v1/nodes/node-1`, 'DELETE')).status).toBe(404);
  });
});

describe('health', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await call(`${server.url}/healthz`, 'GET')).body).toEqual({ status: 'ok' });
    expect((await call(`${server.url}/readyz`, 'GET')).body).toEqual({ status: 'ready' });
  });
});
