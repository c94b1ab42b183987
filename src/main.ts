import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { type App, buildApp } from './app.js';
import { clusterSource } from './cluster/cluster-source.js';
import type { ClusterConnection } from './cluster/kubeconfig.js';
import { applyEnvironment, ConfigError, loadConfigFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { systemClock } from './domain/clock.js';

const DEFAULT_CONFIG = fileURLToPath(new URL('../config/ioplace.yaml', import.meta.url));
const SHUTDOWN_GRACE_MS = 10_000;

/** A configuration error is one line on stderr and exit 2; anything else is a bug, with its stack. */
function refuse(err: unknown): never {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`ioplace: invalid configuration: ${err.message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const configPath = process.env.IOPLACE_CONFIG || DEFAULT_CONFIG;
  let config: Config;
  let cluster: ClusterConnection;
  try {
    config = applyEnvironment(loadConfigFile(configPath), process.env);
    // kubeconfig.js loads @kubernetes/client-node, some 50 MiB that a standalone ioplace never needs.
    const source = clusterSource(config.cluster, process.env);
    cluster =
      source.kind === 'none'
        ? { kubeConfig: undefined, reason: source.reason }
        : (await import('./cluster/kubeconfig.js')).connectTo(source);
  } catch (err) {
    refuse(err);
  }

  const logger = pino({ level: config.server.logLevel, base: { service: 'ioplace' } });
  if (cluster.kubeConfig === undefined) {
    logger.info(
      { reason: cluster.reason },
      'running standalone: no cluster access, so no pod accounting, bind or preempt',
    );
  } else {
    logger.info(
      { source: cluster.source, server: cluster.kubeConfig.getCurrentCluster()?.server },
      'using the cluster',
    );
  }
  let app: App;
  try {
    app = await buildApp({
      config,
      configPath,
      transformConfig: (c) => applyEnvironment(c, process.env),
      logger,
      clock: systemClock,
      kubeConfig: cluster.kubeConfig,
    });
  } catch (err) {
    // What buildApp refuses (files the config names, auth without a cluster) is the file's fault.
    refuse(err instanceof ConfigError ? new ConfigError(`${configPath}: ${err.message}`) : err);
  }
  const { server } = app;
  process.on('SIGHUP', () => app.reloadConfig('SIGHUP'));

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    setTimeout(() => {
      logger.error('requests still in flight after the grace period; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    await server.listen({ host: config.server.host, port: config.server.port });
    await app.opsServer?.listen({ host: config.server.host, port: config.ops.port });
  } catch (err) {
    logger.fatal({ err }, 'cannot listen');
    process.exit(1);
  }
  logger.info(
    {
      config: configPath,
      addresses: server.addresses(),
      tls: config.tls.certFile !== '',
      ops: app.opsServer?.addresses(),
      strategy: config.scoring.strategy,
    },
    'ioplace is serving',
  );
}

await main();
