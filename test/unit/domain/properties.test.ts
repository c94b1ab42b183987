/**
 * Property-based tests of the pure domain: whatever the inventory, commitments, settings and pod
 * demand, filter, prioritize and reserve keep the promises the README makes. fast-check generates
 * the cases and shrinks a failure to a small one; a failure prints its seed and path, so
 * `fc.assert(..., { seed, path })` replays it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';
import type { DemandResult } from '../../../src/domain/demand.js';
import { FitPlan, fitVerdict } from '../../../src/domain/fit.js';
import { formatAmount } from '../../../src/domain/human-units.js';
import { Inventory } from '../../../src/domain/inventory.js';
import { assessNode, type NodeAssessment } from '../../../src/domain/node-assessment.js';
import { NodeBook } from '../../../src/domain/node-book.js';
import { Placement } from '../../../src/domain/placement.js';
import type { PlacementSettings } from '../../../src/domain/placement-settings.js';
import { parseQuantity } from '../../../src/domain/quantity.js';
import { Reservations } from '../../../src/domain/reservations.js';
import { type Amounts, DIMENSIONS, isEmpty } from '../../../src/domain/resources.js';
import { ScorePlan, scoreValue } from '../../../src/domain/scoring.js';

const NOW = Date.parse('2026-11-25T20:00:00Z');
const NUM_RUNS = 300;

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Nodes that may have a report and commitments. */
const REPORTING = ['node-a', 'node-b', 'node-c', 'node-d'] as const;
/**
 * Candidate names: the nodes above, nodes never heard of, and names that are also properties of
 * Object.prototype (the outcome maps are plain objects).
 */
const CANDIDATES = [...REPORTING, 'never-reported', 'constructor', 'toString', 'hasOwnProperty'] as const;

/**
 * A measured amount: zero, whole, fractional, tiny or huge, never negative, up to 1e12. Mostly on
 * the scale of the demands below, so that fits, shortfalls and middling scores all come up
 * (fc.double alone gives mostly tiny numbers: doubles are dense near 0).
 */
const amount = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 10_000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 1e12 }) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1e12, noNaN: true }) },
);

/** Amounts with every dimension possibly missing. */
const amounts = fc.record(
  { ingressBandwidth: amount, egressBandwidth: amount, iops: amount },
  { requiredKeys: [] },
);

/** What a pod asks for: positive, mostly whole as parseQuantity makes it, up to 1e12. */
const need = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 5_000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 1e12 }) },
  { weight: 1, arbitrary: fc.double({ min: Number.MIN_VALUE, max: 1e12, noNaN: true }) },
);
const demandAmounts = fc.record(
  { ingressBandwidth: need, egressBandwidth: need, iops: need },
  { requiredKeys: [] },
);

/** A pod's demand as podDemand gives it: some amounts, none at all, or an invalid quantity. */
const demandResult: fc.Arbitrary<DemandResult> = fc.oneof(
  {
    weight: 8,
    arbitrary: demandAmounts.map((demand): DemandResult => ({ ok: true, demand, none: isEmpty(demand) })),
  },
  {
    weight: 1,
    arbitrary: fc.constant<DemandResult>({
      ok: false,
      problem: 'container "app" ioplace.io/iops "-5" is negative',
    }),
  },
);

const weight = fc.oneof(
  fc.constantFrom(0, 1, 1000),
  fc.integer({ min: 0, max: 1000 }),
  fc.double({ min: 0, max: 1000, noNaN: true }),
);

const settingsArb: fc.Arbitrary<PlacementSettings> = fc.record({
  staleAfterMs: fc.integer({ min: 1, max: 86_400_000 }),
  reserveFraction: fc.oneof(
    fc.constantFrom(0, 0.1, 0.5),
    fc.integer({ min: 0, max: 999 }).map((permille) => permille / 1000),
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  ),
  unknownNodes: fc.constantFrom('reject', 'allow'),
  strategy: fc.constantFrom('spread', 'pack'),
  weights: fc.record({ ingressBandwidth: weight, egressBandwidth: weight, iops: weight }),
  scoreAllPods: fc.boolean(),
});

interface NodeState {
  /** Absent: the node never reported. */
  readonly report?: {
    readonly capacity: Amounts;
    readonly usage: Amounts;
    /** Age of the report as a multiple of staleAfter: 1 is the last fresh instant; below 0 is the future. */
    readonly age: number;
  };
  /** Holders on the node, per part of the commitments. */
  readonly pods: readonly Amounts[];
  readonly unmeasured: readonly Amounts[];
  readonly reserved: readonly Amounts[];
}

const nodeState: fc.Arbitrary<NodeState> = fc.record(
  {
    report: fc.record({
      capacity: amounts,
      usage: amounts,
      age: fc.oneof(
        fc.constantFrom(0, 1, -0.01),
        fc.integer({ min: 0, max: 2_000 }).map((permille) => permille / 1000),
      ),
    }),
    pods: fc.array(amounts, { maxLength: 2 }),
    unmeasured: fc.array(amounts, { maxLength: 2 }),
    reserved: fc.array(amounts, { maxLength: 2 }),
  },
  { requiredKeys: ['pods', 'unmeasured', 'reserved'] },
);

interface World {
  readonly settings: PlacementSettings;
  readonly nodes: readonly NodeState[];
}

const worldArb: fc.Arbitrary<World> = fc.record({
  settings: settingsArb,
  nodes: fc.tuple(...REPORTING.map(() => nodeState)),
});

/** Candidate lists: any names, in any order, duplicates included. */
const candidatesArb = fc.array(fc.constantFrom(...CANDIDATES), { maxLength: 12 });

// ---------------------------------------------------------------------------------------------
// The world under test

function build(world: World) {
  const book = new NodeBook();
  const inventory = new Inventory({ maxNodes: 100, book });
  const commitments = new Commitments(book);
  const reservations = new Reservations(commitments.reserved);
  REPORTING.forEach((name, i) => {
    const state = world.nodes[i] as NodeState;
    if (state.report !== undefined) {
      const { capacity, usage, age } = state.report;
      inventory.record(name, { capacity, usage }, NOW - Math.round(age * world.settings.staleAfterMs));
    }
    for (const [j, a] of state.pods.entries()) commitments.pods.hold(`${name}/pod-${j}`, name, a);
    for (const [j, a] of state.unmeasured.entries())
      commitments.unmeasured.hold(`${name}/unmeasured-${j}`, name, a);
    for (const [j, a] of state.reserved.entries())
      commitments.reserved.hold(`${name}/reserved-${j}`, name, a);
  });
  const placement = new Placement({
    inventory,
    commitments,
    reservations,
    clock: () => NOW,
    settings: () => world.settings,
  });
  /** The node as assessNode sees it now: the reference every property compares with. */
  const assess = (name: string): NodeAssessment =>
    assessNode(name, inventory.get(name), commitments.on(name), NOW, world.settings);
  /** The node's row of figures as filter and prioritize read it; undefined unless fresh. */
  const row = (name: string) => {
    const at = book.rowOf(name);
    const figures = at < 0 ? undefined : book.freshFigures(at, NOW, world.settings);
    return figures === undefined ? undefined : { figures, at };
  };
  return { placement, assess, reservations, row };
}

/**
 * Why filter may pass `demand` on `node`, or undefined when it must not: every dimension asked
 * for is within free capacity, or (with unknownNodes allow) the node has no fresh report or no
 * figure for it.
 */
function mayPass(demand: DemandResult, node: NodeAssessment, settings: PlacementSettings): boolean {
  if (!demand.ok) return false;
  if (demand.none) return true;
  const lenient = settings.unknownNodes === 'allow';
  if (!node.fresh) return lenient;
  for (const d of DIMENSIONS) {
    const want = demand.demand[d];
    if (want === undefined) continue;
    const free = node.free[d];
    if (free === undefined) {
      if (!lenient) return false;
    } else if (want > free) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Properties

describe('Placement.filter', () => {
  it('(a) never passes a node whose free capacity is below the demand, unless unknown nodes are allowed there', () => {
    fc.assert(
      fc.property(worldArb, demandResult, candidatesArb, (world, demand, candidates) => {
        const { placement, assess } = build(world);
        const outcome = placement.filter(demand, candidates);
        for (const i of outcome.passed) {
          const name = candidates[i] as string;
          expect(mayPass(demand, assess(name), world.settings), `${name} passed`).toBe(true);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('(a) turns a node away only when it may not pass: the fit is exact', () => {
    fc.assert(
      fc.property(worldArb, demandResult, candidatesArb, (world, demand, candidates) => {
        const { placement, assess } = build(world);
        const passed = new Set(placement.filter(demand, candidates).passed);
        candidates.forEach((name, i) => {
          expect(passed.has(i), `${name} at ${i}`).toBe(mayPass(demand, assess(name), world.settings));
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('(d) accounts every candidate exactly once across passed, failed and unresolvable', () => {
    fc.assert(
      fc.property(worldArb, demandResult, candidatesArb, (world, demand, candidates) => {
        const { placement } = build(world);
        const outcome = placement.filter(demand, candidates);

        // passed: indexes into the candidates, ascending, each once.
        outcome.passed.forEach((index, k) => {
          expect(Number.isInteger(index) && index >= 0 && index < candidates.length).toBe(true);
          if (k > 0) expect(index).toBeGreaterThan(outcome.passed[k - 1] as number);
        });
        const passedNames = new Set(outcome.passed.map((i) => candidates[i] as string));
        // A duplicate gets the same verdict at every position.
        const passedIndexes = new Set(outcome.passed);
        candidates.forEach((name, i) => {
          expect(passedIndexes.has(i)).toBe(passedNames.has(name));
        });
        // Every distinct name is in exactly one of the three, and nothing else is.
        for (const name of new Set(candidates)) {
          const places = [
            passedNames.has(name),
            Object.hasOwn(outcome.failed, name),
            Object.hasOwn(outcome.unresolvable, name),
          ].filter(Boolean).length;
          expect(places, name).toBe(1);
        }
        const named = new Set<string>(candidates);
        for (const name of [...Object.keys(outcome.failed), ...Object.keys(outcome.unresolvable)]) {
          expect(named.has(name), name).toBe(true);
        }
        for (const message of [...Object.values(outcome.failed), ...Object.values(outcome.unresolvable)]) {
          expect(message).toMatch(/^ioplace: /);
        }
        // The reasons count every turned-away position, duplicates included.
        const rejected = Object.values(outcome.rejections).reduce((sum, n) => sum + n, 0);
        expect(rejected).toBe(candidates.length - outcome.passed.length);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('accounts a candidate named __proto__ like any other (regression: it vanished from the answer)', () => {
    // The minimal counterexample (d) once found with Object.prototype's own name: while the
    // outcome maps were plain objects, `failed['__proto__'] = message` set nothing, and the node
    // was in neither NodeNames nor the failed maps of the answer. Reachable over HTTP: the filter
    // schema accepts any NodeNames string. (Kubernetes node names cannot be `__proto__`.) The
    // maps have no prototype now.
    const { placement } = build({
      settings: {
        staleAfterMs: 30_000,
        reserveFraction: 0,
        unknownNodes: 'reject',
        strategy: 'spread',
        weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 1 },
        scoreAllPods: false,
      },
      nodes: REPORTING.map(() => ({ pods: [], unmeasured: [], reserved: [] })),
    });
    const outcome = placement.filter({ ok: true, demand: { iops: 1 }, none: false }, ['__proto__']);
    expect(Object.hasOwn(outcome.unresolvable, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(outcome.unresolvable, '__proto__')?.value).toBe(
      'ioplace: no report from this node',
    );
    expect(outcome.rejections).toEqual({ unknown: 1 });
  });
});

describe('Placement.prioritize', () => {
  it('(b) scores are always integers from 0 to 10', () => {
    fc.assert(
      fc.property(worldArb, demandResult, candidatesArb, (world, demand, candidates) => {
        const { placement, assess } = build(world);
        for (const score of placement.prioritize(demand, candidates)) {
          expect(Number.isInteger(score), String(score)).toBe(true);
          expect(score).toBeGreaterThanOrEqual(0);
          expect(score).toBeLessThanOrEqual(10);
        }
        // The explain view scores through the same function.
        for (const name of candidates) {
          const { score, dimensions } = placement.score(demand, assess(name));
          expect(Number.isInteger(score) && score >= 0 && score <= 10, String(score)).toBe(true);
          for (const share of Object.values(dimensions)) {
            expect(share >= 0 && share <= 1, String(share)).toBe(true);
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('(c) answers every candidate exactly once, in order, duplicates included', () => {
    fc.assert(
      fc.property(worldArb, demandResult, candidatesArb, (world, demand, candidates) => {
        const { placement, assess } = build(world);
        const scores = placement.prioritize(demand, candidates);
        expect(scores).toHaveLength(candidates.length);
        const neutral = !demand.ok || (demand.none && !world.settings.scoreAllPods);
        candidates.forEach((name, i) => {
          const expected = neutral ? 0 : placement.score(demand, assess(name)).score;
          expect(scores[i], `${name} at ${i}`).toBe(expected);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('the row forms equal their references on every fresh node', () => {
  const demandArb = demandAmounts.filter((demand) => !isEmpty(demand));

  it('FitPlan.fitsRow passes exactly where fitVerdict passes with every demanded dimension measured', () => {
    fc.assert(
      fc.property(worldArb, demandArb, (world, demand) => {
        const { assess, row } = build(world);
        for (const name of REPORTING) {
          const fresh = row(name);
          if (fresh === undefined) continue;
          const node = assess(name);
          // The demand, and the demand raised or lowered to exactly what is free: the edge.
          const edge: Amounts = {};
          for (const d of DIMENSIONS) {
            const free = node.free[d];
            if (demand[d] !== undefined) edge[d] = free !== undefined && free > 0 ? free : demand[d];
          }
          for (const asked of [demand, edge]) {
            const measured = DIMENSIONS.every((d) => asked[d] === undefined || node.free[d] !== undefined);
            const reference = fitVerdict(asked, node, world.settings).fits && measured;
            expect(new FitPlan(asked).fitsRow(fresh.figures, fresh.at), name).toBe(reference);
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('ScorePlan.scoreRow is scoreValue, to the last bit', () => {
    fc.assert(
      fc.property(worldArb, demandArb, (world, demand) => {
        const { assess, row } = build(world);
        const plan = new ScorePlan(demand, world.settings);
        for (const name of REPORTING) {
          const fresh = row(name);
          if (fresh === undefined) continue;
          const reference = scoreValue(demand, true, assess(name), world.settings);
          expect(plan.scoreRow(fresh.figures, fresh.at), name).toBe(reference);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('Placement.reserve', () => {
  type Op =
    | { readonly kind: 'reserve'; readonly uid: string; readonly node: string; readonly demand: DemandResult }
    | { readonly kind: 'release'; readonly uid: string };
  const uid = fc.constantFrom('uid-0', 'uid-1', 'uid-2', 'uid-3', 'uid-4', 'uid-5');
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        uid,
        node: fc.constantFrom(...REPORTING, 'never-reported'),
        demand: demandResult,
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), uid }) },
  );

  it('(e) never reserves more than free capacity allowed: each reservation fit when taken, free stays >= 0', () => {
    fc.assert(
      fc.property(worldArb, fc.array(op, { maxLength: 40 }), (world, ops) => {
        const { placement, assess, reservations } = build(world);
        const names = [...REPORTING, 'never-reported'];
        const initial = new Map(names.map((n) => [n, assess(n)] as const));
        /** Reservations held now, by uid, as this test took them. */
        const held = new Map<string, { node: string; demand: Amounts }>();

        for (const o of ops) {
          if (o.kind === 'release') {
            reservations.release(o.uid);
            held.delete(o.uid);
            continue;
          }
          const before = assess(o.node);
          const verdict = placement.reserve(o.uid, o.demand, o.node, NOW + 60_000);
          if (!verdict.fits) continue;
          expect(mayPass(o.demand, before, world.settings), `reserve on ${o.node}`).toBe(true);
          if (o.demand.ok && !o.demand.none) held.set(o.uid, { node: o.node, demand: o.demand.demand });

          for (const name of names) {
            const now = assess(name);
            const start = initial.get(name) as NodeAssessment;
            for (const d of DIMENSIONS) {
              const free = now.free[d];
              if (free !== undefined) expect(free, `${name} ${d} free`).toBeGreaterThanOrEqual(0);
              // Where the fit was checked (a fresh figure), what is held never exceeds what was free.
              const freeAtStart = start.free[d];
              const allocatable = start.allocatable[d];
              if (!start.fresh || freeAtStart === undefined || allocatable === undefined) continue;
              let sum = 0;
              for (const h of held.values()) if (h.node === name) sum += h.demand[d] ?? 0;
              const rounding = 1e-9 * Math.max(1, allocatable);
              expect(sum, `${name} ${d} reserved`).toBeLessThanOrEqual(freeAtStart + rounding);
            }
          }
        }
        expect(reservations.size).toBe(held.size);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('parseQuantity and formatAmount', () => {
  /** Whole numbers up to 1e15, with the prefix boundaries (999, 1000, 999_999_500, ...) favoured. */
  const whole = fc.oneof(
    fc.integer({ min: 0, max: 1e15 }),
    fc
      .integer({ min: 0, max: 5 })
      .chain((k) =>
        fc.integer({ min: -600, max: 600 }).map((delta) => Math.min(1e15, Math.max(0, 1000 ** k + delta))),
      ),
    fc.integer({ min: 0, max: 1e6 }),
  );

  it('(f) a whole number reads back as itself', () => {
    fc.assert(
      fc.property(whole, (n) => {
        expect(parseQuantity(String(n))).toEqual({ ok: true, value: n });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('(f) formatAmount rounds a demand up and free capacity down, by at most its third decimal', () => {
    fc.assert(
      fc.property(whole, (n) => {
        const up = parseQuantity(formatAmount(n, 'up'));
        const down = parseQuantity(formatAmount(n, 'down'));
        if (!up.ok || !down.ok)
          throw new Error(`unreadable: ${formatAmount(n, 'up')} ${formatAmount(n, 'down')}`);
        // Three decimals of the shown prefix: at most a thousandth of the number itself.
        expect(up.value, formatAmount(n, 'up')).toBeGreaterThanOrEqual(n);
        expect(up.value - n, formatAmount(n, 'up')).toBeLessThanOrEqual(n / 1000);
        expect(down.value, formatAmount(n, 'down')).toBeLessThanOrEqual(n);
        expect(n - down.value, formatAmount(n, 'down')).toBeLessThanOrEqual(n / 1000);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
