import type { Committed } from './free-capacity.js';
import { Ledger } from './ledger.js';
import { NodeBook } from './node-book.js';

/**
 * Demand already promised on each node. Kept in three ledgers because each relates differently to
 * the usage an agent measures: see freeAmount (free-capacity.ts) for how they combine. Their
 * per-node totals live in `book`, which the inventory shares, so that one lookup finds everything
 * about a node.
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
