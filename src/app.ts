import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { agentAuthenticator } from './auth/agent-authenticator.js';
import type { Delay } from './cluster/backoff.js';
import { LiveConfig, type ReloadResult } from './config/live-config.js';
import { LogLevels } from './config/log-levels.js';
import type { Config } from './config/schema.js';
import type { Clock } from './domain/clock.js';
import { buildDomain } from './domain/domain.js';
import { createServer } from './http/create-server.js';
import type { ReadinessCheck } from './http/health-routes.js';
import { inventoryReadiness } from './http/inventory-readiness.js';
import { opsRoutes } from './http/ops-routes.js';
import { installRequestMetrics } from './http/request-metrics.js';
import { readTlsMaterial } from './http/tls.js';
import { createMetrics, registerStateGauges } from './metrics/metrics.js';
import { buildCluster, type ClusterWatches, clusterPlugin } from './server/cluster-plugin.js';
import { ConfigReloader, configReloadPlugin } from './server/config-reload-plugin.js';
import { routesPlugin } from './server/routes-plugin.js';
import { tlsPlugin } from './server/tls-plugin.js';

export interface AppDeps {
  readonly config: Config;
  /** The file `config` came from: followed for live changes; undefined for a fixed config. */
  readonly configPath?: string;
  /** Applied to every reloaded file (main's environment overrides). */
  readonly transformConfig?: (config: Config) => Config;
  /** Where metrics are registered; a fresh registry by default. */
  readonly registry?: Registry;
  readonly logger: FastifyBaseLogger;
  readonly clock: Clock;
  /** The cluster to watch and bind in; undefined runs standalone. */
  readonly kubeConfig?: KubeConfig;
  /** Backoff waits of the cluster watches (tests shorten them). */
  readonly delay?: Delay;
  readonly readinessChecks?: readonly ReadinessCheck[];
  /** For ioplace_build_info; package.json's by default. */
  readonly version?: string;
}

/** The version in package.json, one directory up from src/ and dist/ alike. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface App {
  readonly server: FastifyInstance;
  /** The plain-HTTP listener for /metrics and probes, present when TLS is on. */
  readonly opsServer: FastifyInstance | undefined;
  /** The configuration in force: the one given, with what live reloads changed. */
  readonly config: { readonly current: Config };
  /** Reads the config file again (SIGHUP). */
  reloadConfig(trigger: string): ReloadResult;
  /**
   * For tests alone, the one view inside: the cluster watches as they stand (undefined when
   * standalone), to wait for a watch event that no answer shows (a pod's new phase or priority, a
   * bookmark, one list in before the other). Everything else a test reads as a client would: the
   * HTTP API, /metrics, /readyz.
   */
  readonly watches: ClusterWatches | undefined;
}

/** Builds the whole service, ready to `listen` or `inject`; it never listens by itself. */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, logger, clock } = deps;
  const logLevels = new LogLevels(logger);
  const live = new LiveConfig({ initial: config, path: deps.configPath, transform: deps.transformConfig });
  const registry = deps.registry ?? new Registry();
  const metrics = createMetrics(registry, deps.version ?? packageVersion());

  const domain = buildDomain({
    clock,
    maxNodes: config.inventory.maxNodes,
    settings: () => live.settings,
    // Turned-away demands are remembered for the retry signal alone, which needs the cluster.
    rememberRejectionsMs:
      deps.kubeConfig !== undefined && config.retrySignal.enabled
        ? config.retrySignal.rememberSeconds * 1000
        : undefined,
  });
  const cluster =
    deps.kubeConfig === undefined
      ? undefined
      : await buildCluster({
          kubeConfig: deps.kubeConfig,
          config,
          domain,
          clock,
          logger,
          logLevels,
          metrics,
          delay: deps.delay,
        });
  registerStateGauges(registry, {
    inventory: domain.inventory,
    assess: (node, now) => domain.placement.assess(node, now),
    podStore: domain.podStore,
    reservations: domain.reservations,
    now: clock,
    perNodeSeries: () => live.current.metrics.perNodeSeries,
    cluster: cluster && {
      synced: () => cluster.sync.synced,
      connected: (resource) => cluster.sync[resource].connected,
    },
  });
  const reloader = new ConfigReloader({
    live,
    logLevels,
    logger,
    reloads: metrics.configReloads,
    onChanged: (changed) => cluster?.configChanged(changed),
  });

  const tlsMaterial = config.tls.certFile === '' ? undefined : readTlsMaterial(config.tls);
  const server = createServer(config, logger, tlsMaterial);
  logLevels.follow(server.log);
  installRequestMetrics(server, metrics);
  if (tlsMaterial !== undefined) await server.register(tlsPlugin, { tls: config.tls, logger });
  await server.register(configReloadPlugin, { reloader });
  const authenticator = await agentAuthenticator(config, cluster?.apiClient, clock);
  if (authenticator === undefined) {
    logger.warn(
      { host: config.server.host },
      'agent reports are not authenticated (auth.agents open): anyone who reaches the port can write the inventory',
    );
  }
  const readiness: ReadinessCheck[] = [
    ...(deps.readinessChecks ?? []),
    inventoryReadiness({
      clock,
      startedAt: clock(),
      warmupMs: config.readiness.warmupSeconds * 1000,
      minCoverage: config.readiness.minInventoryCoverage,
      coverage: () => domain.coverage(clock(), cluster?.sync.synced === true),
    }),
    ...(cluster === undefined
      ? []
      : [{ name: 'initial list of pods and nodes', ready: () => cluster.sync.synced }]),
  ];
  if (cluster !== undefined) await server.register(clusterPlugin, { cluster });
  await server.register(routesPlugin, {
    config,
    domain,
    clock,
    metrics,
    registry,
    readiness,
    binder: cluster?.binder,
    authenticator,
    requireClientCertificate: tlsMaterial?.ca !== undefined,
    onReport: cluster?.reported,
  });

  // With TLS on, Prometheus and the kubelet keep a plain-HTTP listener of their own.
  let opsServer: FastifyInstance | undefined;
  if (tlsMaterial !== undefined) {
    const ops = createServer(config, logger);
    logLevels.follow(ops.log);
    await ops.register(opsRoutes, { registry, checks: readiness });
    server.addHook('onClose', async () => ops.close());
    opsServer = ops;
  }

  return {
    server,
    opsServer,
    config: live,
    reloadConfig: (trigger) => reloader.reload(trigger),
    watches: cluster?.watches,
  };
}
