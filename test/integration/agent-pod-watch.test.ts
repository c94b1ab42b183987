import type { V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { listNodePods, type NodePods, watchNodePods } from '../../src/agent/enforce/pod-watch.js';
import { ApiClient } from '../../src/cluster/api-client.js';
import type { Delay } from '../../src/cluster/backoff.js';
import { listChunk } from '../../src/cluster/list-request.js';
import { FakeApiServer, waitFor } from '../support/fake-apiserver.js';

const silent = pino({ level: 'silent' });
/** Backoff waits are cut short: the tests wait on conditions, not on time. */
const quick: Delay = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.min(ms, 20));
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A pod bound to `node`; V1Pod types startTime as a Date, the wire carries the RFC 3339 text. */
function pod(name: string, node: string | undefined, extra: Record<string, unknown> = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'shop',
      uid: `00000000-0000-4000-8000-${name.padStart(12, '0').slice(-12)}`,
      annotations: { 'kubernetes.io/egress-bandwidth': '10M', 'unrelated.example/big': 'x'.repeat(100) },
    },
    spec: {
      ...(node === undefined ? {} : { nodeName: node }),
      containers: [{ name: 'app', resources: { requests: { 'ioplace.io/iops': '1500' } } }],
      ...((extra.spec as object | undefined) ?? {}),
    },
    status: {
      phase: 'Running',
      qosClass: 'Burstable',
      startTime: '2026-11-25T20:00:00Z',
      ...(extra.status as object),
    },
  } as unknown as V1Pod;
}

async function start(api: FakeApiServer, node = 'node-1', pageSize = 500) {
  const client = new ApiClient(api.kubeConfig(), { timeoutMs: 5_000 });
  let changes = 0;
  const { pods, reflector } = watchNodePods({
    nodeName: node,
    kubeConfig: api.kubeConfig(),
    listPage: (request) => listChunk(client, request),
    logger: silent,
    delay: quick,
    onChange: () => changes++,
    pageSize,
    backoff: { initialMs: 10, maxMs: 50 },
  });
  reflector.start();
  cleanups.push(async () => {
    await reflector.stop();
    client.close();
  });
  await waitFor(() => reflector.synced, 5_000, 'the first list');
  return { pods, reflector, changes: () => changes };
}

const names = (pods: NodePods) =>
  pods
    .all()
    .map((p) => p.name)
    .sort();

describe('the pods of the agent’s node', () => {
  it('are listed and watched with a field selector on the node, and kept as enforcement needs them', async () => {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.close());
    api.addPod(pod('web-1', 'node-1'));
    api.addPod(pod('web-2', 'node-2'));
    api.addPod(pod('pending', undefined));
    const { pods } = await start(api);
    expect(names(pods)).toEqual(['web-1']);
    expect(pods.all()[0]).toEqual({
      uid: '00000000-0000-4000-8000-0000000web-1',
      namespace: 'shop',
      name: 'web-1',
      qosClass: 'Burstable',
      hostNetwork: false,
      // Only the annotations shaping reads.
      annotations: { 'kubernetes.io/egress-bandwidth': '10M' },
      phase: 'Running',
      startedAt: Date.parse('2026-11-25T20:00:00Z'),
      // The extender's own demand: the extended resource, then the CNI annotation.
      demand: { ok: true, demand: { iops: 1500, egressBandwidth: 10e6 } },
    });
    const podRequests = () => api.requests.filter((r) => r.path === '/api/v1/pods');
    await waitFor(() => podRequests().some((r) => r.query.watch === 'true'), 5_000, 'the watch');
    // The list, then the watch: both ask for this node's pods only.
    for (const r of podRequests()) expect(r.query.fieldSelector).toBe('spec.nodeName=node-1');
  });

  it('follow pods that arrive, change, leave the node and are deleted', async () => {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.close());
    const { pods, changes } = await start(api);
    expect(pods.size).toBe(0);

    api.addPod(pod('a', undefined, { status: { phase: 'Pending' } }));
    api.updatePod('shop', 'a', (p) => {
      p.spec = { ...p.spec, containers: p.spec?.containers ?? [], nodeName: 'node-1' }; // bound here
    });
    await waitFor(() => pods.size === 1, 5_000, 'a bound to the node');
    api.updatePod('shop', 'a', (p) => {
      p.status = { ...p.status, phase: 'Running' };
    });
    await waitFor(() => pods.all()[0]?.phase === 'Running', 5_000, 'a running');
    api.addPod(pod('b', 'node-1', { spec: { hostNetwork: true } }));
    await waitFor(() => pods.size === 2, 5_000, 'b');
    expect(pods.all().find((p) => p.name === 'b')?.hostNetwork).toBe(true);
    api.deletePod('shop', 'a');
    await waitFor(() => pods.size === 1, 5_000, 'a deleted');
    expect(names(pods)).toEqual(['b']);
    expect(changes()).toBeGreaterThanOrEqual(4);
  });

  it('keep the last known pods while the API server is away, and catch up when it returns', async () => {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.close());
    api.addPod(pod('a', 'node-1'));
    const { pods, reflector } = await start(api);
    await api.stop();
    await waitFor(() => !reflector.connected, 5_000, 'the watch to break');
    expect(names(pods)).toEqual(['a']);
    await api.restart();
    api.addPod(pod('b', 'node-1'));
    await waitFor(() => pods.size === 2, 10_000, 'b after the restart');
  });

  it('list again on 410 Gone, and what vanished meanwhile goes', async () => {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.close());
    api.addPod(pod('a', 'node-1'));
    api.addPod(pod('b', 'node-1'));
    const { pods } = await start(api, 'node-1', 1);
    api.dropWatches();
    api.deletePod('shop', 'a');
    api.compact({ as: 'event' });
    await waitFor(() => pods.size === 1, 10_000, 'a gone after the relist');
    expect(names(pods)).toEqual(['b']);
  });

  it('are listed once, page by page, sorted, for ioplace-agent limits', async () => {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.close());
    for (const name of ['c', 'a', 'b']) api.addPod(pod(name, 'node-1'));
    api.addPod(pod('elsewhere', 'node-2'));
    const client = new ApiClient(api.kubeConfig(), { timeoutMs: 5_000 });
    cleanups.push(() => client.close());
    const listed = await listNodePods((request) => listChunk(client, request), 'node-1', 2);
    expect(listed.map((p) => p.name)).toEqual(['a', 'b', 'c']);
    const lists = api.requests.filter((r) => r.path === '/api/v1/pods');
    expect(lists.map((r) => [r.query.limit, r.query.fieldSelector])).toEqual([
      ['2', 'spec.nodeName=node-1'],
      ['2', 'spec.nodeName=node-1'],
    ]);
  });
});
