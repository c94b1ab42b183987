import type { Clock } from './clock.js';
import type { Commitments } from './commitments.js';
import type { DemandResult } from './demand.js';
import { type FitVerdict, fitVerdict, invalidDemandVerdict, type RejectReason } from './fit.js';
import type { Inventory } from './inventory.js';
import { assessNode, type NodeAssessment } from './node-assessment.js';
import type { PlacementSettings } from './placement-settings.js';
import { type ScoreBreakdown, scoreNode } from './scoring.js';

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
  readonly #clock: Clock;
  readonly #settings: () => PlacementSettings;

  constructor(deps: {
    inventory: Inventory;
    commitments: Commitments;
    clock: Clock;
    settings: () => PlacementSettings;
  }) {
    this.#inventory = deps.inventory;
    this.#commitments = deps.commitments;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
  }

  get settings(): PlacementSettings {
    return this.#settings();
  }

  assess(node: string, now = this.#clock()): NodeAssessment {
    return assessNode(node, this.#inventory.get(node), this.#commitments.on(node), now, this.#settings());
  }

  verdict(demand: DemandResult, node: NodeAssessment): FitVerdict {
    if (!demand.ok) return invalidDemandVerdict(demand.problem);
    if (demand.none) return { fits: true };
    return fitVerdict(demand.demand, node, this.#settings());
  }

  filter(demand: DemandResult, candidates: readonly string[]): FilterOutcome {
    const outcome: FilterOutcome = { passed: [], failed: {}, unresolvable: {}, rejections: {} };
    if (demand.ok && demand.none) {
      // Fast path: a pod that asks for nothing we manage fits everywhere.
      for (let i = 0; i < candidates.length; i++) outcome.passed.push(i);
      return outcome;
    }
    const now = this.#clock();
    for (let i = 0; i < candidates.length; i++) {
      const name = candidates[i] as string;
      const verdict = this.verdict(demand, this.assess(name, now));
      if (verdict.fits) {
        outcome.passed.push(i);
        continue;
      }
      (verdict.unresolvable ? outcome.unresolvable : outcome.failed)[name] = verdict.message;
      outcome.rejections[verdict.reason] = (outcome.rejections[verdict.reason] ?? 0) + 1;
    }
    return outcome;
  }

  score(demand: DemandResult, node: NodeAssessment, settings = this.#settings()): ScoreBreakdown {
    if (!demand.ok) return { score: 0, dimensions: {} };
    return scoreNode(demand.demand, !demand.none, node, settings);
  }

  /** One integer score per candidate, in candidate order. */
  prioritize(demand: DemandResult, candidates: readonly string[]): number[] {
    const settings = this.#settings();
    if (!demand.ok || (demand.none && !settings.scoreAllPods)) return candidates.map(() => 0);
    const now = this.#clock();
    return candidates.map((name) => this.score(demand, this.assess(name, now), settings).score);
  }
}
