import { describe, expect, it } from 'vitest';
import type { NodeEntry } from '../../../src/domain/inventory.js';
import { assessNode } from '../../../src/domain/node-assessment.js';
import type { Amounts } from '../../../src/domain/resources.js';

const STALE_AFTER_MS = 30_000;
const NOW = 1_000_000;

function entry(capacity: Amounts, usage: Amounts = {}, receivedAt = NOW): NodeEntry {
  return { node: 'n1', capacity, usage, receivedAt };
}

describe('assessNode', () => {
  it('knows nothing about a node without a report', () => {
    const committed = { iops: 5 };
    expect(
      assessNode('n1', undefined, committed, NOW, { staleAfterMs: STALE_AFTER_MS, reserveFraction: 0.1 }),
    ).toEqual({
      node: 'n1',
      known: false,
      fresh: false,
      receivedAt: undefined,
      ageSeconds: undefined,
      capacity: {},
      usage: {},
      committed,
      allocatable: {},
      free: {},
    });
  });

  describe('free = capacity x (1 - reserveFraction) - max(usage, committed), at least 0', () => {
    it.each<{
      name: string;
      capacity: number;
      reserve: number;
      usage?: number;
      committed?: number;
      allocatable: number;
      free: number;
    }>([
      { name: 'idle node, no reserve', capacity: 1000, reserve: 0, allocatable: 1000, free: 1000 },
      { name: 'reserve only', capacity: 1000, reserve: 0.25, allocatable: 750, free: 750 },
      { name: 'default reserve 0.1', capacity: 50_000, reserve: 0.1, allocatable: 45_000, free: 45_000 },
      { name: 'usage only', capacity: 1000, reserve: 0.25, usage: 200, allocatable: 750, free: 550 },
      { name: 'committed only', capacity: 1000, reserve: 0.25, committed: 300, allocatable: 750, free: 450 },
      {
        name: 'usage above committed: usage counts',
        capacity: 1000,
        reserve: 0.5,
        usage: 300,
        committed: 100,
        allocatable: 500,
        free: 200,
      },
      {
        name: 'committed above usage: committed counts (not the sum)',
        capacity: 1000,
        reserve: 0.5,
        usage: 100,
        committed: 300,
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
        name: 'committed above capacity: clamped at 0',
        capacity: 1000,
        reserve: 0,
        committed: 5000,
        allocatable: 1000,
        free: 0,
      },
      { name: 'zero capacity', capacity: 0, reserve: 0.1, usage: 10, allocatable: 0, free: 0 },
    ])('$name', ({ capacity, reserve, usage, committed, allocatable, free }) => {
      const assessment = assessNode(
        'n1',
        entry({ iops: capacity }, usage === undefined ? {} : { iops: usage }),
        committed === undefined ? {} : { iops: committed },
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
        { ingressBandwidth: 200, egressBandwidth: 70 },
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
      expect(assessment.known).toBe(true);
      expect(assessment.node).toBe('n1');
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
      const assessment = assessNode('n1', entry({ iops: 10 }, {}, NOW - age), {}, NOW, {
        staleAfterMs: STALE_AFTER_MS,
        reserveFraction: 0,
      });
      expect(assessment.known).toBe(true);
      expect(assessment.fresh).toBe(fresh);
      expect(assessment.receivedAt).toBe(NOW - age);
      expect(assessment.ageSeconds).toBe(age / 1000);
    });

    it('treats a report from the future (clock skew) as age 0 and fresh', () => {
      const assessment = assessNode('n1', entry({ iops: 10 }, {}, NOW + 5000), {}, NOW, {
        staleAfterMs: STALE_AFTER_MS,
        reserveFraction: 0,
      });
      expect(assessment.ageSeconds).toBe(0);
      expect(assessment.fresh).toBe(true);
    });

    it('still computes free capacity for a stale node', () => {
      const assessment = assessNode('n1', entry({ iops: 1000 }, { iops: 100 }, 0), {}, NOW, {
        staleAfterMs: STALE_AFTER_MS,
        reserveFraction: 0,
      });
      expect(assessment.fresh).toBe(false);
      expect(assessment.free).toEqual({ iops: 900 });
    });
  });
});
