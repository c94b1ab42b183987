import type { Clock } from './clock.js';
import type { Commitments } from './commitments.js';
import type { Reservations } from './reservations.js';
import { type Amounts, isEmpty } from './resources.js';

/**
 * What ioplace keeps of a pod: what accounting and victim selection need and nothing else (no
 * name: bind and preempt get the pod's name from the scheduler), never the Pod object. The decoder
 * shares node names, phases and equal demands between records, so a pod costs its uid and a few
 * pointers; priority and start time are small integers, which V8 keeps in the record itself
 * (a start time in milliseconds would be a boxed double, 16 bytes more a pod).
 */
export interface PodRecord {
  readonly uid: string;
  /** spec.nodeName: undefined until the pod is bound. */
  readonly node: string | undefined;
  readonly phase: string;
  /** Possibly shared with other records, and then frozen: never change it. */
  readonly demand: Amounts;
  /** spec.priority; 0 when absent, as kube-scheduler reads it. */
  readonly priority: number;
  /** status.startTime in whole seconds since the epoch (the API's precision); undefined before it starts. */
  readonly startedAt: number | undefined;
}

const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);

/** A pod holds its demand on its node from binding until it terminates or is deleted. */
export function holdsDemand(pod: PodRecord): boolean {
  return pod.node !== undefined && pod.node !== '' && !TERMINAL_PHASES.has(pod.phase);
}

interface Unmeasured {
  readonly node: string;
  /** Clock time the pod was first seen Running; undefined while it is not. */
  runningSince: number | undefined;
}

/**
 * The pods that ask for something ioplace manages, by uid, kept in step with the commitments they
 * hold. Pods without demand are not kept: they hold nothing and free nothing when evicted.
 *
 * A newly bound pod is also "unmeasured" until a report from its node arrives after the pod was
 * seen running: until then measured usage cannot include it, and the free-capacity formula adds
 * it on top of usage (a pod that is bound but idle for now must not look like free room).
 */
export class PodStore {
  readonly #pods = new Map<string, PodRecord>();
  readonly #unmeasured = new Map<string, Unmeasured>();
  readonly #commitments: Commitments;
  readonly #reservations: Reservations;
  readonly #clock: Clock;
  #initialSync = true;
  /** The uids a relist in progress has shown so far. */
  #listed: Set<string> | undefined;

  constructor(deps: { commitments: Commitments; reservations: Reservations; clock: Clock }) {
    this.#commitments = deps.commitments;
    this.#reservations = deps.reservations;
    this.#clock = deps.clock;
  }

  upsert(pod: PodRecord): void {
    if (pod.node !== undefined && pod.node !== '') {
      // The watch has caught up with the binding: the pod's own commitment takes over.
      this.#reservations.release(pod.uid);
    }
    if (isEmpty(pod.demand)) {
      this.remove(pod.uid);
      return;
    }
    const before = this.#pods.get(pod.uid);
    this.#pods.set(pod.uid, pod);
    this.#listed?.add(pod.uid);
    if (!holdsDemand(pod)) {
      this.#commitments.pods.release(pod.uid);
      this.#setMeasured(pod.uid);
      return;
    }
    const node = pod.node as string;
    this.#commitments.pods.hold(pod.uid, node, pod.demand);
    const newlyPlaced = before === undefined || !holdsDemand(before) || before.node !== node;
    // Pods found running at start-up have been running for a while: reports show them already.
    const assumeMeasured = this.#initialSync && pod.phase === 'Running';
    if (newlyPlaced && !assumeMeasured) this.#unmeasured.set(pod.uid, { node, runningSince: undefined });
    const unmeasured = this.#unmeasured.get(pod.uid);
    // Held again on every update, so that a changed demand (an edited bandwidth annotation)
    // replaces the old one here as it does in the pods ledger.
    if (unmeasured !== undefined) this.#commitments.unmeasured.hold(pod.uid, node, pod.demand);
    if (unmeasured !== undefined && unmeasured.runningSince === undefined && pod.phase === 'Running') {
      unmeasured.runningSince = this.#clock();
    }
  }

  remove(uid: string): PodRecord | undefined {
    const pod = this.#pods.get(uid);
    this.#pods.delete(uid);
    this.#commitments.pods.release(uid);
    this.#setMeasured(uid);
    this.#reservations.release(uid);
    return pod;
  }

  /** Makes the store exactly `pods` (after a relist), releasing whatever vanished meanwhile. */
  replace(pods: Iterable<PodRecord>): void {
    this.beginRelist();
    for (const pod of pods) this.upsert(pod);
    this.endRelist();
  }

  /**
   * A relist starts: the pods upserted from now until `endRelist` are all that exist. The list
   * is applied page by page as it arrives rather than gathered first, so that a big cluster's
   * list never lives twice in memory, and pods without demand are never held at all.
   */
  beginRelist(): void {
    this.#listed = new Set();
  }

  /**
   * The relist is complete: removes (and releases) every pod it did not show, calling
   * `onRemoved` with each, and ends the initial sync.
   */
  endRelist(onRemoved?: (pod: PodRecord) => void): void {
    const listed = this.#listed;
    this.#listed = undefined;
    if (listed !== undefined) {
      // Deleting the entry being visited is safe in a Map iteration.
      for (const uid of this.#pods.keys()) {
        if (listed.has(uid)) continue;
        const removed = this.remove(uid);
        if (removed !== undefined) onRemoved?.(removed);
      }
    }
    this.#initialSync = false;
  }

  /**
   * A report from `node` was received at `receivedAt`: pods running since before it are in its
   * usage now. Returns how many pods became measured.
   */
  measured(node: string, receivedAt: number): number {
    let count = 0;
    for (const [uid, u] of this.#unmeasured) {
      if (u.node === node && u.runningSince !== undefined && u.runningSince < receivedAt) {
        this.#setMeasured(uid);
        count++;
      }
    }
    return count;
  }

  get(uid: string): PodRecord | undefined {
    return this.#pods.get(uid);
  }

  values(): IterableIterator<PodRecord> {
    return this.#pods.values();
  }

  /**
   * The pods that hold demand on each of `nodes`, found in one pass over the store. Preemption is
   * the only reader and it is rare, so there is no per-node index to keep up on every pod event
   * (a Set entry per pod: 3 to 4 MB at 150,000 pods). One pass serves every candidate node of a
   * request: at 150,000 pods on 5,000 nodes it took about 2 ms for the few hundred candidates
   * kube-scheduler offers by default (max(10% of the nodes, 100)), and 16 to 24 ms for all 5,000.
   */
  podsOn(nodes: ReadonlySet<string>): Map<string, PodRecord[]> {
    const out = new Map<string, PodRecord[]>();
    if (nodes.size === 0) return out;
    for (const pod of this.#pods.values()) {
      if (pod.node === undefined || !nodes.has(pod.node) || !holdsDemand(pod)) continue;
      const list = out.get(pod.node);
      if (list === undefined) out.set(pod.node, [pod]);
      else list.push(pod);
    }
    return out;
  }

  get size(): number {
    return this.#pods.size;
  }

  /** Pods bound whose use no report shows yet. */
  get unmeasuredCount(): number {
    return this.#unmeasured.size;
  }

  #setMeasured(uid: string): void {
    if (this.#unmeasured.delete(uid)) this.#commitments.unmeasured.release(uid);
  }
}
