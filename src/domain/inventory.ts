import type { Amounts } from './resources.js';

/** What a node agent reports: capacity and current use, each dimension optional. */
export interface NodeReport {
  readonly capacity: Amounts;
  readonly usage: Amounts;
}

export interface NodeEntry extends NodeReport {
  readonly node: string;
  /** Clock time (ms) at which the report was received. */
  readonly receivedAt: number;
}

export class InventoryFullError extends Error {
  constructor(readonly maxNodes: number) {
    super(`the inventory already holds its maximum of ${maxNodes} nodes`);
  }
}

/**
 * The latest report of every node. A new report replaces the previous one whole, so a dimension
 * an agent stops measuring disappears instead of lingering with old figures.
 */
export class Inventory {
  readonly #entries = new Map<string, NodeEntry>();
  readonly #maxNodes: number;

  constructor(options: { maxNodes: number }) {
    if (!Number.isInteger(options.maxNodes) || options.maxNodes < 1) {
      throw new RangeError(`maxNodes must be a positive integer, got ${options.maxNodes}`);
    }
    this.#maxNodes = options.maxNodes;
  }

  /** Stores a report; throws InventoryFullError (and stores nothing) when a new node would not fit. */
  record(node: string, report: NodeReport, receivedAt: number): NodeEntry {
    if (!this.#entries.has(node) && this.#entries.size >= this.#maxNodes) {
      throw new InventoryFullError(this.#maxNodes);
    }
    const entry: NodeEntry = Object.freeze({
      node,
      capacity: Object.freeze({ ...report.capacity }),
      usage: Object.freeze({ ...report.usage }),
      receivedAt,
    });
    this.#entries.set(node, entry);
    return entry;
  }

  get(node: string): NodeEntry | undefined {
    return this.#entries.get(node);
  }

  forget(node: string): boolean {
    return this.#entries.delete(node);
  }

  entries(): IterableIterator<NodeEntry> {
    return this.#entries.values();
  }

  get size(): number {
    return this.#entries.size;
  }
}
