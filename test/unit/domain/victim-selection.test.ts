import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Committed } from '../../../src/domain/free-capacity.js';
import { assessNode, type NodeAssessment } from '../../../src/domain/node-assessment.js';
import { evictionMakesRoom } from '../../../src/domain/preemption.js';
import { type Amounts, addAmounts } from '../../../src/domain/resources.js';
import {
  byImportance,
  type EvictablePod,
  mergeVictims,
  selectVictims,
} from '../../../src/domain/victim-selection.js';

const NOW = 1_000_000;
const STALE_AFTER_MS = 30_000;
const REJECT = { unknownNodes: 'reject' } as const;
const ALLOW = { unknownNodes: 'allow' } as const;
const PREEMPTOR = 1000;

function node(
  capacity: Amounts,
  usage: Amounts = {},
  parts: Partial<Committed> = {},
  receivedAt = NOW,
): NodeAssessment {
  return assessNode(
    'n1',
    { node: 'n1', capacity, usage, receivedAt },
    { pods: {}, unmeasured: {}, reserved: {}, ...parts },
    NOW,
    { staleAfterMs: STALE_AFTER_MS, reserveFraction: 0 },
  );
}

function pod(uid: string, priority: number, iops: number, startedAt?: number): EvictablePod {
  return { uid, priority, startedAt, demand: { iops } };
}

/** A node of 1000 iops whose only load is `pods` (declared and measured alike). */
function holding(pods: readonly EvictablePod[], capacity = 1000): NodeAssessment {
  const total: Amounts = {};
  for (const p of pods) addAmounts(total, p.demand);
  return node({ iops: capacity }, total, { pods: total });
}

function uidsOf(selection: ReturnType<typeof selectVictims>): string[] | string {
  return selection.outcome === 'chosen' ? selection.victims.map((p) => p.uid) : selection.outcome;
}

describe('byImportance (kube-scheduler MoreImportantPod)', () => {
  it('puts higher priority first, then the earlier start, then a pod not started, then by uid', () => {
    const pods = [
      pod('not-started', 5, 1),
      pod('late', 5, 1, 200),
      pod('low', 1, 1, 0),
      pod('early', 5, 1, 100),
      pod('high', 9, 1, 999),
      pod('b-twin', 5, 1, 100),
      pod('negative', -3, 1, 0),
    ];
    expect(pods.sort(byImportance).map((p) => p.uid)).toEqual([
      'high',
      'b-twin',
      'early',
      'late',
      'not-started',
      'low',
      'negative',
    ]);
  });
});

describe('selectVictims', () => {
  it('evicts the least important pods that make room, sparing the lowest when it alone is too small', () => {
    // 900 held, 100 free, 400 needed: 300 must go. C (lowest) frees only 100, so B goes and C stays.
    const pods = [pod('A', 10, 400), pod('B', 5, 400), pod('C', 1, 100)];
    expect(uidsOf(selectVictims({ iops: 400 }, holding(pods), {}, pods, PREEMPTOR, REJECT))).toEqual(['B']);
  });

  it('evicts no more than needed: the lowest pods, one by one, until the demand fits', () => {
    // 1000 held by ten pods of 100, nothing free; 250 needed: the three least important go.
    const pods = Array.from({ length: 10 }, (_, i) => pod(`p${i}`, i, 100));
    const chosen = selectVictims({ iops: 250 }, holding(pods), {}, pods, PREEMPTOR, REJECT);
    expect(uidsOf(chosen)).toEqual(['p2', 'p1', 'p0']);
  });

  it('follows kube-scheduler: reprieves the most important first, even if that costs two victims instead of one', () => {
    // A alone would do (600), but A is the most important and B + C do too.
    const pods = [pod('A', 3, 600), pod('B', 2, 300), pod('C', 1, 300)];
    const chosen = selectVictims({ iops: 600 }, holding(pods, 1200), {}, pods, PREEMPTOR, REJECT);
    expect(uidsOf(chosen)).toEqual(['B', 'C']);
  });

  it('breaks a priority tie by start time: the pod started later goes', () => {
    const pods = [pod('later', 5, 500, 2000), pod('earlier', 5, 500, 1000)];
    expect(uidsOf(selectVictims({ iops: 500 }, holding(pods), {}, pods, PREEMPTOR, REJECT))).toEqual([
      'later',
    ]);
    // A pod not started yet counts as starting now: after every started one.
    const unstarted = [pod('started', 5, 500, 99_999), pod('pending', 5, 500)];
    expect(
      uidsOf(selectVictims({ iops: 500 }, holding(unstarted), {}, unstarted, PREEMPTOR, REJECT)),
    ).toEqual(['pending']);
  });

  it('returns the victims most important first', () => {
    const pods = [pod('c', 1, 300), pod('a', 3, 300), pod('b', 2, 300, 5), pod('b2', 2, 300, 4)];
    const chosen = selectVictims({ iops: 900 }, holding(pods, 1200), {}, pods, PREEMPTOR, REJECT);
    expect(uidsOf(chosen)).toEqual(['b2', 'b', 'c']);
  });

  it.each([
    { name: 'equal priority is never a victim', priority: PREEMPTOR, expected: 'impossible' },
    { name: 'higher priority is never a victim', priority: PREEMPTOR + 1, expected: 'impossible' },
    { name: 'one below the preemptor is', priority: PREEMPTOR - 1, expected: ['x'] },
    { name: 'negative priorities are lower too', priority: -5, expected: ['x'] },
  ])('$name', ({ priority, expected }) => {
    const pods = [pod('x', priority, 1000)];
    expect(uidsOf(selectVictims({ iops: 1 }, holding(pods), {}, pods, PREEMPTOR, REJECT))).toEqual(expected);
  });

  it('drops the node when evicting every lower-priority pod is not enough', () => {
    // 600 of the 1000 is held by a pod of the preemptor's priority: at most 400 can be freed.
    const pods = [pod('peer', PREEMPTOR, 600), pod('low1', 1, 200), pod('low2', 2, 200)];
    expect(selectVictims({ iops: 401 }, holding(pods), {}, pods, PREEMPTOR, REJECT)).toEqual({
      outcome: 'impossible',
    });
    expect(uidsOf(selectVictims({ iops: 400 }, holding(pods), {}, pods, PREEMPTOR, REJECT))).toEqual([
      'low2',
      'low1',
    ]);
  });

  it('drops a full node with no pod it may evict', () => {
    const full = node({ iops: 1000 }, { iops: 1000 });
    expect(selectVictims({ iops: 1 }, full, {}, [], PREEMPTOR, REJECT)).toEqual({ outcome: 'impossible' });
  });

  it('adds nothing when the demand fits already, so that nothing is evicted for nothing', () => {
    const pods = [pod('low', 1, 500)];
    expect(selectVictims({ iops: 500 }, holding(pods), {}, pods, PREEMPTOR, REJECT)).toEqual({
      outcome: 'fits',
    });
  });

  it('counts measured usage: usage above what the pods declared leaves less to free', () => {
    // The pods declare 400 but the node measures 900 in use: evicting both frees 400 of it.
    const pods = [pod('a', 1, 200), pod('b', 2, 200)];
    const busy = node({ iops: 1000 }, { iops: 900 }, { pods: { iops: 400 } });
    expect(selectVictims({ iops: 501 }, busy, {}, pods, PREEMPTOR, REJECT)).toEqual({
      outcome: 'impossible',
    });
    expect(uidsOf(selectVictims({ iops: 500 }, busy, {}, pods, PREEMPTOR, REJECT))).toEqual(['b', 'a']);
    expect(uidsOf(selectVictims({ iops: 300 }, busy, {}, pods, PREEMPTOR, REJECT))).toEqual(['a']);
    // By the declared demand alone 600 would be free and nothing would need to go.
    expect(selectVictims({ iops: 600 }, holding(pods), {}, pods, PREEMPTOR, REJECT)).toEqual({
      outcome: 'fits',
    });
  });

  it('counts reservations as never freed, and unmeasured pods on top of usage', () => {
    const pods = [pod('a', 1, 300)];
    // 1000 - 200 reserved - max(300 usage + 300 unmeasured, 300 pods) = 200 free; a frees 300 of each.
    const n = node(
      { iops: 1000 },
      { iops: 300 },
      { pods: { iops: 300 }, unmeasured: { iops: 300 }, reserved: { iops: 200 } },
    );
    expect(uidsOf(selectVictims({ iops: 500 }, n, {}, pods, PREEMPTOR, REJECT))).toEqual(['a']);
    expect(selectVictims({ iops: 501 }, n, {}, pods, PREEMPTOR, REJECT)).toEqual({ outcome: 'impossible' });
  });

  it('keeps a pod that frees nothing the preemptor asks for', () => {
    const ingressOnly: EvictablePod = {
      uid: 'net',
      priority: 0,
      startedAt: 0,
      demand: { ingressBandwidth: 1e9 },
    };
    const pods = [ingressOnly, pod('disk', 5, 500)];
    const n = node(
      { iops: 1000, ingressBandwidth: 1e9 },
      { iops: 1000, ingressBandwidth: 1e9 },
      { pods: { iops: 500, ingressBandwidth: 1e9 } },
    );
    expect(uidsOf(selectVictims({ iops: 500 }, n, {}, pods, PREEMPTOR, REJECT))).toEqual(['disk']);
  });

  it('builds on the victims already given: they count as freed, and only what they leave short is added', () => {
    const pods = [pod('a', 1, 200), pod('b', 2, 200)];
    const n = node({ iops: 1000 }, { iops: 1000 }, { pods: { iops: 1000 } });
    // Given victims free 300: 200 more are needed for 500, which b (the more important) gives too,
    // but a is less important, so a goes.
    expect(uidsOf(selectVictims({ iops: 500 }, n, { iops: 300 }, pods, PREEMPTOR, REJECT))).toEqual(['a']);
    expect(selectVictims({ iops: 300 }, n, { iops: 300 }, pods, PREEMPTOR, REJECT)).toEqual({
      outcome: 'fits',
    });
    expect(selectVictims({ iops: 701 }, n, { iops: 300 }, pods, PREEMPTOR, REJECT)).toEqual({
      outcome: 'impossible',
    });
  });

  it('needs a fresh report unless unknown nodes are allowed', () => {
    const pods = [pod('a', 1, 500)];
    const stale = node({ iops: 1000 }, { iops: 1000 }, { pods: { iops: 500 } }, NOW - STALE_AFTER_MS - 1);
    expect(selectVictims({ iops: 1 }, stale, {}, pods, PREEMPTOR, REJECT)).toEqual({ outcome: 'impossible' });
    expect(selectVictims({ iops: 1 }, stale, {}, pods, PREEMPTOR, ALLOW)).toEqual({ outcome: 'fits' });
  });
});

describe('mergeVictims', () => {
  const known = new Map([pod('g-hi', 50, 1, 10), pod('g-lo', 10, 1, 10)].map((p) => [p.uid, p] as const));
  const lookup = (uid: string) => known.get(uid);

  it('interleaves the added victims with the given ones, most important first', () => {
    const added = [pod('a-top', 60, 1), pod('a-mid', 20, 1), pod('a-low', 5, 1)];
    expect(mergeVictims(['g-hi', 'g-lo'], lookup, added)).toEqual([
      'a-top',
      'g-hi',
      'a-mid',
      'g-lo',
      'a-low',
    ]);
  });

  it('keeps a given victim it does not know where the scheduler put it, ahead of later additions', () => {
    expect(mergeVictims(['cpu-only', 'g-lo'], lookup, [pod('a', 60, 1)])).toEqual(['cpu-only', 'a', 'g-lo']);
  });

  it('answers only the added victims when none was given, and only the given when none was added', () => {
    expect(mergeVictims([], lookup, [pod('x', 1, 1), pod('y', 0, 1)])).toEqual(['x', 'y']);
    expect(mergeVictims(['g-lo', 'g-hi'], lookup, [])).toEqual(['g-lo', 'g-hi']);
  });
});

describe('selectVictims properties', () => {
  // Whole amounts, as parseQuantity gives for any quantity without a fraction: sums are exact.
  const small = fc.integer({ min: 0, max: 1_000 });
  const smallAmounts = fc.record({ iops: small, ingressBandwidth: small }, { requiredKeys: [] });
  const evictable = fc.record({
    uid: fc.uuid(),
    priority: fc.integer({ min: -3, max: 3 }),
    startedAt: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
    demand: smallAmounts,
  });
  /**
   * A node loaded mostly by the pods that may be evicted, so that every outcome comes up: room
   * already, room after some evictions, no room whatever goes. Per dimension, the declared load is
   * theirs plus `others`, the measured usage that give or take `drift`, and the capacity that plus
   * `headroom`.
   */
  const scenario = fc.record({
    evictable: fc.uniqueArray(evictable, { maxLength: 12, selector: (p) => p.uid }),
    others: smallAmounts,
    drift: fc.record({
      iops: fc.integer({ min: -1_000, max: 1_000 }),
      ingressBandwidth: fc.integer({ min: -1_000, max: 1_000 }),
    }),
    headroom: smallAmounts,
    unmeasured: smallAmounts,
    reserved: fc.record({ iops: fc.integer({ min: 0, max: 200 }) }, { requiredKeys: [] }),
    given: smallAmounts,
    demand: fc.record(
      { iops: fc.integer({ min: 1, max: 2_000 }), ingressBandwidth: fc.integer({ min: 1, max: 2_000 }) },
      { requiredKeys: [] },
    ),
    preemptor: fc.integer({ min: -3, max: 4 }),
  });

  type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

  const freedBy = (given: Amounts, pods: readonly EvictablePod[]): Amounts => {
    const out: Amounts = { ...given };
    for (const p of pods) addAmounts(out, p.demand);
    return out;
  };

  function nodeOf(s: Scenario): NodeAssessment {
    const pods = freedBy(s.others, s.evictable);
    const capacity: Amounts = {};
    const usage: Amounts = {};
    for (const d of ['iops', 'ingressBandwidth'] as const) {
      const held = pods[d] ?? 0;
      capacity[d] = held + (s.headroom[d] ?? 0);
      usage[d] = Math.max(0, held + s.drift[d]);
    }
    return node(capacity, usage, { pods, unmeasured: s.unmeasured, reserved: s.reserved });
  }

  it('chooses a non-empty set of lower-priority pods that makes room, none of which could be spared', () => {
    const seen = { fits: 0, impossible: 0, chosen: 0 };
    fc.assert(
      fc.property(scenario, (s) => {
        const n = nodeOf(s);
        const result = selectVictims(s.demand, n, s.given, s.evictable, s.preemptor, REJECT);
        seen[result.outcome]++;
        const lower = s.evictable.filter((p) => p.priority < s.preemptor);
        const fitsGiven = evictionMakesRoom(s.demand, n, s.given, REJECT);
        if (result.outcome === 'fits') {
          expect(fitsGiven).toBe(true);
          return;
        }
        expect(fitsGiven).toBe(false);
        if (result.outcome === 'impossible') {
          expect(evictionMakesRoom(s.demand, n, freedBy(s.given, lower), REJECT)).toBe(false);
          return;
        }
        const victims = result.victims;
        expect(victims.length).toBeGreaterThan(0);
        for (const v of victims) expect(v.priority).toBeLessThan(s.preemptor);
        expect(new Set(victims.map((v) => v.uid)).size).toBe(victims.length);
        expect([...victims].sort(byImportance)).toEqual(victims);
        expect(evictionMakesRoom(s.demand, n, freedBy(s.given, victims), REJECT)).toBe(true);
        for (const spared of victims) {
          const rest = victims.filter((v) => v !== spared);
          expect(evictionMakesRoom(s.demand, n, freedBy(s.given, rest), REJECT)).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
    // The cases are worth something only if each outcome came up often.
    expect(Math.min(seen.fits, seen.impossible, seen.chosen)).toBeGreaterThan(50);
  });
});
