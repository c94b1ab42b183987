import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ClusterHarness,
  kubeletNode,
  podsTracked,
  report,
  startCluster,
} from '../support/cluster-harness.js';
import { type FakeApiServer, waitFor } from '../support/fake-apiserver.js';
import { type PreemptionProtocol, SchedulerStandIn } from '../support/scheduler-stand-in.js';

/**
 * ioplace end to end with the scheduler configuration the README recommends (managedResources
 * with ignoredByScheduler: false, filter, prioritize, bind and preempt delegated), played by a
 * stand-in for kube-scheduler's relevant parts over the fake API server (see SchedulerStandIn).
 */
const IOPS = 'ioplace.io/iops';

function ioPod(
  name: string,
  iops: string,
  options: { node?: string; priority?: number; startedAt?: string } = {},
): V1Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: {
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      ...(options.node === undefined ? {} : { nodeName: options.node }),
      containers: [
        { name: 'app', image: 'pause', resources: { requests: { [IOPS]: iops }, limits: { [IOPS]: iops } } },
      ],
    },
    status:
      options.node === undefined
        ? { phase: 'Pending' }
        : { phase: 'Running', startTime: new Date(options.startedAt ?? '2026-11-25T19:00:00Z') },
  };
}

const podsOn = (api: FakeApiServer, node: string) =>
  [...['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o']]
    .map((s) => api.getPod('default', `burst-${s}`))
    .filter((p) => p?.spec?.nodeName === node).length;

let h: ClusterHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function cluster(nodes: string[], setup: (api: FakeApiServer) => void = () => {}) {
  h = await startCluster({}, (api) => {
    for (const n of nodes) api.addNode(kubeletNode(n));
    setup(api);
  });
  return h;
}

async function advertised(
  c: ClusterHarness,
  nodes: string[],
  capacity: number,
  usage: Record<string, number> = {},
) {
  for (const n of nodes) {
    expect(await report(c.server, n, { capacity: { iops: capacity }, usage: { iops: usage[n] ?? 0 } })).toBe(
      200,
    );
  }
  await waitFor(
    () => nodes.every((n) => c.api.getNode(n)?.status?.allocatable?.[IOPS] !== undefined),
    5000,
    'the nodes to advertise IOPS',
  );
}

function standIn(c: ClusterHarness, protocol: PreemptionProtocol = 'victims') {
  return new SchedulerStandIn(c.api, `${c.server.url}/scheduler`, protocol);
}

describe('with kube-scheduler configured as the README says', () => {
  it('a burst never overcommits a node: the scheduler counts declared demand, ioplace measured use', async () => {
    const nodes = ['io-1', 'io-2', 'io-3'];
    const c = await cluster(nodes, (api) => {
      for (const s of 'abcdefghijklmno') api.addPod(ioPod(`burst-${s}`, '2k'));
    });
    // io-1 is busy with I/O no pod declared: 6k of its 9k allocatable measured in use.
    await advertised(c, nodes, 10_000, { 'io-1': 6_000 });
    expect(c.api.getNode('io-1')?.status?.allocatable?.[IOPS]).toBe('9k');
    await waitFor(async () => (await podsTracked(c.server)) === 15, 5000, 'ioplace to see the pods');

    const scheduler = standIn(c);
    const outcomes = [];
    for (const s of 'abcdefghijklmno') outcomes.push(await scheduler.schedule(`burst-${s}`));
    const placed = outcomes.filter((o) => o.node !== undefined);

    // io-2 and io-3: four 2k pods each (8k of 9k); io-1: one (6k measured + 2k).
    expect(podsOn(c.api, 'io-1')).toBe(1);
    expect(podsOn(c.api, 'io-2')).toBe(4);
    expect(podsOn(c.api, 'io-3')).toBe(4);
    expect(placed).toHaveLength(9);
    const last = outcomes.at(-1);
    expect(last?.node).toBeUndefined();
    expect(last?.reasons).toEqual(
      expect.arrayContaining([
        'io-2: Insufficient ioplace.io/iops',
        'io-3: Insufficient ioplace.io/iops',
        expect.stringMatching(/^io-1: ioplace: not enough iops: needs 2k, 1k free/),
      ]),
    );
  });

  it('a high-priority pod preempts low-priority pods for IOPS, the later-started ones first', async () => {
    const c = await cluster(['io-1'], (api) => {
      api.addPod(ioPod('low-old', '3k', { node: 'io-1', priority: 0, startedAt: '2026-11-25T10:00:00Z' }));
      api.addPod(ioPod('low-mid', '3k', { node: 'io-1', priority: 0, startedAt: '2026-11-25T11:00:00Z' }));
      api.addPod(ioPod('low-new', '3k', { node: 'io-1', priority: 0, startedAt: '2026-11-25T12:00:00Z' }));
      api.addPod(ioPod('urgent', '5k', { priority: 1000 }));
    });
    await advertised(c, ['io-1'], 10_000, { 'io-1': 9_000 });
    await waitFor(async () => (await podsTracked(c.server)) === 4, 5000, 'ioplace to see the pods');

    const scheduler = standIn(c);
    const first = await scheduler.schedule('urgent');
    expect(first.node).toBeUndefined();
    expect(first.reasons).toEqual(['io-1: Insufficient ioplace.io/iops']);
    // 9k allocatable: the oldest 3k pod is reprieved (3k + 5k fits), the other two go.
    expect(first.evicted.sort()).toEqual(['low-mid', 'low-new']);

    // The victims are gone; the agent's next report shows their I/O gone with them.
    await waitFor(async () => (await podsTracked(c.server)) === 2, 5000, 'ioplace to see the victims go');
    c.server.clock.now += 10_000;
    await report(c.server, 'io-1', { capacity: { iops: 10_000 }, usage: { iops: 3_000 } });
    const second = await scheduler.schedule('urgent');
    expect(second.node).toBe('io-1');
    expect(c.api.getPod('default', 'urgent')?.spec?.nodeName).toBe('io-1');
  });

  it('a newer scheduler sends an empty victim list when only measured use is short, and ioplace picks the victims', async () => {
    const c = await cluster(['io-1'], (api) => {
      api.addPod(ioPod('low-old', '2k', { node: 'io-1', priority: 0, startedAt: '2026-11-25T10:00:00Z' }));
      api.addPod(ioPod('low-new', '2k', { node: 'io-1', priority: 10, startedAt: '2026-11-25T12:00:00Z' }));
      api.addPod(ioPod('urgent', '3k', { priority: 1000 }));
    });
    // 4k declared, but 8k measured: the scheduler's fit passes (4k + 3k <= 9k), ioplace's does not.
    await advertised(c, ['io-1'], 10_000, { 'io-1': 8_000 });
    await waitFor(async () => (await podsTracked(c.server)) === 3, 5000, 'ioplace to see the pods');

    // kube-scheduler v1.32: its dry run reprieves every pod, and the cycle fails before preempt.
    await expect(standIn(c, 'victims').schedule('urgent')).rejects.toThrow(/expected at least one victim/);

    // With kubernetes/kubernetes#135486 the node reaches ioplace with no victims; one 2k pod of
    // the lowest priority is enough (8k - 2k measured leaves 3k).
    const scheduler = standIn(c, 'empty-victims');
    const first = await scheduler.schedule('urgent');
    expect(first.reasons).toEqual([
      expect.stringMatching(/^io-1: ioplace: not enough iops: needs 3k, 1k free/),
    ]);
    expect(first.evicted).toEqual(['low-old']);

    await waitFor(async () => (await podsTracked(c.server)) === 2, 5000, 'ioplace to see the victim go');
    c.server.clock.now += 10_000;
    await report(c.server, 'io-1', { capacity: { iops: 10_000 }, usage: { iops: 6_000 } });
    expect((await scheduler.schedule('urgent')).node).toBe('io-1');
  });
});
