import { type KubeConfig, Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Delay } from '../../cluster/backoff.js';
import type { ListChunk, ListRequest } from '../../cluster/list-request.js';
import { Reflector, type ReflectorHandler } from '../../cluster/reflector.js';
import { decodeNodePod, type NodePod } from './pod-record.js';

/** One page of a list, streamed item by item (listChunk over the agent's API client). */
export type ListPage = (request: ListRequest) => Promise<ListChunk>;

const PODS_PATH = '/api/v1/pods';

/**
 * The field selector that makes the API server send an agent only its own node's pods. RBAC
 * cannot require it (a role grants list/watch of all pods or none), so it is the agent that asks
 * for no more than it needs.
 */
export function nodePodsSelector(nodeName: string): string {
  return `spec.nodeName=${nodeName}`;
}

/**
 * The pods of one node, as the API server last showed them. A (re)list is gathered apart and
 * swapped in whole once complete, so that a list cut short never makes the pods it did not reach
 * look deleted (their limits would be cleared).
 */
export class NodePods {
  #pods = new Map<string, NodePod>();
  #listing: Map<string, NodePod> | undefined;
  readonly #onChange: () => void;

  constructor(onChange: () => void = () => {}) {
    this.#onChange = onChange;
  }

  readonly handler: ReflectorHandler<NodePod> = {
    relisting: () => {
      this.#listing = new Map();
    },
    listed: (pod) => {
      this.#listing?.set(pod.uid, pod);
    },
    relisted: () => {
      this.#pods = this.#listing ?? new Map();
      this.#listing = undefined;
      this.#onChange();
    },
    upsert: (pod) => {
      this.#pods.set(pod.uid, pod);
      this.#onChange();
    },
    remove: (pod) => {
      if (this.#pods.delete(pod.uid)) this.#onChange();
    },
  };

  all(): NodePod[] {
    return [...this.#pods.values()];
  }

  get size(): number {
    return this.#pods.size;
  }
}

export interface NodePodWatchOptions {
  readonly nodeName: string;
  readonly kubeConfig: KubeConfig;
  readonly listPage: ListPage;
  readonly logger: Logger;
  readonly delay: Delay;
  /** Called after every change of the pod set (a watch event, a completed list). */
  readonly onChange?: () => void;
  readonly pageSize?: number;
  readonly watchTimeoutSeconds?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

/**
 * List, then watch, the pods of this node with the server's own reflector: resumed from the last
 * resourceVersion, listed again on 410 Gone, retried with backoff on anything else while the last
 * known pods stay in place (enforcement goes on from them).
 */
export function watchNodePods(options: NodePodWatchOptions): {
  pods: NodePods;
  reflector: Reflector<NodePod>;
} {
  const pods = new NodePods(options.onChange);
  const query = { fieldSelector: nodePodsSelector(options.nodeName) };
  const reflector = new Reflector<NodePod>({
    resource: 'pods',
    path: PODS_PATH,
    query,
    watch: new Watch(options.kubeConfig),
    list: (limit, continueToken, onItem, signal) =>
      options.listPage({
        path: PODS_PATH,
        query: { ...query, limit, continue: continueToken },
        onItem,
        signal,
      }),
    decode: decodeNodePod,
    handler: pods.handler,
    logger: options.logger.child({ module: 'pod-watch' }),
    pageSize: options.pageSize ?? 500,
    watchTimeoutSeconds: options.watchTimeoutSeconds ?? 300,
    backoff: options.backoff ?? { initialMs: 1_000, maxMs: 60_000 },
    delay: options.delay,
  });
  return { pods, reflector };
}

/** The pods of this node from one complete list (for `ioplace-agent limits`), sorted by namespace/name. */
export async function listNodePods(listPage: ListPage, nodeName: string, pageSize = 500): Promise<NodePod[]> {
  const found: NodePod[] = [];
  const query = { fieldSelector: nodePodsSelector(nodeName) };
  let continueToken: string | undefined;
  do {
    const page = await listPage({
      path: PODS_PATH,
      query: { ...query, limit: pageSize, continue: continueToken },
      onItem: (object) => {
        const pod = decodeNodePod(object);
        if (pod !== undefined) found.push(pod);
      },
    });
    continueToken = page.continueToken;
  } while (continueToken !== undefined);
  return found.sort((a, b) =>
    a.namespace === b.namespace ? compare(a.name, b.name) : compare(a.namespace, b.namespace),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
