import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdvertiseResult, NodeAdvertiser } from '../../../src/cluster/node-advertiser.js';
import type { JsonPatchOperation, NodeRecord } from '../../../src/cluster/node-status.js';
import type { Amounts } from '../../../src/domain/resources.js';
import { waitFor } from '../../support/fake-apiserver.js';

interface Sent {
  readonly node: string;
  readonly operations: readonly JsonPatchOperation[];
}

const started: NodeAdvertiser[] = [];

/** An advertiser whose patches are recorded and answered like the API server would. */
function harness(options: { patchesPerSecond?: number; burst?: number; minIntervalMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const wanted = new Map<string, Amounts | undefined>();
  const sent: Sent[] = [];
  const results: AdvertiseResult[] = [];
  let answer: (node: string, operations: readonly JsonPatchOperation[]) => Promise<unknown> = async (
    node,
    ops,
  ) => {
    // As stored: both maps carry what was added.
    const capacity: Record<string, string> = {};
    for (const op of ops) {
      if (typeof op.value === 'string')
        capacity[op.path.split('/').at(-1)?.replace('~1', '/') ?? ''] = op.value;
      else Object.assign(capacity, op.value);
    }
    return { metadata: { name: node }, status: { capacity, allocatable: capacity } };
  };
  const advertiser = new NodeAdvertiser({
    patch: (node, operations) => {
      sent.push({ node, operations });
      return answer(node, operations);
    },
    wanted: (node) => wanted.get(node),
    patchesPerSecond: options.patchesPerSecond ?? 1000,
    burst: options.burst ?? 100,
    minIntervalMs: options.minIntervalMs ?? 0,
    backoff: { initialMs: 5, maxMs: 20 },
    clock: () => clock.now,
    logger: pino({ level: 'silent' }),
    onResult: (result) => results.push(result),
  });
  started.push(advertiser);
  const seen = (name: string, status: NodeRecord['status'] = { capacity: {}, allocatable: {} }) =>
    advertiser.observed({ name, status });
  return {
    advertiser,
    clock,
    wanted,
    sent,
    results,
    seen,
    answerWith(fn: typeof answer) {
      answer = fn;
    },
    settled: () => waitFor(() => advertiser.pending === 0, 2000, 'the advertiser to settle'),
  };
}

afterEach(() => {
  for (const advertiser of started.splice(0)) advertiser.close();
});

describe('NodeAdvertiser', () => {
  it('patches a node once when its figures differ from what the watch shows', async () => {
    const h = harness();
    h.wanted.set('n1', { iops: 45_000 });
    h.seen('n1');
    await h.settled();
    expect(h.sent).toEqual([
      {
        node: 'n1',
        operations: [
          { op: 'add', path: '/status/capacity/ioplace.io~1iops', value: '45000' },
          { op: 'add', path: '/status/allocatable/ioplace.io~1iops', value: '45000' },
        ],
      },
    ]);
    expect(h.results).toEqual(['sent']);

    // More reports with the same figures, and the watch echoing the patch in canonical form.
    h.advertiser.touch('n1');
    h.seen('n1', { capacity: { iops: 45_000 }, allocatable: { iops: 45_000 } });
    h.advertiser.touch('n1');
    await h.settled();
    expect(h.sent).toHaveLength(1);
  });

  it('takes the answer of its own patch as the node, so it does not patch again before the watch shows it', async () => {
    const h = harness();
    h.wanted.set('n1', { iops: 45_000 });
    h.seen('n1');
    await h.settled();
    h.advertiser.touch('n1');
    h.advertiser.touch('n1');
    await h.settled();
    expect(h.sent).toHaveLength(1);
  });

  it('writes nothing for a node without a fresh report, nor for one the watch has not shown', async () => {
    const h = harness();
    h.wanted.set('n1', undefined);
    h.seen('n1');
    h.wanted.set('n2', { iops: 1 });
    h.advertiser.touch('n2');
    await h.settled();
    expect(h.sent).toEqual([]);
  });

  it('advertises again when the node loses the figures (the kubelet re-registered it)', async () => {
    const h = harness();
    h.wanted.set('n1', { iops: 45_000 });
    h.seen('n1', { capacity: { iops: 45_000 }, allocatable: { iops: 45_000 } });
    await h.settled();
    expect(h.sent).toEqual([]);
    h.seen('n1', { capacity: { iops: 0 }, allocatable: { iops: 0 } });
    await h.settled();
    expect(h.sent.map((s) => s.node)).toEqual(['n1']);
  });

  it('re-advertises every node when touched all (a new reserve fraction)', async () => {
    const h = harness();
    for (const n of ['n1', 'n2', 'n3']) {
      h.wanted.set(n, { iops: 45_000 });
      h.seen(n, { capacity: { iops: 45_000 }, allocatable: { iops: 45_000 } });
    }
    await h.settled();
    expect(h.sent).toEqual([]);
    for (const n of ['n1', 'n2', 'n3']) h.wanted.set(n, { iops: 40_000 });
    h.advertiser.touchAll();
    await h.settled();
    expect(h.sent.map((s) => s.node).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(h.sent[0]?.operations[0]?.value).toBe('40000');
  });

  it('sends no more than the burst at once, then the rest as tokens come back', async () => {
    const h = harness({ patchesPerSecond: 10, burst: 3 });
    for (let i = 0; i < 8; i++) {
      h.wanted.set(`n${i}`, { iops: 100 });
      h.seen(`n${i}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The clock has not moved: no token has come back.
    expect(h.sent).toHaveLength(3);
    expect(h.advertiser.pending).toBe(5);
    h.clock.now += 200; // two more tokens
    await waitFor(() => h.sent.length === 5, 2000, 'two more patches');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(h.sent).toHaveLength(5);
    h.clock.now += 10_000;
    await h.settled();
    expect(h.sent.map((s) => s.node).sort()).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']);
  });

  it('retries a failed patch with backoff, and drops a node the API server does not know', async () => {
    const h = harness();
    let failures = 2;
    h.answerWith(async (node) => {
      if (node === 'gone') throw Object.assign(new Error('not found'), { code: 404 });
      if (failures-- > 0) throw Object.assign(new Error('etcdserver: request timed out'), { code: 500 });
      return {
        metadata: { name: node },
        status: { capacity: { 'ioplace.io/iops': '5' }, allocatable: { 'ioplace.io/iops': '5' } },
      };
    });
    h.wanted.set('n1', { iops: 5 });
    h.wanted.set('gone', { iops: 5 });
    h.seen('n1');
    h.seen('gone');
    await h.settled();
    expect(h.sent.filter((s) => s.node === 'n1')).toHaveLength(3);
    expect(h.sent.filter((s) => s.node === 'gone')).toHaveLength(1);
    expect(h.results.filter((r) => r === 'failed')).toHaveLength(3);
    expect(h.results.filter((r) => r === 'sent')).toHaveLength(1);
  });

  it('waits minInterval between two patches of one node, so that replicas that disagree cannot race', async () => {
    const h = harness({ minIntervalMs: 5_000 });
    h.wanted.set('n1', { iops: 10 });
    h.seen('n1');
    await h.settled();
    // Another writer puts its own figure back at once.
    h.seen('n1', { capacity: { iops: 20 }, allocatable: { iops: 20 } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.sent).toHaveLength(1);
    h.clock.now += 5_000;
    h.advertiser.touch('n1');
    await waitFor(() => h.sent.length === 2, 2000, 'the second patch');
  });

  it('forgets a node that left the cluster', async () => {
    const h = harness({ minIntervalMs: 60_000 });
    h.wanted.set('n1', { iops: 10 });
    h.seen('n1');
    await h.settled();
    h.seen('n1', { capacity: {}, allocatable: {} });
    expect(h.advertiser.pending).toBe(1);
    h.advertiser.forget('n1');
    expect(h.advertiser.pending).toBe(0);
    h.advertiser.touch('n1');
    expect(h.advertiser.pending).toBe(0);
  });
});
