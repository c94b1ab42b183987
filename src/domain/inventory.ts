import { NodeBook } from './node-book.js';
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
 * an agent stops measuring disappears instead of lingering with old figures. Each report is also
 * filed in the node's NodeState in `book`, where placement reads it beside the commitments.
 */
export class Inventory {
  readonly #entries = new Map<string, NodeEntry>();
  readonly #maxNodes: number;
  readonly book: NodeBook;

  constructor(options: { maxNodes: number; book?: NodeBook }) {
    if (!Number.isInteger(options.maxNodes) || options.maxNodes < 1) {
      throw new RangeError(`maxNodes must be a positive integer, got ${options.maxNodes}`);
    }
    this.#maxNodes = options.maxNodes;
    this.book = options.book ?? new NodeBook();
  }

  /** Stores a report; throws InventoryFullError (and stores nothing) when a new node would not fit. */
  record(node: string, report: NodeReport, receivedAt: number): NodeEntry {
    if (!this.#entries.has(node) && this.#entries.size >= this.#maxNodes) {
      throw new InventoryFullError(this.#maxNodes);
    }
    const state = this.book.acquire(node);
    // The book's own copy of the name, rather than the caller's slice of a request.
    const name = state.node;
    const entry: NodeEntry = Object.freeze({
      node: name,
      capacity: Object.freeze({ ...report.capacity }),
      usage: Object.freeze({ ...report.usage }),
      receivedAt,
    });
    this.#entries.set(name, entry);
    state.report = entry;
    return entry;
  }

  get(node: string): NodeEntry | undefined {
    return this.#entries.get(node);
  }

  forget(node: string): boolean {
    if (!this.#entries.delete(node)) return false;
    const state = this.book.get(node);
    if (state !== undefined) {
      state.report = undefined;
      this.book.prune(state);
    }
    return true;
  }

  entries(): IterableIterator<NodeEntry> {
    return this.#entries.values();
  }

  get size(): number {
    return this.#entries.size;
  }
}
