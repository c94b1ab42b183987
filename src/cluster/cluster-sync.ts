import { CoreV1Api, type KubeConfig, Watch } from '@kubernetes/client-node';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/schema.js';
import type { ClusterNodes } from '../domain/cluster-nodes.js';
import { holdsDemand, type PodRecord, type PodStore } from '../domain/pod-store.js';
import { type Delay, realDelay } from './backoff.js';
import { nodeName, podRecord } from './pod-records.js';
import { type ListPage, Reflector } from './reflector.js';

/** Pods that have terminated hold nothing; leaving them out keeps lists and memory small. */
const LIVE_PODS = 'status.phase!=Succeeded,status.phase!=Failed';

export interface ClusterSyncDeps {
  readonly kubeConfig: KubeConfig;
  readonly podStore: PodStore;
  readonly clusterNodes: ClusterNodes;
  /** A node left the cluster. */
  onNodeGone(node: string): void;
  /** The node list was (re)loaded: anything not in it does not exist. */
  onNodesListed(): void;
  /** Something that held demand on the node let go of it. */
  onCapacityReleased(node: string): void;
  readonly config: Config['cluster'];
  readonly logger: FastifyBaseLogger;
  readonly delay?: Delay;
}

function listPage(list: {
  items: unknown[];
  metadata?: { resourceVersion?: string; _continue?: string };
}): ListPage {
  return {
    items: list.items,
    resourceVersion: list.metadata?.resourceVersion ?? '',
    continueToken: list.metadata?._continue,
  };
}

/** Keeps the pod store and the set of cluster nodes in step with the API server. */
export class ClusterSync {
  readonly pods: Reflector<PodRecord>;
  readonly nodes: Reflector<string>;

  constructor(deps: ClusterSyncDeps) {
    const { kubeConfig, podStore, clusterNodes, config } = deps;
    const api = kubeConfig.makeApiClient(CoreV1Api);
    const watch = new Watch(kubeConfig);
    const logger = deps.logger.child({ module: 'cluster-sync' });
    const common = {
      watch,
      logger,
      pageSize: config.listPageSize,
      watchTimeoutSeconds: config.watchTimeoutSeconds,
      backoff: { initialMs: config.backoffInitialSeconds * 1000, maxMs: config.backoffMaxSeconds * 1000 },
      delay: deps.delay ?? realDelay,
    };

    const released = (before: PodRecord | undefined, after: PodRecord | undefined) => {
      if (before === undefined || !holdsDemand(before)) return;
      if (after !== undefined && holdsDemand(after) && after.node === before.node) return;
      deps.onCapacityReleased(before.node as string);
    };

    this.pods = new Reflector<PodRecord>({
      ...common,
      resource: 'pods',
      path: '/api/v1/pods',
      query: { fieldSelector: LIVE_PODS },
      decode: podRecord,
      list: async (limit, continueToken) => {
        const list = await api.listPodForAllNamespaces({
          fieldSelector: LIVE_PODS,
          limit,
          _continue: continueToken,
        });
        return listPage(list);
      },
      handler: {
        replace(records) {
          const before = new Map([...podStore.values()].map((p) => [p.uid, p]));
          podStore.replace(records);
          for (const [uid, pod] of before) released(pod, podStore.get(uid));
        },
        upsert(record) {
          const before = podStore.get(record.uid);
          podStore.upsert(record);
          released(before, podStore.get(record.uid));
        },
        remove(record) {
          released(podStore.remove(record.uid), undefined);
        },
      },
    });

    this.nodes = new Reflector<string>({
      ...common,
      resource: 'nodes',
      path: '/api/v1/nodes',
      query: {},
      decode: nodeName,
      list: async (limit, continueToken) => {
        const list = await api.listNode({ limit, _continue: continueToken });
        return listPage(list);
      },
      handler: {
        replace(names) {
          for (const gone of clusterNodes.replace(names)) deps.onNodeGone(gone);
          deps.onNodesListed();
        },
        upsert(name) {
          clusterNodes.add(name);
        },
        remove(name) {
          clusterNodes.remove(name);
          deps.onNodeGone(name);
        },
      },
    });
  }

  start(): void {
    this.nodes.start();
    this.pods.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.pods.stop(), this.nodes.stop()]);
  }

  get synced(): boolean {
    return this.pods.synced && this.nodes.synced;
  }
}
