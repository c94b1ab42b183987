import { readFileSync } from 'node:fs';
import { Counter, register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type CapturedArgs, capture } from '../support/captures.js';
import {
  type ClusterHarness,
  node,
  pod,
  podsTracked,
  report,
  startCluster,
  watchConnected,
} from '../support/cluster-harness.js';
import { waitFor } from '../support/fake-apiserver.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

// --- A tiny reader of the Prometheus text exposition format -------------------------------------

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Exposition {
  readonly samples: readonly Sample[];
  /** `# TYPE` of each metric family. */
  readonly types: ReadonlyMap<string, string>;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
const TYPE_LINE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/;

/** As Prometheus reads values (Go's ParseFloat): Inf and NaN in any case; prom-client writes "Nan". */
function parseValue(text: string): number {
  if (/^[+-]?inf$/i.test(text))
    return text.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`not a sample value: ${text}`);
  return value;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL_PAIR.lastIndex = 0;
  let consumed = 0;
  for (let m = LABEL_PAIR.exec(text); m !== null; m = LABEL_PAIR.exec(text)) {
    const [whole, key = '', raw = ''] = m;
    labels[key] = raw.replace(/\\(["\\n])/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    consumed += whole.length;
  }
  if (consumed !== text.length) throw new Error(`malformed labels in: ${line}`);
  return labels;
}

function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = TYPE_LINE.exec(line);
      if (type?.[1] !== undefined && type[2] !== undefined) types.set(type[1], type[2]);
      continue;
    }
    const m = SAMPLE_LINE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const [, name = '', labels, value = ''] = m;
    samples.push({ name, labels: parseLabels(labels ?? '', line), value: parseValue(value) });
  }
  return { samples, types };
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The value of the one series with exactly these labels, or undefined when there is none. */
function sampleValue(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = e.samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} appears ${found.length} times`);
  return found[0]?.value;
}

function seriesOf(e: Exposition, name: string): Sample[] {
  return e.samples.filter((s) => s.name === name);
}

async function scrape(url: string): Promise<Exposition> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

// --- The scenario ---------------------------------------------------------------------------------

const G = 1e9;
const M = 1e6;

let servers: TestServer[] = [];
let cluster: ClusterHarness | undefined;

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  await cluster?.close();
  cluster = undefined;
});

async function start(config: unknown = {}): Promise<TestServer> {
  const server = await startTestServer(config);
  servers.push(server);
  return server;
}

async function put(server: TestServer, name: string, body: unknown, status = 200): Promise<void> {
  const res = await call(`${server.url}/v1/nodes/${name}/report`, 'PUT', body);
  expect(res.status, res.text).toBe(status);
}

function filter(server: TestServer, body: unknown) {
  return call<{ NodeNames: string[] }>(`${server.url}/scheduler/filter`, 'POST', body);
}

/**
 * The pod of filter-nodecache-true asks for ingress 100M and egress 50M (bandwidth annotations).
 * node-s reports and then goes stale (the clock moves 31 s, past the default 30 s); then
 *   node-c  1G each way, 50k iops, idle         fits
 *   node-d  1G each way, 880M ingress in use    20M free: insufficient
 *   node-a  100M each way                       90M allocatable: exceeds_capacity
 *   node-m  iops only                           unmeasured (does not report ingressBandwidth)
 *   node-e  never reports                       unknown
 */
async function seed(server: TestServer): Promise<void> {
  await put(server, 'node-s', { capacity: { ingressBandwidth: G, egressBandwidth: G } });
  server.clock.now += 31_000;
  await put(server, 'node-c', { capacity: { ingressBandwidth: G, egressBandwidth: G, iops: 50_000 } });
  await put(server, 'node-d', {
    capacity: { ingressBandwidth: G, egressBandwidth: G, iops: 50_000 },
    usage: { ingressBandwidth: 880 * M, iops: 2_000 },
  });
  await put(server, 'node-a', { capacity: { ingressBandwidth: 100 * M, egressBandwidth: 100 * M } });
  await put(server, 'node-m', { capacity: { iops: 50_000 } });
}

function podArgs(nodeNames: string[]): CapturedArgs {
  const args = capture<CapturedArgs>('filter-nodecache-true');
  return { ...args, NodeNames: nodeNames };
}

describe('GET /metrics after real traffic', () => {
  it('times filter requests by verb and outcome, a malformed body as client_error', async () => {
    const server = await start();
    await seed(server);
    for (let i = 0; i < 3; i++) expect((await filter(server, podArgs(['node-c']))).status).toBe(200);
    const malformed = await call(`${server.url}/scheduler/filter`, 'POST', undefined, { raw: '{"Pod": {' });
    expect(malformed.status).toBe(400);

    const m = await scrape(server.url);
    expect(m.types.get('ioplace_request_duration_seconds')).toBe('histogram');
    expect(sampleValue(m, 'ioplace_request_duration_seconds_count', { verb: 'filter', outcome: 'ok' })).toBe(
      3,
    );
    expect(
      sampleValue(m, 'ioplace_request_duration_seconds_count', { verb: 'filter', outcome: 'client_error' }),
    ).toBe(1);
    expect(
      sampleValue(m, 'ioplace_request_duration_seconds_bucket', {
        verb: 'filter',
        outcome: 'ok',
        le: '+Inf',
      }),
    ).toBe(3);
    const sum = sampleValue(m, 'ioplace_request_duration_seconds_sum', { verb: 'filter', outcome: 'ok' });
    expect(sum).toBeGreaterThan(0);
    // Reports are timed too (5 accepted in seed); no other verb has been asked.
    expect(sampleValue(m, 'ioplace_request_duration_seconds_count', { verb: 'report', outcome: 'ok' })).toBe(
      5,
    );
    const verbs = new Set(seriesOf(m, 'ioplace_request_duration_seconds_count').map((s) => s.labels.verb));
    expect([...verbs].sort()).toEqual(['filter', 'report']);
  });

  it('counts agent reports as accepted or rejected, and times them as verb="report"', async () => {
    const server = await start();
    const before = await scrape(server.url);
    // Both results are exported from the start, at 0.
    expect(sampleValue(before, 'ioplace_reports_total', { result: 'accepted' })).toBe(0);
    expect(sampleValue(before, 'ioplace_reports_total', { result: 'rejected' })).toBe(0);

    await put(server, 'node-a', { capacity: { iops: 1000 } });
    await put(server, 'node-b', { capacity: { iops: 1000 }, usage: { iops: 10 } });
    await put(server, 'node-a', { capacity: { iops: -1 } }, 400);
    const bad = await call(`${server.url}/v1/nodes/node-a/report`, 'PUT', undefined, { raw: 'nope' });
    expect(bad.status).toBe(400);

    const m = await scrape(server.url);
    expect(m.types.get('ioplace_reports_total')).toBe('counter');
    expect(sampleValue(m, 'ioplace_reports_total', { result: 'accepted' })).toBe(2);
    expect(sampleValue(m, 'ioplace_reports_total', { result: 'rejected' })).toBe(2);
    expect(sampleValue(m, 'ioplace_request_duration_seconds_count', { verb: 'report', outcome: 'ok' })).toBe(
      2,
    );
    expect(
      sampleValue(m, 'ioplace_request_duration_seconds_count', { verb: 'report', outcome: 'client_error' }),
    ).toBe(2);
  });

  it('counts filter nodes passed and rejected by reason, exactly', async () => {
    const server = await start();
    await seed(server);
    const all = await filter(server, podArgs(['node-c', 'node-d', 'node-a', 'node-m', 'node-s', 'node-e']));
    expect(all.body.NodeNames).toEqual(['node-c']);
    // The captured request as sent: node-d, node-e, node-c.
    const captured = await filter(server, capture('filter-nodecache-true'));
    expect(captured.body.NodeNames).toEqual(['node-c']);
    // A malformed quantity fails the pod on every candidate.
    const invalid = podArgs(['node-c', 'node-d', 'node-e']);
    invalid.Pod.metadata.annotations = {
      ...invalid.Pod.metadata.annotations,
      'kubernetes.io/ingress-bandwidth': '10 Mbit',
    };
    expect((await filter(server, invalid)).body.NodeNames).toEqual([]);
    // A pod that asks for nothing passes everywhere (the fast path counts too).
    const plain = capture<CapturedArgs>('filter-nodecache-true-plainpod');
    expect((await filter(server, plain)).body.NodeNames).toEqual(plain.NodeNames);

    const m = await scrape(server.url);
    expect(m.types.get('ioplace_filter_nodes_passed_total')).toBe('counter');
    expect(sampleValue(m, 'ioplace_filter_nodes_passed_total')).toBe(2 + (plain.NodeNames?.length ?? 0));
    const rejected = Object.fromEntries(
      seriesOf(m, 'ioplace_filter_nodes_rejected_total').map((s) => [s.labels.reason, s.value]),
    );
    expect(rejected).toEqual({
      insufficient: 2,
      exceeds_capacity: 1,
      unmeasured: 1,
      stale: 1,
      unknown: 2,
      invalid_demand: 3,
    });
  });

  it('exports per-node gauges in base units: bandwidth in bytes per second, iops, report age', async () => {
    const server = await start();
    await seed(server);
    const m = await scrape(server.url);

    const bw = (figure: string, n: string, direction: string) =>
      sampleValue(m, `ioplace_node_bandwidth_${figure}_bytes_per_second`, { node: n, direction });
    expect(bw('capacity', 'node-c', 'ingress')).toBe(G / 8);
    expect(bw('capacity', 'node-c', 'egress')).toBe(G / 8);
    expect(bw('capacity', 'node-a', 'ingress')).toBe((100 * M) / 8);
    // node-d: 1G x 0.9 allocatable - 880M in use = 20M bit/s = 2.5 MB/s.
    expect(bw('usage', 'node-d', 'ingress')).toBe((880 * M) / 8);
    expect(bw('free', 'node-d', 'ingress')).toBeCloseTo((20 * M) / 8, 3);
    expect(bw('free', 'node-c', 'egress')).toBeCloseTo((900 * M) / 8, 3);
    // node-m measures no bandwidth: no bandwidth series for it.
    expect(
      seriesOf(m, 'ioplace_node_bandwidth_capacity_bytes_per_second').filter(
        (s) => s.labels.node === 'node-m',
      ),
    ).toEqual([]);

    expect(sampleValue(m, 'ioplace_node_iops_capacity', { node: 'node-c' })).toBe(50_000);
    expect(sampleValue(m, 'ioplace_node_iops_free', { node: 'node-c' })).toBe(45_000);
    expect(sampleValue(m, 'ioplace_node_iops_free', { node: 'node-d' })).toBe(43_000);
    expect(sampleValue(m, 'ioplace_node_iops_usage', { node: 'node-d' })).toBe(2_000);
    expect(sampleValue(m, 'ioplace_node_iops_free', { node: 'node-a' })).toBeUndefined();

    expect(sampleValue(m, 'ioplace_node_report_age_seconds', { node: 'node-s' })).toBe(31);
    expect(sampleValue(m, 'ioplace_node_report_age_seconds', { node: 'node-c' })).toBe(0);
    expect(sampleValue(m, 'ioplace_node_series_enabled')).toBe(1);
    // Only nodes that reported have series; node-e never did.
    const nodes = new Set(seriesOf(m, 'ioplace_node_report_age_seconds').map((s) => s.labels.node));
    expect([...nodes].sort()).toEqual(['node-a', 'node-c', 'node-d', 'node-m', 'node-s']);
  });

  it('counts inventory nodes by freshness, and follows the clock past staleness', async () => {
    const server = await start();
    await seed(server);
    let m = await scrape(server.url);
    expect(sampleValue(m, 'ioplace_inventory_nodes', { freshness: 'fresh' })).toBe(4);
    expect(sampleValue(m, 'ioplace_inventory_nodes', { freshness: 'stale' })).toBe(1);
    expect(sampleValue(m, 'ioplace_inventory_oldest_report_age_seconds')).toBe(31);
    // node-s and node-a give no iops capacity; node-m no bandwidth.
    const without = (dimension: string) =>
      sampleValue(m, 'ioplace_inventory_nodes_without_capacity', { dimension });
    expect([without('ingressBandwidth'), without('egressBandwidth'), without('iops')]).toEqual([1, 1, 2]);

    server.clock.now += 30_001;
    m = await scrape(server.url);
    expect(sampleValue(m, 'ioplace_inventory_nodes', { freshness: 'fresh' })).toBe(0);
    expect(sampleValue(m, 'ioplace_inventory_nodes', { freshness: 'stale' })).toBe(5);
    expect(sampleValue(m, 'ioplace_node_report_age_seconds', { node: 'node-c' })).toBeCloseTo(30.001, 6);
  });

  it('with metrics.perNodeSeries false exports no per-node series but ioplace_node_series_enabled 0', async () => {
    const server = await start({ metrics: { perNodeSeries: false } });
    await seed(server);
    const m = await scrape(server.url);
    const perNode = m.samples.filter((s) => s.name.startsWith('ioplace_node_'));
    expect(perNode).toEqual([{ name: 'ioplace_node_series_enabled', labels: {}, value: 0 }]);
    // The aggregates are still there.
    expect(sampleValue(m, 'ioplace_inventory_nodes', { freshness: 'fresh' })).toBe(4);
  });

  it('includes the default process metrics', async () => {
    const server = await start();
    const m = await scrape(server.url);
    expect(m.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(sampleValue(m, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sampleValue(m, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
  });

  it('says which ioplace and which Node.js it is in ioplace_build_info', async () => {
    const server = await start();
    const m = await scrape(server.url);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(seriesOf(m, 'ioplace_build_info')).toEqual([
      { name: 'ioplace_build_info', labels: { version: pkg.version, nodejs: process.version }, value: 1 },
    ]);
  });

  it('keeps each app in its own registry: two apps in one process count apart, nothing global leaks', async () => {
    const canary = new Counter({ name: 'ioplace_test_global_canary_total', help: 'global registry canary' });
    try {
      canary.inc();
      const a = await start();
      const b = await start();
      await put(a, 'node-c', { capacity: { ingressBandwidth: G, egressBandwidth: G } });
      for (let i = 0; i < 2; i++) await filter(a, podArgs(['node-c']));
      await filter(b, podArgs(['node-c']));

      const ma = await scrape(a.url);
      const mb = await scrape(b.url);
      expect(
        sampleValue(ma, 'ioplace_request_duration_seconds_count', { verb: 'filter', outcome: 'ok' }),
      ).toBe(2);
      expect(
        sampleValue(mb, 'ioplace_request_duration_seconds_count', { verb: 'filter', outcome: 'ok' }),
      ).toBe(1);
      expect(sampleValue(ma, 'ioplace_filter_nodes_passed_total')).toBe(2);
      expect(sampleValue(mb, 'ioplace_filter_nodes_passed_total')).toBe(0);
      expect(sampleValue(mb, 'ioplace_filter_nodes_rejected_total', { reason: 'unknown' })).toBe(1);
      expect(sampleValue(ma, 'ioplace_reports_total', { result: 'accepted' })).toBe(1);
      expect(sampleValue(mb, 'ioplace_reports_total', { result: 'accepted' })).toBe(0);
      expect(sampleValue(mb, 'ioplace_node_iops_capacity', { node: 'node-c' })).toBeUndefined();
      for (const m of [ma, mb]) {
        expect(sampleValue(m, 'ioplace_test_global_canary_total')).toBeUndefined();
        // Default metrics are registered once per app registry, not duplicated or shared.
        expect(seriesOf(m, 'process_cpu_user_seconds_total')).toHaveLength(1);
      }
      // Nor does any ioplace metric land in the global registry.
      const global = (await globalRegistry.getMetricsAsJSON()).map((x) => x.name);
      expect(global).toEqual(['ioplace_test_global_canary_total']);
    } finally {
      globalRegistry.removeSingleMetric('ioplace_test_global_canary_total');
    }
  });
});

describe('GET /metrics in cluster mode', () => {
  it('counts binds by result, holds a reservation the watch has not shown, and says the cluster synced', async () => {
    cluster = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      api.addPod(pod('a', { iops: '5k' }));
      api.addPod(pod('b', { iops: '5k' }));
    });
    const h = cluster;
    expect(await report(h.server, 'n1', { capacity: { iops: 10_000 } })).toBe(200); // 9k allocatable
    await waitFor(async () => (await podsTracked(h.server)) === 2, 5000, 'the pods');
    let m = await scrape(h.server.url);
    expect(sampleValue(m, 'ioplace_cluster_synced')).toBe(1);
    expect(sampleValue(m, 'ioplace_reservations')).toBe(0);
    // measured and unmeasured are disjoint: they add up to every pod tracked.
    const tracked = (state: string) => sampleValue(m, 'ioplace_pods_tracked', { state }) ?? Number.NaN;
    expect(tracked('measured') + tracked('unmeasured')).toBe(2);
    expect(tracked('unmeasured')).toBe(0); // neither pod is bound, so neither waits for a report
    expect(sampleValue(m, 'ioplace_pods_tracked', { state: 'all' })).toBeUndefined();

    // The pod watch goes away and cannot come back: a bind now is the only record of the pod.
    h.api.failNext('GET', /^\/api\/v1\/pods$/, 503, 1_000_000);
    h.api.dropWatches();
    await waitFor(
      async () => (await watchConnected(h.server, 'pods')) === false,
      5000,
      'the pod watch to be down',
    );
    const uidOf = (name: string) => h.api.getPod('default', name)?.metadata?.uid ?? '';
    const bind = (name: string) =>
      call<{ Error: string }>(`${h.server.url}/scheduler/bind`, 'POST', {
        PodName: name,
        PodNamespace: 'default',
        PodUID: uidOf(name),
        Node: 'n1',
      });
    expect((await bind('a')).body.Error).toBe('');
    expect((await bind('b')).body.Error).toMatch(/no longer fits on node n1/);

    m = await scrape(h.server.url);
    expect(sampleValue(m, 'ioplace_bindings_total', { result: 'bound' })).toBe(1);
    expect(sampleValue(m, 'ioplace_bindings_total', { result: 'no_fit' })).toBe(1);
    expect(sampleValue(m, 'ioplace_reservations')).toBe(1);
    expect(sampleValue(m, 'ioplace_cluster_watch_connected', { resource: 'pods' })).toBe(0);
    expect(sampleValue(m, 'ioplace_cluster_synced')).toBe(1);
    expect(sampleValue(m, 'ioplace_node_iops_committed', { node: 'n1' })).toBe(5_000);
    expect(sampleValue(m, 'ioplace_request_duration_seconds_count', { verb: 'bind', outcome: 'ok' })).toBe(2);
  });

  it('counts preemption candidates kept and dropped', async () => {
    cluster = await startCluster({}, (api) => {
      for (const n of ['n1', 'n2']) api.addNode(node(n));
      api.addPod(pod('big', { node: 'n1', iops: '6k', uid: 'uid-big' }));
      api.addPod(pod('small', { node: 'n2', iops: '1k', uid: 'uid-small' }));
      api.addPod(pod('rest', { node: 'n2', iops: '7500', uid: 'uid-rest' }));
    });
    const h = cluster;
    for (const n of ['n1', 'n2']) expect(await report(h.server, n, { capacity: { iops: 10_000 } })).toBe(200);
    await waitFor(async () => (await podsTracked(h.server)) === 3, 5000, 'the pods');

    const preemptor = pod('urgent', { iops: '4k' });
    const res = await call<{ NodeNameToMetaVictims: Record<string, unknown> }>(
      `${h.server.url}/scheduler/preempt`,
      'POST',
      {
        Pod: preemptor,
        NodeNameToVictims: null,
        NodeNameToMetaVictims: {
          // n1: 9k - 6k = 3k free; evicting 6k frees enough for 4k. n2: 0.5k free, evicting 1k is not enough.
          n1: { Pods: [{ UID: 'uid-big' }], NumPDBViolations: 0 },
          n2: { Pods: [{ UID: 'uid-small' }], NumPDBViolations: 0 },
        },
      },
    );
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.NodeNameToMetaVictims)).toEqual(['n1']);

    const m = await scrape(h.server.url);
    expect(sampleValue(m, 'ioplace_preemption_nodes_total', { result: 'kept' })).toBe(1);
    expect(sampleValue(m, 'ioplace_preemption_nodes_total', { result: 'dropped' })).toBe(1);
    expect(sampleValue(m, 'ioplace_cluster_synced')).toBe(1);
    const tracked = (state: string) => sampleValue(m, 'ioplace_pods_tracked', { state }) ?? Number.NaN;
    expect(tracked('measured') + tracked('unmeasured')).toBe(3);
  });
});
