/**
 * The leak check, pure. Inputs are samples taken during the measured phase (time in seconds since
 * it began); two signals, each flagged on its own:
 *
 * - RSS growth over the second half: median RSS near the end over median RSS near the midpoint,
 *   flagged above `rssGrowthLimit` (20%). The first half is left out: a process fills its working
 *   set (V8 grows its heap, malloc keeps freed pages) before it levels off.
 * - Heap after a forced full GC, read at regular points through the phase: flagged when it rises
 *   (at least 3 of every 4 steps up) and the least-squares line through the points grows by more
 *   than `heapRiseLimit` (10%) over the phase. A full GC leaves only what is reachable, so a
 *   steady service gives a flat line; a leak gives a line that climbs step after step.
 */
export interface Sample {
  /** Seconds since the measured phase began. */
  readonly t: number;
  readonly bytes: number;
}

export interface LeakInput {
  readonly durationSeconds: number;
  readonly rss: readonly Sample[];
  /** V8 heap used right after a forced full GC. */
  readonly heapAfterGc: readonly Sample[];
  readonly rssGrowthLimit?: number;
  readonly heapRiseLimit?: number;
}

export interface Signal {
  readonly flagged: boolean;
  /** False when there were too few samples to judge: never flagged then. */
  readonly conclusive: boolean;
  readonly detail: string;
}

export interface LeakVerdict {
  readonly leak: boolean;
  readonly rssSecondHalf: Signal & { midBytes?: number; endBytes?: number; growth?: number };
  readonly heapAfterGc: Signal & { points: number; stepsUp?: number; fittedGrowth?: number };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Least-squares line through the samples: value at t = intercept + slope * t. */
export function fitLine(samples: readonly Sample[]): { intercept: number; slope: number } {
  const n = samples.length;
  const mt = samples.reduce((s, p) => s + p.t, 0) / n;
  const mv = samples.reduce((s, p) => s + p.bytes, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of samples) {
    num += (p.t - mt) * (p.bytes - mv);
    den += (p.t - mt) ** 2;
  }
  const slope = den === 0 ? 0 : num / den;
  return { intercept: mv - slope * mt, slope };
}

const MIB = 1024 * 1024;
const mib = (b: number) => `${(b / MIB).toFixed(1)} MiB`;
const pct = (f: number) => `${f >= 0 ? '+' : ''}${(f * 100).toFixed(1)}%`;

export function leakVerdict(input: LeakInput): LeakVerdict {
  const d = input.durationSeconds;
  const rssLimit = input.rssGrowthLimit ?? 0.2;
  const heapLimit = input.heapRiseLimit ?? 0.1;

  // RSS, second half: medians of the samples within `w` of the midpoint and of the end.
  const w = Math.max(2, d / 20);
  const midValues = input.rss.filter((s) => Math.abs(s.t - d / 2) <= w).map((s) => s.bytes);
  const endValues = input.rss.filter((s) => s.t >= d - 2 * w).map((s) => s.bytes);
  let rssSecondHalf: LeakVerdict['rssSecondHalf'];
  if (midValues.length === 0 || endValues.length === 0) {
    rssSecondHalf = { flagged: false, conclusive: false, detail: 'too few RSS samples' };
  } else {
    const midBytes = median(midValues);
    const endBytes = median(endValues);
    const growth = (endBytes - midBytes) / midBytes;
    rssSecondHalf = {
      flagged: growth > rssLimit,
      conclusive: true,
      midBytes,
      endBytes,
      growth,
      detail: `${mib(midBytes)} at mid-run -> ${mib(endBytes)} at the end (${pct(growth)}; flag above ${pct(rssLimit)})`,
    };
  }

  // Heap after forced full GCs.
  const points = input.heapAfterGc;
  let heapAfterGc: LeakVerdict['heapAfterGc'];
  if (points.length < 5) {
    heapAfterGc = {
      flagged: false,
      conclusive: false,
      points: points.length,
      detail: `${points.length} readings (need 5 to judge)`,
    };
  } else {
    let stepsUp = 0;
    for (let i = 1; i < points.length; i++) {
      if ((points[i] as Sample).bytes > (points[i - 1] as Sample).bytes) stepsUp += 1;
    }
    const steps = points.length - 1;
    const line = fitLine(points);
    const t0 = (points[0] as Sample).t;
    const t1 = (points[points.length - 1] as Sample).t;
    const start = line.intercept + line.slope * t0;
    const fittedGrowth = (line.slope * (t1 - t0)) / start;
    const rising = stepsUp >= Math.ceil(0.75 * steps);
    heapAfterGc = {
      flagged: rising && fittedGrowth > heapLimit,
      conclusive: true,
      points: points.length,
      stepsUp,
      fittedGrowth,
      detail: `${points.map((p) => (p.bytes / MIB).toFixed(1)).join(', ')} MiB: ${stepsUp} of ${steps} steps up, fitted ${pct(
        fittedGrowth,
      )} over the phase (flag: 3 of 4 steps up and above ${pct(heapLimit)})`,
    };
  }

  return { leak: rssSecondHalf.flagged || heapAfterGc.flagged, rssSecondHalf, heapAfterGc };
}
