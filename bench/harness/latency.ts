/**
 * Latencies in a log-scale histogram: 1% wide buckets from 10 µs to ~100 s, so a half-hour run
 * keeps a fixed few kilobytes per kind instead of every sample. Quantiles are the upper edge of
 * the bucket holding the rank (nearest rank, at most 1% high); min, max and mean are exact.
 */
const MIN_MS = 0.01;
const GROWTH = 1.01;
const BUCKETS = Math.ceil(Math.log(1e7) / Math.log(GROWTH)) + 1;

export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  record(ms: number): void {
    const index =
      ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / Math.log(GROWTH)));
    this.#counts[index] = (this.#counts[index] ?? 0) + 1;
    this.count += 1;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** The q-quantile (0 < q <= 1), in ms; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] ?? 0;
      if (seen >= rank) return Math.min(this.max, MIN_MS * GROWTH ** i);
    }
    return this.max;
  }

  summary(): { count: number; mean: number; p50: number; p90: number; p99: number; max: number } {
    return {
      count: this.count,
      mean: this.count === 0 ? Number.NaN : this.sum / this.count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.count === 0 ? Number.NaN : this.max,
    };
  }
}
