import type { Ledger } from './ledger.js';
import type { Amounts } from './resources.js';

/**
 * Demand reserved at bind time, before the pod watch shows the pod on its node. kube-scheduler
 * binds pods faster than any watch can report them, so without reservations a burst would be
 * placed against stale free capacity. A reservation ends when the watch shows the pod (the pod
 * store takes over), when the binding fails, or when it expires.
 */
export class Reservations {
  readonly #ledger: Ledger;
  readonly #expiry = new Map<string, number>();

  /** `ledger` is the reserved part of the node commitments. */
  constructor(ledger: Ledger) {
    this.#ledger = ledger;
  }

  reserve(uid: string, node: string, demand: Amounts, expiresAt: number): void {
    this.#ledger.hold(uid, node, demand);
    this.#expiry.set(uid, expiresAt);
  }

  release(uid: string): boolean {
    if (!this.#expiry.delete(uid)) return false;
    this.#ledger.release(uid);
    return true;
  }

  /** Releases every reservation that expired by `now`; returns their pod uids. */
  expire(now: number): string[] {
    const expired: string[] = [];
    for (const [uid, at] of this.#expiry) if (at <= now) expired.push(uid);
    for (const uid of expired) this.release(uid);
    return expired;
  }

  has(uid: string): boolean {
    return this.#expiry.has(uid);
  }

  get size(): number {
    return this.#expiry.size;
  }
}
