#!/usr/bin/env node
import type { KubeConfig } from '@kubernetes/client-node';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import { ApiClient } from '../cluster/api-client.js';
import { keepAliveDelay, realDelay } from '../cluster/backoff.js';
import { findCluster } from '../cluster/kubeconfig.js';
import { listChunk } from '../cluster/list-request.js';
import type { Amounts } from '../domain/resources.js';
import { Agent } from './agent.js';
import { createAgentMetrics, type MetricsListener, serveAgentMetrics } from './agent-metrics.js';
import { AGENT_USAGE, type AgentOptions, AgentUsageError, parseAgentOptions } from './agent-options.js';
import { BandwidthShaper, shapingPlan } from './enforce/bandwidth-shaper.js';
import type { ShapedPod } from './enforce/enforcers.js';
import { IopsLimiter } from './enforce/iops-limits.js';
import { limitedDevices } from './enforce/pod-devices.js';
import { inspectPods, limitsTable } from './enforce/pod-limits.js';
import { podNetns } from './enforce/pod-netns.js';
import { listNodePods, watchNodePods } from './enforce/pod-watch.js';
import { type BandwidthDeps, type EnforcementSummary, Reconciler } from './enforce/reconciler.js';
import { NodeIopsCapacity } from './node-iops-capacity.js';
import { dnsResolve } from './replica-targets.js';
import { Reporter } from './reporter.js';
import { takeSample } from './sample.js';

const ONCE_WINDOW_MS = 1_000;
const NODE_CAPACITY_REFRESH_MS = 60_000;
const MAX_REPLICA_BACKOFF_MS = 60_000;
/** Each API call but the watch and list pages (which have their own idle timeout). */
const API_TIMEOUT_MS = 30_000;
/** While a pod waits for its cgroup or sandbox, the enforcement loop looks again this often. */
const ENFORCE_RETRY_MS = 1_000;
/** After a pod changes, this long for more changes before the enforcement round. */
const ENFORCE_SETTLE_MS = 200;

/** The shaper's plan over the demand's bandwidth dimensions. */
function planShaping(pod: ShapedPod, demand: Amounts) {
  return shapingPlan(pod, { ingressBps: demand.ingressBandwidth, egressBps: demand.egressBandwidth });
}

function bandwidthDeps(options: AgentOptions): BandwidthDeps {
  return {
    shaper: new BandwidthShaper({ procRoot: options.procRoot, sysRoot: options.sysRoot }),
    plan: planShaping,
    netns: (cgroup) => podNetns(cgroup, options.procRoot),
  };
}

/** MAJ:MIN of the disks the agent measures; a disk whose number cannot be read is said once. */
function deviceNumbers(options: AgentOptions, logger: Logger): () => Promise<string[]> {
  const said = new Set<string>();
  return async () => {
    const { devices, problems } = await limitedDevices(options.procRoot, options.sysRoot, options.devices);
    for (const problem of problems) {
      if (said.has(problem)) continue;
      said.add(problem);
      logger.warn({ problem }, 'a measured disk is left out of IOPS limits');
    }
    return devices.map((d) => d.device);
  };
}

function clusterFor(what: string): { kubeConfig: KubeConfig } | { error: string } {
  const cluster = findCluster({ mode: 'auto', kubeconfig: '' }, process.env);
  if (cluster.kubeConfig !== undefined) return { kubeConfig: cluster.kubeConfig };
  return { error: `${what} needs the Kubernetes API, and there is ${cluster.reason}` };
}

/** `ioplace-agent limits --print`: every pod of the node and the limits the kernel holds for it. */
async function printLimits(options: AgentOptions): Promise<number> {
  const cluster = clusterFor('limits');
  if ('error' in cluster) {
    process.stderr.write(`ioplace-agent: ${cluster.error}\n`);
    return 1;
  }
  const api = new ApiClient(cluster.kubeConfig, { timeoutMs: API_TIMEOUT_MS });
  try {
    const pods = await listNodePods((request) => listChunk(api, request), options.nodeName);
    const { devices, problems } = await limitedDevices(options.procRoot, options.sysRoot, options.devices);
    const rows = await inspectPods(pods, {
      mode: options.enforce,
      devices: devices.map((d) => d.device),
      iops: new IopsLimiter({ cgroupRoot: options.cgroupRoot, split: options.iopsSplit }),
      // Reading the shaping enters each pod's network namespace: only where the agent shapes.
      bandwidth: options.enforce === 'all' ? bandwidthDeps(options) : undefined,
    });
    if (options.json) {
      const view = { node: options.nodeName, mode: options.enforce, cgroupRoot: options.cgroupRoot };
      process.stdout.write(
        `${JSON.stringify({ ...view, devices, deviceProblems: problems, pods: rows }, null, 2)}\n`,
      );
    } else {
      const disks = devices.map((d) => `${d.name} (${d.device})`).join(', ') || 'none';
      const head = `node ${options.nodeName}: enforce ${options.enforce}, disks ${disks}, cgroups under ${options.cgroupRoot}`;
      const notes = problems.map((p) => `note: ${p}\n`).join('');
      process.stdout.write(`${head}\n${notes}\n${limitsTable(rows, options.cgroupRoot)}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`ioplace-agent: cannot list the limits: ${(err as Error).message}\n`);
    return 1;
  } finally {
    api.close();
  }
}

async function main(): Promise<number> {
  let options: AgentOptions | 'help';
  try {
    options = parseAgentOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof AgentUsageError)) throw err;
    process.stderr.write(`ioplace-agent: ${err.message} (see --help)\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(AGENT_USAGE);
    return 0;
  }
  if (options.command === 'limits') return printLimits(options);

  const logger = pino({
    level: options.logLevel,
    base: { service: 'ioplace-agent', node: options.nodeName },
  });
  const clock = () => Date.now();
  const startedAt = clock();
  const sources = {
    procRoot: options.procRoot,
    sysRoot: options.sysRoot,
    interfaces: options.interfaces,
    devices: options.devices,
  };
  const enforcing = options.enforce !== 'off' && !options.once;

  let kubeConfig: KubeConfig | undefined;
  if (enforcing) {
    const cluster = clusterFor(`--enforce ${options.enforce} (the pods of the node)`);
    if ('error' in cluster) {
      process.stderr.write(`ioplace-agent: ${cluster.error} (see --help)\n`);
      return 2;
    }
    kubeConfig = cluster.kubeConfig;
  } else if (options.nodeCapacityFromApi && options.nodeName !== '') {
    kubeConfig = findCluster({ mode: 'auto', kubeconfig: '' }, process.env).kubeConfig;
  }

  let nodeIopsCapacity: ((now: number) => Promise<number | undefined>) | undefined;
  if (options.nodeCapacityFromApi && options.nodeName !== '' && kubeConfig !== undefined) {
    const reader = new NodeIopsCapacity(kubeConfig, options.nodeName, NODE_CAPACITY_REFRESH_MS, logger);
    nodeIopsCapacity = (now) => reader.get(now);
  }

  const stop = new AbortController();
  process.on('SIGTERM', () => stop.abort());
  process.on('SIGINT', () => stop.abort());

  let api: ApiClient | undefined;
  let reconciler: Reconciler | undefined;
  const registry = new Registry();
  const metrics = createAgentMetrics(registry, {
    enforced: () => reconciler?.enforced(),
    summary: () => reconciler?.summary(),
  });
  let podWatch: ReturnType<typeof watchNodePods> | undefined;
  if (enforcing && kubeConfig !== undefined && options.enforce !== 'off') {
    const client = new ApiClient(kubeConfig, { timeoutMs: API_TIMEOUT_MS });
    api = client;
    podWatch = watchNodePods({
      nodeName: options.nodeName,
      kubeConfig,
      listPage: (request) => listChunk(client, request),
      logger,
      delay: realDelay,
      onChange: () => reconciler?.kick(),
    });
    const watched = podWatch.pods;
    reconciler = new Reconciler({
      mode: options.enforce,
      pods: () => watched.all(),
      devices: deviceNumbers(options, logger),
      iops: new IopsLimiter({ cgroupRoot: options.cgroupRoot, split: options.iopsSplit }),
      bandwidth: options.enforce === 'all' ? bandwidthDeps(options) : undefined,
      metrics,
      clock,
      startedAt,
      logger,
    });
  }

  const enforcement = (): EnforcementSummary | undefined => {
    if (options.once) return undefined;
    return reconciler?.summary() ?? { mode: 'off', pods: 0, errors: 0 };
  };
  const reporter = options.print
    ? undefined
    : new Reporter({
        servers: options.servers,
        nodeName: options.nodeName,
        tokenFile: options.tokenFile,
        caFile: options.caFile,
        timeoutMs: options.requestTimeoutMs,
        resolve: dnsResolve,
        logger,
        now: clock,
        maxBackoffMs: MAX_REPLICA_BACKOFF_MS,
      });
  const agent = new Agent({
    options,
    sample: (now) => takeSample(sources, now),
    nodeIopsCapacity,
    reporter,
    enforcement,
    clock,
    delay: keepAliveDelay,
    logger,
  });

  if (options.once) {
    const measurement = await agent.measureOver(ONCE_WINDOW_MS, stop.signal);
    if (options.print) {
      process.stdout.write(
        `${JSON.stringify({ node: options.nodeName || undefined, ...measurement }, null, 2)}\n`,
      );
      return 0;
    }
    const result = await agent.reportOnce(measurement);
    logger.info({ ...measurement, result }, 'reported once');
    return result !== undefined && result.failed === 0 && result.skipped === 0 ? 0 : 1;
  }

  let listener: MetricsListener | undefined;
  if (options.metricsPort > 0) {
    try {
      listener = await serveAgentMetrics(registry, options.metricsPort);
    } catch (err) {
      // Measuring, reporting and enforcing matter more than being scraped.
      logger.error({ err, port: options.metricsPort }, 'cannot serve metrics; going on without them');
    }
  }
  logger.info(
    {
      servers: options.servers.map((s) => s.href),
      intervalSeconds: options.intervalMs / 1000,
      enforce: options.enforce,
      ...(enforcing ? { cgroupRoot: options.cgroupRoot, iopsSplit: options.iopsSplit } : {}),
      metricsPort: listener?.port,
    },
    'ioplace-agent started',
  );
  podWatch?.reflector.start();
  const enforcingLoop = reconciler?.run(stop.signal, {
    periodMs: options.intervalMs,
    retryMs: ENFORCE_RETRY_MS,
    settleMs: ENFORCE_SETTLE_MS,
    delay: realDelay,
  });
  await agent.run(stop.signal);
  await Promise.all([enforcingLoop, podWatch?.reflector.stop(), listener?.close()]);
  api?.close();
  logger.info('ioplace-agent stopped');
  return 0;
}

process.exitCode = await main();
