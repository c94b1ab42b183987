import type { NodeAssessment } from './node-assessment.js';
import { type Amounts, DIMENSIONS } from './resources.js';

interface Remembered {
  readonly demand: Amounts;
  at: number;
}

function sameDemand(a: Amounts, b: Amounts): boolean {
  if (a === b) return true;
  for (const d of DIMENSIONS) if (a[d] !== b[d]) return false;
  return true;
}

function fitsIn(demand: Amounts, node: NodeAssessment): boolean {
  for (const d of DIMENSIONS) {
    const need = demand[d];
    if (need === undefined) continue;
    const free = node.free[d];
    if (free === undefined || need > free) return false;
  }
  return true;
}

/**
 * Remembers, per node, the demands ioplace recently turned away, so that it can tell when a
 * node's free capacity has risen enough to matter: enough for one of them to fit now. That is the
 * moment to tell the scheduler to retry, and only then; a rise nobody waits for is no news.
 */
export class RejectionMemory {
  readonly #byNode = new Map<string, Remembered[]>();
  readonly #ttlMs: number;
  readonly #perNode: number;

  constructor(options: { ttlMs: number; perNode: number }) {
    this.#ttlMs = options.ttlMs;
    this.#perNode = options.perNode;
  }

  note(node: string, demand: Amounts, now: number): void {
    let list = this.#byNode.get(node);
    if (list === undefined) {
      list = [];
      this.#byNode.set(node, list);
    }
    // Kept oldest first: a demand turned away again moves to the end, and the oldest is dropped.
    const last = list.at(-1);
    if (last !== undefined && sameDemand(last.demand, demand)) {
      // The common case, a node turning away the pod it turned away just before: no reshuffle.
      last.at = now;
      return;
    }
    const known = list.findIndex((r) => sameDemand(r.demand, demand));
    if (known >= 0) list.splice(known, 1);
    else if (list.length >= this.#perNode) list.shift();
    list.push({ demand, at: now });
  }

  /**
   * True when some demand turned away from the node within the memory window fits there now;
   * those demands are forgotten, so one rise is reported once.
   */
  takeFitting(node: NodeAssessment, now: number): boolean {
    const list = this.#byNode.get(node.node);
    if (list === undefined) return false;
    const live = list.filter((r) => now - r.at <= this.#ttlMs);
    const waiting = node.fresh ? live.filter((r) => !fitsIn(r.demand, node)) : live;
    if (waiting.length === 0) this.#byNode.delete(node.node);
    else this.#byNode.set(node.node, waiting);
    return waiting.length < live.length;
  }

  forget(node: string): void {
    this.#byNode.delete(node);
  }

  get nodes(): number {
    return this.#byNode.size;
  }
}
