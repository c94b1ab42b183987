/**
 * `npm run soak`: load and soak test of the real ioplace process over loopback. See bench/soak/README.md.
 *
 * 1. start ioplace (standalone, a temporary config and HOME), seed 5,000 agent reports, wait for /readyz;
 * 2. run the traffic mix (mix.ts) for SOAK_SECONDS: a warm-up, then the measured phase, reading
 *    RSS every second, the heap at every /metrics scrape, and the heap after a forced full GC at
 *    ten or so points;
 * 3. with the load still running, send SIGTERM and time the exit;
 * 4. print the figures and the verdicts, write bench/soak/results/latest.json, exit 1 on any error,
 *    leak or slow shutdown.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RequestSpec, sendAll } from '../harness/closed-loop-load.js';
import { nodeName } from '../harness/cluster-payloads.js';
import { IoplaceProcess } from '../harness/ioplace-process.js';
import { machineBusySeconds } from '../harness/proc-stats.js';
import {
  HEAP_USED,
  parseMetrics,
  REQUEST_DURATION,
  requestTimes,
  sampleValue,
  timesBetween,
  type VerbTime,
} from '../harness/prometheus.js';
import { readHeapAfterFullGc } from './inspector.js';
import { buildMix } from './mix.js';
import { type KindStats, LoadDriver, type Phase } from './open-loop-load.js';
import { soakOptions } from './options.js';
import { reportBody } from './payloads.js';
import { printReport, type SoakResult, type Verdict } from './report.js';
import { leakVerdict, type Sample } from './verdict.js';

/** ioplace must be gone this long after SIGTERM (its own grace period is 10 s). */
const SHUTDOWN_LIMIT_MS = 10_000;
/** After this long the soak gives up waiting and kills it. */
const SHUTDOWN_KILL_MS = 15_000;
/** kube-scheduler's default extender httpTimeout. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Of the request-count bound, the share kept for the load that runs on through SIGTERM. */
const SHUTDOWN_SHARE = 0.05;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Every node reports once, 8 at a time: the inventory a restarted replica gets within 10 s. */
async function seed(origin: string, nodes: number): Promise<void> {
  const requests: RequestSpec[] = Array.from({ length: nodes }, (_, i) => ({
    method: 'PUT',
    path: `/v1/nodes/${nodeName(i)}/report`,
    body: Buffer.from(reportBody(i, 0)),
  }));
  await sendAll(origin, requests, { concurrency: 8, durationMs: 120_000, what: 'seeding the inventory' });
}

async function main(): Promise<number> {
  let options: ReturnType<typeof soakOptions>;
  try {
    options = soakOptions(process.env);
  } catch (err) {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  for (const note of options.notes) log(`note: ${note}`);
  const dir = mkdtempSync(join(tmpdir(), 'ioplace-soak-'));
  const config = {
    server: { host: '127.0.0.1', logLevel: 'info' },
    inventory: { staleAfterSeconds: 86_400 },
    cluster: { mode: 'off' },
  };

  const rssSamples: { at: number; bytes: number; peak: number }[] = [];
  const heapSamples: { at: number; bytes: number }[] = [];
  const gcReadings: { at: number; bytes: number; gcMs: number }[] = [];
  const scrapes: { at: number; times: Record<string, VerbTime> }[] = [];
  const mix = buildMix({
    nodes: options.nodes,
    silentNodes: Math.max(10, Math.round(options.nodes / 50)),
    scale: options.scale,
    scrapeEverySeconds: options.scrapeSeconds,
    onScrape: (text) => {
      const at = performance.now();
      const samples = parseMetrics(text, [HEAP_USED, REQUEST_DURATION]);
      const bytes = sampleValue(samples, HEAP_USED);
      if (bytes === undefined) return `no ${HEAP_USED}`;
      heapSamples.push({ at, bytes });
      scrapes.push({ at, times: requestTimes(samples) });
      return undefined;
    },
  });
  const totalRate = mix.streams.reduce((s, st) => s + st.ratePerSecond, 0);
  // Time-bounded first; the count bound is there in case the time bound fails. 5% of it is kept
  // for the load that goes on through SIGTERM.
  const limit =
    options.maxRequests ??
    Math.ceil((totalRate * (options.seconds + SHUTDOWN_KILL_MS / 1000) * 1.05) / (1 - SHUTDOWN_SHARE));
  const measureLimit = Math.floor(limit * (1 - SHUTDOWN_SHARE));

  log(
    `ioplace soak: ${options.seconds} s of load (the first ${options.warmupSeconds} s warm-up), then SIGTERM under load`,
  );
  log(
    `  model: ${options.nodes.toLocaleString('en')} nodes, ${mix.rates.productionPodsPerSecond} pods/s, ` +
      `${mix.rates.candidatesPerCall} NodeNames a call, reports every ${mix.rates.reportIntervalSeconds} s; ` +
      `run at ${options.scale}x: ${Math.round(totalRate).toLocaleString('en')} requests/s target, at most ${limit.toLocaleString('en')} requests`,
  );

  const server = await IoplaceProcess.spawn({
    name: 'ioplace',
    entry: 'tsx',
    dir,
    config,
    inspect: true,
    nodeArgs: options.nodeArgs,
  });
  const watchdog = setTimeout(
    () => {
      process.stderr.write('soak: watchdog expired; killing ioplace\n');
      server.kill();
      process.exit(1);
    },
    (options.seconds + 120) * 1000,
  );
  watchdog.unref();
  const onSignal = () => {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let driver: LoadDriver | undefined;
  let rssTimer: NodeJS.Timeout | undefined;
  try {
    await server.waitFor('/healthz', 60_000);
    const seedStart = performance.now();
    await seed(server.origin, options.nodes);
    await server.waitFor('/readyz', 30_000);
    // One scrape before the load: prom-client keeps the per-node series it built until the next
    // scrape (~8 MiB at 5,000 nodes), a step that belongs in the baseline, not in the leak check.
    await server.waitFor('/metrics', 30_000);
    log(
      `  ioplace pid ${server.pid} on ${server.origin}: ${options.nodes} nodes seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s, ready`,
    );

    const readRss = () => {
      const m = server.memory();
      if (m !== undefined) rssSamples.push({ at: performance.now(), bytes: m.rss, peak: m.peakRss });
    };
    const inspectPort = server.inspectPort as number;
    const gcErrors: string[] = [];
    const readHeapAfterGc = async () => {
      try {
        const h = await readHeapAfterFullGc(inspectPort);
        gcReadings.push({ at: performance.now(), bytes: h.usedBytes, gcMs: h.gcMs });
      } catch (err) {
        if (server.exit === undefined) gcErrors.push(String(err));
      }
    };
    // Attach once before the load: the first attach costs the server a little work.
    if (options.heapReadings > 0) await readHeapAfterGc();
    gcReadings.length = 0;
    readRss();
    rssTimer = setInterval(readRss, 1_000);

    const load = new LoadDriver({
      origin: server.origin,
      streams: mix.streams,
      timeoutMs: REQUEST_TIMEOUT_MS,
      limit,
    });
    driver = load;
    const loadStart = performance.now();
    load.start();
    const measuredTarget = options.seconds - options.warmupSeconds;
    const gcEveryMs = Math.max(5, measuredTarget / Math.max(1, options.heapReadings)) * 1000;
    let measureStart: number | undefined;
    let cpuStart:
      | { server: number | undefined; client: NodeJS.CpuUsage; machine: number | undefined }
      | undefined;
    let nextGcAt = Number.POSITIVE_INFINITY;
    let lastProgress = loadStart;
    let lastCompleted = 0;
    let crashed = false;
    let limitReached = false;
    const endAt = loadStart + options.seconds * 1000;
    for (;;) {
      await sleep(200);
      const now = performance.now();
      if (server.exit !== undefined) {
        crashed = true;
        break;
      }
      if (measureStart === undefined && now >= loadStart + options.warmupSeconds * 1000) {
        load.setPhase('measure');
        measureStart = now;
        cpuStart = { server: server.cpuSeconds(), client: process.cpuUsage(), machine: machineBusySeconds() };
        readRss();
        if (options.heapReadings > 0) {
          await readHeapAfterGc();
          nextGcAt = measureStart + gcEveryMs;
        }
      }
      if (now >= endAt) break;
      if (load.issued >= measureLimit) {
        limitReached = true;
        break;
      }
      if (now >= nextGcAt && endAt - now > gcEveryMs / 2) {
        await readHeapAfterGc();
        nextGcAt += gcEveryMs;
      }
      if (now - lastProgress >= 10_000) {
        const rate = (load.completed - lastCompleted) / ((now - lastProgress) / 1000);
        const rss = rssSamples[rssSamples.length - 1]?.bytes ?? 0;
        const heap = gcReadings[gcReadings.length - 1]?.bytes;
        log(
          `  ${((now - loadStart) / 1000).toFixed(0).padStart(4)} s  ${Math.round(rate).toLocaleString('en').padStart(6)} req/s` +
            `  errors ${load.errorsBeforeShutdown}  rss ${(rss / 2 ** 20).toFixed(0)} MiB` +
            (heap === undefined ? '' : `  heap after GC ${(heap / 2 ** 20).toFixed(1)} MiB`),
        );
        lastProgress = now;
        lastCompleted = load.completed;
      }
    }
    if (!crashed && options.heapReadings > 0) await readHeapAfterGc();
    const measureEnd = performance.now();
    measureStart ??= measureEnd;
    readRss();
    const serverCpuEnd = server.cpuSeconds();
    const clientCpu = process.cpuUsage(cpuStart?.client);
    const machineEnd = machineBusySeconds();

    // SIGTERM with the load still running.
    let shutdown: SoakResult['shutdown'];
    if (crashed) {
      await load.stop(5_000);
    } else {
      const inFlightByKind = load.inFlightByKind();
      const sigtermAt = server.terminate();
      load.sigtermSent(sigtermAt);
      const exited = await Promise.race([server.exited, sleep(SHUTDOWN_KILL_MS).then(() => undefined)]);
      const killed = exited === undefined;
      if (killed) server.kill();
      const exit = await server.exited;
      await load.stop(5_000);
      shutdown = {
        ms: exit.at - sigtermAt,
        limitMs: SHUTDOWN_LIMIT_MS,
        exitCode: exit.code,
        signal: exit.signal,
        killed,
        inFlightByKind,
        requests: load.shutdown,
      };
    }
    clearInterval(rssTimer);
    rssTimer = undefined;
    await server.closeLog();

    const measuredSeconds = (measureEnd - measureStart) / 1000;
    const start = measureStart;
    const rel = (at: number) => (at - start) / 1000;
    const inMeasure = <T extends { at: number }>(s: T) => s.at >= start && s.at <= measureEnd;
    const sample = (s: { at: number; bytes: number }): Sample => ({ t: rel(s.at), bytes: s.bytes });
    const rss = rssSamples.filter(inMeasure).map(sample);
    const heap = heapSamples.filter(inMeasure).map(sample);
    const heapAfterGc = gcReadings.filter(inMeasure).map(sample);
    const leak = leakVerdict({ durationSeconds: measuredSeconds, rss, heapAfterGc });

    const scrapesInMeasure = scrapes.filter(inMeasure);
    const firstScrape = scrapesInMeasure[0];
    const lastScrape = scrapesInMeasure[scrapesInMeasure.length - 1];
    const twoScrapes = firstScrape !== undefined && lastScrape !== undefined && firstScrape !== lastScrape;
    const cores = (seconds: number | undefined) =>
      seconds === undefined || measuredSeconds <= 0 ? undefined : seconds / measuredSeconds;
    const machineCpu =
      machineEnd === undefined || cpuStart?.machine === undefined ? undefined : machineEnd - cpuStart.machine;
    const serverCpu =
      serverCpuEnd === undefined || cpuStart?.server === undefined
        ? undefined
        : serverCpuEnd - cpuStart.server;

    const result: SoakResult = {
      startedAt: new Date(Date.now() - (performance.now() - loadStart)).toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryBytes: totalmem(),
        node: process.version,
      },
      options: { ...options, limit },
      rates: mix.rates,
      server: { pid: server.pid, origin: server.origin, config },
      warmupSeconds: (measureStart - loadStart) / 1000,
      measuredSeconds,
      crashed: crashed ? { exit: server.exit, logTail: server.logTail(40) } : undefined,
      limitReached,
      kinds: {
        warmup: load.stats('warmup'),
        measure: load.stats('measure'),
        shutdown: load.stats('shutdown'),
      },
      junkExpected: mix.junkExpected,
      serverTimes: twoScrapes ? timesBetween(firstScrape.times, lastScrape.times) : {},
      serverTimesSeconds: twoScrapes ? (lastScrape.at - firstScrape.at) / 1000 : 0,
      cpu: {
        serverCores: cores(serverCpu),
        clientCores: cores((clientCpu.user + clientCpu.system) / 1e6),
        machineCores: cores(machineCpu),
      },
      memory: {
        rss,
        heap,
        heapAfterGc,
        gcPausesMs: gcReadings.filter(inMeasure).map((g) => g.gcMs),
        gcErrors,
        peakRssBytes: rssSamples[rssSamples.length - 1]?.peak,
      },
      leak,
      shutdown,
      serverErrorLines: server.errorLines.filter((l) => crashed || l.at < measureEnd).map((l) => l.msg),
    };
    const verdict = printReport(result, log);
    const out = options.out;
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(toJson(result, verdict), null, 2)}\n`);
    const logCopy = join(dirname(out), 'ioplace.log');
    copyFileSync(server.logFile, logCopy);
    log(`\nwrote ${out} (server log: ${logCopy})`);
    return verdict.pass ? 0 : 1;
  } catch (err) {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.stderr.write(`ioplace log tail:\n${server.logTail(30)}\n`);
    return 1;
  } finally {
    if (rssTimer !== undefined) clearInterval(rssTimer);
    await driver?.stop(1_000);
    server.kill();
    clearTimeout(watchdog);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rmSync(dir, { recursive: true, force: true });
  }
}

function kindJson(stats: Map<string, KindStats>, seconds: number) {
  return Object.fromEntries(
    [...stats].map(([kind, s]) => [
      kind,
      {
        requests: s.requests,
        ok: s.ok,
        errors: s.errors,
        failures: s.failures,
        examples: s.examples,
        shed: s.shed,
        perSecond: seconds > 0 ? s.requests / seconds : null,
        bytesSent: s.bytesSent,
        bytesReceived: s.bytesReceived,
        latencyMs: s.latency.summary(),
        statuses: s.statuses,
      },
    ]),
  );
}

function toJson(result: SoakResult, verdict: Verdict) {
  const seconds: Record<Phase, number> = {
    warmup: result.warmupSeconds,
    measure: result.measuredSeconds,
    shutdown: 0,
  };
  return {
    ...result,
    kinds: Object.fromEntries(
      (['warmup', 'measure', 'shutdown'] as const).map((p) => [p, kindJson(result.kinds[p], seconds[p])]),
    ),
    junkExpected: Object.fromEntries(result.junkExpected),
    verdict,
  };
}

process.exitCode = await main();
