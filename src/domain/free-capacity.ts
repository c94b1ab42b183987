import { type Amounts, DIMENSIONS, type Dimension } from './resources.js';

/**
 * The free-capacity formula, in one place: what a node can hand out (allocatableAmount), what of
 * it is free (freeAmount), and when a report still counts (isFresh). The node book derives its
 * figure rows with it and assessNode its views, both through deriveFigures; preemption applies
 * freeAmount to what would be left after an eviction. A leaf: it imports nothing but resources.
 */

/** What is promised on one node, in three parts that the free-capacity formula treats apart. */
export interface Committed {
  /** Demand of the pods the watch shows bound to the node and not terminated. */
  readonly pods: Amounts;
  /**
   * The part of `pods` that no report shows in use yet: pods bound but not yet running, or
   * running since after the node's last report. Measured usage cannot contain them.
   */
  readonly unmeasured: Amounts;
  /** Demand reserved at bind for pods the watch does not show bound yet. */
  readonly reserved: Amounts;
}

/** The three parts of what is committed on a node; see Committed and freeAmount. */
export type CommitmentPart = keyof Committed;

/**
 * Free capacity of one dimension:
 *   free = max(0, allocatable - reserved - max(usage + unmeasured, pods))
 * `usage` is what the agent measured, which includes the running pods' own use, hence the max
 * with `pods` (the demand of the bound pods) rather than a sum. Pods bound since the last report
 * (`unmeasured`) cannot be in that usage yet, so they count on top of it; and reservations taken
 * at bind are in neither the usage nor the pod watch yet, so they count on top of both.
 */
export function freeAmount(
  allocatable: number,
  usage: number,
  pods: number,
  unmeasured: number,
  reserved: number,
) {
  return Math.max(0, allocatable - reserved - Math.max(usage + unmeasured, pods));
}

/**
 * What a node can hand out of one dimension: capacity x (1 - reserveFraction), rounded down to a
 * whole unit. Whole, because it is also what ioplace advertises in the Node's status, where
 * kube-scheduler and the kubelet count declared demand against it: both sides must use the same
 * figure, or a pod ioplace admits could be `Insufficient` for the scheduler (or the reverse). A
 * product that is a whole number but lands a hair below it in floating point (10 x (1 - 0.9) is
 * 0.9999999999999998) is taken as that whole number, not one less.
 */
export function allocatableAmount(capacity: number, reserveFraction: number): number {
  const exact = capacity * (1 - reserveFraction);
  const nearest = Math.round(exact);
  return Math.abs(exact - nearest) <= Math.abs(exact) * 1e-12 ? nearest : Math.floor(exact);
}

/** A report received at `receivedAt` still counts as knowledge of the node at `now`. */
export function isFresh(receivedAt: number, now: number, staleAfterMs: number): boolean {
  return Math.max(0, now - receivedAt) <= staleAfterMs;
}

/**
 * capacity -> allocatable -> free, for every dimension the report gives a capacity for: calls
 * `each` with the dimension, its index in DIMENSIONS and its two figures. A dimension without a
 * capacity is left out: the node does not report it, and it has neither figure.
 */
export function deriveFigures(
  report: { readonly capacity: Amounts; readonly usage: Amounts },
  parts: Committed,
  reserveFraction: number,
  each: (d: Dimension, i: number, allocatable: number, free: number) => void,
): void {
  for (let i = 0; i < DIMENSIONS.length; i++) {
    const d = DIMENSIONS[i] as Dimension;
    const capacity = report.capacity[d];
    if (capacity === undefined) continue;
    const allocatable = allocatableAmount(capacity, reserveFraction);
    const free = freeAmount(
      allocatable,
      report.usage[d] ?? 0,
      parts.pods[d] ?? 0,
      parts.unmeasured[d] ?? 0,
      parts.reserved[d] ?? 0,
    );
    each(d, i, allocatable, free);
  }
}
