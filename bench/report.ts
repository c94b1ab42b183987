/** The results: their shape in latest.json, the targets of issue 8, and the printed tables. */
import type { BindResult } from './bind.js';
import type { Floor } from './floor.js';
import { fmtMs, table } from './harness/format.js';
import type { Latency } from './harness/latency.js';
import type { MemoryResult } from './memory.js';

export type Verb = 'filter' | 'prioritize' | 'report';
export type CaseMode = 'NodeNames' | 'Nodes' | 'report';

export interface CaseResult {
  readonly id: string;
  readonly verb: Verb;
  readonly mode: CaseMode;
  /** demand: bandwidth annotations and an IOPS request; no-demand: the fast path. */
  readonly pod: 'demand' | 'no-demand' | '-';
  readonly nodes: number;
  readonly concurrency: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly requests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly elapsedMs: number;
  readonly requestsPerSecond: number;
  readonly clientMs: Latency;
  readonly server: ServerTime;
  /** What one answer said: nodes passed and turned away (filter), or scored above 0 (prioritize). */
  readonly answer?: Readonly<Record<string, number>>;
  readonly floor?: Floor;
}

export interface ServerTime {
  /** Observations of ioplace_request_duration_seconds{verb, outcome="ok"} during the case. */
  readonly count: number;
  readonly meanMs: number;
  /** histogram_quantile over the bucket deltas: an estimate only as fine as the buckets. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Observations per cumulative bucket, keyed by `le` ("+Inf" last). */
  readonly buckets: Readonly<Record<string, number>>;
}

export interface Target {
  readonly name: string;
  readonly measured: number;
  readonly unit: string;
  readonly limit: string;
  readonly pass: boolean | undefined;
  readonly note?: string;
}

export interface BenchResults {
  readonly version: 1;
  readonly quick: boolean;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: {
    readonly nproc: number;
    readonly cpu: string;
    readonly memoryBytes: number;
    readonly node: string;
    readonly platform: string;
  };
  readonly ioplace: {
    readonly commit: string;
    readonly dirtyFiles: readonly string[];
    readonly entry: string;
    readonly config: unknown;
  };
  readonly options: Readonly<Record<string, unknown>>;
  readonly inventory: { readonly nodes: number; readonly reported: number; readonly seedSeconds: number };
  readonly rss: Readonly<Record<string, { readonly rssBytes: number; readonly peakRssBytes: number }>>;
  readonly cases: readonly CaseResult[];
  readonly memory?: MemoryResult;
  readonly bind?: readonly BindResult[];
  readonly targets: readonly Target[];
}

export function findCase(
  cases: readonly CaseResult[],
  verb: Verb,
  mode: CaseMode,
  nodes: number,
  concurrency = 1,
  pod: CaseResult['pod'] = 'demand',
): CaseResult | undefined {
  return cases.find(
    (c) =>
      c.verb === verb &&
      c.mode === mode &&
      c.nodes === nodes &&
      c.concurrency === concurrency &&
      c.pod === pod,
  );
}

const MB = 1024 * 1024;

/** The targets of issues 8 and 12, evaluated on what was measured. */
export function evaluateTargets(
  cases: readonly CaseResult[],
  memory: MemoryResult | undefined,
  bind: readonly BindResult[] = [],
): Target[] {
  const targets: Target[] = [];
  for (const c of cases) {
    if (c.mode !== 'Nodes' || c.floor === undefined) continue;
    const ratio = c.server.meanMs / c.floor.totalMs;
    targets.push({
      name: `Nodes mode ${c.verb} ${c.nodes}: server mean / (JSON.parse + JSON.stringify)`,
      measured: ratio,
      unit: 'x',
      limit: '<= 1.5',
      pass: ratio <= 1.5,
      note: `${fmtMs(c.server.meanMs)} / ${fmtMs(c.floor.totalMs)}`,
    });
  }
  for (const mode of ['NodeNames', 'Nodes'] as const) {
    for (const verb of ['filter', 'prioritize'] as const) {
      const small = findCase(cases, verb, mode, 500);
      const large = findCase(cases, verb, mode, 5000);
      if (small === undefined || large === undefined) continue;
      const ratio = large.server.meanMs / small.server.meanMs;
      targets.push({
        name: `${mode} ${verb}: server mean at 5,000 / at 500 nodes`,
        measured: ratio,
        unit: 'x',
        limit: '<= 11',
        pass: ratio <= 11,
        note: `${fmtMs(large.server.meanMs)} / ${fmtMs(small.server.meanMs)}`,
      });
    }
  }
  for (const nodes of [500, 5000, 15000]) {
    const filter = findCase(cases, 'filter', 'NodeNames', nodes);
    const prioritize = findCase(cases, 'prioritize', 'NodeNames', nodes);
    if (filter === undefined || prioritize === undefined) continue;
    const p99 = filter.server.p99Ms + prioritize.server.p99Ms;
    const clientP99 = filter.clientMs.p99 + prioritize.clientMs.p99;
    targets.push({
      name: `NodeNames ${nodes}: server p99 filter + prioritize`,
      measured: p99,
      unit: 'ms',
      limit: nodes === 500 ? '< 1 ms (well under)' : '(figure only)',
      pass: nodes === 500 ? p99 < 1 : undefined,
      note: `${fmtMs(filter.server.p99Ms)} + ${fmtMs(prioritize.server.p99Ms)} (histogram estimate); client p99 ${fmtMs(clientP99)}`,
    });
  }
  if (memory !== undefined) {
    const full = memory.pods >= 150_000 && memory.nodes >= 5_000;
    targets.push({
      name: `RSS with ${memory.nodes.toLocaleString('en')} nodes reported and ${memory.pods.toLocaleString('en')} pods`,
      measured: memory.rssBytes / 1e6,
      unit: 'MB',
      limit: '<= 300 MB',
      pass: full ? memory.rssBytes <= 300 * 1e6 : undefined,
      note: full
        ? `peak ${(memory.peakRssBytes / 1e6).toFixed(0)} MB (1 MB = 10^6 bytes)`
        : 'scaled down: not comparable',
    });
  }
  for (const b of bind) {
    const full = b.pods >= 500 && b.nodes >= 100;
    targets.push({
      name: `bind (issue 12), ${b.tls ? 'TLS' : 'plain HTTP'}: share of the scheduler's own bind rate kept, burst of ${b.pods} pods on ${b.nodes} nodes`,
      measured: b.burst.ratio,
      unit: 'x',
      limit: '>= 0.9',
      pass: full ? b.burst.ratio >= 0.9 : undefined,
      note:
        `median of ${b.burst.ratios.length} (${b.burst.ratios.map((r) => r.toFixed(2)).join(', ')}): ` +
        `${(b.burst.direct.totalMs / 1000).toFixed(2)} s direct / ${(b.burst.ioplace.totalMs / 1000).toFixed(2)} s through ioplace` +
        (full ? '' : ' (scaled down: not comparable)'),
    });
  }
  return targets;
}

function fmtBytes(bytes: number): string {
  if (bytes >= MB) return `${(bytes / MB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

function fmtRate(rps: number): string {
  if (rps >= 100) return rps.toFixed(0);
  if (rps >= 10) return rps.toFixed(1);
  return rps.toFixed(2);
}

function verdict(pass: boolean | undefined): string {
  return pass === undefined ? 'n/a' : pass ? 'PASS' : 'FAIL';
}

/** The case a row's target refers to, for the `target` column of the main table. */
function caseTarget(c: CaseResult, targets: readonly Target[]): string {
  if (c.mode === 'Nodes' && c.floor !== undefined) {
    const t = targets.find((x) => x.name.startsWith(`Nodes mode ${c.verb} ${c.nodes}:`));
    if (t !== undefined) return `${t.measured.toFixed(2)}x floor ${verdict(t.pass)}`;
  }
  return '';
}

export function formatResults(results: BenchResults, baseline: BenchResults | undefined): string {
  const header = [
    'case',
    'nodes',
    'mode',
    'conn',
    'req body',
    'requests',
    'req/s',
    'client p50',
    'client p99',
    'server mean',
    'server p99~',
    'target',
  ];
  if (baseline !== undefined) header.push('mean vs baseline');
  const rows = results.cases.map((c) => {
    const row = [
      `${c.verb}${c.pod === 'no-demand' ? ' (no demand)' : ''}`,
      c.nodes.toLocaleString('en'),
      c.mode,
      String(c.concurrency),
      fmtBytes(c.requestBytes),
      `${c.requests}${c.errors > 0 ? ` (${c.errors} err)` : ''}`,
      fmtRate(c.requestsPerSecond),
      fmtMs(c.clientMs.p50),
      fmtMs(c.clientMs.p99),
      fmtMs(c.server.meanMs),
      fmtMs(c.server.p99Ms),
      caseTarget(c, results.targets),
    ];
    if (baseline !== undefined) {
      const before = baseline.cases.find((b) => b.id === c.id);
      row.push(
        before === undefined ? '' : `${((c.server.meanMs / before.server.meanMs - 1) * 100).toFixed(0)}%`,
      );
    }
    return row;
  });
  const out: string[] = [];
  out.push(...table(header, rows, new Set([1, 3, 4, 5, 6, 7, 8, 9, 10])));
  out.push('');
  out.push(
    'server mean: delta of ioplace_request_duration_seconds _sum/_count; server p99~: histogram_quantile',
  );
  out.push('over the bucket deltas (linear interpolation inside a bucket: coarse).');
  const floors = results.cases.filter((c) => c.floor !== undefined);
  if (floors.length > 0) {
    out.push('');
    out.push(
      ...table(
        ['floor (this process)', 'body', 'JSON.parse', 'JSON.stringify', 'parse+stringify'],
        floors.map((c) => {
          const f = c.floor as Floor;
          return [
            `${c.verb} ${c.nodes.toLocaleString('en')} Nodes`,
            fmtBytes(f.bytes),
            fmtMs(f.parseMs),
            fmtMs(f.stringifyMs),
            fmtMs(f.totalMs),
          ];
        }),
        new Set([1, 2, 3, 4]),
      ),
    );
  }
  if (results.memory !== undefined) {
    const m = results.memory;
    out.push('');
    out.push(
      `memory: ${m.nodes.toLocaleString('en')} nodes reported, ${m.pods.toLocaleString('en')} pods listed ` +
        `(tracked ${m.podsTracked ?? '?'}): RSS ${fmtBytes(m.rssBytes)}, peak ${fmtBytes(m.peakRssBytes)}, ` +
        `heap used ${m.heapUsedBytes === undefined ? '?' : fmtBytes(m.heapUsedBytes)}; ` +
        `initial sync ${m.syncSeconds.toFixed(1)} s (page size ${m.listPageSize})`,
    );
  }
  if (results.bind !== undefined && results.bind.length > 0) {
    out.push('');
    out.push(formatBind(results.bind));
  }
  const rss = Object.entries(results.rss);
  if (rss.length > 0) {
    out.push(
      `main instance RSS: ${rss.map(([k, v]) => `${k} ${fmtBytes(v.rssBytes)} (peak ${fmtBytes(v.peakRssBytes)})`).join(', ')}`,
    );
  }
  out.push('');
  out.push(
    ...table(
      ['target', 'measured', 'limit', 'result', 'detail'],
      results.targets.map((t) => [
        t.name,
        `${t.unit === 'ms' ? t.measured.toFixed(3) : t.measured.toFixed(2)} ${t.unit}`,
        t.limit,
        verdict(t.pass),
        t.note ?? '',
      ]),
      new Set([1]),
    ),
  );
  return out.join('\n');
}

/** The bind runs: each path's total time, binds/s, what ioplace asked of the API server. */
export function formatBind(results: readonly BindResult[]): string {
  const rows = results.flatMap((b) =>
    (['burst', 'saturation'] as const).flatMap((kind) =>
      (['direct', 'ioplace'] as const).map((path) => {
        const run = b[kind][path];
        return [
          b.tls ? 'TLS' : 'plain',
          kind === 'burst'
            ? `burst (${b.pods} pods, median of ${b.burst.ratios.length})`
            : `saturation (${b.saturationConcurrency} in flight)`,
          path === 'direct' ? "scheduler's own" : 'through ioplace',
          `${(run.totalMs / 1000).toFixed(2)} s`,
          run.bindsPerSecond.toFixed(0),
          fmtMs(run.bindMs.p50),
          fmtMs(run.bindMs.p99),
          run.cycleMs === undefined ? '' : fmtMs(run.cycleMs.mean),
          path === 'ioplace' ? String(run.podReads) : '',
          String(run.apiConnections),
          `${run.errors}`,
          path === 'ioplace' ? b[kind].ratio.toFixed(2) : '',
        ];
      }),
    ),
  );
  const first = results[0];
  return [
    `bind: ${first?.nodes ?? '?'} nodes, bindings answered after ${first?.bindingLatencyMs ?? '?'} ms by the fake API server, ` +
      `the scheduler's own work ${first?.cycleMs ?? '?'} ms a pod`,
    ...table(
      [
        'api',
        'run',
        'binder',
        'total',
        'binds/s',
        'bind p50',
        'bind p99',
        'cycle mean',
        'pod reads',
        'API conns',
        'errors',
        'ratio',
      ],
      rows,
      new Set([3, 4, 5, 6, 7, 8, 9, 10, 11]),
    ),
    "ratio: burst, direct total / ioplace total (share of the scheduler's bind rate kept, target >= 0.9);",
    "saturation, ioplace binds/s / direct binds/s. cycle: the scheduler's own work + filter + prioritize.",
  ].join('\n');
}
