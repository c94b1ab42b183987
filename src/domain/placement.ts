import type { Clock } from './clock.js';
import type { Commitments } from './commitments.js';
import type { DemandResult } from './demand.js';
import {
  FitPlan,
  type FitVerdict,
  fitVerdict,
  invalidDemandVerdict,
  memoizedFormat,
  type RejectReason,
} from './fit.js';
import type { Inventory } from './inventory.js';
import { assessNode, type NodeAssessment, type NodeFit } from './node-assessment.js';
import type { NodeBook } from './node-book.js';
import { NodeFigures } from './node-figures.js';
import type { PlacementSettings } from './placement-settings.js';
import { evictionMakesRoom } from './preemption.js';
import type { RejectionMemory } from './rejection-memory.js';
import type { Reservations } from './reservations.js';
import { type Amounts, DIMENSIONS } from './resources.js';
import { type ScoreBreakdown, ScorePlan, scoreNode, scoreValue } from './scoring.js';
import { VerdictMemo } from './verdict-memo.js';
import { type EvictablePod, selectVictims, type VictimSelection } from './victim-selection.js';

export interface FilterOutcome {
  /** Indexes into the candidate list of the nodes that fit, in request order. */
  readonly passed: number[];
  /** Nodes that do not fit now but might after preemption. */
  readonly failed: Record<string, string>;
  /** Nodes that cannot fit whatever is evicted. */
  readonly unresolvable: Record<string, string>;
  readonly rejections: Partial<Record<RejectReason, number>>;
}

/**
 * Placement decisions over the live inventory and commitments. Settings are read through a
 * function on every call so that a reloaded config applies to the very next request.
 */
export class Placement {
  readonly #inventory: Inventory;
  readonly #commitments: Commitments;
  readonly #book: NodeBook;
  readonly #clock: Clock;
  readonly #settings: () => PlacementSettings;
  readonly #reservations: Reservations | undefined;
  readonly #rejections: RejectionMemory | undefined;
  readonly #verdicts = new VerdictMemo();

  constructor(deps: {
    inventory: Inventory;
    commitments: Commitments;
    clock: Clock;
    settings: () => PlacementSettings;
    /** Needed to reserve at bind. */
    reservations?: Reservations;
    /** When given, rejections are remembered so that a rise in free capacity can be told apart. */
    rejections?: RejectionMemory;
  }) {
    if (deps.inventory.book !== deps.commitments.book) {
      // Placement reads reports and commitments through one lookup in one shared book.
      throw new RangeError('the inventory and the commitments must share one NodeBook');
    }
    this.#inventory = deps.inventory;
    this.#commitments = deps.commitments;
    this.#book = deps.inventory.book;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
    this.#reservations = deps.reservations;
    this.#rejections = deps.rejections;
  }

  get settings(): PlacementSettings {
    return this.#settings();
  }

  /** `settings` previews other tunables without changing the live ones (explain). */
  assess(node: string, now = this.#clock(), settings = this.#settings()): NodeAssessment {
    return assessNode(node, this.#inventory.get(node), this.#commitments.on(node), now, settings);
  }

  verdict(
    demand: DemandResult,
    node: NodeFit,
    settings = this.#settings(),
    format?: (value: number, round: 'up' | 'down') => string,
  ): FitVerdict {
    if (!demand.ok) return invalidDemandVerdict(demand.problem);
    if (demand.none) return { fits: true };
    return fitVerdict(demand.demand, node, settings, format);
  }

  filter(demand: DemandResult, candidates: readonly string[]): FilterOutcome {
    // Maps without a prototype: a candidate may be named anything, "__proto__" included.
    const outcome: FilterOutcome = {
      passed: [],
      failed: Object.create(null) as Record<string, string>,
      unresolvable: Object.create(null) as Record<string, string>,
      rejections: {},
    };
    if (demand.ok && demand.none) {
      // Fast path: a pod that asks for nothing we manage fits everywhere.
      for (let i = 0; i < candidates.length; i++) outcome.passed.push(i);
      return outcome;
    }
    const now = this.#clock();
    const settings = this.#settings();
    const book = this.#book;
    // Most candidates fit: the plan passes them from their figure rows. The others go through
    // fitVerdict on one reusable view (nothing allocated per node), for their messages.
    const plan = demand.ok ? new FitPlan(demand.demand) : undefined;
    const figures = new NodeFigures();
    const format = memoizedFormat();
    const question = demand.ok ? verdictQuestion(demand.demand, settings) : undefined;
    for (let i = 0; i < candidates.length; i++) {
      const name = candidates[i] as string;
      const row = book.rowOf(name);
      const rows = plan !== undefined && row >= 0 ? book.freshFigures(row, now, settings) : undefined;
      if (rows !== undefined && plan?.fitsRow(rows, row)) {
        outcome.passed.push(i);
        continue;
      }
      const state = row >= 0 ? book.stateAt(row) : undefined;
      const node = figures.load(state, now, settings);
      // Only a fresh node's verdict depends on its figures; the others are cheap to give again.
      const memoable = question !== undefined && state !== undefined && node.fresh;
      let verdict = memoable ? this.#verdicts.recall(state, question) : undefined;
      if (verdict === undefined) {
        verdict = this.verdict(demand, node, settings, format);
        if (memoable && !verdict.fits) this.#verdicts.remember(state, question, verdict);
      }
      if (verdict.fits) {
        outcome.passed.push(i);
        continue;
      }
      (verdict.unresolvable ? outcome.unresolvable : outcome.failed)[name] = verdict.message;
      outcome.rejections[verdict.reason] = (outcome.rejections[verdict.reason] ?? 0) + 1;
      if (demand.ok) this.#rejections?.note(name, demand.demand, now);
    }
    return outcome;
  }

  score(demand: DemandResult, node: NodeFit, settings = this.#settings()): ScoreBreakdown {
    if (!demand.ok) return { score: 0, dimensions: {} };
    return scoreNode(demand.demand, !demand.none, node, settings);
  }

  /** One integer score per candidate, in candidate order. */
  prioritize(demand: DemandResult, candidates: readonly string[]): number[] {
    const settings = this.#settings();
    if (!demand.ok || (demand.none && !settings.scoreAllPods)) return candidates.map(() => 0);
    const now = this.#clock();
    const book = this.#book;
    if (!demand.none) {
      // A pod with demand is scored from the figure rows (see ScorePlan); no fresh report, 0.
      const plan = new ScorePlan(demand.demand, settings);
      return candidates.map((name) => {
        const row = book.rowOf(name);
        const rows = row < 0 ? undefined : book.freshFigures(row, now, settings);
        return rows === undefined ? 0 : plan.scoreRow(rows, row);
      });
    }
    const figures = new NodeFigures();
    return candidates.map((name) =>
      scoreValue(demand.demand, false, figures.load(book.get(name), now, settings), settings),
    );
  }

  /**
   * Check-and-reserve for bind, in one synchronous step so that no other request can slip in
   * between: the pod must still fit on the node against every commitment and reservation, and if
   * it does its demand is reserved there at once.
   */
  reserve(uid: string, demand: DemandResult, node: string, expiresAt: number): FitVerdict {
    const verdict = this.verdict(demand, this.assess(node));
    if (verdict.fits && demand.ok && !demand.none) {
      if (this.#reservations === undefined) throw new Error('Placement was built without reservations');
      this.#reservations.reserve(uid, node, demand.demand, expiresAt);
    }
    return verdict;
  }

  /** Whether evicting victims that hold `freed` on `node` would make room for the preemptor. */
  evictionHelps(demand: DemandResult, node: string, freed: Amounts): boolean {
    if (!demand.ok) return false;
    if (demand.none) return true;
    return evictionMakesRoom(demand.demand, this.assess(node), freed, this.#settings());
  }

  /**
   * Which of `pods` (on `node`) to evict on top of victims already given that free `given`, for a
   * preemptor of `priority` asking for `demand`: see selectVictims.
   */
  chooseVictims<P extends EvictablePod>(
    demand: Amounts,
    node: string,
    given: Amounts,
    pods: readonly P[],
    priority: number,
  ): VictimSelection<P> {
    return selectVictims(demand, this.assess(node), given, pods, priority, this.#settings());
  }

  /** True when the node now has room for a demand it recently turned away (reported once). */
  roomForRejected(node: string): boolean {
    return this.#rejections?.takeFitting(this.assess(node), this.#clock()) ?? false;
  }
}

/** What a fit verdict on a fresh node depends on, besides the node: the demand and two settings. */
function verdictQuestion(demand: Amounts, settings: PlacementSettings): string {
  return `${DIMENSIONS.map((d) => demand[d]).join('/')}/${settings.unknownNodes}/${settings.reserveFraction}`;
}
