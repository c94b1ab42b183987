import type { FitVerdict } from './fit.js';
import type { NodeEntry } from './inventory.js';
import { freeAmount } from './node-assessment.js';
import { type Amounts, DIMENSIONS, isEmpty } from './resources.js';

/** The three parts of what is committed on a node; see Commitments and freeAmount. */
export type CommitmentPart = 'pods' | 'unmeasured' | 'reserved';

/**
 * Per-dimension figures with every dimension present (undefined when not measured), so that all
 * of them share one object shape and the scheduling path reads them without polymorphic lookups.
 */
function blankAmounts(): Amounts {
  return { ingressBandwidth: undefined, egressBandwidth: undefined, iops: undefined };
}

/**
 * Everything ioplace holds about one node, in one object that one lookup reaches: the latest
 * report and the running totals of what is committed there. The node's allocatable and free
 * figures are derived from them once after each change (a report, a pod bound or gone, a
 * reservation) and then reused by every scheduling request until the next change, instead of
 * being recomputed for every candidate of every request.
 */
export class NodeState {
  #report: NodeEntry | undefined = undefined;
  readonly pods: Amounts = {};
  readonly unmeasured: Amounts = {};
  readonly reserved: Amounts = {};
  /** The reserve fraction the cached figures were derived with; NaN when a change made them stale. */
  #derivedFor = Number.NaN;
  /** Bumped on every change; whatever is derived from the node's figures holds for one version. */
  #version = 0;
  #verdict: { readonly version: number; readonly question: string; readonly verdict: FitVerdict } | undefined;
  readonly #allocatable = blankAmounts();
  readonly #free = blankAmounts();

  constructor(readonly node: string) {}

  get report(): NodeEntry | undefined {
    return this.#report;
  }

  set report(report: NodeEntry | undefined) {
    this.#report = report;
    this.changed();
  }

  /** Call after changing a commitment total, so that the derived figures are recomputed. */
  changed(): void {
    this.#derivedFor = Number.NaN;
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

  /** capacity x (1 - reserveFraction), for the dimensions the report measures. */
  allocatable(reserveFraction: number): Amounts {
    if (this.#derivedFor !== reserveFraction) this.#derive(reserveFraction);
    return this.#allocatable;
  }

  /** Free capacity (freeAmount) for the dimensions the report measures. */
  free(reserveFraction: number): Amounts {
    if (this.#derivedFor !== reserveFraction) this.#derive(reserveFraction);
    return this.#free;
  }

  /** Nothing reported and nothing committed: the state can go. */
  get vacant(): boolean {
    return (
      this.#report === undefined && isEmpty(this.pods) && isEmpty(this.unmeasured) && isEmpty(this.reserved)
    );
  }

  #derive(reserveFraction: number): void {
    const report = this.#report;
    for (const d of DIMENSIONS) {
      const capacity = report?.capacity[d];
      if (report === undefined || capacity === undefined) {
        this.#allocatable[d] = undefined;
        this.#free[d] = undefined;
        continue;
      }
      const usable = capacity * (1 - reserveFraction);
      this.#allocatable[d] = usable;
      this.#free[d] = freeAmount(
        usable,
        report.usage[d] ?? 0,
        this.pods[d] ?? 0,
        this.unmeasured[d] ?? 0,
        this.reserved[d] ?? 0,
      );
    }
    this.#derivedFor = reserveFraction;
  }
}

/**
 * The NodeState of every node ioplace knows anything about, shared by the inventory (reports)
 * and the commitment ledgers, so that placing a pod costs one map lookup per candidate node.
 */
export class NodeBook {
  readonly #states = new Map<string, NodeState>();

  get(node: string): NodeState | undefined {
    return this.#states.get(node);
  }

  /** The node's state, created empty if there is none yet. */
  acquire(node: string): NodeState {
    let state = this.#states.get(node);
    if (state === undefined) {
      state = new NodeState(node);
      this.#states.set(node, state);
    }
    return state;
  }

  /** Forgets the state once nothing is left in it, so that departed nodes do not pile up. */
  prune(state: NodeState): void {
    if (state.vacant && this.#states.get(state.node) === state) this.#states.delete(state.node);
  }

  get size(): number {
    return this.#states.size;
  }
}
