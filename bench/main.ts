/**
 * `npm run bench`: starts ioplace as a child process on loopback, seeds its inventory, drives
 * filter, prioritize and agent reports with fixed concurrency and duration, reads the server's own
 * timings from /metrics, measures the JSON floor in this process and RSS with a full pod store,
 * then prints a table and writes bench/results/latest.json. See BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BindResult, measureBind } from './bind.js';
import { measureFloor } from './floor.js';
import { type LoadResult, type RequestSpec, runLoad, send, sendAll } from './harness/closed-loop-load.js';
import { nodeNames, nodeObjectsJson } from './harness/cluster-payloads.js';
import { fmtMs } from './harness/format.js';
import { freePort, IoplaceProcess, ROOT, setIfKnown } from './harness/ioplace-process.js';
import {
  histogram,
  histogramDelta,
  histogramQuantile,
  REQUEST_DURATION,
  type Sample,
} from './harness/prometheus.js';
import { type MemoryResult, measureMemory } from './memory.js';
import { readOptions } from './options.js';
import { extenderArgs, type Mode, type PodKind, reportRequests } from './payloads.js';
import {
  type BenchResults,
  type CaseResult,
  evaluateTargets,
  formatResults,
  type ServerTime,
  type Verb,
} from './report.js';

const opts = readOptions(process.env);
const started = performance.now();
const startedAt = new Date().toISOString();
const log = (line: string) => process.stdout.write(`${line}\n`);

// Everything this run started, so that the watchdog and Ctrl-C can end it.
let mainServer: IoplaceProcess | undefined;
let clusterServer: IoplaceProcess | undefined;
let bindServer: IoplaceProcess | undefined;
const killChildren = () => {
  mainServer?.kill();
  clusterServer?.kill();
  bindServer?.kill();
};
const watchdog = setTimeout(() => {
  process.stderr.write(
    `bench: still running after ${opts.deadlineMs / 1000} s (BENCH_DEADLINE_S); stopping\n`,
  );
  killChildren();
  process.exit(3);
}, opts.deadlineMs);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

const MIB = 1024 * 1024;
const MAX_REQUESTS = 200_000;

function machine(): BenchResults['machine'] {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  return {
    nproc: availableParallelism(),
    cpu,
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

function git(args: string[]): string {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

function build(): void {
  log('building: npm run build');
  const t0 = performance.now();
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0)
    throw new Error(`npm run build failed (exit ${r.status}); fix the build or use BENCH_SERVER=tsx`);
  log(`  built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** The config of every instance: standalone, loopback, reports never stale, room for big NodeLists. */
function baseConfig(): Record<string, unknown> {
  const config: Record<string, unknown> = {
    server: { bodyLimitBytes: 256 * MIB, logLevel: 'info' },
    inventory: { staleAfterSeconds: 86_400 },
    // Per-node series cost 9 series a node at every scrape; the harness scrapes between cases.
    metrics: { perNodeSeries: false },
    cluster: { mode: 'off' },
  };
  // Fields that arrive with work in progress; set only when this version knows them.
  // The ingestion case measures the report handler, not a per-node rate limit.
  setIfKnown(config, 'inventory', 'reportsPerSecond', 1000);
  setIfKnown(config, 'inventory', 'reportBurst', 10_000);
  setIfKnown(config, 'auth', 'agents', 'open');
  setIfKnown(config, 'server', 'requestTimeoutSeconds', 120);
  return config;
}

async function withOpsPort(config: Record<string, unknown>): Promise<Record<string, unknown>> {
  const copy = structuredClone(config);
  setIfKnown(copy, 'ops', 'port', await freePort());
  return copy;
}

function serverTime(before: readonly Sample[], after: readonly Sample[], verb: Verb): ServerTime {
  const match = { verb, outcome: 'ok' };
  const delta = histogramDelta(
    histogram(before, REQUEST_DURATION, match),
    histogram(after, REQUEST_DURATION, match),
  );
  return {
    count: delta.count,
    meanMs: delta.count > 0 ? (delta.sum / delta.count) * 1000 : Number.NaN,
    p50Ms: histogramQuantile(0.5, delta.buckets) * 1000,
    p99Ms: histogramQuantile(0.99, delta.buckets) * 1000,
    buckets: Object.fromEntries(
      delta.buckets.map((b) => [Number.isFinite(b.le) ? String(b.le) : '+Inf', b.count]),
    ),
  };
}

/** What one answer said, to show the cases make real decisions. */
function answerSummary(verb: Verb, text: string): Record<string, number> | undefined {
  if (verb === 'report') return undefined;
  const body = JSON.parse(text) as unknown;
  if (verb === 'prioritize') {
    const list = body as { Score: number }[];
    return { scored: list.filter((h) => h.Score > 0).length, zero: list.filter((h) => h.Score === 0).length };
  }
  const result = body as {
    NodeNames: string[] | null;
    Nodes: { items: unknown[] } | null;
    FailedNodes: Record<string, string>;
    FailedAndUnresolvableNodes: Record<string, string>;
  };
  return {
    passed: result.NodeNames?.length ?? result.Nodes?.items.length ?? 0,
    failed: Object.keys(result.FailedNodes).length,
    unresolvable: Object.keys(result.FailedAndUnresolvableNodes).length,
  };
}

interface CaseDef {
  readonly verb: Verb;
  readonly mode: 'NodeNames' | 'Nodes' | 'report';
  readonly pod: CaseResult['pod'];
  readonly nodes: number;
  readonly concurrency: number;
  readonly requests: readonly RequestSpec[];
  readonly durationMs: number;
  readonly maxRequests: number;
  readonly warmup: boolean;
  readonly floorRuns?: number;
}

function caseId(def: CaseDef): string {
  return `${def.verb}-${def.mode}-${def.pod}-${def.nodes}-c${def.concurrency}`;
}

async function runCase(server: IoplaceProcess, def: CaseDef, cases: CaseResult[]): Promise<void> {
  const id = caseId(def);
  if (opts.only !== undefined && !opts.only.test(id)) return;
  const first = def.requests[0] as RequestSpec;
  // One request first: it must succeed, and it tells what the answer was.
  const probe = await send(server.origin, first);
  if (probe.status < 200 || probe.status >= 300) {
    throw new Error(`${id}: HTTP ${probe.status}: ${probe.text.slice(0, 300)}`);
  }
  const answer = answerSummary(def.verb, probe.text);
  if (def.warmup) {
    await runLoad({
      origin: server.origin,
      requests: def.requests,
      concurrency: def.concurrency,
      durationMs: opts.warmupMs,
      maxRequests: MAX_REQUESTS,
    });
  }
  await sleep(50);
  const before = await server.metrics();
  const load: LoadResult = await runLoad({
    origin: server.origin,
    requests: def.requests,
    concurrency: def.concurrency,
    durationMs: def.durationMs,
    maxRequests: def.maxRequests,
  });
  await sleep(50);
  const after = await server.metrics();
  const floor =
    def.floorRuns === undefined ? undefined : measureFloor(first.body ?? Buffer.alloc(0), def.floorRuns);
  const result: CaseResult = {
    id,
    verb: def.verb,
    mode: def.mode,
    pod: def.pod,
    nodes: def.nodes,
    concurrency: def.concurrency,
    requestBytes: first.body?.length ?? 0,
    responseBytes: Buffer.byteLength(probe.text),
    requests: load.requests,
    errors: load.errors,
    ...(load.firstError === undefined ? {} : { firstError: load.firstError }),
    elapsedMs: load.elapsedMs,
    requestsPerSecond: load.requestsPerSecond,
    clientMs: load.latencyMs,
    server: serverTime(before, after, def.verb),
    ...(answer === undefined ? {} : { answer }),
    ...(floor === undefined ? {} : { floor }),
  };
  log(
    `  ${id}: ${load.requests} req, ${load.requestsPerSecond.toFixed(1)} req/s, client p50 ${fmtMs(load.latencyMs.p50)} ` +
      `p99 ${fmtMs(load.latencyMs.p99)}, server mean ${fmtMs(result.server.meanMs)} p99~ ${fmtMs(result.server.p99Ms)}` +
      `${floor === undefined ? '' : `, floor ${fmtMs(floor.totalMs)}`}${load.errors > 0 ? `, ${load.errors} errors: ${load.firstError}` : ''}` +
      `${answer === undefined ? '' : ` ${JSON.stringify(answer)}`}`,
  );
  cases.push(result);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ioplace-bench-'));
  log(
    `ioplace bench${opts.quick ? ' (quick)' : ''}: ${opts.durationMs / 1000} s a case, sizes ${opts.sizes.join(', ')}, ` +
      `server ${opts.entry}, work files in ${dir}`,
  );
  if (opts.entry === 'dist' && opts.build) build();

  const config = await withOpsPort(baseConfig());
  const rss: Record<string, { rssBytes: number; peakRssBytes: number }> = {};
  const cases: CaseResult[] = [];
  const maxNodes = Math.max(...opts.sizes);
  const server = await IoplaceProcess.start({
    name: 'ioplace-main',
    entry: opts.entry,
    config,
    dir,
    nodeArgs: opts.nodeArgs,
  });
  mainServer = server;
  const m0 = server.runningMemory();
  rss.started = { rssBytes: m0.rss, peakRssBytes: m0.peakRss };

  // The inventory: every candidate node of the largest case, minus the ~2% that never report.
  const seedStart = performance.now();
  const reports = reportRequests(maxNodes);
  await sendAll(server.origin, reports, {
    concurrency: 8,
    durationMs: 120_000,
    what: 'seeding the inventory',
  });
  const seedSeconds = (performance.now() - seedStart) / 1000;
  log(`seeded ${reports.length} of ${maxNodes} nodes in ${seedSeconds.toFixed(1)} s`);
  const m1 = server.runningMemory();
  rss.seeded = { rssBytes: m1.rss, peakRssBytes: m1.peakRss };

  const names = nodeNames(maxNodes);
  const nodeJson = nodeObjectsJson(names);
  const scheduler = (
    verb: 'filter' | 'prioritize',
    mode: Mode,
    pod: PodKind,
    nodes: number,
  ): RequestSpec[] => [
    {
      method: 'POST',
      path: `/scheduler/${verb}`,
      body: extenderArgs(
        mode,
        pod,
        names.slice(0, nodes),
        mode === 'Nodes' ? nodeJson.slice(0, nodes) : undefined,
      ),
    },
  ];
  const common = { durationMs: opts.durationMs, maxRequests: MAX_REQUESTS, warmup: true };

  const run = (def: CaseDef) => runCase(server, def, cases);

  log('NodeNames mode (nodeCacheCapable: true)');
  for (const concurrency of opts.concurrencies) {
    for (const nodes of opts.sizes) {
      for (const verb of ['filter', 'prioritize'] as const) {
        const requests = scheduler(verb, 'NodeNames', 'demand', nodes);
        await run({ verb, mode: 'NodeNames', pod: 'demand', nodes, concurrency, requests, ...common });
      }
    }
  }
  // Also the cost of a request without the per-node work: at 500 nodes, mostly the fixed cost.
  log('fast path: a pod that asks for nothing');
  for (const nodes of [500, 5000].filter((n) => opts.sizes.includes(n))) {
    for (const verb of ['filter', 'prioritize'] as const) {
      const requests = scheduler(verb, 'NodeNames', 'no-demand', nodes);
      await run({ verb, mode: 'NodeNames', pod: 'no-demand', nodes, concurrency: 1, requests, ...common });
    }
  }
  log('Nodes mode (nodeCacheCapable: false): whole Node objects');
  for (const nodes of opts.sizes) {
    const large = nodes > 5000;
    for (const verb of ['filter', 'prioritize'] as const) {
      await run({
        verb,
        mode: 'Nodes',
        pod: 'demand',
        nodes,
        concurrency: 1,
        requests: scheduler(verb, 'Nodes', 'demand', nodes),
        // The largest bodies: a handful of requests (the probe has warmed the path up).
        durationMs: large ? Math.max(opts.durationMs, 30_000) : opts.durationMs,
        maxRequests: large ? opts.largeNodesRequests : MAX_REQUESTS,
        warmup: !large,
        floorRuns: large ? Math.max(3, opts.floorRuns - 2) : opts.floorRuns,
      });
    }
  }
  log('agent reports: 5,000 nodes, 8 connections');
  const ingestNodes = Math.min(5000, maxNodes);
  await run({
    verb: 'report',
    mode: 'report',
    pod: '-',
    nodes: ingestNodes,
    concurrency: 8,
    requests: reportRequests(ingestNodes, 1),
    ...common,
  });
  const m2 = server.runningMemory();
  rss.afterCases = { rssBytes: m2.rss, peakRssBytes: m2.peakRss };
  await server.stop();
  mainServer = undefined;

  let memory: MemoryResult | undefined;
  if (opts.memory && (opts.only === undefined || opts.only.test('memory'))) {
    log(`memory: ioplace in cluster mode with ${opts.memoryPods} pods on ${opts.memoryNodes} nodes`);
    const clusterConfig = structuredClone(config);
    clusterConfig.cluster = { mode: 'on', listPageSize: opts.listPageSize };
    memory = await measureMemory({
      pods: opts.memoryPods,
      nodes: opts.memoryNodes,
      entry: opts.entry,
      dir,
      config: await withOpsPort(clusterConfig),
      listPageSize: opts.listPageSize,
      nodeArgs: opts.nodeArgs,
      log,
      track: (proc) => {
        clusterServer = proc;
      },
    });
  }

  const bind: BindResult[] = [];
  if (opts.bind && (opts.only === undefined || opts.only.test('bind'))) {
    log(
      `bind: a scheduler stand-in (${opts.bindCycleMs} ms of its own work a pod), ${opts.bindPods} pending pods on ` +
        `${opts.bindNodes} nodes, bindings answered after ${opts.bindLatencyMs} ms; ioplace in cluster mode`,
    );
    for (const tls of [false, true]) {
      const clusterConfig = structuredClone(config);
      clusterConfig.cluster = { mode: 'on' };
      bind.push(
        await measureBind({
          pods: opts.bindPods,
          nodes: opts.bindNodes,
          tls,
          bindingLatencyMs: opts.bindLatencyMs,
          saturationConcurrency: opts.bindConcurrency,
          rounds: opts.bindRounds,
          cycleMs: opts.bindCycleMs,
          entry: opts.entry,
          dir,
          config: await withOpsPort(clusterConfig),
          nodeArgs: opts.nodeArgs,
          log,
          track: (proc) => {
            bindServer = proc;
          },
        }),
      );
    }
  }

  const dirty = git(['status', '--porcelain', '--', 'src', 'config', 'package.json'])
    .split('\n')
    .filter((l) => l !== '');
  const results: BenchResults = {
    version: 1,
    quick: opts.quick,
    startedAt,
    durationSeconds: (performance.now() - started) / 1000,
    machine: machine(),
    ioplace: { commit: git(['rev-parse', 'HEAD']), dirtyFiles: dirty, entry: opts.entry, config },
    options: { ...opts, only: opts.only?.source },
    inventory: { nodes: maxNodes, reported: reports.length, seedSeconds },
    rss,
    cases,
    ...(memory === undefined ? {} : { memory }),
    ...(bind.length === 0 ? {} : { bind }),
    targets: evaluateTargets(cases, memory, bind),
  };
  const out = resolve(ROOT, opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  const baselineFile = resolve(ROOT, 'bench/results/baseline.json');
  const baseline =
    existsSync(baselineFile) && out !== baselineFile
      ? (JSON.parse(readFileSync(baselineFile, 'utf8')) as BenchResults)
      : undefined;
  log('');
  log(formatResults(results, baseline?.quick === results.quick ? baseline : undefined));
  log('');
  if (opts.quick)
    log('quick run: a smoke test of the harness; its figures are not comparable to the baseline');
  log(`wrote ${opts.out} in ${results.durationSeconds.toFixed(0)} s total`);
  const bindErrors = bind
    .flatMap((b) => [b.burst, b.saturation])
    .flatMap((r) => [r.direct.errors, r.ioplace.errors]);
  const errors = cases.reduce((n, c) => n + c.errors, 0) + bindErrors.reduce((n, e) => n + e, 0);
  if (errors > 0) {
    log(`${errors} requests failed: the figures above are not valid (logs in ${dir})`);
    process.exitCode = 1;
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

try {
  await main();
} catch (err) {
  killChildren();
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
}
