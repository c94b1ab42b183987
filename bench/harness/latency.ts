/**
 * Client-side latency, summarized as mean, p50, p90, p99 and max (ms), two ways for two lengths
 * of run:
 * - `latencySummary` over every recorded value: exact nearest-rank percentiles, for the
 *   benchmark's cases, which are bounded (at most 200,000 requests each);
 * - `LatencyHistogram`, for the soak, which can run for half an hour: 1% wide log-scale buckets
 *   from 10 µs to ~100 s, a fixed few kilobytes per kind instead of every sample. Its quantiles are
 *   the upper edge of the bucket holding the rank (nearest rank, at most 1% high); min, max and
 *   mean are exact.
 */

export interface Latency {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentiles of the recorded latencies. */
export function latencySummary(values: Float64Array): Latency {
  if (values.length === 0)
    return { mean: Number.NaN, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    mean: sum / sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}

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

  summary(): Latency & { readonly count: number } {
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
