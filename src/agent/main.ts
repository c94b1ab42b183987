#!/usr/bin/env node
import { pino } from 'pino';
import { keepAliveDelay } from '../cluster/backoff.js';
import { findCluster } from '../cluster/kubeconfig.js';
import { Agent } from './agent.js';
import { AGENT_USAGE, type AgentOptions, AgentUsageError, parseAgentOptions } from './agent-options.js';
import { NodeIopsCapacity } from './node-iops-capacity.js';
import { dnsResolve } from './replica-targets.js';
import { Reporter } from './reporter.js';
import { takeSample } from './sample.js';

const ONCE_WINDOW_MS = 1_000;
const NODE_CAPACITY_REFRESH_MS = 60_000;
const MAX_REPLICA_BACKOFF_MS = 60_000;

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
  const logger = pino({
    level: options.logLevel,
    base: { service: 'ioplace-agent', node: options.nodeName },
  });
  const clock = () => Date.now();
  const sources = {
    procRoot: options.procRoot,
    sysRoot: options.sysRoot,
    interfaces: options.interfaces,
    devices: options.devices,
  };

  let nodeIopsCapacity: ((now: number) => Promise<number | undefined>) | undefined;
  if (options.nodeCapacityFromApi && options.nodeName !== '') {
    const cluster = findCluster({ mode: 'auto', kubeconfig: '' }, process.env);
    if (cluster.kubeConfig !== undefined) {
      const reader = new NodeIopsCapacity(
        cluster.kubeConfig,
        options.nodeName,
        NODE_CAPACITY_REFRESH_MS,
        logger,
      );
      nodeIopsCapacity = (now) => reader.get(now);
    }
  }
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
    clock,
    delay: keepAliveDelay,
    logger,
  });

  const stop = new AbortController();
  process.on('SIGTERM', () => stop.abort());
  process.on('SIGINT', () => stop.abort());

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
  logger.info(
    { servers: options.servers.map((s) => s.href), intervalSeconds: options.intervalMs / 1000 },
    'ioplace-agent started',
  );
  await agent.run(stop.signal);
  logger.info('ioplace-agent stopped');
  return 0;
}

process.exitCode = await main();
