import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createAgentMetrics,
  type MetricsListener,
  serveAgentMetrics,
} from '../../../src/agent/agent-metrics.js';
import type { EnforceKind, EnforcementSummary } from '../../../src/agent/enforce/reconciler.js';

let listener: MetricsListener | undefined;
afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

describe('the agent’s metrics', () => {
  it('read the loop at scrape time, count errors by reason and time the delay, in a registry of their own', async () => {
    const registry = new Registry();
    let enforced: Record<EnforceKind, number> | undefined;
    let summary: EnforcementSummary | undefined;
    const metrics = createAgentMetrics(registry, { enforced: () => enforced, summary: () => summary });
    let text = await registry.metrics();
    // Enforcement off: zeros, and every error reason already has its series.
    expect(text).toContain('ioplace_agent_enforced_pods{kind="iops"} 0');
    expect(text).toContain('ioplace_agent_enforcement_failing_pods 0');
    for (const reason of [
      'cgroup-not-found',
      'write-failed',
      'veth-not-found',
      'tc-failed',
      'invalid-demand',
    ])
      expect(text).toContain(`ioplace_agent_enforcement_errors_total{reason="${reason}"} 0`);

    enforced = { iops: 7, bandwidth: 3 };
    summary = { mode: 'all', pods: 6, errors: 2 };
    metrics.error('tc-failed');
    metrics.delay('iops', 0.7);
    metrics.delay('bandwidth', 4);
    text = await registry.metrics();
    expect(text).toContain('ioplace_agent_enforced_pods{kind="iops"} 7');
    expect(text).toContain('ioplace_agent_enforced_pods{kind="bandwidth"} 3');
    expect(text).toContain('ioplace_agent_enforcement_failing_pods 2');
    expect(text).toContain('ioplace_agent_enforcement_errors_total{reason="tc-failed"} 1');
    expect(text).toContain('ioplace_agent_enforcement_delay_seconds_bucket{le="1",kind="iops"} 1');
    expect(text).toContain('ioplace_agent_enforcement_delay_seconds_bucket{le="3",kind="bandwidth"} 0');
    expect(text).toContain('ioplace_agent_enforcement_delay_seconds_bucket{le="5",kind="bandwidth"} 1');
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('are served on a port of their own: /metrics, /healthz, and nothing else', async () => {
    const registry = new Registry();
    createAgentMetrics(registry, { enforced: () => undefined, summary: () => undefined });
    listener = await serveAgentMetrics(registry, 0, '127.0.0.1');
    const base = `http://127.0.0.1:${listener.port}`;
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('# TYPE ioplace_agent_enforced_pods gauge');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/other`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('refuse a port already taken', async () => {
    const registry = new Registry();
    listener = await serveAgentMetrics(registry, 0, '127.0.0.1');
    await expect(serveAgentMetrics(new Registry(), listener.port, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
  });
});
