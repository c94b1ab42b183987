import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../support/test-server.js';

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
      const exported = new Set(server.app.registry.getMetricsAsArray().map((m) => m.name));
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
