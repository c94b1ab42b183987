import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';
import type { DemandResult } from '../../../src/domain/demand.js';
import { Inventory } from '../../../src/domain/inventory.js';
import { Placement } from '../../../src/domain/placement.js';
import type { PlacementSettings } from '../../../src/domain/placement-settings.js';

const START = 1_000_000;
const STALE_AFTER_MS = 30_000;

const BASE_SETTINGS: PlacementSettings = {
  staleAfterMs: STALE_AFTER_MS,
  reserveFraction: 0,
  unknownNodes: 'reject',
  strategy: 'spread',
  weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 1 },
  scoreAllPods: false,
};

const NEEDS_2K_IOPS: DemandResult = { ok: true, demand: { iops: 2000 }, none: false };
const NO_DEMAND: DemandResult = { ok: true, demand: {}, none: true };
const INVALID: DemandResult = { ok: false, problem: 'container "app" ioplace.io/iops "-5" is negative' };

/**
 * A placement over a small cluster, with a fake clock and settings that the test can change:
 *   roomy     iops 10k, 2k in use; ingress 1G idle    (free iops 8k)
 *   busy      iops 10k, 9k in use                     (free iops 1k: short for 2k)
 *   small     iops 1k                                 (can never give 2k)
 *   stale     iops 10k, reported 31 s ago
 *   ingress   ingress 1G only                         (does not measure iops)
 *   (unknown) never reported
 */
function cluster() {
  let now = START;
  let settings = BASE_SETTINGS;
  const inventory = new Inventory({ maxNodes: 100 });
  const commitments = new Commitments();
  inventory.record(
    'roomy',
    { capacity: { iops: 10_000, ingressBandwidth: 1e9 }, usage: { iops: 2000 } },
    START,
  );
  inventory.record('busy', { capacity: { iops: 10_000 }, usage: { iops: 9000 } }, START);
  inventory.record('small', { capacity: { iops: 1000 }, usage: {} }, START);
  inventory.record('stale', { capacity: { iops: 10_000 }, usage: {} }, START - STALE_AFTER_MS - 1000);
  inventory.record('ingress', { capacity: { ingressBandwidth: 1e9 }, usage: {} }, START);
  const placement = new Placement({ inventory, commitments, clock: () => now, settings: () => settings });
  return {
    placement,
    inventory,
    commitments,
    advance(ms: number) {
      now += ms;
    },
    configure(overrides: Partial<PlacementSettings>) {
      settings = { ...BASE_SETTINGS, ...overrides };
    },
  };
}

const ALL = ['roomy', 'busy', 'small', 'stale', 'unknown', 'ingress'];

describe('Placement.filter', () => {
  it('passes a pod with no demand everywhere on the fast path, unknown and stale nodes too', () => {
    const { placement } = cluster();
    expect(placement.filter(NO_DEMAND, ALL)).toEqual({
      passed: [0, 1, 2, 3, 4, 5],
      failed: {},
      unresolvable: {},
      rejections: {},
    });
  });

  it('sorts every node into passed, failed (resolvable) or unresolvable, and counts reasons', () => {
    const { placement } = cluster();
    expect(placement.filter(NEEDS_2K_IOPS, ALL)).toEqual({
      passed: [0],
      failed: { busy: 'ioplace: not enough iops: needs 2k, 1k free of 10k' },
      unresolvable: {
        small: 'ioplace: not enough iops: needs 2k, 1k free of 1k',
        stale: 'ioplace: report from this node is stale',
        unknown: 'ioplace: no report from this node',
        ingress: 'ioplace: node does not report iops',
      },
      rejections: { insufficient: 1, exceedsCapacity: 1, stale: 1, unknown: 1, unmeasured: 1 },
    });
  });

  it('gives passed nodes as indexes in request order, and counts each rejection', () => {
    const { placement } = cluster();
    const outcome = placement.filter(NEEDS_2K_IOPS, ['nope-1', 'roomy', 'nope-2', 'nope-3']);
    expect(outcome.passed).toEqual([1]);
    expect(Object.keys(outcome.unresolvable)).toEqual(['nope-1', 'nope-2', 'nope-3']);
    expect(outcome.rejections).toEqual({ unknown: 3 });
  });

  it('answers an empty candidate list with an empty outcome', () => {
    const { placement } = cluster();
    expect(placement.filter(NEEDS_2K_IOPS, [])).toEqual({
      passed: [],
      failed: {},
      unresolvable: {},
      rejections: {},
    });
  });

  it('rejects every node as unresolvable with reason invalidDemand when the demand is invalid', () => {
    const { placement } = cluster();
    const message = 'ioplace: invalid demand: container "app" ioplace.io/iops "-5" is negative';
    expect(placement.filter(INVALID, ALL)).toEqual({
      passed: [],
      failed: {},
      unresolvable: Object.fromEntries(ALL.map((n) => [n, message])),
      rejections: { invalidDemand: ALL.length },
    });
  });

  it('counts commitments: a node filled by held demand turns a pod away until it is released', () => {
    const { placement, commitments } = cluster();
    // roomy: free = 10k - max(2k usage, 8.5k committed) = 1.5k
    commitments.hold('pod-1', 'roomy', { iops: 8500 });
    expect(placement.filter(NEEDS_2K_IOPS, ['roomy'])).toEqual({
      passed: [],
      failed: { roomy: 'ioplace: not enough iops: needs 2k, 1.5k free of 10k' },
      unresolvable: {},
      rejections: { insufficient: 1 },
    });
    commitments.release('pod-1');
    expect(placement.filter(NEEDS_2K_IOPS, ['roomy']).passed).toEqual([0]);
  });

  it('follows the clock: a report turns stale one ms after staleAfter, not before', () => {
    const { placement, advance } = cluster();
    advance(STALE_AFTER_MS);
    expect(placement.filter(NEEDS_2K_IOPS, ['roomy']).passed).toEqual([0]);
    advance(1);
    expect(placement.filter(NEEDS_2K_IOPS, ['roomy'])).toEqual({
      passed: [],
      failed: {},
      unresolvable: { roomy: 'ioplace: report from this node is stale' },
      rejections: { stale: 1 },
    });
  });

  it('a new report makes a stale node fresh again', () => {
    const { placement, inventory } = cluster();
    inventory.record('stale', { capacity: { iops: 10_000 }, usage: {} }, START);
    expect(placement.filter(NEEDS_2K_IOPS, ['stale']).passed).toEqual([0]);
  });

  it('reads the settings on every call', () => {
    const { placement, configure } = cluster();
    configure({ unknownNodes: 'allow' });
    const outcome = placement.filter(NEEDS_2K_IOPS, ALL);
    // unknown, stale and unmeasured pass; shortage still does not.
    expect(outcome.passed).toEqual([0, 3, 4, 5]);
    expect(Object.keys(outcome.failed)).toEqual(['busy']);
    expect(Object.keys(outcome.unresolvable)).toEqual(['small']);
    expect(outcome.rejections).toEqual({ insufficient: 1, exceedsCapacity: 1 });

    // a reserve of half makes roomy's allocatable 5k and free 5k - 2k = 3k: still fits;
    // busy's allocatable 5k is below its 9k usage: free 0, short but resolvable.
    configure({ reserveFraction: 0.5 });
    expect(placement.filter(NEEDS_2K_IOPS, ['roomy', 'busy'])).toEqual({
      passed: [0],
      failed: { busy: 'ioplace: not enough iops: needs 2k, 0 free of 10k' },
      unresolvable: {},
      rejections: { insufficient: 1 },
    });
  });
});

describe('Placement.prioritize', () => {
  // roomy: iops free 8k, after 6k: 6k/10k = 0.6; busy: after < 0: 0
  it('returns one score per candidate, in candidate order', () => {
    const { placement } = cluster();
    expect(placement.prioritize(NEEDS_2K_IOPS, ['roomy', 'busy', 'unknown', 'stale', 'small'])).toEqual([
      6, 0, 0, 0, 0,
    ]);
    expect(placement.prioritize(NEEDS_2K_IOPS, ['small', 'stale', 'unknown', 'busy', 'roomy'])).toEqual([
      0, 0, 0, 0, 6,
    ]);
    expect(placement.prioritize(NEEDS_2K_IOPS, ['roomy', 'roomy'])).toEqual([6, 6]);
    expect(placement.prioritize(NEEDS_2K_IOPS, [])).toEqual([]);
  });

  it('follows the strategy in the current settings', () => {
    const { placement, configure } = cluster();
    configure({ strategy: 'pack' });
    // pack: 1 - 0.6 = 0.4 -> 4
    expect(placement.prioritize(NEEDS_2K_IOPS, ['roomy', 'busy'])).toEqual([4, 0]);
  });

  it('scores 0 everywhere for an invalid demand', () => {
    const { placement } = cluster();
    expect(placement.prioritize(INVALID, ['roomy', 'busy', 'unknown'])).toEqual([0, 0, 0]);
  });

  it('scores a pod with no demand 0 everywhere unless scoreAllPods is on', () => {
    const { placement, configure } = cluster();
    expect(placement.prioritize(NO_DEMAND, ['roomy', 'busy', 'unknown'])).toEqual([0, 0, 0]);
    configure({ scoreAllPods: true });
    // roomy: iops 8k/10k = 0.8, ingress 1 -> 0.9 -> 9; busy: iops 1k/10k -> 1; unknown: 0
    expect(placement.prioritize(NO_DEMAND, ['roomy', 'busy', 'unknown'])).toEqual([9, 1, 0]);
  });

  it('scores a stale node 0, even when unknownNodes lets it pass the filter', () => {
    const { placement, configure } = cluster();
    configure({ unknownNodes: 'allow' });
    expect(placement.prioritize(NEEDS_2K_IOPS, ['stale', 'unknown'])).toEqual([0, 0]);
  });

  it('counts commitments', () => {
    const { placement, commitments } = cluster();
    // roomy: free = 10k - max(2k, 5k) = 5k; after 3k; 0.3 -> 3
    commitments.hold('pod-1', 'roomy', { iops: 5000 });
    expect(placement.prioritize(NEEDS_2K_IOPS, ['roomy'])).toEqual([3]);
  });
});

describe('Placement.verdict, score and assess', () => {
  it('a pod with no demand fits even a node with no report', () => {
    const { placement } = cluster();
    expect(placement.verdict(NO_DEMAND, placement.assess('unknown'))).toEqual({ fits: true });
  });

  it('an invalid demand fits nowhere', () => {
    const { placement } = cluster();
    expect(placement.verdict(INVALID, placement.assess('roomy'))).toEqual({
      fits: false,
      reason: 'invalidDemand',
      unresolvable: true,
      message: 'ioplace: invalid demand: container "app" ioplace.io/iops "-5" is negative',
    });
    expect(placement.score(INVALID, placement.assess('roomy'))).toEqual({ score: 0, dimensions: {} });
  });

  it('assess combines inventory, commitments, settings and the clock', () => {
    const { placement, commitments, advance } = cluster();
    commitments.hold('pod-1', 'roomy', { iops: 3000 });
    advance(5000);
    const assessment = placement.assess('roomy');
    expect(assessment).toMatchObject({
      node: 'roomy',
      known: true,
      fresh: true,
      receivedAt: START,
      ageSeconds: 5,
      committed: { iops: 3000 },
      free: { iops: 7000, ingressBandwidth: 1e9 },
    });
    expect(placement.assess('roomy', START + STALE_AFTER_MS + 1).fresh).toBe(false);
  });

  it('exposes the current settings', () => {
    const { placement, configure } = cluster();
    expect(placement.settings).toEqual(BASE_SETTINGS);
    configure({ strategy: 'pack' });
    expect(placement.settings.strategy).toBe('pack');
  });
});
