import { Ledger } from './ledger.js';
import { NodeBook } from './node-book.js';
import type { Amounts } from './resources.js';

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

/**
 * Demand already promised on each node. Kept in three ledgers because each relates differently to
 * the usage an agent measures: see `assessNode` for how they combine. Their per-node totals live
 * in `book`, which the inventory shares, so that one lookup finds everything about a node.
 */
export class Commitments {
  readonly pods: Ledger;
  readonly unmeasured: Ledger;
  readonly reserved: Ledger;

  constructor(readonly book: NodeBook = new NodeBook()) {
    this.pods = new Ledger(book, 'pods');
    this.unmeasured = new Ledger(book, 'unmeasured');
    this.reserved = new Ledger(book, 'reserved');
  }

  on(node: string): Committed {
    return {
      pods: this.pods.on(node),
      unmeasured: this.unmeasured.on(node),
      reserved: this.reserved.on(node),
    };
  }
}
