import type { Clock } from '../domain/clock.js';

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per node: `burst` reports at once, then `perSecond` sustained. A flooding (or
 * looping) agent is answered 429 cheaply, so it cannot starve the scheduler's requests. Buckets
 * of nodes that stopped reporting are dropped once full again, so memory follows the live nodes.
 */
export class ReportRateLimit {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #clock: Clock;

  constructor(options: { perSecond: number; burst: number; clock: Clock }) {
    this.#perSecond = options.perSecond;
    this.#burst = options.burst;
    this.#clock = options.clock;
  }

  /** Takes one report's token; returns 0 when allowed, else the seconds to wait. */
  take(node: string): number {
    const now = this.#clock();
    const bucket = this.#buckets.get(node) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.#buckets.set(node, bucket);
      return Math.ceil((1 - bucket.tokens) / this.#perSecond);
    }
    bucket.tokens -= 1;
    this.#buckets.set(node, bucket);
    if (this.#buckets.size > 10_000) this.#sweep(now);
    return 0;
  }

  #sweep(now: number): void {
    for (const [node, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#perSecond >= this.#burst) this.#buckets.delete(node);
    }
  }
}
