/** The soak's printed report and its verdict. */
import { fmtMs, table } from '../harness/format.js';
import type { Rates } from './mix.js';
import type { KindStats, ShutdownStats } from './open-loop-load.js';
import type { LeakVerdict, Sample } from './verdict.js';

export interface SoakResult {
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; node: string };
  options: Record<string, unknown>;
  rates: Rates;
  server: { pid: number; origin: string; config: unknown };
  warmupSeconds: number;
  measuredSeconds: number;
  crashed: { exit: unknown; logTail: string } | undefined;
  limitReached: boolean;
  kinds: {
    warmup: Map<string, KindStats>;
    measure: Map<string, KindStats>;
    shutdown: Map<string, KindStats>;
  };
  junkExpected: Map<string, number>;
  memory: {
    rss: Sample[];
    /** nodejs_heap_size_used_bytes at each /metrics scrape. */
    heap: Sample[];
    /** V8 heap used right after a forced full GC (inspector). */
    heapAfterGc: Sample[];
    gcPausesMs: number[];
    /** Heap readings that failed while the server was up. */
    gcErrors: string[];
    peakRssBytes: number | undefined;
  };
  /** Server time per verb from ioplace_request_duration_seconds, between the first and last scrape of the measured phase. */
  serverTimes: Record<string, { count: number; meanMs: number }>;
  serverTimesSeconds: number;
  /** CPU used in the measured phase, in cores (1 = one core busy all the time). */
  /** `machineCores`: everything busy on the machine, these two processes included. */
  cpu: { serverCores: number | undefined; clientCores: number | undefined; machineCores: number | undefined };
  leak: LeakVerdict;
  shutdown:
    | {
        ms: number;
        limitMs: number;
        exitCode: number | null;
        signal: string | null;
        killed: boolean;
        inFlightByKind: Record<string, number>;
        requests: ShutdownStats;
      }
    | undefined;
  serverErrorLines: string[];
}

export interface Verdict {
  pass: boolean;
  reasons: string[];
  warnings: string[];
}

const MIB = 1024 * 1024;

const mib = (b: number | undefined) =>
  b === undefined || !Number.isFinite(b) ? '-' : `${(b / MIB).toFixed(1)} MiB`;
const int = (n: number) => Math.round(n).toLocaleString('en');
const signedPct = (f: number) => `${f >= 0 ? '+' : ''}${(f * 100).toFixed(1)}%`;

/** Prints the report; returns the verdict (pass, why not, and what deserves a look). */
export function printReport(r: SoakResult, log: (line: string) => void): Verdict {
  const reasons: string[] = [];
  const warnings: string[] = [];
  const kinds = [...r.kinds.measure.keys()];

  log('');
  log(`measured phase: ${r.measuredSeconds.toFixed(1)} s after a ${r.warmupSeconds.toFixed(1)} s warm-up`);
  if (r.limitReached) warnings.push('the request-count bound was reached before the time bound');

  // Requests, throughput and latency (measured phase).
  let total = 0;
  const rows = kinds.map((kind) => {
    const s = r.kinds.measure.get(kind) as KindStats;
    const target = r.rates.perKind[kind]?.target ?? 0;
    const achieved = s.requests / r.measuredSeconds;
    total += s.requests;
    const scheduled = s.requests + s.shed;
    if (s.shed > 0.01 * scheduled && scheduled > 0) {
      warnings.push(
        `${kind}: ${int(s.shed)} of ${int(scheduled)} due requests shed at the in-flight cap: the target rate was not reached`,
      );
    }
    const l = s.latency.summary();
    return [
      kind,
      target.toFixed(target < 10 ? 2 : 0),
      achieved.toFixed(achieved < 10 ? 2 : 0),
      int(s.requests),
      int(s.shed),
      fmtMs(l.p50),
      fmtMs(l.p90),
      fmtMs(l.p99),
      fmtMs(l.max),
    ];
  });
  log('');
  log('requests and client latency (measured phase, successful answers)');
  for (const line of table(
    ['kind', 'target/s', 'achieved/s', 'requests', 'shed', 'p50', 'p90', 'p99', 'max'],
    rows,
    new Set([1, 2, 3, 4, 5, 6, 7, 8]),
  ))
    log(`  ${line}`);
  log(
    `  throughput: ${int(total / r.measuredSeconds)} requests/s (${int(total)} requests in ${r.measuredSeconds.toFixed(1)} s)`,
  );

  const times = Object.entries(r.serverTimes)
    .map(([verb, t]) => `${verb} ${fmtMs(t.meanMs)} (${int(t.count)})`)
    .join(', ');
  if (times !== '') {
    log(
      `  server time, mean per verb over ${r.serverTimesSeconds.toFixed(0)} s (ioplace_request_duration_seconds): ${times}`,
    );
  }
  const pctCore = (c: number | undefined) => (c === undefined ? '-' : `${(c * 100).toFixed(0)}%`);
  const { serverCores, clientCores, machineCores } = r.cpu;
  const others =
    machineCores === undefined || serverCores === undefined || clientCores === undefined
      ? undefined
      : Math.max(0, machineCores - serverCores - clientCores);
  log(
    `  CPU (100% = one core): ioplace ${pctCore(serverCores)} (its event loop is one thread), soak client ${pctCore(clientCores)}, other processes ${pctCore(others)}; ${r.machine.cpus} cores`,
  );
  if (others !== undefined && others > 0.15) {
    warnings.push(
      `other processes used ${pctCore(others)} of a core during the measured phase: the figures are not those of a quiet machine`,
    );
  }
  if ((r.cpu.serverCores ?? 0) > 0.9) {
    warnings.push(
      `ioplace used ${pctCore(r.cpu.serverCores)} of a core: it was saturated, so client latencies are mostly queueing`,
    );
  }

  // Errors before SIGTERM, warm-up included.
  log('');
  log(
    'errors before SIGTERM (warm-up included; any 5xx, connection error, timeout, 4xx on a valid request, wrong answer)',
  );
  let errors = 0;
  for (const kind of kinds) {
    const phases = [r.kinds.warmup.get(kind), r.kinds.measure.get(kind)].filter(
      (s): s is KindStats => s !== undefined,
    );
    const n = phases.reduce((sum, s) => sum + s.errors, 0);
    errors += n;
    const failures: Record<string, number> = {};
    const examples: string[] = [];
    for (const s of phases) {
      for (const [f, c] of Object.entries(s.failures)) failures[f] = (failures[f] ?? 0) + (c ?? 0);
      for (const e of Object.values(s.examples)) if (e !== undefined && examples.length < 2) examples.push(e);
    }
    const detail = Object.entries(failures)
      .map(([f, c]) => `${f} ${c}`)
      .join(', ');
    log(`  ${kind.padEnd(18)} ${String(n).padStart(6)}${detail === '' ? '' : `  (${detail})`}`);
    for (const e of examples) log(`      e.g. ${e}`);
  }
  if (errors > 0) reasons.push(`${errors} failed requests before SIGTERM`);

  // Junk statuses.
  const junk = new Map<string, number>();
  for (const phase of [r.kinds.warmup, r.kinds.measure]) {
    for (const [key, n] of Object.entries(phase.get('junk')?.statuses ?? {}))
      junk.set(key, (junk.get(key) ?? 0) + n);
  }
  const junkLines: string[] = [];
  for (const [key, n] of [...junk].sort()) {
    const [label, status] = key.split(' -> ') as [string, string];
    const expected = r.junkExpected.get(label);
    const mark =
      expected !== undefined && /^\d+$/.test(status) && String(expected) !== status
        ? `   (documented: ${expected})`
        : '';
    if (mark !== '') warnings.push(`junk "${label}" answered ${status}, README documents ${expected}`);
    junkLines.push(`  ${label.padEnd(38)} ${status.padStart(5)} x${n}${mark}`);
  }
  log('');
  log('junk (must be refused with 4xx)');
  for (const line of junkLines) log(line);

  // Memory.
  const first = (s: Sample[]) => s[0]?.bytes;
  const last = (s: Sample[]) => s[s.length - 1]?.bytes;
  const growth = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined
      ? '-'
      : `${b - a >= 0 ? '+' : ''}${mib(b - a)} (${signedPct((b - a) / a)})`;
  const m = r.memory;
  log('');
  log('server memory (measured phase)');
  log(
    `  RSS   start ${mib(first(m.rss))}  end ${mib(last(m.rss))}  growth ${growth(first(m.rss), last(m.rss))}  peak ${mib(m.peakRssBytes)}`,
  );
  log(
    `  heap  start ${mib(first(m.heap))}  end ${mib(last(m.heap))}  growth ${growth(first(m.heap), last(m.heap))}  (nodejs_heap_size_used_bytes, ${m.heap.length} samples)`,
  );
  const gc = m.heapAfterGc;
  log(
    `  heap after forced full GC  start ${mib(first(gc))}  end ${mib(last(gc))}  growth ${growth(first(gc), last(gc))}  (${gc.length} readings, GC pause max ${fmtMs(Math.max(...m.gcPausesMs))})`,
  );
  if (m.gcErrors.length > 0) {
    warnings.push(`${m.gcErrors.length} heap readings failed, e.g. ${m.gcErrors[0]}`);
  }
  log('');
  log(`leak check: ${r.leak.leak ? 'LEAK SUSPECTED' : 'no leak seen'}`);
  for (const [name, s] of [
    ['RSS, second half', r.leak.rssSecondHalf],
    ['heap after full GC', r.leak.heapAfterGc],
  ] as const) {
    log(`  ${name.padEnd(22)} ${s.flagged ? 'FLAGGED' : s.conclusive ? 'ok' : 'n/a'}: ${s.detail}`);
    if (s.flagged) reasons.push(`leak check: ${name}: ${s.detail}`);
  }

  // Shutdown.
  log('');
  if (r.crashed !== undefined) {
    reasons.push(`ioplace exited during the run: ${JSON.stringify(r.crashed.exit)}`);
    log(`ioplace EXITED during the run: ${JSON.stringify(r.crashed.exit)}`);
    log(r.crashed.logTail);
  } else if (r.shutdown !== undefined) {
    const s = r.shutdown;
    const q = s.requests;
    const inFlight = Object.entries(s.inFlightByKind)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    log(
      `shutdown under load: SIGTERM -> exit in ${fmtMs(s.ms)} (limit ${fmtMs(s.limitMs)}), exit code ${s.exitCode}${s.signal === null ? '' : `, signal ${s.signal}`}`,
    );
    log(
      `  in flight at SIGTERM: ${q.inFlightAtSigterm}${inFlight === '' ? '' : ` (${inFlight})`}: ${q.inFlightCompletedOk} answered, ${q.inFlightFailed} failed`,
    );
    log(
      `  sent after SIGTERM: ${q.sentAfter}: ${q.sentAfterOk} answered, ${q.sentAfterFailed} failed (expected)`,
    );
    const why = Object.entries(q.failureReasons)
      .map(([k, n]) => `${k} x${n}`)
      .join(', ');
    if (why !== '') log(`  failures during shutdown: ${why}`);
    if (s.killed) reasons.push(`ioplace still running ${fmtMs(s.ms)} after SIGTERM; killed`);
    else if (s.ms > s.limitMs) reasons.push(`shutdown took ${fmtMs(s.ms)}, over ${fmtMs(s.limitMs)}`);
    if (s.exitCode !== 0 && !s.killed) reasons.push(`ioplace exited with code ${s.exitCode} after SIGTERM`);
    if (q.inFlightFailed > 0)
      warnings.push(`${q.inFlightFailed} requests in flight at SIGTERM were not answered`);
  }

  if (r.serverErrorLines.length > 0) {
    reasons.push(`ioplace logged ${r.serverErrorLines.length} lines at level error or above before SIGTERM`);
    log('');
    log(`server error lines before SIGTERM: ${r.serverErrorLines.length}`);
    for (const line of r.serverErrorLines.slice(0, 3)) log(`  ${line.slice(0, 500)}`);
  }

  log('');
  for (const w of warnings) log(`warning: ${w}`);
  const pass = reasons.length === 0;
  log(pass ? 'PASS' : `FAIL:\n${reasons.map((x) => `  - ${x}`).join('\n')}`);
  return { pass, reasons, warnings };
}
