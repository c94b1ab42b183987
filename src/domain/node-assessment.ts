import type { NodeEntry } from './inventory.js';
import type { PlacementSettings } from './placement-settings.js';
import { type Amounts, DIMENSIONS } from './resources.js';

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
  readonly committed: Amounts;
  /** capacity x (1 - reserveFraction) */
  readonly allocatable: Amounts;
  /** max(0, allocatable - max(usage, committed)), for each dimension with a known capacity. */
  readonly free: Amounts;
}

const NOTHING: Amounts = Object.freeze({});

export function assessNode(
  node: string,
  entry: NodeEntry | undefined,
  committed: Amounts,
  now: number,
  settings: Pick<PlacementSettings, 'staleAfterMs' | 'reserveFraction'>,
): NodeAssessment {
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
    const usable = capacity * (1 - settings.reserveFraction);
    allocatable[d] = usable;
    free[d] = Math.max(0, usable - Math.max(entry.usage[d] ?? 0, committed[d] ?? 0));
  }
  return {
    node,
    known: true,
    fresh: ageMs <= settings.staleAfterMs,
    receivedAt: entry.receivedAt,
    ageSeconds: ageMs / 1000,
    capacity: entry.capacity,
    usage: entry.usage,
    committed,
    allocatable,
    free,
  };
}
