import { type Amounts, addAmounts, DIMENSIONS } from './resources.js';

const NOTHING: Amounts = Object.freeze({});

/**
 * Amounts held on nodes by named holders (pod uids). Each holder holds one amount on one node;
 * per-node totals are kept up to date on every change, so reading them costs nothing on the
 * scheduling path.
 */
export class Ledger {
  readonly #holders = new Map<string, { node: string; amounts: Amounts }>();
  readonly #totals = new Map<string, Amounts>();

  /** Sets what `holder` holds, replacing anything it held before (possibly on another node). */
  hold(holder: string, node: string, amounts: Amounts): void {
    this.release(holder);
    const copy: Amounts = { ...amounts };
    this.#holders.set(holder, { node, amounts: copy });
    const total = this.#totals.get(node) ?? {};
    addAmounts(total, copy);
    this.#totals.set(node, total);
  }

  release(holder: string): boolean {
    const held = this.#holders.get(holder);
    if (held === undefined) return false;
    this.#holders.delete(holder);
    const total = this.#totals.get(held.node);
    if (total !== undefined) {
      addAmounts(total, held.amounts, -1);
      if (DIMENSIONS.every((d) => (total[d] ?? 0) <= 0)) this.#totals.delete(held.node);
    }
    return true;
  }

  /** The node's running total: a live view, read it before the ledger changes again. */
  on(node: string): Amounts {
    return this.#totals.get(node) ?? NOTHING;
  }

  get holders(): number {
    return this.#holders.size;
  }
}
