import { performance } from 'node:perf_hooks';

export interface Floor {
  /** Median of the runs, ms. */
  readonly parseMs: number;
  readonly stringifyMs: number;
  /** Median of parse + stringify per run (not the sum of the medians), ms. */
  readonly totalMs: number;
  readonly runs: number;
  readonly bytes: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The least any JSON service must do with this body: JSON.parse of the request text and
 * JSON.stringify of the parsed value (about the size of a Nodes-mode answer, which echoes the
 * passing Node objects). Timed in this process, on the same V8, after one unmeasured run.
 */
export function measureFloor(body: Buffer, runs: number): Floor {
  const text = body.toString('utf8');
  JSON.stringify(JSON.parse(text));
  const parse: number[] = [];
  const stringify: number[] = [];
  const total: number[] = [];
  let sink = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const value: unknown = JSON.parse(text);
    const t1 = performance.now();
    sink += JSON.stringify(value).length;
    const t2 = performance.now();
    parse.push(t1 - t0);
    stringify.push(t2 - t1);
    total.push(t2 - t0);
  }
  if (sink === 0) throw new Error('nothing was stringified');
  return {
    parseMs: median(parse),
    stringifyMs: median(stringify),
    totalMs: median(total),
    runs,
    bytes: body.length,
  };
}
