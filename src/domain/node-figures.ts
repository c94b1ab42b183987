import { allocatableOf, freeOf, receivedAtOf } from './figure-rows.js';
import { isFresh } from './free-capacity.js';
import type { NodeFit } from './node-assessment.js';
import type { NodeState } from './node-book.js';
import type { PlacementSettings } from './placement-settings.js';
import { type Amounts, DIMENSIONS } from './resources.js';

const NOTHING: Amounts = Object.freeze({});

/** Reusable figure objects, one pair per set of measured dimensions (bit i: DIMENSIONS[i]). */
interface FigureObjects {
  readonly free: Amounts;
  readonly allocatable: Amounts;
}

function figureObjects(mask: number): FigureObjects {
  // Each pair holds only its measured dimensions and only ever numbers in them, so that writing
  // a node's figures into it changes no object shape and allocates nothing.
  const pair = { free: {} as Amounts, allocatable: {} as Amounts };
  DIMENSIONS.forEach((d, i) => {
    if ((mask & (1 << i)) === 0) return;
    pair.free[d] = 0;
    pair.allocatable[d] = 0;
  });
  return pair;
}

/**
 * The figures fit and score need, read from a node's row of derived figures (NodeBook.figures)
 * without allocating anything per node: the row is computed once per change of the node, and
 * copied here into reusable objects. The scheduling hot path loads one instance with node after
 * node; views that keep their figures use assessNode instead. Both derive them with deriveFigures.
 */
export class NodeFigures implements NodeFit {
  known = false;
  fresh = false;
  capacity: Amounts = NOTHING;
  allocatable: Amounts = NOTHING;
  free: Amounts = NOTHING;
  readonly #byMask: FigureObjects[] = Array.from({ length: 1 << DIMENSIONS.length }, (_, mask) =>
    figureObjects(mask),
  );

  load(
    state: NodeState | undefined,
    now: number,
    settings: Pick<PlacementSettings, 'staleAfterMs' | 'reserveFraction'>,
  ): this {
    const report = state?.report;
    if (state === undefined || report === undefined) {
      this.known = false;
      this.fresh = false;
      this.capacity = NOTHING;
      this.allocatable = NOTHING;
      this.free = NOTHING;
      return this;
    }
    const figures = state.derived(settings.reserveFraction);
    const row = state.row;
    this.known = true;
    this.fresh = isFresh(receivedAtOf(figures, row), now, settings.staleAfterMs);
    this.capacity = report.capacity;
    const free0 = freeOf(figures, row, 0);
    const free1 = freeOf(figures, row, 1);
    const free2 = freeOf(figures, row, 2);
    // NaN marks a dimension the node does not report.
    const mask =
      (Number.isNaN(free0) ? 0 : 1) | (Number.isNaN(free1) ? 0 : 2) | (Number.isNaN(free2) ? 0 : 4);
    const pair = this.#byMask[mask] as FigureObjects;
    const [d0, d1, d2] = DIMENSIONS;
    if (mask & 1) {
      pair.free[d0] = free0;
      pair.allocatable[d0] = allocatableOf(figures, row, 0);
    }
    if (mask & 2) {
      pair.free[d1] = free1;
      pair.allocatable[d1] = allocatableOf(figures, row, 1);
    }
    if (mask & 4) {
      pair.free[d2] = free2;
      pair.allocatable[d2] = allocatableOf(figures, row, 2);
    }
    this.free = pair.free;
    this.allocatable = pair.allocatable;
    return this;
  }
}
