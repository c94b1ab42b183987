import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../domain/clock.js';
import type { Amounts } from '../domain/resources.js';
import { apiErrorCode, apiErrorMessage } from './api-errors.js';
import { Backoff } from './backoff.js';
import {
  type AdvertisedStatus,
  advertisePatch,
  decodeNode,
  type JsonPatchOperation,
  type NodeRecord,
} from './node-status.js';

export type AdvertiseResult = 'sent' | 'failed';

export interface NodeAdvertiserOptions {
  /** Sends the JSON patch to the node's `status` subresource; resolves with the Node answered. */
  patch(node: string, operations: readonly JsonPatchOperation[]): Promise<unknown>;
  /**
   * What the node should advertise now: its allocatable figures while its report is fresh, else
   * undefined (nothing is written for a node without a fresh report).
   */
  wanted(node: string): Amounts | undefined;
  /** Patches per second over all nodes, sustained, and how many may go at once after a lull. */
  readonly patchesPerSecond: number;
  readonly burst: number;
  /** The least time between two patches of one node (two replicas that disagree cannot race). */
  readonly minIntervalMs: number;
  /** Retry waits of a node whose patch failed. */
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly clock: Clock;
  readonly logger: FastifyBaseLogger;
  readonly onResult?: (result: AdvertiseResult) => void;
}

/** Patches in flight at once: enough to keep up with a fleet reporting, few enough to be polite. */
const MAX_IN_FLIGHT = 8;

/**
 * Advertises ioplace's resources in each Node's status (`status.capacity` and
 * `status.allocatable`, through the `nodes/status` subresource), so that kube-scheduler's own fit,
 * its preemption dry run, ResourceQuota and the kubelet's admission count declared demand
 * against them, as they do for any node-level extended resource.
 *
 * A node is looked at again when its agent reports, when the Node watch shows it changed (the
 * kubelet zeroes unknown extended resources when a node registers anew), and when the reserve
 * fraction changes; it is patched only when the figures it should carry differ from what the watch
 * shows. Replicas receive the same reports and compute the same figures, so each writes a new
 * figure at most once and none undoes another's. Patches share one token bucket, at most
 * MAX_IN_FLIGHT go at once, and a failed one is retried with backoff for that node alone.
 */
export class NodeAdvertiser {
  readonly #o: NodeAdvertiserOptions;
  /** What the watch (or our own patch's answer) last showed of each node. */
  readonly #observed = new Map<string, AdvertisedStatus>();
  /** Nodes to look at, in the order they were asked for. */
  readonly #queue = new Set<string>();
  readonly #inFlight = new Set<string>();
  readonly #lastPatched = new Map<string, number>();
  readonly #failures = new Map<string, Backoff>();
  /** Nodes held back (a retry's backoff, or minInterval), until a clock time. */
  readonly #waiting = new Map<string, { readonly timer: NodeJS.Timeout; readonly until: number }>();
  #tokens: number;
  #tokensAt: number;
  #pumpTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: NodeAdvertiserOptions) {
    if (!(options.patchesPerSecond > 0) || !(options.burst >= 1)) {
      throw new RangeError('patchesPerSecond must be positive and burst at least 1');
    }
    this.#o = options;
    this.#tokens = options.burst;
    this.#tokensAt = options.clock();
  }

  /** The watch shows the node (list, ADDED, MODIFIED). */
  observed(record: NodeRecord): void {
    this.#observed.set(record.name, record.status);
    this.touch(record.name);
  }

  /** The node's wanted figures may have changed (a report arrived). */
  touch(node: string): void {
    if (this.#closed || !this.#observed.has(node)) return;
    this.#queue.add(node);
    this.#pump();
  }

  /** Every node's figures may have changed (the reserve fraction did). */
  touchAll(): void {
    for (const node of this.#observed.keys()) this.#queue.add(node);
    this.#pump();
  }

  /** The node left the cluster. */
  forget(node: string): void {
    this.#observed.delete(node);
    this.#queue.delete(node);
    this.#lastPatched.delete(node);
    this.#failures.delete(node);
    clearTimeout(this.#waiting.get(node)?.timer);
    this.#waiting.delete(node);
  }

  /** Nodes waiting for a patch (queued, in flight, or waiting to retry). */
  get pending(): number {
    return new Set([...this.#queue, ...this.#inFlight, ...this.#waiting.keys()]).size;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#pumpTimer);
    for (const { timer } of this.#waiting.values()) clearTimeout(timer);
    this.#waiting.clear();
    this.#queue.clear();
  }

  #pump(): void {
    if (this.#closed || this.#pumpTimer !== undefined) return;
    for (const node of this.#queue) {
      if (this.#inFlight.size >= MAX_IN_FLIGHT) return;
      // Looked at again once the patch in flight has answered.
      if (this.#inFlight.has(node)) continue;
      const now = this.#o.clock();
      const held = this.#waiting.get(node);
      if (held !== undefined) {
        if (held.until > now) continue;
        clearTimeout(held.timer);
        this.#waiting.delete(node);
      }
      const operations = this.#operations(node);
      if (operations.length === 0) {
        this.#queue.delete(node);
        continue;
      }
      const notBefore = (this.#lastPatched.get(node) ?? Number.NEGATIVE_INFINITY) + this.#o.minIntervalMs;
      if (notBefore > now) {
        this.#queue.delete(node);
        this.#retryAt(node, notBefore - now);
        continue;
      }
      const wait = this.#takeToken(now);
      if (wait > 0) {
        this.#pumpTimer = setTimeout(() => {
          this.#pumpTimer = undefined;
          this.#pump();
        }, wait);
        this.#pumpTimer.unref();
        return;
      }
      this.#queue.delete(node);
      void this.#send(node, operations, now);
    }
  }

  #operations(node: string): JsonPatchOperation[] {
    const observed = this.#observed.get(node);
    const wanted = observed === undefined ? undefined : this.#o.wanted(node);
    return observed === undefined || wanted === undefined ? [] : advertisePatch(wanted, observed);
  }

  /** 0 when a token was taken, else the milliseconds until one is there. */
  #takeToken(now: number): number {
    const { patchesPerSecond, burst } = this.#o;
    this.#tokens = Math.min(
      burst,
      this.#tokens + (Math.max(0, now - this.#tokensAt) / 1000) * patchesPerSecond,
    );
    this.#tokensAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.#tokens) / patchesPerSecond) * 1000));
  }

  async #send(node: string, operations: readonly JsonPatchOperation[], now: number): Promise<void> {
    this.#inFlight.add(node);
    this.#lastPatched.set(node, now);
    try {
      const answer = decodeNode(await this.#o.patch(node, operations));
      // The answer is the Node as stored: take it as observed rather than wait for the watch.
      if (answer !== undefined && this.#observed.has(node)) this.#observed.set(node, answer.status);
      this.#failures.delete(node);
      this.#o.onResult?.('sent');
      this.#o.logger.debug(
        { node, operations: operations.length },
        'advertised resources in the node status',
      );
    } catch (err) {
      this.#o.onResult?.('failed');
      if (apiErrorCode(err) === 404) {
        // Gone from the cluster; the node watch will say so too.
        this.#o.logger.info({ node }, 'node not found while advertising its resources');
      } else if (!this.#closed) {
        let backoff = this.#failures.get(node);
        if (backoff === undefined) {
          backoff = new Backoff(this.#o.backoff);
          this.#failures.set(node, backoff);
        }
        const wait = backoff.next();
        this.#o.logger.warn(
          { node, reason: apiErrorMessage(err), retryInMs: Math.round(wait) },
          'could not advertise resources in the node status',
        );
        this.#retryAt(node, wait);
      }
    } finally {
      this.#inFlight.delete(node);
      this.#pump();
    }
  }

  #retryAt(node: string, waitMs: number): void {
    if (this.#closed || this.#waiting.has(node)) return;
    const timer = setTimeout(() => {
      this.#waiting.delete(node);
      this.touch(node);
    }, waitMs);
    timer.unref();
    this.#waiting.set(node, { timer, until: this.#o.clock() + waitMs });
  }
}
