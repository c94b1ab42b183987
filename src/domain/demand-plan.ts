import { ROW } from './node-book.js';
import type { PlacementSettings } from './placement-settings.js';
import { type Amounts, DIMENSIONS } from './resources.js';
import { dimensionShare, finalScore } from './scoring.js';

/**
 * One pod's demand resolved once per scheduling request into what every candidate is checked
 * against: the demanded dimensions as offsets into a node's row of figures (NodeBook.figures),
 * with their amounts and score weights. Checking a candidate is then a few reads of one row,
 * where the general fitVerdict and scoreValue look every dimension up by name on figure objects;
 * they stay the reference, and the answers here equal theirs for a fresh node (a property test
 * holds them to it). Anything the plan does not cover (a rejection, which needs its message, an
 * unmeasured dimension) is left to them.
 */
export class DemandPlan {
  /** Index into DIMENSIONS of each demanded dimension. */
  readonly #dims: number[] = [];
  readonly #needs: number[] = [];
  /** Of the demanded dimensions, those with a positive weight: the ones a score sums over. */
  readonly #scored: number[] = [];
  readonly #scoredNeeds: number[] = [];
  readonly #weights: number[] = [];
  readonly #strategy: PlacementSettings['strategy'];

  constructor(demand: Amounts, settings: Pick<PlacementSettings, 'weights' | 'strategy'>) {
    this.#strategy = settings.strategy;
    DIMENSIONS.forEach((d, i) => {
      const need = demand[d];
      if (need === undefined) return;
      this.#dims.push(i);
      this.#needs.push(need);
      const weight = settings.weights[d];
      if (weight <= 0) return;
      this.#scored.push(i);
      this.#scoredNeeds.push(need);
      this.#weights.push(weight);
    });
  }

  /**
   * True when the node's row shows every demanded dimension measured and free enough: then
   * fitVerdict passes the node too, whatever the settings. False means "ask fitVerdict".
   */
  fitsRow(figures: Float64Array, row: number): boolean {
    const dims = this.#dims;
    for (let k = 0; k < dims.length; k++) {
      const free = figures[row + ROW.free + (dims[k] as number)] as number;
      // A NaN (unmeasured) free fails the comparison too.
      if (!((this.#needs[k] as number) <= free)) return false;
    }
    return true;
  }

  /** scoreValue of a fresh node for a pod with demand, from the node's row. */
  scoreRow(figures: Float64Array, row: number): number {
    const scored = this.#scored;
    let weighted = 0;
    let totalWeight = 0;
    for (let k = 0; k < scored.length; k++) {
      const i = scored[k] as number;
      const free = figures[row + ROW.free + i] as number;
      const allocatable = figures[row + ROW.allocatable + i] as number;
      const weight = this.#weights[k] as number;
      weighted +=
        weight *
        dimensionShare(
          this.#scoredNeeds[k] as number,
          Number.isNaN(free) ? undefined : free,
          Number.isNaN(allocatable) ? undefined : allocatable,
          this.#strategy,
        );
      totalWeight += weight;
    }
    return finalScore(weighted, totalWeight);
  }
}
