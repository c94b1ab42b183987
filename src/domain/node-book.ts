import {
  beginRow,
  clearRow,
  emptyFigures,
  endRow,
  isDerivedFor,
  markStale,
  ROW_STRIDE,
  receivedAtOf,
  rowNumber,
  writeDimension,
} from './figure-rows.js';
import { deriveFigures, isFresh } from './free-capacity.js';
import type { PlacementSettings } from './placement-settings.js';
import { type Amounts, isEmpty } from './resources.js';

/** What a node agent says of the limits it enforces on its node's pods. */
export interface EnforcementReport {
  /** off, iops or all; undefined when not said. */
  readonly mode: string | undefined;
  /** Pods whose limits are all in force. */
  readonly pods: number;
  /** Pods with a limit that failed. */
  readonly errors: number;
}

/** What a node agent reports: capacity and current use, each dimension optional. */
export interface NodeReport {
  readonly capacity: Amounts;
  readonly usage: Amounts;
  /** Absent from agents that do not enforce (or predate enforcement). */
  readonly enforcement?: EnforcementReport;
}

/** A report as the book keeps it (see Inventory.record). */
export interface NodeEntry extends NodeReport {
  readonly node: string;
  /** Clock time (ms) at which the report was received. */
  readonly receivedAt: number;
}

/**
 * Everything ioplace holds about one node, reached by one lookup: the latest report and the
 * running totals of what is committed there. The node's free and allocatable figures are derived
 * from them once after each change (a report, a pod bound or gone, a reservation) into the node's
 * row of NodeBook.figures (see figure-rows.ts), and then reused by every scheduling request until
 * the next change, instead of being recomputed for every candidate of every request.
 */
export class NodeState {
  #report: NodeEntry | undefined = undefined;
  readonly pods: Amounts = {};
  readonly unmeasured: Amounts = {};
  readonly reserved: Amounts = {};
  #version = 0;

  constructor(
    readonly node: string,
    readonly book: NodeBook,
    /** Where the node's row starts in book.figures. */
    readonly row: number,
  ) {}

  get report(): NodeEntry | undefined {
    return this.#report;
  }

  set report(report: NodeEntry | undefined) {
    this.#report = report;
    this.changed();
  }

  /**
   * Bumped on every change (a report, a commitment): whatever is derived from the node's state
   * holds for one version. Placement's verdict memo keys on it.
   */
  get version(): number {
    return this.#version;
  }

  /** Call after changing a commitment total, so that the derived figures are recomputed. */
  changed(): void {
    markStale(this.book.figures, this.row);
    this.#version++;
  }

  /** Makes the row current for `reserveFraction` and returns book.figures, where it is. */
  derived(reserveFraction: number): Float64Array {
    const figures = this.book.figures;
    if (!isDerivedFor(figures, this.row, reserveFraction)) this.#derive(figures, reserveFraction);
    return figures;
  }

  /** Nothing reported and nothing committed: the state can go. */
  get vacant(): boolean {
    return (
      this.#report === undefined && isEmpty(this.pods) && isEmpty(this.unmeasured) && isEmpty(this.reserved)
    );
  }

  #derive(figures: Float64Array, reserveFraction: number): void {
    const report = this.#report;
    const row = this.row;
    beginRow(figures, row, report === undefined ? Number.NaN : report.receivedAt);
    if (report !== undefined) {
      deriveFigures(report, this, reserveFraction, (_, i, allocatable, free) =>
        writeDimension(figures, row, i, allocatable, free),
      );
    }
    endRow(figures, row, reserveFraction);
  }
}

const INITIAL_ROWS = 64;

/**
 * The NodeState of every node ioplace knows anything about, shared by the inventory (reports)
 * and the commitment ledgers, so that placing a pod costs one map lookup per candidate node and
 * one read of the node's row of `figures`.
 */
export class NodeBook {
  /** Where each node's row starts in #figures; a number, so that a lookup reads no object. */
  readonly #rows = new Map<string, number>();
  /** The state of each row (by rowNumber), read only when a row must be derived again. */
  readonly #states: (NodeState | undefined)[] = [];
  #figures = emptyFigures(INITIAL_ROWS);
  /** Rows of pruned nodes, reused before the array grows. */
  readonly #spareRows: number[] = [];
  #rowsUsed = 0;

  /** Every node's derived figures (see figure-rows.ts); replaced when it grows, so read it after changes. */
  get figures(): Float64Array {
    return this.#figures;
  }

  get(node: string): NodeState | undefined {
    const row = this.#rows.get(node);
    return row === undefined ? undefined : this.#states[rowNumber(row)];
  }

  /** Where the node's row starts in `figures`, or -1: the scheduling path's one lookup a node. */
  rowOf(node: string): number {
    return this.#rows.get(node) ?? -1;
  }

  /** The state that owns the row starting at `row`. */
  stateAt(row: number): NodeState | undefined {
    return this.#states[rowNumber(row)];
  }

  /**
   * `figures`, with the row at `row` derived for the settings' reserve fraction if a change made it
   * stale, when the row's report is fresh at `now`; undefined when the node has no fresh report
   * (a node without a report has NaN for its time, and is never fresh).
   */
  freshFigures(
    row: number,
    now: number,
    settings: Pick<PlacementSettings, 'staleAfterMs' | 'reserveFraction'>,
  ): Float64Array | undefined {
    let figures: Float64Array = this.#figures;
    if (!isDerivedFor(figures, row, settings.reserveFraction)) {
      figures = (this.#states[rowNumber(row)] as NodeState).derived(settings.reserveFraction);
    }
    return isFresh(receivedAtOf(figures, row), now, settings.staleAfterMs) ? figures : undefined;
  }

  /** The node's state, created empty if there is none yet. */
  acquire(node: string): NodeState {
    let state = this.get(node);
    if (state === undefined) {
      const key = compactCopy(node);
      const row = this.#takeRow();
      state = new NodeState(key, this, row);
      this.#rows.set(key, row);
      this.#states[rowNumber(row)] = state;
    }
    return state;
  }

  /** Forgets the state once nothing is left in it, so that departed nodes do not pile up. */
  prune(state: NodeState): void {
    if (!state.vacant || this.get(state.node) !== state) return;
    this.#rows.delete(state.node);
    this.#states[rowNumber(state.row)] = undefined;
    clearRow(this.#figures, state.row);
    this.#spareRows.push(state.row);
  }

  get size(): number {
    return this.#rows.size;
  }

  /** Every node's state, in the order they were first heard of. */
  *states(): IterableIterator<NodeState> {
    for (const row of this.#rows.values()) yield this.#states[rowNumber(row)] as NodeState;
  }

  #takeRow(): number {
    const spare = this.#spareRows.pop();
    if (spare !== undefined) return spare;
    const row = this.#rowsUsed * ROW_STRIDE;
    if (row + ROW_STRIDE > this.#figures.length) {
      const grown = emptyFigures(2 * rowNumber(this.#figures.length));
      grown.set(this.#figures);
      this.#figures = grown;
    }
    this.#rowsUsed++;
    return row;
  }
}

/** Printable Latin-1: what a compact one-byte copy keeps exactly (a node name is plain ASCII). */
const ONE_BYTE = /^[\u0020-\u00ff]*$/;

/**
 * A copy of a node name that owns its characters. Names arrive as slices of a request URL or of
 * a watch event's text, and a slice kept as a map key drags its whole source along and costs one
 * more memory access on every lookup by name: with thousands of candidates per scheduling
 * request, those accesses are most of the request's cost.
 */
function compactCopy(name: string): string {
  return ONE_BYTE.test(name) ? Buffer.from(name, 'latin1').toString('latin1') : name;
}
