import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parseQuantity } from '../domain/quantity.js';

/** The annotation (or label) by which operators give a node's IOPS capacity. */
export const IOPS_CAPACITY_KEY = 'ioplace.io/iops-capacity';

/** The node's own IOPS capacity: its annotation, else its label; undefined when neither parses. */
export function iopsCapacityOf(
  node: { metadata?: { annotations?: Record<string, string>; labels?: Record<string, string> } },
  onInvalid: (where: string, value: string, problem: string) => void = () => {},
): number | undefined {
  for (const [where, map] of [
    ['annotation', node.metadata?.annotations],
    ['label', node.metadata?.labels],
  ] as const) {
    const raw = map?.[IOPS_CAPACITY_KEY];
    if (raw === undefined) continue;
    const parsed = parseQuantity(raw);
    if (parsed.ok) return parsed.value;
    onInvalid(where, raw, parsed.problem);
  }
  return undefined;
}

/**
 * Reads the node's IOPS capacity through the API now and then (not every round: a thousand
 * agents polling every ten seconds would be a load on the API server for a value that rarely
 * changes). Keeps the last value read while the API server is away.
 */
export class NodeIopsCapacity {
  readonly #api: CoreV1Api;
  readonly #nodeName: string;
  readonly #refreshMs: number;
  readonly #logger: Logger;
  #value: number | undefined;
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(kubeConfig: KubeConfig, nodeName: string, refreshMs: number, logger: Logger) {
    this.#api = kubeConfig.makeApiClient(CoreV1Api);
    this.#nodeName = nodeName;
    this.#refreshMs = refreshMs;
    this.#logger = logger;
  }

  async get(now: number): Promise<number | undefined> {
    if (now - this.#readAt < this.#refreshMs) return this.#value;
    this.#readAt = now;
    try {
      const node = await this.#api.readNode({ name: this.#nodeName });
      this.#value = iopsCapacityOf(node, (where, value, problem) =>
        this.#logger.warn({ where, value, problem }, `ignoring the node's ${IOPS_CAPACITY_KEY}`),
      );
    } catch (err) {
      this.#logger.warn(
        { node: this.#nodeName, error: (err as Error).message.split('\n')[0] },
        'cannot read the node',
      );
    }
    return this.#value;
  }
}
