import { type KubeConfig, Watch } from '@kubernetes/client-node';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/schema.js';
import type { ClusterNodes } from '../domain/cluster-nodes.js';
import { holdsDemand, type PodRecord, type PodStore } from '../domain/pod-store.js';
import type { ApiClient } from './api-client.js';
import { type Delay, realDelay } from './backoff.js';
import { listChunk } from './list-request.js';
import { decodeNode, type NodeRecord } from './node-status.js';
import { PodDecoder } from './pod-records.js';
import { type ListPage, Reflector } from './reflector.js';

/** Pods that have terminated hold nothing; leaving them out keeps lists and memory small. */
const LIVE_PODS = 'status.phase!=Succeeded,status.phase!=Failed';

export interface ClusterSyncDeps {
  /** For the watches (client-node's Watch). */
  readonly kubeConfig: KubeConfig;
  /** For the list pages: kept connections. */
  readonly api: ApiClient;
  readonly podStore: PodStore;
  readonly clusterNodes: ClusterNodes;
  /** A node left the cluster. */
  onNodeGone(node: string): void;
  /** The node list was (re)loaded: anything not in it does not exist. */
  onNodesListed(): void;
  /** Something that held demand on the node let go of it. */
  onCapacityReleased(node: string): void;
  /** The watch shows the Node as it is now (listed, added or modified). */
  onNodeSeen?(node: NodeRecord): void;
  readonly config: Config['cluster'];
  /** Used as given: the caller binds the module name. */
  readonly logger: FastifyBaseLogger;
  readonly delay?: Delay;
}

/** Pages of `path`, streamed item by item (see listChunk). */
function lister(api: ApiClient, path: string, query: Readonly<Record<string, string>>) {
  return (
    limit: number,
    continueToken: string | undefined,
    onItem: (object: unknown) => void,
    signal: AbortSignal,
  ): Promise<ListPage> =>
    listChunk(api, { path, query: { ...query, limit, continue: continueToken }, onItem, signal });
}

/** Keeps the pod store and the set of cluster nodes in step with the API server. */
export class ClusterSync {
  readonly pods: Reflector<PodRecord>;
  readonly nodes: Reflector<NodeRecord>;

  constructor(deps: ClusterSyncDeps) {
    const { kubeConfig, podStore, clusterNodes, config } = deps;
    const watch = new Watch(kubeConfig);
    const { logger } = deps;
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

    const upsert = (record: PodRecord) => {
      const before = podStore.get(record.uid);
      podStore.upsert(record);
      released(before, podStore.get(record.uid));
    };
    const pods = new PodDecoder();
    const podQuery = { fieldSelector: LIVE_PODS };
    this.pods = new Reflector<PodRecord>({
      ...common,
      resource: 'pods',
      path: '/api/v1/pods',
      query: podQuery,
      decode: (object) => pods.decode(object),
      list: lister(deps.api, '/api/v1/pods', podQuery),
      handler: {
        relisting: () => podStore.beginRelist(),
        listed: upsert,
        relisted: () => podStore.endRelist((gone) => released(gone, undefined)),
        upsert,
        remove(record) {
          released(podStore.remove(record.uid), undefined);
        },
      },
    });

    // A few thousand names: gathered, then swapped in whole.
    let listedNodes: string[] = [];
    this.nodes = new Reflector<NodeRecord>({
      ...common,
      resource: 'nodes',
      path: '/api/v1/nodes',
      query: {},
      decode: decodeNode,
      list: lister(deps.api, '/api/v1/nodes', {}),
      handler: {
        relisting() {
          listedNodes = [];
        },
        listed(node) {
          listedNodes.push(node.name);
          deps.onNodeSeen?.(node);
        },
        relisted() {
          const names = listedNodes;
          listedNodes = [];
          for (const gone of clusterNodes.replace(names)) deps.onNodeGone(gone);
          deps.onNodesListed();
        },
        upsert(node) {
          clusterNodes.add(node.name);
          deps.onNodeSeen?.(node);
        },
        remove(node) {
          clusterNodes.remove(node.name);
          deps.onNodeGone(node.name);
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
