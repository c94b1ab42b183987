import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';
import type { DemandResult } from '../../../src/domain/demand.js';
import { Inventory } from '../../../src/domain/inventory.js';
import { NodeBook } from '../../../src/domain/node-book.js';
import { Placement } from '../../../src/domain/placement.js';
import type { PlacementSettings } from '../../../src/domain/placement-settings.js';
import { PodStore } from '../../../src/domain/pod-store.js';
import { RejectionMemory } from '../../../src/domain/rejection-memory.js';
import { Reservations } from '../../../src/domain/reservations.js';
import type { Amounts } from '../../../src/domain/resources.js';

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
  const book = new NodeBook();
  const inventory = new Inventory({ maxNodes: 100, book });
  const commitments = new Commitments(book);
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
      failed: { busy: 'ioplace: not enough iops: needs 2k, 1k free of 10k allocatable' },
      unresolvable: {
        small: 'ioplace: not enough iops: needs 2k, 1k free of 1k allocatable',
        stale: 'ioplace: report from this node is stale',
        unknown: 'ioplace: no report from this node',
        ingress: 'ioplace: node does not report iops',
      },
      rejections: { insufficient: 1, exceedsCapacity: 1, stale: 1, unknown: 1, unmeasured: 1 },
    });
  });

  it('answers a repeated question the same, and anew once a node, the demand or a setting changes', () => {
    const { placement, inventory, commitments, configure } = cluster();
    const first = placement.filter(NEEDS_2K_IOPS, ALL);
    expect(placement.filter(NEEDS_2K_IOPS, ALL)).toEqual(first);
    inventory.record('busy', { capacity: { iops: 10_000 }, usage: { iops: 8500 } }, START);
    expect(placement.filter(NEEDS_2K_IOPS, ['busy']).failed).toEqual({
      busy: 'ioplace: not enough iops: needs 2k, 1.5k free of 10k allocatable',
    });
    commitments.reserved.hold('pod-x', 'busy', { iops: 500 });
    expect(placement.filter(NEEDS_2K_IOPS, ['busy']).failed).toEqual({
      busy: 'ioplace: not enough iops: needs 2k, 1k free of 10k allocatable',
    });
    const needs3k = { ok: true, none: false, demand: { iops: 3000 } } as const;
    expect(placement.filter(needs3k, ['busy']).failed).toEqual({
      busy: 'ioplace: not enough iops: needs 3k, 1k free of 10k allocatable',
    });
    configure({ unknownNodes: 'allow' });
    expect(placement.filter(NEEDS_2K_IOPS, ['ingress']).passed).toEqual([0]);
    configure({ reserveFraction: 0.5 });
    expect(placement.filter(NEEDS_2K_IOPS, ['busy']).failed).toEqual({
      busy: 'ioplace: not enough iops: needs 2k, 0 free of 5k allocatable',
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
    // roomy: free = 10k - max(2k usage, 8.5k pods) = 1.5k
    commitments.pods.hold('pod-1', 'roomy', { iops: 8500 });
    expect(placement.filter(NEEDS_2K_IOPS, ['roomy'])).toEqual({
      passed: [],
      failed: { roomy: 'ioplace: not enough iops: needs 2k, 1.5k free of 10k allocatable' },
      unresolvable: {},
      rejections: { insufficient: 1 },
    });
    commitments.pods.release('pod-1');
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
      failed: { busy: 'ioplace: not enough iops: needs 2k, 0 free of 5k allocatable' },
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
    commitments.pods.hold('pod-1', 'roomy', { iops: 5000 });
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
    commitments.pods.hold('pod-1', 'roomy', { iops: 3000 });
    advance(5000);
    const assessment = placement.assess('roomy');
    expect(assessment).toMatchObject({
      node: 'roomy',
      known: true,
      fresh: true,
      receivedAt: START,
      ageSeconds: 5,
      committed: { iops: 3000 },
      parts: { pods: { iops: 3000 }, unmeasured: {}, reserved: {} },
      free: { iops: 7000, ingressBandwidth: 1e9 },
    });
    expect(placement.assess('roomy', START + STALE_AFTER_MS + 1).fresh).toBe(false);
  });

  it('assess takes all three parts of the commitments on the node, and only that node', () => {
    const { placement, commitments } = cluster();
    commitments.pods.hold('pod-1', 'roomy', { iops: 3000 });
    commitments.unmeasured.hold('pod-1', 'roomy', { iops: 1500 });
    commitments.reserved.hold('pod-2', 'roomy', { iops: 500, ingressBandwidth: 1e8 });
    commitments.reserved.hold('pod-3', 'busy', { iops: 1 });
    // iops: 10k - 500 - max(2k + 1.5k, 3k) = 6k; ingress: 1G - 100M - max(0, 0) = 900M
    expect(placement.assess('roomy')).toMatchObject({
      committed: { iops: 3500, ingressBandwidth: 1e8 },
      parts: {
        pods: { iops: 3000 },
        unmeasured: { iops: 1500 },
        reserved: { iops: 500, ingressBandwidth: 1e8 },
      },
      free: { iops: 6000, ingressBandwidth: 9e8 },
    });
  });

  it('exposes the current settings', () => {
    const { placement, configure } = cluster();
    expect(placement.settings).toEqual(BASE_SETTINGS);
    configure({ strategy: 'pack' });
    expect(placement.settings.strategy).toBe('pack');
  });
});

const REMEMBER_MS = 60_000;

function demandOf(amounts: Amounts): DemandResult {
  return { ok: true, demand: amounts, none: false };
}

/** What the commitments hold on a node with nothing held there. */
const NOTHING_HELD = { pods: {}, unmeasured: {}, reserved: {} };

/**
 * A placement wired as the app wires it: commitments shared with reservations, and (unless told
 * otherwise) a rejection memory. Nodes are recorded by the test.
 */
function wired(
  options: { reservations?: boolean; rejections?: boolean; settings?: Partial<PlacementSettings> } = {},
) {
  let now = START;
  let settings: PlacementSettings = { ...BASE_SETTINGS, ...options.settings };
  const book = new NodeBook();
  const inventory = new Inventory({ maxNodes: 100, book });
  const commitments = new Commitments(book);
  const reservations = new Reservations(commitments.reserved);
  const rejections = new RejectionMemory({ ttlMs: REMEMBER_MS, perNode: 10 });
  const placement = new Placement({
    inventory,
    commitments,
    clock: () => now,
    settings: () => settings,
    ...(options.reservations === false ? {} : { reservations }),
    ...(options.rejections === false ? {} : { rejections }),
  });
  return {
    placement,
    inventory,
    commitments,
    reservations,
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
    configure(overrides: Partial<PlacementSettings>) {
      settings = { ...settings, ...overrides };
    },
  };
}

describe('Placement.reserve: check-and-reserve at bind', () => {
  const POD_100_IOPS = demandOf({ iops: 100 });
  const EXPIRES = START + 30_000;

  it.each<{
    name: string;
    capacity: number;
    usage?: number;
    podCommitted?: number;
    reserveFraction?: number;
    /** bound pods' demand on the node before the burst */
    base: number;
  }>([
    { name: 'idle node of capacity 450', capacity: 450, base: 0 },
    { name: 'capacity 500 with a reserve of 0.1', capacity: 500, reserveFraction: 0.1, base: 0 },
    {
      name: 'capacity 1000 with 550 committed by a running pod',
      capacity: 1000,
      podCommitted: 550,
      base: 550,
    },
    {
      name: 'capacity 1000, 550 committed and 300 in use (committed counts)',
      capacity: 1000,
      usage: 300,
      podCommitted: 550,
      base: 550,
    },
  ])(
    '$name (450 free): 10 pods of 100 iops in a loop reserve exactly 4',
    ({ capacity, usage, podCommitted, reserveFraction, base }) => {
      const { placement, inventory, commitments, reservations, configure } = wired();
      if (reserveFraction !== undefined) configure({ reserveFraction });
      inventory.record(
        'n',
        { capacity: { iops: capacity }, usage: usage === undefined ? {} : { iops: usage } },
        START,
      );
      if (podCommitted !== undefined) commitments.pods.hold('running', 'n', { iops: podCommitted });
      expect(placement.assess('n').free).toEqual({ iops: 450 });

      const verdicts = Array.from({ length: 10 }, (_, i) =>
        placement.reserve(`u${i}`, POD_100_IOPS, 'n', EXPIRES),
      );

      expect(verdicts.slice(0, 4)).toEqual([{ fits: true }, { fits: true }, { fits: true }, { fits: true }]);
      for (const verdict of verdicts.slice(4)) {
        expect(verdict).toMatchObject({ fits: false, reason: 'insufficient', unresolvable: false });
      }
      expect(reservations.size).toBe(4);
      for (let i = 0; i < 10; i++) expect(reservations.has(`u${i}`)).toBe(i < 4);
      expect(commitments.on('n')).toEqual({
        pods: base === 0 ? {} : { iops: base },
        unmeasured: {},
        reserved: { iops: 400 },
      });
      expect(placement.assess('n').committed).toEqual({ iops: base + 400 });
      expect(placement.assess('n').free).toEqual({ iops: 50 });
    },
  );

  it('idle node of capacity 1000 with 550 in use (450 free): 10 pods of 100 iops reserve exactly 4', () => {
    // Free capacity limited by measured usage, not by commitments: the reservations of a burst
    // must still add up against it, or the node is overcommitted before the next report. (This
    // was a real overcommit when reservations only entered max(usage, committed); they now count
    // on top of usage: free = 1000 - reserved - 550.)
    const { placement, inventory, reservations } = wired();
    inventory.record('n', { capacity: { iops: 1000 }, usage: { iops: 550 } }, START);
    expect(placement.assess('n').free).toEqual({ iops: 450 });
    const fits = Array.from(
      { length: 10 },
      (_, i) => placement.reserve(`u${i}`, POD_100_IOPS, 'n', EXPIRES).fits,
    );
    expect(fits).toEqual([true, true, true, true, false, false, false, false, false, false]);
    expect(reservations.size).toBe(4);
    expect(placement.assess('n').free).toEqual({ iops: 50 });
  });

  it('says what was short when it refuses', () => {
    const { placement, inventory } = wired();
    inventory.record('n', { capacity: { iops: 450 }, usage: {} }, START);
    for (let i = 0; i < 4; i++) placement.reserve(`u${i}`, POD_100_IOPS, 'n', EXPIRES);
    expect(placement.reserve('u4', POD_100_IOPS, 'n', EXPIRES)).toEqual({
      fits: false,
      reason: 'insufficient',
      unresolvable: false,
      message: 'ioplace: not enough iops: needs 100, 50 free of 450 allocatable',
    });
  });

  it('reserves on the named node only, and a reservation expires at expiresAt', () => {
    const { placement, inventory, commitments, reservations } = wired();
    inventory.record('a', { capacity: { iops: 150 }, usage: {} }, START);
    inventory.record('b', { capacity: { iops: 150 }, usage: {} }, START);
    expect(placement.reserve('u1', POD_100_IOPS, 'a', EXPIRES).fits).toBe(true);
    expect(commitments.on('a')).toEqual({ pods: {}, unmeasured: {}, reserved: { iops: 100 } });
    expect(commitments.on('b')).toEqual({ pods: {}, unmeasured: {}, reserved: {} });
    expect(placement.reserve('u2', POD_100_IOPS, 'a', EXPIRES).fits).toBe(false);
    expect(placement.reserve('u2', POD_100_IOPS, 'b', EXPIRES).fits).toBe(true);
    expect(reservations.expire(EXPIRES - 1)).toEqual([]);
    expect(reservations.expire(EXPIRES).sort()).toEqual(['u1', 'u2']);
    expect(placement.reserve('u3', POD_100_IOPS, 'a', EXPIRES).fits).toBe(true);
  });

  it('re-reserving the same pod does not count it twice', () => {
    const { placement, inventory, commitments } = wired();
    inventory.record('n', { capacity: { iops: 250 }, usage: {} }, START);
    expect(placement.reserve('u1', POD_100_IOPS, 'n', EXPIRES).fits).toBe(true);
    // The check still sees the first reservation (150 free), so the retry fits and replaces it.
    expect(placement.reserve('u1', POD_100_IOPS, 'n', EXPIRES).fits).toBe(true);
    expect(commitments.reserved.on('n')).toEqual({ iops: 100 });
    // Held once: releasing the pod once leaves nothing.
    expect(commitments.reserved.release('u1')).toBe(true);
    expect(commitments.on('n')).toEqual(NOTHING_HELD);
  });

  it('a pod with no demand fits anywhere, even an unknown node, and reserves nothing', () => {
    const { placement, commitments, reservations } = wired();
    expect(placement.reserve('u1', NO_DEMAND, 'unknown', EXPIRES)).toEqual({ fits: true });
    expect(reservations.size).toBe(0);
    expect(reservations.has('u1')).toBe(false);
    expect(commitments.on('unknown')).toEqual(NOTHING_HELD);
  });

  it('an invalid demand is refused and reserves nothing', () => {
    const { placement, inventory, commitments, reservations } = wired();
    inventory.record('n', { capacity: { iops: 1e6 }, usage: {} }, START);
    expect(placement.reserve('u1', INVALID, 'n', EXPIRES)).toEqual({
      fits: false,
      reason: 'invalidDemand',
      unresolvable: true,
      message: 'ioplace: invalid demand: container "app" ioplace.io/iops "-5" is negative',
    });
    expect(reservations.size).toBe(0);
    expect(commitments.on('n')).toEqual(NOTHING_HELD);
  });

  it.each<{ name: string; node: string; reason: string }>([
    { name: 'a node with no report', node: 'unknown', reason: 'unknown' },
    { name: 'a node with a stale report', node: 'stale', reason: 'stale' },
    { name: 'a node that does not measure the dimension', node: 'ingress', reason: 'unmeasured' },
  ])('refuses $name and reserves nothing', ({ node, reason }) => {
    const { placement, inventory, reservations } = wired();
    inventory.record('stale', { capacity: { iops: 1e6 }, usage: {} }, START - STALE_AFTER_MS - 1);
    inventory.record('ingress', { capacity: { ingressBandwidth: 1e9 }, usage: {} }, START);
    expect(placement.reserve('u1', POD_100_IOPS, node, EXPIRES)).toMatchObject({ fits: false, reason });
    expect(reservations.size).toBe(0);
  });

  it('reserves on a node with no report when unknownNodes is allow', () => {
    const { placement, commitments, reservations } = wired({ settings: { unknownNodes: 'allow' } });
    expect(placement.reserve('u1', POD_100_IOPS, 'unknown', EXPIRES)).toEqual({ fits: true });
    expect(reservations.has('u1')).toBe(true);
    expect(commitments.reserved.on('unknown')).toEqual({ iops: 100 });
  });

  it('throws when a fitting pod with demand is reserved on a Placement built without reservations', () => {
    const { placement, inventory, commitments } = wired({ reservations: false });
    inventory.record('n', { capacity: { iops: 1000 }, usage: {} }, START);
    expect(() => placement.reserve('u1', POD_100_IOPS, 'n', EXPIRES)).toThrow(
      'Placement was built without reservations',
    );
    expect(commitments.on('n')).toEqual(NOTHING_HELD);
    // Nothing to reserve: no need for reservations.
    expect(placement.reserve('u2', NO_DEMAND, 'n', EXPIRES)).toEqual({ fits: true });
  });
});

describe('Placement.filter with a RejectionMemory, and roomForRejected', () => {
  const NEEDS_200 = demandOf({ iops: 200 });

  /** busy: capacity 1000, 900 in use: 100 free, short for 200 */
  function busyCluster(options: Parameters<typeof wired>[0] = {}) {
    const c = wired(options);
    c.inventory.record('busy', { capacity: { iops: 1000 }, usage: { iops: 900 } }, START);
    return c;
  }

  it('notes a rejection, tells of room once a later report frees enough, then not again', () => {
    const { placement, inventory, advance, now } = busyCluster();
    expect(placement.filter(NEEDS_200, ['busy']).failed).toHaveProperty('busy');
    expect(placement.roomForRejected('busy')).toBe(false);

    advance(1000);
    inventory.record('busy', { capacity: { iops: 1000 }, usage: { iops: 850 } }, now());
    // 150 free: a rise, but not enough for the pod that was turned away.
    expect(placement.roomForRejected('busy')).toBe(false);

    advance(1000);
    inventory.record('busy', { capacity: { iops: 1000 }, usage: { iops: 800 } }, now());
    expect(placement.roomForRejected('busy')).toBe(true);
    expect(placement.roomForRejected('busy')).toBe(false);
  });

  it('tells of room on a node that was turned away as stale once a fresh report arrives', () => {
    const { placement, inventory, advance, now } = busyCluster();
    inventory.record('old', { capacity: { iops: 1000 }, usage: {} }, START - STALE_AFTER_MS - 1);
    expect(placement.filter(NEEDS_200, ['old']).unresolvable).toHaveProperty('old');
    expect(placement.roomForRejected('old')).toBe(false);
    advance(1000);
    inventory.record('old', { capacity: { iops: 1000 }, usage: {} }, now());
    expect(placement.roomForRejected('old')).toBe(true);
  });

  it.each<{ part: 'pods' | 'unmeasured' | 'reserved' }>([
    { part: 'pods' },
    { part: 'unmeasured' },
    { part: 'reserved' },
  ])('counts commitments ($part): freed usage held by a new commitment is no room', ({ part }) => {
    const { placement, inventory, commitments, advance, now } = busyCluster();
    placement.filter(NEEDS_200, ['busy']);
    // Whichever part holds it, 900 of 1000 promised leaves 100 free once usage drops to 0.
    commitments[part].hold('other', 'busy', { iops: 900 });
    advance(1000);
    inventory.record('busy', { capacity: { iops: 1000 }, usage: { iops: 0 } }, now());
    expect(placement.roomForRejected('busy')).toBe(false);
    commitments[part].release('other');
    expect(placement.roomForRejected('busy')).toBe(true);
  });

  it('forgets rejections older than the memory window', () => {
    const { placement, inventory, advance, now } = busyCluster();
    placement.filter(NEEDS_200, ['busy']);
    advance(REMEMBER_MS + 1);
    inventory.record('busy', { capacity: { iops: 1000 }, usage: {} }, now());
    expect(placement.roomForRejected('busy')).toBe(false);
  });

  it.each<{ name: string; demand: DemandResult; node: string }>([
    { name: 'a node that passed', demand: NEEDS_200, node: 'roomy' },
    { name: 'an invalid demand', demand: INVALID, node: 'busy' },
    { name: 'a pod with no demand', demand: NO_DEMAND, node: 'busy' },
  ])('notes nothing for $name', ({ demand, node }) => {
    const { placement, inventory, advance, now } = busyCluster();
    inventory.record('roomy', { capacity: { iops: 1000 }, usage: { iops: 500 } }, START);
    placement.filter(demand, [node]);
    advance(1000);
    inventory.record(node, { capacity: { iops: 1e6 }, usage: {} }, now());
    expect(placement.roomForRejected(node)).toBe(false);
  });

  it('notes each rejected candidate separately', () => {
    const { placement, inventory, advance, now } = busyCluster();
    inventory.record('busy-2', { capacity: { iops: 1000 }, usage: { iops: 900 } }, START);
    expect(placement.filter(NEEDS_200, ['busy', 'busy-2']).passed).toEqual([]);
    advance(1000);
    inventory.record('busy-2', { capacity: { iops: 1000 }, usage: {} }, now());
    expect(placement.roomForRejected('busy')).toBe(false);
    expect(placement.roomForRejected('busy-2')).toBe(true);
  });

  it('filters the same without a RejectionMemory, and roomForRejected is always false', () => {
    const { placement, inventory, advance, now } = busyCluster({ rejections: false });
    expect(placement.filter(NEEDS_200, ['busy'])).toEqual({
      passed: [],
      failed: { busy: 'ioplace: not enough iops: needs 200, 100 free of 1k allocatable' },
      unresolvable: {},
      rejections: { insufficient: 1 },
    });
    advance(1000);
    inventory.record('busy', { capacity: { iops: 1000 }, usage: {} }, now());
    expect(placement.roomForRejected('busy')).toBe(false);
  });
});

describe('Placement.evictionHelps', () => {
  const NEEDS_200 = demandOf({ iops: 200 });

  function busyCluster() {
    const c = wired();
    // busy: capacity 1000, 900 in use and 600 held by bound pods: 100 free
    c.inventory.record('busy', { capacity: { iops: 1000 }, usage: { iops: 900 } }, START);
    c.commitments.pods.hold('v', 'busy', { iops: 600 });
    return c;
  }

  it('is false for an invalid demand, however much is freed', () => {
    const { placement } = busyCluster();
    expect(placement.evictionHelps(INVALID, 'busy', { iops: 1e6 })).toBe(false);
  });

  it('is true for a pod with no demand, even on an unknown node with nothing freed', () => {
    const { placement } = busyCluster();
    expect(placement.evictionHelps(NO_DEMAND, 'unknown', {})).toBe(true);
  });

  it.each<{ name: string; freed: Amounts; helps: boolean }>([
    { name: 'nothing freed', freed: {}, helps: false },
    { name: 'one short: usage 900 - 99 leaves 199', freed: { iops: 99 }, helps: false },
    { name: 'exactly enough: usage 900 - 100 leaves 200', freed: { iops: 100 }, helps: true },
    { name: 'more than enough', freed: { iops: 600 }, helps: true },
    { name: 'freed in another dimension', freed: { ingressBandwidth: 1e9 }, helps: false },
  ])('real demand, $name -> $helps', ({ freed, helps }) => {
    const { placement } = busyCluster();
    expect(placement.evictionHelps(NEEDS_200, 'busy', freed)).toBe(helps);
  });

  it('counts the commitments on the node', () => {
    const { placement, commitments } = busyCluster();
    // pods 950 now outweigh usage 900: freeing 100 leaves max(800, 850) -> 150 free
    commitments.pods.hold('w', 'busy', { iops: 350 });
    expect(placement.evictionHelps(NEEDS_200, 'busy', { iops: 100 })).toBe(false);
    expect(placement.evictionHelps(NEEDS_200, 'busy', { iops: 150 })).toBe(true);
  });

  it('counts unmeasured pods on top of usage', () => {
    const { placement, commitments } = busyCluster();
    // usage 900 + unmeasured 100: freeing 100 leaves max(900, 500) -> 100 free; 200 -> 200 free
    commitments.unmeasured.hold('v', 'busy', { iops: 100 });
    expect(placement.evictionHelps(NEEDS_200, 'busy', { iops: 100 })).toBe(false);
    expect(placement.evictionHelps(NEEDS_200, 'busy', { iops: 200 })).toBe(true);
  });

  it('counts reservations, which no eviction frees', () => {
    const { placement, commitments } = busyCluster();
    // 1000 - 100 reserved - max(900 - freed, 600 - freed): freeing 100 leaves 100, 200 leaves 200
    commitments.reserved.hold('r', 'busy', { iops: 100 });
    expect(placement.evictionHelps(NEEDS_200, 'busy', { iops: 100 })).toBe(false);
    expect(placement.evictionHelps(NEEDS_200, 'busy', { iops: 200 })).toBe(true);
  });

  it('follows unknownNodes in the current settings for a node with no report', () => {
    const { placement, configure } = busyCluster();
    expect(placement.evictionHelps(NEEDS_200, 'unknown', { iops: 100 })).toBe(false);
    configure({ unknownNodes: 'allow' });
    expect(placement.evictionHelps(NEEDS_200, 'unknown', { iops: 100 })).toBe(true);
  });

  it('follows the clock: the same node is no help once its report is stale', () => {
    const { placement, advance } = busyCluster();
    expect(placement.evictionHelps(NEEDS_200, 'busy', { iops: 100 })).toBe(true);
    advance(STALE_AFTER_MS + 1);
    expect(placement.evictionHelps(NEEDS_200, 'busy', { iops: 100 })).toBe(false);
  });
});

describe('Placement with a PodStore: a newly bound pod is not free room', () => {
  it('counts a pod bound since the last report on top of usage until a report after it ran', () => {
    const { placement, inventory, commitments, reservations, advance, now } = wired();
    const store = new PodStore({ commitments, reservations, clock: now });
    store.replace([]);
    inventory.record('n', { capacity: { iops: 1000 }, usage: { iops: 300 } }, now());

    // Bound at bind time: reserved on top of usage.
    expect(placement.reserve('u1', demandOf({ iops: 500 }), 'n', now() + 30_000).fits).toBe(true);
    expect(placement.assess('n').free).toEqual({ iops: 200 }); // 1000 - 500 - max(300, 0)

    // The watch shows it: no longer reserved, but unmeasured, so still on top of usage.
    advance(100);
    store.upsert({
      uid: 'u1',
      node: 'n',
      phase: 'Pending',
      demand: { iops: 500 },
      priority: 0,
      startedAt: undefined,
    });
    expect(placement.assess('n').free).toEqual({ iops: 200 }); // 1000 - max(300 + 500, 500)

    // Running but idle: a report after that shows no more usage. Until the store hears of the
    // report the pod still counts on top of it.
    advance(100);
    store.upsert({
      uid: 'u1',
      node: 'n',
      phase: 'Running',
      demand: { iops: 500 },
      priority: 0,
      startedAt: undefined,
    });
    advance(100);
    inventory.record('n', { capacity: { iops: 1000 }, usage: { iops: 300 } }, now());
    expect(placement.assess('n').free).toEqual({ iops: 200 });
    expect(store.measured('n', now())).toBe(1);
    // Measured: the pod's demand now enters by the max with usage, as a bound pod.
    expect(placement.assess('n').free).toEqual({ iops: 500 }); // 1000 - max(300, 500)
  });
});
