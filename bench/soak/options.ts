import { fileURLToPath } from 'node:url';

export const MAX_SECONDS = 30 * 60;

export interface SoakOptions {
  /** Load time until SIGTERM, warm-up included. */
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Multiple of the production rates (mix.ts). */
  readonly scale: number;
  readonly nodes: number;
  /** Heap-after-forced-GC readings in the measured phase (at least 5 s apart); 0: none. */
  readonly heapReadings: number;
  /** Seconds between /metrics scrapes (each is also a heap sample). */
  readonly scrapeSeconds: number;
  /** No more requests than this are sent before SIGTERM (computed from the rates when unset). */
  readonly maxRequests: number | undefined;
  /** SOAK_NODE_ARGS: extra node arguments for the server, split on spaces. */
  readonly nodeArgs: string[];
  readonly out: string;
  readonly notes: string[];
}

function number(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
  notes: string[],
) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name}=${raw} is not a number`);
  if (value < min || value > max) {
    const clamped = Math.min(max, Math.max(min, value));
    notes.push(`${name}=${raw} is outside [${min}, ${max}]; using ${clamped}`);
    return clamped;
  }
  return value;
}

/** SOAK_SECONDS (60; 10 to 1800), SOAK_SCALE (3), SOAK_NODES (5000), SOAK_SCRAPE_SECONDS (5), SOAK_HEAP_READINGS (12), SOAK_MAX_REQUESTS, SOAK_OUT. */
export function soakOptions(env: NodeJS.ProcessEnv): SoakOptions {
  const notes: string[] = [];
  const seconds = Math.round(number(env, 'SOAK_SECONDS', 60, 10, MAX_SECONDS, notes));
  const maxRaw = env.SOAK_MAX_REQUESTS;
  return {
    seconds,
    warmupSeconds: Math.min(15, Math.max(5, Math.round(seconds * 0.2))),
    scale: number(env, 'SOAK_SCALE', 3, 0.1, 20, notes),
    heapReadings: Math.round(number(env, 'SOAK_HEAP_READINGS', 12, 0, 1000, notes)),
    scrapeSeconds: number(env, 'SOAK_SCRAPE_SECONDS', 5, 1, 60, notes),
    nodes: Math.round(number(env, 'SOAK_NODES', 5000, 100, 50_000, notes)),
    maxRequests:
      maxRaw === undefined || maxRaw === ''
        ? undefined
        : Math.round(number(env, 'SOAK_MAX_REQUESTS', 0, 1, 1e9, notes)),
    nodeArgs: (env.SOAK_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
    out: env.SOAK_OUT || fileURLToPath(new URL('./results/latest.json', import.meta.url)),
    notes,
  };
}
