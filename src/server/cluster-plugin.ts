import type { KubeConfig } from '@kubernetes/client-node';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { ApiClient } from '../cluster/api-client.js';
import type { Delay } from '../cluster/backoff.js';
import type { ClusterSync } from '../cluster/cluster-sync.js';
import type { PodBinder } from '../cluster/pod-binder.js';
import type { LogLevels } from '../config/log-levels.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../domain/clock.js';
import type { Domain } from '../domain/domain.js';
import type { PodRecord } from '../domain/pod-store.js';
import { ReservationSweep } from '../domain/reservation-sweep.js';
import type { Metrics } from '../metrics/metrics.js';

/**
 * What only cluster mode uses: the connection, its API client and the classes built on them.
 * Loaded on demand: @kubernetes/client-node (for the watches) takes a process from about 40 to
 * about 110 MiB of RSS, for nothing when there is no cluster.
 */
async function clusterAccess(kubeConfig: KubeConfig, apiTimeoutMs: number) {
  const [{ ApiClient }, { ClusterSync }, { NodeNudger }, { PodBinder }, { NodeAdvertiser }] =
    await Promise.all([
      import('../cluster/api-client.js'),
      import('../cluster/cluster-sync.js'),
      import('../cluster/node-nudger.js'),
      import('../cluster/pod-binder.js'),
      import('../cluster/node-advertiser.js'),
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

export interface ClusterOptions {
  readonly kubeConfig: KubeConfig;
  readonly config: Config;
  readonly domain: Domain;
  readonly clock: Clock;
  readonly logger: FastifyBaseLogger;
  readonly logLevels: LogLevels;
  readonly metrics: Metrics;
  /** Backoff waits of the watches (tests shorten them). */
  readonly delay?: Delay;
}

/** A cluster watch as it stands. */
export interface WatchState {
  readonly synced: boolean;
  readonly connected: boolean;
  /** Where the watch would resume from, bookmarks included. */
  readonly resourceVersion: string | undefined;
}

/** What the watches have delivered so far (App.watches, for tests). */
export interface ClusterWatches {
  readonly pods: WatchState;
  readonly nodes: WatchState;
  /** The pod as the pod watch last showed it, if it has demand. */
  pod(uid: string): PodRecord | undefined;
}

/** ioplace's side of the cluster: watches feeding the domain, binding, the retry signal, advertising. */
export interface Cluster {
  readonly sync: ClusterSync;
  readonly apiClient: ApiClient;
  readonly binder: PodBinder;
  readonly watches: ClusterWatches;
  /** An agent reported on `node`: its free capacity may have risen, its advertised figures changed. */
  reported(node: string): void;
  /** Live configuration fields changed (a reload). */
  configChanged(changed: readonly string[]): void;
  /** Starts the watches and the reservation sweep. */
  start(): void;
  /** Stops everything start() started and closes the API client. */
  stop(): Promise<void>;
}

/** Builds ioplace's side of the cluster on `domain`; nothing runs before start(). */
export async function buildCluster(options: ClusterOptions): Promise<Cluster> {
  const { config, domain, clock, logger, logLevels, metrics } = options;
  const { inventory, placement, rejections } = domain;
  const k8s = await clusterAccess(options.kubeConfig, config.binding.apiTimeoutSeconds * 1000);
  const nudger = config.retrySignal.enabled
    ? new k8s.NodeNudger({
        api: k8s.apiClient,
        annotation: config.retrySignal.annotation,
        minIntervalMs: config.retrySignal.minIntervalSeconds * 1000,
        clock,
        logger: logLevels.child(logger, { module: 'retry-signal' }),
        onResult: (result) => metrics.retrySignals.inc({ result }),
      })
    : undefined;
  const advertiser = config.advertise.enabled
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

  const sync = new k8s.ClusterSync({
    kubeConfig: k8s.kubeConfig,
    api: k8s.apiClient,
    podStore: domain.podStore,
    clusterNodes: domain.clusterNodes,
    config: config.cluster,
    logger: logLevels.child(logger, { module: 'cluster-sync' }),
    delay: options.delay,
    onNodeGone: forgetNode,
    onNodesListed: () => {
      for (const entry of [...inventory.entries()]) {
        if (domain.clusterNodes.exists(entry.node) === false) forgetNode(entry.node);
      }
    },
    onCapacityReleased: capacityMayHaveRisen,
    onNodeSeen: advertiser === undefined ? undefined : (node) => advertiser.observed(node),
  });
  const sweep = new ReservationSweep({
    reservations: domain.reservations,
    clock,
    active: () => sync.pods.connected,
    onExpired: (uid) => logger.warn({ uid }, 'bind reservation expired before the pod watch showed the pod'),
  });

  return {
    sync,
    apiClient: k8s.apiClient,
    binder: new k8s.PodBinder(k8s.apiClient),
    watches: { pods: sync.pods, nodes: sync.nodes, pod: (uid) => domain.podStore.get(uid) },
    reported: (node) => {
      capacityMayHaveRisen(node);
      advertiser?.touch(node);
    },
    configChanged: (changed) => {
      // Every node's allocatable figure moves with the reserve: advertise them all again.
      if (changed.includes('scoring.reserveFraction')) advertiser?.touchAll();
    },
    start: () => {
      sync.start();
      sweep.start();
    },
    stop: async () => {
      sweep.stop();
      nudger?.close();
      advertiser?.close();
      await sync.stop();
      k8s.apiClient.close();
    },
  };
}

/** Runs the cluster side while the server runs: started on onReady, stopped on onClose. */
export const clusterPlugin: FastifyPluginAsync<{ cluster: Cluster }> = async (server, { cluster }) => {
  server.addHook('onReady', async () => cluster.start());
  server.addHook('onClose', async () => cluster.stop());
};
