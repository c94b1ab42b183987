import type { ServerEntry } from './harness/ioplace-process.js';

/** Everything a run can be told, from the environment (`npm run bench` takes no arguments). */
export interface BenchOptions {
  readonly quick: boolean;
  /** Measured duration of each load case, after its warm-up. */
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Candidate node counts of the scheduler cases. */
  readonly sizes: readonly number[];
  /** Connections of the NodeNames cases; every other scheduler case runs with 1. */
  readonly concurrencies: readonly number[];
  /** Requests of the largest Nodes-mode case (each carries tens of MB). */
  readonly largeNodesRequests: number;
  readonly floorRuns: number;
  readonly entry: ServerEntry;
  readonly build: boolean;
  readonly memory: boolean;
  readonly memoryPods: number;
  readonly memoryNodes: number;
  readonly listPageSize: number;
  /** The bind case (issue 12): a burst through a kube-scheduler stand-in, with and without TLS. */
  readonly bind: boolean;
  readonly bindPods: number;
  readonly bindNodes: number;
  /** How much later the fake API server answers each binding (etcd's write). */
  readonly bindLatencyMs: number;
  /** Binds in flight at once in the saturation runs. */
  readonly bindConcurrency: number;
  /** The scheduler's own work per pod in the stand-in (see bench/bind.ts). */
  readonly bindCycleMs: number;
  /** Burst rounds per API (plain, TLS); the median round is reported. */
  readonly bindRounds: number;
  readonly out: string;
  readonly deadlineMs: number;
  /** Only the cases whose id matches (e.g. `filter-Nodes`); `memory` names the memory case. */
  readonly only: RegExp | undefined;
  /** Extra arguments for the server's node (e.g. `--cpu-prof`): NODE_OPTIONS stays unset. */
  readonly nodeArgs: readonly string[];
}

function number(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}: expected a number >= 0, got "${text}"`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  return text !== '0' && text.toLowerCase() !== 'false';
}

export function readOptions(env: NodeJS.ProcessEnv): BenchOptions {
  const quick = flag(env, 'BENCH_QUICK', false);
  const entry = env.BENCH_SERVER ?? 'dist';
  if (entry !== 'dist' && entry !== 'tsx') throw new Error(`BENCH_SERVER: dist or tsx, got "${entry}"`);
  const durationMs = number(env, 'BENCH_DURATION_S', quick ? 1 : 5) * 1000;
  return {
    quick,
    durationMs,
    warmupMs: Math.min(1000, durationMs / 5),
    sizes: quick ? [500, 5000] : [500, 5000, 15000],
    concurrencies: quick ? [1] : [1, 8],
    largeNodesRequests: quick ? 1 : 5,
    floorRuns: quick ? 3 : 7,
    entry,
    build: flag(env, 'BENCH_BUILD', entry === 'dist'),
    memory: flag(env, 'BENCH_MEMORY', true),
    memoryPods: number(env, 'BENCH_PODS', quick ? 15_000 : 150_000),
    memoryNodes: number(env, 'BENCH_MEMORY_NODES', quick ? 500 : 5_000),
    listPageSize: number(env, 'BENCH_LIST_PAGE_SIZE', 500),
    bind: flag(env, 'BENCH_BIND', true),
    bindPods: number(env, 'BENCH_BIND_PODS', quick ? 200 : 500),
    bindNodes: number(env, 'BENCH_BIND_NODES', 100),
    bindLatencyMs: number(env, 'BENCH_BIND_LATENCY_MS', 2),
    bindConcurrency: number(env, 'BENCH_BIND_CONCURRENCY', 32),
    bindCycleMs: number(env, 'BENCH_BIND_CYCLE_MS', 4),
    bindRounds: number(env, 'BENCH_BIND_ROUNDS', quick ? 1 : 5),
    out: env.BENCH_OUT ?? 'bench/results/latest.json',
    deadlineMs: number(env, 'BENCH_DEADLINE_S', quick ? 120 : 360) * 1000,
    only: env.BENCH_ONLY ? new RegExp(env.BENCH_ONLY) : undefined,
    nodeArgs: (env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
  };
}
