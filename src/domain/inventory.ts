import { NodeBook, type NodeEntry, type NodeReport } from './node-book.js';

export class InventoryFullError extends Error {
  constructor(readonly maxNodes: number) {
    super(`the inventory already holds its maximum of ${maxNodes} nodes`);
  }
}

/**
 * The latest report of every node. A new report replaces the previous one whole, so a dimension
 * an agent stops measuring disappears instead of lingering with old figures. The reports are kept
 * in the nodes' NodeStates in `book`, where placement reads them beside the commitments.
 */
export class Inventory {
  readonly #maxNodes: number;
  readonly book: NodeBook;
  /** How many states of the book hold a report. */
  #reported = 0;

  constructor(options: { maxNodes: number; book?: NodeBook }) {
    if (!Number.isInteger(options.maxNodes) || options.maxNodes < 1) {
      throw new RangeError(`maxNodes must be a positive integer, got ${options.maxNodes}`);
    }
    this.#maxNodes = options.maxNodes;
    this.book = options.book ?? new NodeBook();
  }

  /** Stores a report; throws InventoryFullError (and stores nothing) when a new node would not fit. */
  record(node: string, report: NodeReport, receivedAt: number): NodeEntry {
    if (this.get(node) === undefined && this.#reported >= this.#maxNodes) {
      throw new InventoryFullError(this.#maxNodes);
    }
    const state = this.book.acquire(node);
    const entry: NodeEntry = Object.freeze({
      // The book's own copy of the name, rather than the caller's slice of a request.
      node: state.node,
      capacity: Object.freeze({ ...report.capacity }),
      usage: Object.freeze({ ...report.usage }),
      ...(report.enforcement === undefined
        ? {}
        : {
            enforcement: Object.freeze({
              mode: report.enforcement.mode,
              pods: report.enforcement.pods,
              errors: report.enforcement.errors,
            }),
          }),
      receivedAt,
    });
    if (state.report === undefined) this.#reported++;
    state.report = entry;
    return entry;
  }

  get(node: string): NodeEntry | undefined {
    return this.book.get(node)?.report;
  }

  forget(node: string): boolean {
    const state = this.book.get(node);
    if (state?.report === undefined) return false;
    state.report = undefined;
    this.#reported--;
    this.book.prune(state);
    return true;
  }

  *entries(): IterableIterator<NodeEntry> {
    for (const state of this.book.states()) if (state.report !== undefined) yield state.report;
  }

  get size(): number {
    return this.#reported;
  }
}
