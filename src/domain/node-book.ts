import type { FitVerdict } from './fit.js';
import type { NodeEntry } from './inventory.js';
import { allocatableAmount, freeAmount, isFresh } from './node-assessment.js';
import type { PlacementSettings } from './placement-settings.js';
import { type Amounts, DIMENSIONS, isEmpty } from './resources.js';

/** The three parts of what is committed on a node; see Commitments and freeAmount. */
export type CommitmentPart = 'pods' | 'unmeasured' | 'reserved';

/**
 * The layout of a node's row in NodeBook.figures: plain doubles in one typed array, so that the
 * scheduling path reads a node's figures from one cache line instead of chasing a report object,
 * two figure objects and a boxed number per field. NaN marks a dimension the node does not report.
 */
export const ROW = {
  /** Numbers per row: 64 bytes. */
  stride: 8,
  /** Clock time (ms) of the report; NaN without one. */
  receivedAt: 0,
  /** The reserve fraction the row was derived with; NaN when a change made it stale. */
  derivedFor: 1,
  /** Free capacity (freeAmount) of DIMENSIONS[i] at free + i. */
  free: 2,
  /** allocatableAmount (capacity x (1 - reserveFraction), rounded down) of DIMENSIONS[i] at allocatable + i. */
  allocatable: 5,
} as const;

/**
 * Everything ioplace holds about one node, reached by one lookup: the latest report and the
 * running totals of what is committed there. The node's free and allocatable figures are derived
 * from them once after each change (a report, a pod bound or gone, a reservation) into the node's
 * row of NodeBook.figures, and then reused by every scheduling request until the next change,
 * instead of being recomputed for every candidate of every request.
 */
export class NodeState {
  #report: NodeEntry | undefined = undefined;
  readonly pods: Amounts = {};
  readonly unmeasured: Amounts = {};
  readonly reserved: Amounts = {};
  /** Bumped on every change; whatever is derived from the node's figures holds for one version. */
  #version = 0;
  #verdict: { readonly version: number; readonly question: string; readonly verdict: FitVerdict } | undefined;

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

  /** Call after changing a commitment total, so that the derived figures are recomputed. */
  changed(): void {
    this.book.figures[this.row + ROW.derivedFor] = Number.NaN;
    this.#version++;
    this.#verdict = undefined;
  }

  /**
   * The verdict last remembered for `question` (a demand and the settings it was judged under),
   * if the node has not changed since. The scheduler asks about the same demand over and over
   * (retries, the replicas of one workload) while most nodes stay as they were, so a rejection's
   * message is worth keeping rather than formatting again for every request.
   */
  recalledVerdict(question: string): FitVerdict | undefined {
    const memo = this.#verdict;
    return memo !== undefined && memo.version === this.#version && memo.question === question
      ? memo.verdict
      : undefined;
  }

  rememberVerdict(question: string, verdict: FitVerdict): void {
    this.#verdict = { version: this.#version, question, verdict };
  }

  /** Makes the row current for `reserveFraction` and returns book.figures, where it is. */
  derived(reserveFraction: number): Float64Array {
    const figures = this.book.figures;
    if (figures[this.row + ROW.derivedFor] !== reserveFraction) this.#derive(figures, reserveFraction);
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
    figures[row + ROW.receivedAt] = report === undefined ? Number.NaN : report.receivedAt;
    DIMENSIONS.forEach((d, i) => {
      const capacity = report?.capacity[d];
      if (report === undefined || capacity === undefined) {
        figures[row + ROW.allocatable + i] = Number.NaN;
        figures[row + ROW.free + i] = Number.NaN;
        return;
      }
      const usable = allocatableAmount(capacity, reserveFraction);
      figures[row + ROW.allocatable + i] = usable;
      figures[row + ROW.free + i] = freeAmount(
        usable,
        report.usage[d] ?? 0,
        this.pods[d] ?? 0,
        this.unmeasured[d] ?? 0,
        this.reserved[d] ?? 0,
      );
    });
    figures[row + ROW.derivedFor] = reserveFraction;
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
  /** The state of each row (row / ROW.stride), read only when a row must be derived again. */
  readonly #states: (NodeState | undefined)[] = [];
  #figures = new Float64Array(INITIAL_ROWS * ROW.stride).fill(Number.NaN);
  /** Rows of pruned nodes, reused before the array grows. */
  readonly #spareRows: number[] = [];
  #rowsUsed = 0;

  /** Every node's derived figures (see ROW); replaced when it grows, so read it after changes. */
  get figures(): Float64Array {
    return this.#figures;
  }

  get(node: string): NodeState | undefined {
    const row = this.#rows.get(node);
    return row === undefined ? undefined : this.#states[row / ROW.stride];
  }

  /** Where the node's row starts in `figures`, or -1: the scheduling path's one lookup a node. */
  rowOf(node: string): number {
    return this.#rows.get(node) ?? -1;
  }

  /** The state that owns the row starting at `row`. */
  stateAt(row: number): NodeState | undefined {
    return this.#states[row / ROW.stride];
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
    if (figures[row + ROW.derivedFor] !== settings.reserveFraction) {
      figures = (this.#states[row / ROW.stride] as NodeState).derived(settings.reserveFraction);
    }
    return isFresh(figures[row + ROW.receivedAt] as number, now, settings.staleAfterMs) ? figures : undefined;
  }

  /** The node's state, created empty if there is none yet. */
  acquire(node: string): NodeState {
    let state = this.get(node);
    if (state === undefined) {
      const key = compactCopy(node);
      const row = this.#takeRow();
      state = new NodeState(key, this, row);
      this.#rows.set(key, row);
      this.#states[row / ROW.stride] = state;
    }
    return state;
  }

  /** Forgets the state once nothing is left in it, so that departed nodes do not pile up. */
  prune(state: NodeState): void {
    if (!state.vacant || this.get(state.node) !== state) return;
    this.#rows.delete(state.node);
    this.#states[state.row / ROW.stride] = undefined;
    this.#figures.fill(Number.NaN, state.row, state.row + ROW.stride);
    this.#spareRows.push(state.row);
  }

  get size(): number {
    return this.#rows.size;
  }

  /** Every node's state, in the order they were first heard of. */
  *states(): IterableIterator<NodeState> {
    for (const row of this.#rows.values()) yield this.#states[row / ROW.stride] as NodeState;
  }

  #takeRow(): number {
    const spare = this.#spareRows.pop();
    if (spare !== undefined) return spare;
    const row = this.#rowsUsed * ROW.stride;
    if (row + ROW.stride > this.#figures.length) {
      const grown = new Float64Array(this.#figures.length * 2).fill(Number.NaN);
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
