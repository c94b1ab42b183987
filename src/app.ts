import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { agentAuthenticator } from './auth/agent-authenticator.js';
import type { Delay } from './cluster/backoff.js';
import type { ClusterSync } from './cluster/cluster-sync.js';
import type { NodeNudger } from './cluster/node-nudger.js';
import { LiveConfig, type ReloadResult } from './config/live-config.js';
import { LogLevels } from './config/log-levels.js';
import type { Config } from './config/schema.js';
import type { Clock } from './domain/clock.js';
import { ClusterNodes } from './domain/cluster-nodes.js';
import { Commitments } from './domain/commitments.js';
import { Inventory } from './domain/inventory.js';
import { NodeBook } from './domain/node-book.js';
import { Placement } from './domain/placement.js';
import { PodStore } from './domain/pod-store.js';
import { RejectionMemory } from './domain/rejection-memory.js';
import { Reservations } from './domain/reservations.js';
import { explainRoute } from './explain/explain-route.js';
import { bindRoute } from './extender/bind-route.js';
import { filterRoute } from './extender/filter-route.js';
import { preemptRoute } from './extender/preempt-route.js';
import { prioritizeRoute } from './extender/prioritize-route.js';
import { requireClientCertificate } from './http/client-certificate.js';
import { createServer } from './http/create-server.js';
import type { ReadinessCheck } from './http/health-routes.js';
import { inventoryReadiness } from './http/inventory-readiness.js';
import { opsRoutes } from './http/ops-routes.js';
import { installRequestMetrics } from './http/request-metrics.js';
import { readTlsMaterial } from './http/tls.js';
import { ReportRateLimit } from './inventory-api/report-rate-limit.js';
import { inventoryRoutes } from './inventory-api/routes.js';
import { createMetrics, type Metrics, registerStateGauges } from './metrics/metrics.js';
import { ConfigReloader, configReloadPlugin } from './server/config-reload-plugin.js';
import { tlsPlugin } from './server/tls-plugin.js';

/** The URL prefix kube-scheduler's extender config points at (`urlPrefix`). */
export const SCHEDULER_PREFIX = '/scheduler';
/** The prefix of the agent-facing inventory API. */
export const INVENTORY_PREFIX = '/v1';

/** How often expired bind reservations are swept. */
const RESERVATION_SWEEP_MS = 1_000;
/** Rejected demands remembered per node for the retry signal. */
const REJECTIONS_PER_NODE = 16;

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
  readonly inventory: Inventory;
  readonly commitments: Commitments;
  readonly reservations: Reservations;
  readonly podStore: PodStore;
  readonly placement: Placement;
  /** Present in cluster mode. */
  readonly cluster: ClusterSync | undefined;
  readonly nudger: NodeNudger | undefined;
  readonly registry: Registry;
  readonly metrics: Metrics;
  readonly config: LiveConfig;
  /** Reads the config file again (SIGHUP). */
  reloadConfig(trigger: string): ReloadResult;
}

/**
 * What only cluster mode uses: the connection, its API client and the classes built on them.
 * Loaded on demand: @kubernetes/client-node (for the watches) takes a process from about 40 to
 * about 110 MiB of RSS, for nothing when there is no cluster.
 */
async function clusterAccess(kubeConfig: KubeConfig, apiTimeoutMs: number) {
  const [{ ApiClient }, { ClusterSync }, { NodeNudger }, { PodBinder }, { NodeAdvertiser }] =
    await Promise.all([
      import('./cluster/api-client.js'),
      import('./cluster/cluster-sync.js'),
      import('./cluster/node-nudger.js'),
      import('./cluster/pod-binder.js'),
      import('./cluster/node-advertiser.js'),
    ]);
  return {
    kubeConfig,
    /** Every call ioplace makes, but the watches: pooled keep-alive connections. */
    apiClient: new ApiClient(kubeConfig, { timeoutMs: apiTimeoutMs }),
    ClusterSync,
    NodeNudger,
    PodBinder,
    NodeAdvertiser,
  };
}

/** Builds the whole service, ready to `listen` or `inject`; it never listens by itself. */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, logger, clock, kubeConfig } = deps;
  const k8s =
    kubeConfig === undefined
      ? undefined
      : await clusterAccess(kubeConfig, config.binding.apiTimeoutSeconds * 1000);
  // Reports and commitments share one book: placement finds all of a node with one lookup.
  const book = new NodeBook();
  const inventory = new Inventory({ maxNodes: config.inventory.maxNodes, book });
  const commitments = new Commitments(book);
  const reservations = new Reservations(commitments.reserved);
  const podStore = new PodStore({ commitments, reservations, clock });
  const clusterNodes = new ClusterNodes();
  const registry = deps.registry ?? new Registry();
  const metrics = createMetrics(registry, deps.version ?? packageVersion());
  const logLevels = new LogLevels(logger);
  const live = new LiveConfig({ initial: config, path: deps.configPath, transform: deps.transformConfig });
  const nudger =
    k8s !== undefined && config.retrySignal.enabled
      ? new k8s.NodeNudger({
          api: k8s.apiClient,
          annotation: config.retrySignal.annotation,
          minIntervalMs: config.retrySignal.minIntervalSeconds * 1000,
          clock,
          logger: logLevels.child(logger, { module: 'retry-signal' }),
          onResult: (result) => metrics.retrySignals.inc({ result }),
        })
      : undefined;
  const rejections =
    nudger === undefined
      ? undefined
      : new RejectionMemory({
          ttlMs: config.retrySignal.rememberSeconds * 1000,
          perNode: REJECTIONS_PER_NODE,
        });
  const placement = new Placement({
    inventory,
    commitments,
    reservations,
    rejections,
    clock,
    settings: () => live.settings,
  });

  const advertiser =
    k8s !== undefined && config.advertise.enabled
      ? new k8s.NodeAdvertiser({
          patch: (node, operations) =>
            k8s.apiClient.request({
              method: 'PATCH',
              path: `/api/v1/nodes/${encodeURIComponent(node)}/status`,
              body: operations,
              contentType: 'application/json-patch+json',
            }),
          wanted: (node) => {
            const assessment = placement.assess(node);
            return assessment.fresh ? assessment.allocatable : undefined;
          },
          patchesPerSecond: config.advertise.patchesPerSecond,
          burst: config.advertise.burst,
          minIntervalMs: config.advertise.minIntervalSeconds * 1000,
          backoff: {
            initialMs: config.cluster.backoffInitialSeconds * 1000,
            maxMs: config.cluster.backoffMaxSeconds * 1000,
          },
          clock,
          logger: logLevels.child(logger, { module: 'advertise' }),
          onResult: (result) => metrics.advertisePatches.inc({ result }),
        })
      : undefined;

  /** Free capacity on the node may have risen: tell the scheduler if a turned-away pod fits now. */
  const capacityMayHaveRisen = (node: string) => {
    if (nudger !== undefined && placement.roomForRejected(node)) nudger.nudge(node);
  };
  const forgetNode = (node: string) => {
    if (inventory.forget(node)) logger.info({ node }, 'node left the cluster; forgotten');
    rejections?.forget(node);
    nudger?.forget(node);
    advertiser?.forget(node);
  };

  const cluster =
    k8s === undefined
      ? undefined
      : new k8s.ClusterSync({
          kubeConfig: k8s.kubeConfig,
          api: k8s.apiClient,
          podStore,
          clusterNodes,
          config: config.cluster,
          logger: logLevels.child(logger, { module: 'cluster-sync' }),
          delay: deps.delay,
          onNodeGone: forgetNode,
          onNodesListed: () => {
            for (const entry of [...inventory.entries()]) {
              if (clusterNodes.exists(entry.node) === false) forgetNode(entry.node);
            }
          },
          onCapacityReleased: capacityMayHaveRisen,
          onNodeSeen: advertiser === undefined ? undefined : (node) => advertiser.observed(node),
        });
  const binder = k8s === undefined ? undefined : new k8s.PodBinder(k8s.apiClient);

  registerStateGauges(registry, {
    inventory,
    assess: (node, now) => placement.assess(node, now),
    podStore,
    reservations,
    now: clock,
    perNodeSeries: () => live.current.metrics.perNodeSeries,
    cluster:
      cluster === undefined
        ? undefined
        : { synced: () => cluster.synced, connected: (resource) => cluster[resource].connected },
  });
  const reloader = new ConfigReloader({
    live,
    logLevels,
    logger,
    reloads: metrics.configReloads,
    onChanged: (changed) => {
      // Every node's allocatable figure moves with the reserve: advertise them all again.
      if (changed.includes('scoring.reserveFraction')) advertiser?.touchAll();
    },
  });

  const tlsMaterial = config.tls.certFile === '' ? undefined : readTlsMaterial(config.tls);
  const server = createServer(config, logger, tlsMaterial);
  logLevels.follow(server.log);
  installRequestMetrics(server, metrics);
  if (tlsMaterial !== undefined) await server.register(tlsPlugin, { tls: config.tls, logger });
  await server.register(configReloadPlugin, { reloader });
  const authenticator = await agentAuthenticator(config, k8s?.apiClient, clock);
  if (authenticator === undefined) {
    logger.warn(
      { host: config.server.host },
      'agent reports are not authenticated (auth.agents open): anyone who reaches the port can write the inventory',
    );
  }

  const startedAt = clock();
  const readiness: ReadinessCheck[] = [
    ...(deps.readinessChecks ?? []),
    inventoryReadiness({
      clock,
      startedAt,
      warmupMs: config.readiness.warmupSeconds * 1000,
      minCoverage: config.readiness.minInventoryCoverage,
      coverage: () => {
        const now = clock();
        const names = cluster?.synced
          ? [...clusterNodes.names()]
          : [...inventory.entries()].map((e) => e.node);
        return { fresh: names.filter((n) => placement.assess(n, now).fresh).length, known: names.length };
      },
    }),
  ];
  if (cluster !== undefined) {
    readiness.push({ name: 'initial list of pods and nodes', ready: () => cluster.synced });
    let sweep: NodeJS.Timeout | undefined;
    server.addHook('onReady', async () => {
      cluster.start();
      sweep = setInterval(() => {
        // A reservation is the only record of a pod bound while the watch is away; expire
        // reservations only while the watch is live and would have shown the pod.
        if (!cluster.pods.connected) return;
        for (const uid of reservations.expire(clock())) {
          logger.warn({ uid }, 'bind reservation expired before the pod watch showed the pod');
        }
      }, RESERVATION_SWEEP_MS);
      sweep.unref();
    });
    server.addHook('onClose', async () => {
      clearInterval(sweep);
      nudger?.close();
      advertiser?.close();
      await cluster.stop();
      k8s?.apiClient.close();
    });
  }

  await server.register(opsRoutes, { registry, checks: readiness });
  await server.register(
    async (scheduler) => {
      if (tlsMaterial?.ca !== undefined) scheduler.addHook('onRequest', requireClientCertificate);
      await scheduler.register(filterRoute, { placement, metrics });
      await scheduler.register(prioritizeRoute, { placement });
      await scheduler.register(bindRoute, {
        placement,
        podStore,
        reservations,
        binder,
        reservationTtlMs: config.binding.reservationTimeoutSeconds * 1000,
        clock,
        metrics,
      });
      await scheduler.register(preemptRoute, { placement, podStore, metrics });
    },
    { prefix: SCHEDULER_PREFIX },
  );
  await server.register(inventoryRoutes, {
    prefix: INVENTORY_PREFIX,
    inventory,
    placement,
    now: clock,
    nodeExists: (node) => clusterNodes.exists(node),
    onReport: (node, receivedAt) => {
      podStore.measured(node, receivedAt);
      capacityMayHaveRisen(node);
      advertiser?.touch(node);
    },
    authenticator,
    rateLimit: new ReportRateLimit({
      perSecond: config.inventory.reportsPerSecond,
      burst: config.inventory.reportBurst,
      clock,
    }),
  });

  await server.register(explainRoute, {
    prefix: INVENTORY_PREFIX,
    placement,
    clock,
    binder,
    knownNodes: () => [...new Set([...[...inventory.entries()].map((e) => e.node), ...clusterNodes.names()])],
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
    inventory,
    commitments,
    reservations,
    podStore,
    placement,
    cluster,
    nudger,
    registry,
    metrics,
    config: live,
    reloadConfig: (trigger) => reloader.reload(trigger),
  };
}
