import { describe, expect, it } from 'vitest';
import type { Committed } from '../../../src/domain/free-capacity.js';
import { assessNode } from '../../../src/domain/node-assessment.js';
import type { NodeEntry } from '../../../src/domain/node-book.js';
import type { Amounts } from '../../../src/domain/resources.js';

const STALE_AFTER_MS = 30_000;
const NOW = 1_000_000;

/** Nothing promised on the node. */
const NONE: Committed = { pods: {}, unmeasured: {}, reserved: {} };

function entry(capacity: Amounts, usage: Amounts = {}, receivedAt = NOW): NodeEntry {
  return { node: 'n1', capacity, usage, receivedAt };
}

describe('assessNode', () => {
  it('knows nothing about a node without a report, but still says what is committed there', () => {
    const parts: Committed = { pods: { iops: 5 }, unmeasured: { iops: 2 }, reserved: { iops: 3 } };
    expect(
      assessNode('n1', undefined, parts, NOW, { staleAfterMs: STALE_AFTER_MS, reserveFraction: 0.1 }),
    ).toEqual({
      node: 'n1',
      known: false,
      fresh: false,
      receivedAt: undefined,
      ageSeconds: undefined,
      capacity: {},
      usage: {},
      // pods + reserved; unmeasured is a part of pods, so it is not added again
      committed: { iops: 8 },
      parts,
      allocatable: {},
      free: {},
    });
  });

  describe('with only bound pods (nothing unmeasured or reserved): free = allocatable - max(usage, pods), at least 0', () => {
    it.each<{
      name: string;
      capacity: number;
      reserve: number;
      usage?: number;
      pods?: number;
      allocatable: number;
      free: number;
    }>([
      { name: 'idle node, no reserve', capacity: 1000, reserve: 0, allocatable: 1000, free: 1000 },
      { name: 'reserve only', capacity: 1000, reserve: 0.25, allocatable: 750, free: 750 },
      { name: 'default reserve 0.1', capacity: 50_000, reserve: 0.1, allocatable: 45_000, free: 45_000 },
      { name: 'usage only', capacity: 1000, reserve: 0.25, usage: 200, allocatable: 750, free: 550 },
      { name: 'pods only', capacity: 1000, reserve: 0.25, pods: 300, allocatable: 750, free: 450 },
      {
        name: 'usage above pods: usage counts',
        capacity: 1000,
        reserve: 0.5,
        usage: 300,
        pods: 100,
        allocatable: 500,
        free: 200,
      },
      {
        name: 'pods above usage: pods count (not the sum)',
        capacity: 1000,
        reserve: 0.5,
        usage: 100,
        pods: 300,
        allocatable: 500,
        free: 200,
      },
      {
        name: 'usage equal to allocatable',
        capacity: 1000,
        reserve: 0.5,
        usage: 500,
        allocatable: 500,
        free: 0,
      },
      {
        name: 'usage above allocatable: clamped at 0',
        capacity: 1000,
        reserve: 0.5,
        usage: 900,
        allocatable: 500,
        free: 0,
      },
      {
        name: 'pods above capacity: clamped at 0',
        capacity: 1000,
        reserve: 0,
        pods: 5000,
        allocatable: 1000,
        free: 0,
      },
      { name: 'zero capacity', capacity: 0, reserve: 0.1, usage: 10, allocatable: 0, free: 0 },
    ])('$name', ({ capacity, reserve, usage, pods, allocatable, free }) => {
      const assessment = assessNode(
        'n1',
        entry({ iops: capacity }, usage === undefined ? {} : { iops: usage }),
        { ...NONE, pods: pods === undefined ? {} : { iops: pods } },
        NOW,
        { staleAfterMs: STALE_AFTER_MS, reserveFraction: reserve },
      );
      expect(assessment.allocatable).toEqual({ iops: allocatable });
      expect(assessment.free).toEqual({ iops: free });
    });

    it('works on each dimension separately and only where capacity is reported', () => {
      const assessment = assessNode(
        'n1',
        entry(
          { ingressBandwidth: 1000, iops: 400 },
          { ingressBandwidth: 100, egressBandwidth: 50, iops: 100 },
        ),
        { ...NONE, pods: { ingressBandwidth: 200, egressBandwidth: 70 } },
        NOW,
        { staleAfterMs: STALE_AFTER_MS, reserveFraction: 0.5 },
      );
      // ingress: 1000 x 0.5 - max(100, 200) = 300; iops: 400 x 0.5 - max(100, 0) = 100;
      // egress: usage and commitments but no capacity, so neither allocatable nor free.
      expect(assessment.allocatable).toEqual({ ingressBandwidth: 500, iops: 200 });
      expect(assessment.free).toEqual({ ingressBandwidth: 300, iops: 100 });
      expect(assessment.free.egressBandwidth).toBeUndefined();
      expect(assessment.capacity).toEqual({ ingressBandwidth: 1000, iops: 400 });
      expect(assessment.usage).toEqual({ ingressBandwidth: 100, egressBandwidth: 50, iops: 100 });
      expect(assessment.committed).toEqual({ ingressBandwidth: 200, egressBandwidth: 70 });
      expect(assessment.parts).toEqual({
        pods: { ingressBandwidth: 200, egressBandwidth: 70 },
        unmeasured: {},
        reserved: {},
      });
      expect(assessment.known).toBe(true);
      expect(assessment.node).toBe('n1');
    });
  });

  describe('assessNode takes each part of the commitments to its place in freeAmount', () => {
    it.each<{ name: string; parts: Committed; free: number; committed: Amounts }>([
      // capacity 1000, reserve 0.2: allocatable 800; usage 300
      { name: 'nothing promised', parts: NONE, free: 500, committed: {} },
      {
        name: 'pods below usage do not count',
        parts: { ...NONE, pods: { iops: 200 } },
        free: 500,
        committed: { iops: 200 },
      },
      {
        name: 'pods above usage count instead of it',
        parts: { ...NONE, pods: { iops: 400 } },
        free: 400,
        committed: { iops: 400 },
      },
      {
        name: 'unmeasured pods count on top of usage: 800 - max(300 + 150, 250)',
        parts: { ...NONE, pods: { iops: 250 }, unmeasured: { iops: 150 } },
        free: 350,
        committed: { iops: 250 },
      },
      {
        name: 'reservations count on top of usage: 800 - 100 - 300',
        parts: { ...NONE, reserved: { iops: 100 } },
        free: 400,
        committed: { iops: 100 },
      },
      {
        name: 'all three: 800 - 100 - max(300 + 150, 500)',
        parts: { pods: { iops: 500 }, unmeasured: { iops: 150 }, reserved: { iops: 100 } },
        free: 200,
        committed: { iops: 600 },
      },
    ])('$name: free $free', ({ parts, free, committed }) => {
      const assessment = assessNode('n1', entry({ iops: 1000 }, { iops: 300 }), parts, NOW, {
        staleAfterMs: STALE_AFTER_MS,
        reserveFraction: 0.2,
      });
      expect(assessment.allocatable).toEqual({ iops: 800 });
      expect(assessment.free).toEqual({ iops: free });
      expect(assessment.committed).toEqual(committed);
      expect(assessment.parts).toEqual(parts);
    });

    it('keeps dimensions apart in every part', () => {
      const assessment = assessNode(
        'n1',
        entry({ ingressBandwidth: 1000, egressBandwidth: 1000, iops: 1000 }, { iops: 100 }),
        {
          pods: { ingressBandwidth: 300, iops: 50 },
          unmeasured: { ingressBandwidth: 300 },
          reserved: { egressBandwidth: 200 },
        },
        NOW,
        { staleAfterMs: STALE_AFTER_MS, reserveFraction: 0 },
      );
      // ingress: 1000 - 0 - max(0 + 300, 300) = 700
      // egress:  1000 - 200 - max(0, 0) = 800
      // iops:    1000 - 0 - max(100, 50) = 900
      expect(assessment.free).toEqual({ ingressBandwidth: 700, egressBandwidth: 800, iops: 900 });
      expect(assessment.committed).toEqual({ ingressBandwidth: 300, egressBandwidth: 200, iops: 50 });
    });
  });

  describe('freshness', () => {
    it.each([
      { name: 'received just now', age: 0, fresh: true },
      { name: 'one ms short of staleAfter', age: STALE_AFTER_MS - 1, fresh: true },
      { name: 'exactly staleAfter old: not older than it, so still fresh', age: STALE_AFTER_MS, fresh: true },
      { name: 'one ms past staleAfter', age: STALE_AFTER_MS + 1, fresh: false },
      { name: 'long past', age: 10 * STALE_AFTER_MS, fresh: false },
    ])('$name: fresh=$fresh', ({ age, fresh }) => {
      const assessment = assessNode('n1', entry({ iops: 10 }, {}, NOW - age), NONE, NOW, {
        staleAfterMs: STALE_AFTER_MS,
        reserveFraction: 0,
      });
      expect(assessment.known).toBe(true);
      expect(assessment.fresh).toBe(fresh);
      expect(assessment.receivedAt).toBe(NOW - age);
      expect(assessment.ageSeconds).toBe(age / 1000);
    });

    it('treats a report from the future (clock skew) as age 0 and fresh', () => {
      const assessment = assessNode('n1', entry({ iops: 10 }, {}, NOW + 5000), NONE, NOW, {
        staleAfterMs: STALE_AFTER_MS,
        reserveFraction: 0,
      });
      expect(assessment.ageSeconds).toBe(0);
      expect(assessment.fresh).toBe(true);
    });

    it('still computes free capacity for a stale node', () => {
      const assessment = assessNode('n1', entry({ iops: 1000 }, { iops: 100 }, 0), NONE, NOW, {
        staleAfterMs: STALE_AFTER_MS,
        reserveFraction: 0,
      });
      expect(assessment.fresh).toBe(false);
      expect(assessment.free).toEqual({ iops: 900 });
    });
  });
});
