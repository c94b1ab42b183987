import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluate, type Series, sorted } from '../support/promql.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

const DASHBOARD = fileURLToPath(new URL('../../manifests/dashboards/ioplace.json', import.meta.url));

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

describe('the Grafana dashboard', () => {
  it('queries only metrics that ioplace exports', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const t of panel.targets ?? [])
        for (const m of t.expr.matchAll(/\bioplace_[a-z_]+/g)) used.add(m[0]);
    }
    const server = await startTestServer({}, {});
    try {
      // A cluster is not needed for the names: the cluster gauges are checked by their own test.
      const exported = new Set(server.registry.getMetricsAsArray().map((m) => m.name));
      exported.add('ioplace_cluster_synced').add('ioplace_cluster_watch_connected');
      const missing = [...used]
        .map((name) => name.replace(/_(bucket|count|sum)$/, ''))
        .filter((name) => !exported.has(name));
      expect(missing).toEqual([]);
      expect(used.size).toBeGreaterThan(10);
    } finally {
      await server.close();
    }
  });

  it('covers latency per verb, rejections by reason, free capacity per node and inventory freshness', () => {
    const text = readFileSync(DASHBOARD, 'utf8');
    for (const needle of [
      'ioplace_request_duration_seconds_bucket',
      'sum by (reason) (rate(ioplace_filter_nodes_rejected_total',
      'ioplace_node_bandwidth_free_bytes_per_second',
      'ioplace_node_iops_free',
      'ioplace_inventory_nodes',
    ]) {
      expect(text).toContain(needle);
    }
  });
});

// --- Two replicas ---------------------------------------------------------------------------------

/**
 * What every replica holds alike: each one keeps the whole inventory (every agent reports to every
 * replica), watches every pod, and reloads the same configuration. A query over these must give
 * the same answer for two replicas as for one. What a replica does alone (the requests it answers,
 * its bind reservations, its retry signals) is summed over replicas.
 */
const SHARED =
  /^ioplace_(node_\w+|inventory_\w+|pods_tracked|cluster_\w+|reports_total|config_reloads_total)$/;

async function samplesOf(server: TestServer, pod: string): Promise<Series[]> {
  const out: Series[] = [];
  for (const metric of await server.registry.getMetricsAsJSON()) {
    for (const v of metric.values as {
      value: number;
      labels: Record<string, string | number>;
      metricName?: string;
    }[]) {
      const labels = Object.fromEntries(Object.entries(v.labels).map(([k, l]) => [k, String(l)]));
      out.push({
        labels: {
          ...labels,
          __name__: v.metricName ?? metric.name,
          job: 'ioplace',
          namespace: 'ioplace-system',
          pod,
        },
        value: v.value,
      });
    }
  }
  return out;
}

/** The same reports to one replica: two nodes with capacity and use, one report rejected. */
async function seed(server: TestServer): Promise<void> {
  const put = (node: string, body: unknown) => call(`${server.url}/v1/nodes/${node}/report`, 'PUT', body);
  expect(
    (await put('node-a', { capacity: { ingressBandwidth: 1e9, egressBandwidth: 1e9, iops: 50_000 } })).status,
  ).toBe(200);
  expect(
    (
      await put('node-b', {
        capacity: { ingressBandwidth: 1e10, egressBandwidth: 1e10, iops: 20_000 },
        usage: { iops: 5_000 },
      })
    ).status,
  ).toBe(200);
  expect((await put('node-c', 'not a report')).status).toBe(400);
  server.clock.now += 40_000; // node-a and node-b stale...
  expect((await put('node-b', { capacity: { iops: 20_000 }, usage: { iops: 6_000 } })).status).toBe(200); // ...node-b fresh again
}

/** Every query of the dashboard, with the template variables at "All". */
function queries(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  return dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr.replaceAll('$node', '.*') })),
  );
}

describe('the Grafana dashboard with two replicas', () => {
  it('shows what one replica shows for every series every replica holds (nodes, inventory, pods)', async () => {
    const replicas = [await startTestServer({}, {}), await startTestServer({}, {})];
    try {
      for (const r of replicas) await seed(r);
      const [a, b] = await Promise.all(replicas.map((r, i) => samplesOf(r, `ioplace-${i}`)));
      const one = a as Series[];
      const two = [...one, ...(b as Series[])];
      const checked: string[] = [];
      for (const { panel, expr } of queries()) {
        const names = [...expr.matchAll(/\bioplace_[a-z_]+/g)].map((m) =>
          m[0].replace(/_(bucket|count|sum)$/, ''),
        );
        const single = evaluate(expr, one); // every query is of a form the evaluator knows
        if (!names.every((n) => SHARED.test(n))) continue;
        expect(sorted(evaluate(expr, two)), `${panel}: ${expr}`).toEqual(sorted(single));
        checked.push(expr);
      }
      // The per-node panels, capacity, freshness, report age and tracked pods, at least.
      expect(checked.length).toBeGreaterThanOrEqual(10);
      const free = evaluate(queries().find((q) => q.panel === 'Free IOPS per node')?.expr as string, two);
      expect(sorted(free)).toEqual([
        { labels: { node: 'node-a' }, value: 45_000 },
        { labels: { node: 'node-b' }, value: 12_000 },
      ]);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it('is checked by an evaluator that sees the old mistake: sums of per-node gauges double', () => {
    const samples: Series[] = ['ioplace-0', 'ioplace-1'].flatMap((pod) => [
      { labels: { __name__: 'ioplace_node_iops_capacity', node: 'n1', pod }, value: 100 },
      { labels: { __name__: 'ioplace_node_iops_capacity', node: 'n2', pod }, value: 50 },
    ]);
    expect(evaluate('sum(ioplace_node_iops_capacity)', samples)).toEqual([{ labels: {}, value: 300 }]);
    expect(evaluate('sum(max by (node) (ioplace_node_iops_capacity))', samples)).toEqual([
      { labels: {}, value: 150 },
    ]);
    expect(evaluate('ioplace_node_iops_capacity{node=~"n1"} * 8', samples)).toHaveLength(2);
    expect(() =>
      evaluate('label_replace(ioplace_node_iops_capacity, "a", "b", "c", "d")', samples),
    ).toThrow();
  });
});
