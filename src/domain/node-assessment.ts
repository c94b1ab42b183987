import type { Committed } from './commitments.js';
import type { NodeEntry } from './inventory.js';
import type { PlacementSettings } from './placement-settings.js';
import { type Amounts, DIMENSIONS, sumAmounts } from './resources.js';

/** Everything placement knows about one node at one instant. */
export interface NodeAssessment {
  readonly node: string;
  /** A report has been received (it may be stale). */
  readonly known: boolean;
  /** The report is not older than staleAfter. */
  readonly fresh: boolean;
  readonly receivedAt: number | undefined;
  readonly ageSeconds: number | undefined;
  readonly capacity: Amounts;
  readonly usage: Amounts;
  /** Everything promised on the node: bound pods plus bind reservations. */
  readonly committed: Amounts;
  /** The parts of `committed` that the formula treats apart. */
  readonly parts: Committed;
  /** capacity x (1 - reserveFraction), rounded down: see allocatableAmount */
  readonly allocatable: Amounts;
  /** See `assessNode`; only for dimensions with a known capacity. */
  readonly free: Amounts;
}

const NOTHING: Amounts = Object.freeze({});

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

export function assessNode(
  node: string,
  entry: NodeEntry | undefined,
  parts: Committed,
  now: number,
  settings: Pick<PlacementSettings, 'staleAfterMs' | 'reserveFraction'>,
): NodeAssessment {
  const committed = sumAmounts(parts.pods, parts.reserved);
  if (entry === undefined) {
    return {
      node,
      known: false,
      fresh: false,
      receivedAt: undefined,
      ageSeconds: undefined,
      capacity: NOTHING,
      usage: NOTHING,
      committed,
      parts,
      allocatable: NOTHING,
      free: NOTHING,
    };
  }
  const ageMs = Math.max(0, now - entry.receivedAt);
  const allocatable: Amounts = {};
  const free: Amounts = {};
  for (const d of DIMENSIONS) {
    const capacity = entry.capacity[d];
    if (capacity === undefined) continue;
    const usable = allocatableAmount(capacity, settings.reserveFraction);
    allocatable[d] = usable;
    free[d] = freeAmount(
      usable,
      entry.usage[d] ?? 0,
      parts.pods[d] ?? 0,
      parts.unmeasured[d] ?? 0,
      parts.reserved[d] ?? 0,
    );
  }
  return {
    node,
    known: true,
    fresh: isFresh(entry.receivedAt, now, settings.staleAfterMs),
    receivedAt: entry.receivedAt,
    ageSeconds: ageMs / 1000,
    capacity: entry.capacity,
    usage: entry.usage,
    committed,
    parts,
    allocatable,
    free,
  };
}

/** What fit and score read of a node: a NodeAssessment, or the allocation-free NodeFigures. */
export type NodeFit = Pick<NodeAssessment, 'known' | 'fresh' | 'capacity' | 'allocatable' | 'free'>;
