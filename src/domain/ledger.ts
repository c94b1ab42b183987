import type { CommitmentPart } from './free-capacity.js';
import { NodeBook } from './node-book.js';
import { type Amounts, addAmounts, DIMENSIONS } from './resources.js';

const NOTHING: Amounts = Object.freeze({});

/**
 * Amounts held on nodes by named holders (pod uids). Each holder holds one amount on one node.
 * The per-node totals live in the node's NodeState (as its `part`), kept up to date on every
 * change, so reading them costs nothing on the scheduling path.
 */
export class Ledger {
  readonly #holders = new Map<string, { node: string; amounts: Amounts }>();
  readonly #book: NodeBook;
  readonly #part: CommitmentPart;

  /** A ledger of its own by default; Commitments makes its three write into one shared book. */
  constructor(book: NodeBook = new NodeBook(), part: CommitmentPart = 'pods') {
    this.#book = book;
    this.#part = part;
  }

  /** Sets what `holder` holds, replacing anything it held before (possibly on another node). */
  hold(holder: string, node: string, amounts: Amounts): void {
    this.release(holder);
    // A frozen amount cannot change under us: keep it rather than a copy of every pod's demand.
    const kept: Amounts = Object.isFrozen(amounts) ? amounts : { ...amounts };
    this.#holders.set(holder, { node, amounts: kept });
    const state = this.#book.acquire(node);
    addAmounts(state[this.#part], kept);
    state.changed();
  }

  release(holder: string): boolean {
    const held = this.#holders.get(holder);
    if (held === undefined) return false;
    this.#holders.delete(holder);
    const state = this.#book.get(held.node);
    if (state !== undefined) {
      const total = state[this.#part];
      addAmounts(total, held.amounts, -1);
      // Back to nothing: clear the rounding left by adding and subtracting floats.
      if (DIMENSIONS.every((d) => (total[d] ?? 0) <= 0)) for (const d of DIMENSIONS) total[d] = undefined;
      state.changed();
      this.#book.prune(state);
    }
    return true;
  }

  /** The node's running total: a live view, read it before the ledger changes again. */
  on(node: string): Amounts {
    return this.#book.get(node)?.[this.#part] ?? NOTHING;
  }

  get holders(): number {
    return this.#holders.size;
  }
}
