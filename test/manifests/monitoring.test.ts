import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { KubeObject } from '../support/kustomize.js';
import { find, readRepoFile, readyApp, render, selects } from '../support/manifests.js';

const objects = render('monitoring');
const base = render('base');

interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const rule = find<KubeObject & { spec: { groups: { name: string; rules: AlertRule[] }[] } }>(
  objects,
  'PrometheusRule',
  'ioplace',
);
const alerts = rule.spec.groups.flatMap((g) => g.rules);
const monitor = find<
  KubeObject & {
    spec: {
      selector: { matchLabels: Record<string, string> };
      endpoints: { port: string; path: string }[];
      namespaceSelector?: unknown;
    };
  }
>(objects, 'ServiceMonitor', 'ioplace');

/** Metrics the alerts may use that ioplace does not export: Prometheus's own and kube-state-metrics'. */
const FOREIGN_METRICS = new Set(['up', 'kube_daemonset_status_number_unavailable']);
/** Labels Prometheus puts on every series of a target (from the ServiceMonitor). */
const TARGET_LABELS = new Set(['job', 'namespace', 'pod', 'instance', 'service', 'endpoint', 'container']);

/** Every `metric{matchers}` selector in a PromQL expression, with its matchers. */
function selectors(
  expr: string,
): { metric: string; matchers: { label: string; op: string; value: string }[] }[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map((m) => ({
    metric: m[1] as string,
    matchers: [...(m[2] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map(
      (x) => ({
        label: x[1] as string,
        op: x[2] as string,
        value: x[3] as string,
      }),
    ),
  }));
}

/**
 * A registry with every ioplace metric, the cluster gauges included: the app is built with a
 * cluster configuration (pointing nowhere) but never started, so nothing connects anywhere.
 */
async function clusterModeRegistry(): Promise<{ app: App; registry: Registry }> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'nowhere', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'nowhere', cluster: 'nowhere', user: 'nobody' }],
    currentContext: 'nowhere',
  });
  const registry = new Registry();
  const app = await buildApp({
    config: validateConfig({}),
    logger: pino({ level: 'silent' }),
    clock: () => Date.now(),
    kubeConfig,
    registry,
  });
  return { app, registry };
}

describe('the ServiceMonitor', () => {
  let app: App;
  beforeAll(async () => {
    app = await readyApp();
  });
  afterAll(async () => {
    await app.server.close();
  });

  it('selects the Service ioplace, and not the headless one (each replica is scraped once)', () => {
    const service = find(base, 'Service', 'ioplace');
    const headless = find(base, 'Service', 'ioplace-agents');
    expect(selects(monitor.spec.selector.matchLabels, service.metadata.labels ?? {})).toBe(true);
    expect(selects(monitor.spec.selector.matchLabels, headless.metadata.labels ?? {})).toBe(false);
    // No namespaceSelector: the Service must be in the ServiceMonitor's own namespace.
    expect(monitor.spec.namespaceSelector).toBeUndefined();
    expect(monitor.metadata.namespace).toBe(service.metadata.namespace);
  });

  it('scrapes /metrics, a route ioplace serves, on the Service port named http', () => {
    const service = find<KubeObject & { spec: { ports: { name: string }[] } }>(base, 'Service', 'ioplace');
    expect(monitor.spec.endpoints.map((e) => [e.port, e.path])).toEqual([['http', '/metrics']]);
    expect(service.spec.ports.map((p) => p.name)).toContain('http');
    expect(app.server.hasRoute({ method: 'GET', url: '/metrics' })).toBe(true);
  });
});

describe('the alerts', () => {
  let app: App;
  let registry: Registry;
  beforeAll(async () => {
    ({ app, registry } = await clusterModeRegistry());
  });
  afterAll(async () => {
    await app.server.close();
  });

  it('cover what an operator must hear about', () => {
    const uses = (name: string) => alerts.find((a) => a.alert === name)?.expr ?? '';
    expect(uses('IoplaceAbsent')).toMatch(/^absent\(up\{/);
    expect(uses('IoplaceDown')).toMatch(/^up\{.*\} == 0$/);
    expect(uses('IoplaceServerErrors')).toContain(
      'ioplace_request_duration_seconds_count{job="ioplace", outcome="server_error"}',
    );
    expect(uses('IoplaceFilterLatencyHigh')).toMatch(
      /histogram_quantile\(0\.99,[\s\S]*verb="filter"[\s\S]*\) > 0\.1$/,
    );
    expect(uses('IoplaceBindFailures')).toContain('result=~"api_error|no_cluster"');
    expect(uses('IoplaceStaleNodes')).toContain('freshness="stale"');
    expect(uses('IoplaceInventoryCoverageLow')).toMatch(/freshness="fresh"[\s\S]*< 0\.9$/);
    expect(uses('IoplaceNoAgentReports')).toMatch(/result="accepted"[\s\S]*== 0$/);
    expect(uses('IoplaceClusterNotSynced')).toBe('ioplace_cluster_synced{job="ioplace"} == 0');
    expect(alerts.find((a) => a.alert === 'IoplaceFilterLatencyHigh')?.for).toBe('10m');
  });

  it('each have a unique name, a wait, a severity, and a summary and description for the operator', () => {
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
    for (const a of alerts) {
      expect(a.for, a.alert).toMatch(/^\d+m$/);
      expect(['critical', 'warning'], a.alert).toContain(a.labels.severity);
      expect(Object.keys(a.annotations).sort(), a.alert).toEqual(['description', 'summary']);
      expect(a.annotations.description?.length, a.alert).toBeGreaterThan(80);
    }
  });

  it('query only metrics ioplace exports, by labels they have, with values they take', () => {
    const metricsSource = readRepoFile('src/metrics/metrics.ts');
    const problems: string[] = [];
    for (const a of alerts) {
      // Every ioplace metric in the expression is in a selector (so none escapes the check below).
      const named = a.expr.match(/\bioplace_[a-z_]+/g) ?? [];
      const selected = selectors(a.expr);
      expect(selected.filter((s) => s.metric.startsWith('ioplace_')).length, a.alert).toBe(named.length);
      for (const { metric, matchers } of selected) {
        if (FOREIGN_METRICS.has(metric)) continue;
        const family = metric.replace(/_(bucket|count|sum)$/, '');
        const exported = registry.getSingleMetric(metric) ?? registry.getSingleMetric(family);
        if (exported === undefined) {
          problems.push(`${a.alert}: ${metric} is not exported`);
          continue;
        }
        const labelNames = (exported as unknown as { labelNames: string[] }).labelNames;
        for (const m of matchers) {
          if (TARGET_LABELS.has(m.label)) continue;
          if (!labelNames.includes(m.label) && !(m.label === 'le' && family !== metric))
            problems.push(`${a.alert}: ${metric} has no label ${m.label}`);
          for (const value of m.value.split('|')) {
            if (!metricsSource.includes(`'${value}'`))
              problems.push(`${a.alert}: ${m.label}="${value}" is not a value src/metrics/metrics.ts sets`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('put the filter latency threshold on a bucket boundary of the histogram', () => {
    const histogram = registry.getSingleMetric('ioplace_request_duration_seconds') as unknown as {
      upperBounds: number[];
    };
    expect(histogram.upperBounds).toContain(0.1);
  });

  it('name the job and namespace the ServiceMonitor gives the series', () => {
    const service = find(base, 'Service', 'ioplace');
    for (const a of alerts) {
      for (const { metric, matchers } of selectors(a.expr)) {
        for (const m of matchers) {
          if (m.label === 'job') expect(m.value, `${a.alert} ${metric}`).toBe(service.metadata.name);
          if (m.label === 'namespace')
            expect(m.value, `${a.alert} ${metric}`).toBe(service.metadata.namespace);
        }
        if (metric.startsWith('ioplace_') || metric === 'up')
          expect(
            matchers.map((m) => m.label),
            `${a.alert} ${metric}`,
          ).toContain('job');
      }
    }
  });

  it('never add up across replicas what every replica holds alike (per-node and inventory series)', () => {
    // Every replica holds the whole inventory and watches every pod: a sum over replicas of these
    // counts the cluster once per replica. Aggregations over them keep the replica (by pod).
    const shared = /\bioplace_(node_\w+|inventory_\w+|pods_tracked|reports_total|config_reloads_total)\b/;
    const checked = alerts.filter((a) => shared.test(a.expr));
    expect(checked.length).toBeGreaterThan(0);
    for (const a of checked) {
      for (const m of a.expr.matchAll(/\b(sum|avg|count|max|min)\b\s*(?:by\s*\(([^)]*)\))?\s*\(/g)) {
        const by = (m[2] ?? '').split(',').map((l) => l.trim());
        expect(by, `${a.alert}: ${m[0]}`).toContain('pod');
      }
    }
  });

  it('are balanced expressions with valid range durations', () => {
    for (const a of alerts) {
      for (const [open, close] of ['()', '{}', '[]']) {
        let depth = 0;
        for (const ch of a.expr.replace(/"[^"]*"/g, '')) {
          if (ch === open) depth++;
          if (ch === close) depth--;
          expect(depth, a.alert).toBeGreaterThanOrEqual(0);
        }
        expect(depth, a.alert).toBe(0);
      }
      for (const range of a.expr.match(/\[[^\]]*\]/g) ?? [])
        expect(range, a.alert).toMatch(/^\[\d+[smhd]\]$/);
    }
  });
});
