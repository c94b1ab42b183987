import { allocatableOf, freeOf } from './figure-rows.js';
import type { NodeFit } from './node-assessment.js';
import type { PlacementSettings } from './placement-settings.js';
import { type Amounts, DIMENSIONS } from './resources.js';

/** kube-scheduler's MaxExtenderPriority: extender scores are integers 0..10. */
export const MAX_SCORE = 10;

export interface ScoreBreakdown {
  /** The integer score sent to the scheduler, 0..MAX_SCORE. */
  readonly score: number;
  /** Each scored dimension's share s_d in [0, 1], before weighting. */
  readonly dimensions: Amounts;
}

const ZERO: ScoreBreakdown = Object.freeze({ score: 0, dimensions: Object.freeze({}) });

/**
 * Scoring has two forms, side by side here and held equal by a property test (properties.test.ts):
 * scoreNode and scoreValue, the reference, over any node's figure objects, and ScorePlan, the row
 * form prioritize uses for a pod with demand. The row form is there for speed: prioritize scores
 * every candidate, 5,000 to 15,000 of them a request, and a few reads of one row replace a load of
 * figure objects and a lookup by name per dimension and weight (BENCHMARKS.md, "After issue 8",
 * "What changed").
 */

/**
 * Scores one node for one pod.
 *
 *   after_d  = free_d - demand_d                   (free capacity left once the pod is placed)
 *   frac_d   = clamp(after_d / allocatable_d, 0, 1)
 *   spread:  s_d = frac_d                          (the emptiest node wins)
 *   pack:    s_d = 1 - frac_d, or 0 if after_d < 0 (the fullest node that still fits wins)
 *   score    = round(10 * sum(w_d * s_d) / sum(w_d))
 *
 * over the dimensions d the pod asks for with weight w_d > 0. A dimension the pod asks for but the
 * node does not measure gets s_d = 0. For a pod with no demand and scoreAllPods on, d ranges over
 * the weighted dimensions the node measures, with demand 0. Nodes without a fresh report score 0, and so do pods with no demand unless
 * scoreAllPods is on, so that ioplace stays neutral where it knows nothing.
 */
export function scoreNode(
  demand: Amounts,
  hasDemand: boolean,
  node: NodeFit,
  settings: Pick<PlacementSettings, 'strategy' | 'weights' | 'scoreAllPods'>,
): ScoreBreakdown {
  if (!node.fresh || (!hasDemand && !settings.scoreAllPods)) return ZERO;
  const dimensions: Amounts = {};
  return { score: scoreValue(demand, hasDemand, node, settings, dimensions), dimensions };
}

/** The score alone (see scoreNode), writing each dimension's share into `shares` when given. */
export function scoreValue(
  demand: Amounts,
  hasDemand: boolean,
  node: NodeFit,
  settings: Pick<PlacementSettings, 'strategy' | 'weights' | 'scoreAllPods'>,
  shares?: Amounts,
): number {
  if (!node.fresh || (!hasDemand && !settings.scoreAllPods)) return 0;
  let weighted = 0;
  let totalWeight = 0;
  for (const d of DIMENSIONS) {
    const weight = settings.weights[d];
    if (weight <= 0) continue;
    const need = demand[d];
    const allocatable = node.allocatable[d];
    if (hasDemand ? need === undefined : allocatable === undefined) continue;
    const share = dimensionShare(need ?? 0, node.free[d], allocatable, settings.strategy);
    if (shares !== undefined) shares[d] = share;
    weighted += weight * share;
    totalWeight += weight;
  }
  return finalScore(weighted, totalWeight);
}

/**
 * scoreValue's row form for a pod with demand: the demand resolved once per scheduling request
 * into the scored dimensions (asked for, with a positive weight; as indexes into DIMENSIONS), their
 * amounts and weights, so that scoring a fresh node is a few reads of its row of figures
 * (NodeBook.figures). The sums run in the order of DIMENSIONS, as scoreValue's do, so that both
 * give the same number to the last bit.
 */
export class ScorePlan {
  readonly #scored: number[] = [];
  readonly #needs: number[] = [];
  readonly #weights: number[] = [];
  readonly #strategy: PlacementSettings['strategy'];

  constructor(demand: Amounts, settings: Pick<PlacementSettings, 'weights' | 'strategy'>) {
    this.#strategy = settings.strategy;
    DIMENSIONS.forEach((d, i) => {
      const need = demand[d];
      const weight = settings.weights[d];
      if (need === undefined || weight <= 0) return;
      this.#scored.push(i);
      this.#needs.push(need);
      this.#weights.push(weight);
    });
  }

  /** scoreValue(demand, true, node, settings) of a fresh node, from the node's row. */
  scoreRow(figures: Float64Array, row: number): number {
    const scored = this.#scored;
    let weighted = 0;
    let totalWeight = 0;
    for (let k = 0; k < scored.length; k++) {
      const i = scored[k] as number;
      const free = freeOf(figures, row, i);
      const allocatable = allocatableOf(figures, row, i);
      const weight = this.#weights[k] as number;
      weighted +=
        weight *
        dimensionShare(
          this.#needs[k] as number,
          Number.isNaN(free) ? undefined : free,
          Number.isNaN(allocatable) ? undefined : allocatable,
          this.#strategy,
        );
      totalWeight += weight;
    }
    return finalScore(weighted, totalWeight);
  }
}

/** round(10 * sum(w_d * s_d) / sum(w_d)), clamped to 0..MAX_SCORE; 0 when nothing was weighed. */
export function finalScore(weighted: number, totalWeight: number): number {
  if (totalWeight === 0) return 0;
  return Math.min(MAX_SCORE, Math.max(0, Math.round((MAX_SCORE * weighted) / totalWeight)));
}

/** s_d of one dimension (see scoreNode); 0 when the node does not measure it. */
export function dimensionShare(
  need: number,
  free: number | undefined,
  allocatable: number | undefined,
  strategy: PlacementSettings['strategy'],
): number {
  if (free === undefined || allocatable === undefined || allocatable <= 0) return 0;
  const after = free - need;
  const fraction = Math.min(1, Math.max(0, after / allocatable));
  if (strategy === 'spread') return fraction;
  return after < 0 ? 0 : 1 - fraction;
}
