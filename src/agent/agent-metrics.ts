import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';
import {
  ENFORCE_KINDS,
  type EnforceKind,
  type EnforcementMetrics,
  type EnforcementSummary,
} from './enforce/reconciler.js';

/** What the gauges read at scrape time; undefined while enforcement is off. */
export interface AgentMetricSources {
  readonly enforced: () => Readonly<Record<EnforceKind, number>> | undefined;
  readonly summary: () => EnforcementSummary | undefined;
}

/**
 * The reasons a limit can fail, set to zero at start so that every series exists before its first
 * error (a rate() over a series that appears at 1 misses that first error).
 */
export const ENFORCEMENT_ERROR_REASONS = [
  'cgroup-not-found',
  'write-failed',
  'invalid-demand',
  'veth-not-found',
  'tc-failed',
  'no-process',
  'no-devices',
  'internal',
] as const;

/**
 * Seconds from a pod's start (status.startTime, whole seconds) to its limit in force: the watch
 * event, the kubelet making the cgroup and sandbox, and the loop's settle time; a retry waits a
 * second, a missed change a whole round.
 */
const DELAY_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300];

/**
 * The agent's metrics, in its own registry (never the global one): enforcement gauges computed at
 * scrape time from the loop, its error counter and delay histogram, and the process's defaults.
 */
export function createAgentMetrics(registry: Registry, sources: AgentMetricSources): EnforcementMetrics {
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'ioplace_agent_enforced_pods',
    help: 'Pods of this node whose limit of this kind is in force, as of the last enforcement round',
    labelNames: ['kind'],
    registers,
    collect() {
      const enforced = sources.enforced();
      for (const kind of ENFORCE_KINDS) this.set({ kind }, enforced?.[kind] ?? 0);
    },
  });
  new Gauge({
    name: 'ioplace_agent_enforcement_failing_pods',
    help: 'Pods of this node with a limit that failed at the last enforcement round',
    registers,
    collect() {
      this.set(sources.summary()?.errors ?? 0);
    },
  });
  const errors = new Counter({
    name: 'ioplace_agent_enforcement_errors_total',
    help: 'Distinct enforcement failures, counted once per pod and failure when first seen (and logged)',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of ENFORCEMENT_ERROR_REASONS) errors.inc({ reason }, 0);
  const delay = new Histogram({
    name: 'ioplace_agent_enforcement_delay_seconds',
    help: "Seconds from a pod's start to its limit of this kind in force (pods started since the agent)",
    labelNames: ['kind'],
    buckets: DELAY_BUCKETS,
    registers,
  });
  return {
    error: (reason) => errors.inc({ reason }),
    delay: (kind, seconds) => delay.observe({ kind }, seconds),
  };
}

export interface MetricsListener {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (and `/healthz`) on a port of the agent's own. */
export async function serveAgentMetrics(
  registry: Registry,
  port: number,
  host = '0.0.0.0',
): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  // Scrapes are short; an idle keep-alive connection must not hold the agent open at shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
