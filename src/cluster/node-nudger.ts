import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../domain/clock.js';
import type { ApiClient } from './api-client.js';
import { apiErrorMessage } from './api-errors.js';

export interface NodeNudgerOptions {
  /** Its timeout is the patch's. */
  readonly api: ApiClient;
  readonly annotation: string;
  readonly minIntervalMs: number;
  readonly clock: Clock;
  readonly logger: FastifyBaseLogger;
  readonly onResult?: (result: 'sent' | 'failed') => void;
}

/**
 * Tells kube-scheduler that a node has room again. A change in ioplace's inventory is no cluster
 * event, so a pod that ioplace turned away would wait in the unschedulable queue for minutes.
 * Updating an annotation on the Node is an event: kube-scheduler then moves pods that an
 * extender rejected back to its active queue. At most one update per node per minIntervalMs; a
 * nudge inside that window is sent when it ends, so none is lost.
 */
export class NodeNudger {
  readonly #o: NodeNudgerOptions;
  readonly #lastSent = new Map<string, number>();
  readonly #pending = new Map<string, NodeJS.Timeout>();
  #sent = 0;
  #failed = 0;
  #closed = false;

  constructor(options: NodeNudgerOptions) {
    this.#o = options;
  }

  nudge(node: string): void {
    if (this.#closed || this.#pending.has(node)) return;
    const wait =
      (this.#lastSent.get(node) ?? Number.NEGATIVE_INFINITY) + this.#o.minIntervalMs - this.#o.clock();
    if (wait <= 0) {
      void this.#send(node);
      return;
    }
    const timer = setTimeout(() => {
      this.#pending.delete(node);
      void this.#send(node);
    }, wait);
    timer.unref();
    this.#pending.set(node, timer);
  }

  forget(node: string): void {
    clearTimeout(this.#pending.get(node));
    this.#pending.delete(node);
    this.#lastSent.delete(node);
  }

  get sent(): number {
    return this.#sent;
  }

  get failed(): number {
    return this.#failed;
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#pending.values()) clearTimeout(timer);
    this.#pending.clear();
  }

  async #send(node: string): Promise<void> {
    if (this.#closed) return;
    const now = this.#o.clock();
    this.#lastSent.set(node, now);
    const body = { metadata: { annotations: { [this.#o.annotation]: new Date(now).toISOString() } } };
    try {
      await this.#o.api.request({
        method: 'PATCH',
        path: `/api/v1/nodes/${encodeURIComponent(node)}`,
        contentType: 'application/merge-patch+json',
        body,
      });
      this.#sent++;
      this.#o.onResult?.('sent');
      this.#o.logger.debug({ node }, 'told the scheduler that the node has room again');
    } catch (err) {
      this.#failed++;
      this.#o.onResult?.('failed');
      this.#o.logger.warn(
        { node, reason: apiErrorMessage(err) },
        'could not annotate the node to retry pods',
      );
    }
  }
}
