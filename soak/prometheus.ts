/** The few figures the soak reads from ioplace's /metrics text. */

/** `nodejs_heap_size_used_bytes`, or undefined when absent. */
export function heapUsedBytes(text: string): number | undefined {
  const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}

export interface VerbTime {
  sum: number;
  count: number;
}

/** `ioplace_request_duration_seconds` _sum and _count of the ok outcome, by verb. */
export function requestTimes(text: string): Record<string, VerbTime> {
  const out: Record<string, VerbTime> = {};
  const line = /^ioplace_request_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm;
  for (let m = line.exec(text); m !== null; m = line.exec(text)) {
    const labels = m[2] ?? '';
    if (!/outcome="ok"/.test(labels)) continue;
    const verb = /verb="([^"]*)"/.exec(labels)?.[1];
    if (verb === undefined) continue;
    out[verb] ??= { sum: 0, count: 0 };
    const entry = out[verb];
    if (m[1] === 'sum') entry.sum = Number(m[3]);
    else entry.count = Number(m[3]);
  }
  return out;
}

/** Mean server time (ms) and count per verb between two scrapes. */
export function timesBetween(
  before: Record<string, VerbTime>,
  after: Record<string, VerbTime>,
): Record<string, { count: number; meanMs: number }> {
  const out: Record<string, { count: number; meanMs: number }> = {};
  for (const [verb, a] of Object.entries(after)) {
    const b = before[verb] ?? { sum: 0, count: 0 };
    const count = a.count - b.count;
    if (count > 0) out[verb] = { count, meanMs: ((a.sum - b.sum) / count) * 1000 };
  }
  return out;
}
