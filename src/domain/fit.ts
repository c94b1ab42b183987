import { freeOf } from './figure-rows.js';
import { formatAmount } from './human-units.js';
import type { NodeFit } from './node-assessment.js';
import type { PlacementSettings } from './placement-settings.js';
import { type Amounts, DIMENSIONS } from './resources.js';

/** Why a node was turned away; a closed set so that metrics and events stay categorical. */
export type RejectReason =
  | 'insufficient'
  | 'exceedsCapacity'
  | 'stale'
  | 'unknown'
  | 'unmeasured'
  | 'invalidDemand';

export type FitVerdict =
  | { readonly fits: true }
  | {
      readonly fits: false;
      readonly reason: RejectReason;
      /** Preemption cannot help: the scheduler should not try to evict pods for this node. */
      readonly unresolvable: boolean;
      readonly message: string;
    };

const FITS: FitVerdict = Object.freeze({ fits: true });

export const MESSAGE_PREFIX = 'ioplace';

function reject(reason: RejectReason, unresolvable: boolean, message: string): FitVerdict {
  return { fits: false, reason, unresolvable, message: `${MESSAGE_PREFIX}: ${message}` };
}

export function invalidDemandVerdict(problem: string): FitVerdict {
  return reject('invalidDemand', true, `invalid demand: ${problem}`);
}

/**
 * Fit has two forms, side by side here and held equal by a property test (properties.test.ts):
 * fitVerdict, the reference, which answers any node with a reason and a message, and FitPlan,
 * its row form for the scheduling path, which only tells a fresh node that fits from its row of
 * figures. The row form is there for speed: filter checks every candidate, 5,000 to 15,000 of
 * them a request, and a few reads of one row replace a load of figure objects and a lookup by
 * name per dimension (BENCHMARKS.md, "After issue 8", "What changed").
 */

/**
 * Does a pod with `demand` fit on the node? It fits when, for every dimension it asks for,
 * demand <= free. A node that can never fit (demand above what it can ever hand out) or that we
 * know nothing fresh about is unresolvable; a node short only because of current use or
 * commitments is resolvable, since evicting pods may free enough.
 */
export function fitVerdict(
  demand: Amounts,
  node: NodeFit,
  settings: Pick<PlacementSettings, 'unknownNodes'>,
  format: (value: number, round: 'up' | 'down') => string = formatAmount,
): FitVerdict {
  const lenient = settings.unknownNodes === 'allow';
  if (!node.known) return lenient ? FITS : reject('unknown', true, 'no report from this node');
  if (!node.fresh) return lenient ? FITS : reject('stale', true, 'report from this node is stale');

  // Allocated only for a node that turns the pod away: most candidates fit.
  let short: string[] | undefined;
  let neverFits = false;
  let unmeasured: string | undefined;
  for (const d of DIMENSIONS) {
    const need = demand[d];
    if (need === undefined) continue;
    // free and allocatable are known together: both come from one report's capacity.
    const free = node.free[d];
    if (free === undefined) {
      unmeasured ??= d;
      continue;
    }
    if (need <= free) continue;
    const allocatable = node.allocatable[d] ?? 0;
    if (need > allocatable) neverFits = true;
    // Quotes allocatable, not capacity: it is what decides (free never exceeds it), and
    // "48k free of 50k" for a pod asking 48k reads as a contradiction when 45k is allocatable.
    const line = `${d}: needs ${format(need, 'up')}, ${format(free, 'down')} free of ${format(allocatable, 'down')} allocatable`;
    if (short === undefined) short = [line];
    else short.push(line);
  }
  if (short !== undefined) {
    return reject(
      neverFits ? 'exceedsCapacity' : 'insufficient',
      neverFits,
      `not enough ${short.join('; ')}`,
    );
  }
  if (unmeasured !== undefined && !lenient) {
    return reject('unmeasured', true, `node does not report ${unmeasured}`);
  }
  return FITS;
}

/**
 * fitVerdict's row form: one pod's demand resolved once per scheduling request into the demanded
 * dimensions (as indexes into DIMENSIONS) and their amounts, so that checking a candidate is a few
 * reads of its row of figures (NodeBook.figures). It answers only the common case, a fit; a
 * rejection needs its message, and is left to fitVerdict.
 */
export class FitPlan {
  /** Index into DIMENSIONS of each demanded dimension. */
  readonly #dims: number[] = [];
  readonly #needs: number[] = [];

  constructor(demand: Amounts) {
    DIMENSIONS.forEach((d, i) => {
      const need = demand[d];
      if (need === undefined) return;
      this.#dims.push(i);
      this.#needs.push(need);
    });
  }

  /**
   * True when the row of a fresh node shows every demanded dimension measured and free enough:
   * then fitVerdict passes the node too, whatever the settings. False means "ask fitVerdict".
   */
  fitsRow(figures: Float64Array, row: number): boolean {
    const dims = this.#dims;
    for (let k = 0; k < dims.length; k++) {
      // A NaN (unmeasured) free fails the comparison too.
      if (!((this.#needs[k] as number) <= freeOf(figures, row, dims[k] as number))) return false;
    }
    return true;
  }
}

/**
 * formatAmount with a memory, for one filter call: the demand is the same on every node and
 * capacities repeat across a fleet, so most of the numbers in a thousand rejection messages are
 * formatted once.
 */
export function memoizedFormat(): (value: number, round: 'up' | 'down') => string {
  const up = new Map<number, string>();
  const down = new Map<number, string>();
  return (value, round) => {
    const memo = round === 'up' ? up : down;
    let text = memo.get(value);
    if (text === undefined) {
      text = formatAmount(value, round);
      if (memo.size < 1024) memo.set(value, text);
    }
    return text;
  };
}
