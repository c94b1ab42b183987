import { Ledger } from './ledger.js';
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
 * the usage an agent measures: see `assessNode` for how they combine.
 */
export class Commitments {
  readonly pods = new Ledger();
  readonly unmeasured = new Ledger();
  readonly reserved = new Ledger();

  on(node: string): Committed {
    return {
      pods: this.pods.on(node),
      unmeasured: this.unmeasured.on(node),
      reserved: this.reserved.on(node),
    };
  }
}
