import { type Committed, deriveFigures, isFresh } from './free-capacity.js';
import type { NodeEntry } from './node-book.js';
import type { PlacementSettings } from './placement-settings.js';
import { type Amounts, sumAmounts } from './resources.js';

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
  /** freeAmount of each dimension with a known capacity (see free-capacity.ts). */
  readonly free: Amounts;
}

const NOTHING: Amounts = Object.freeze({});

/**
 * The node as placement sees it at `now`, in objects the caller may keep (explain, bind,
 * preemption, the node views). The scheduling path reads the same figures from the book's rows
 * (NodeFigures); both derive them with deriveFigures.
 */
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
  deriveFigures(entry, parts, settings.reserveFraction, (d, _, usable, left) => {
    allocatable[d] = usable;
    free[d] = left;
  });
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
