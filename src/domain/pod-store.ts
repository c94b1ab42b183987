import type { Commitments } from './commitments.js';
import type { Reservations } from './reservations.js';
import { type Amounts, isEmpty } from './resources.js';

/**
 * What ioplace keeps of a pod: a few strings and its demand, never the Pod object, so that a
 * cluster of 150k pods costs a few megabytes.
 */
export interface PodRecord {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  /** spec.nodeName: undefined until the pod is bound. */
  readonly node: string | undefined;
  readonly phase: string;
  readonly demand: Amounts;
}

const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);

const holder = (uid: string) => `pod/${uid}`;

/** A pod holds its demand on its node from binding until it terminates or is deleted. */
export function holdsDemand(pod: PodRecord): boolean {
  return pod.node !== undefined && pod.node !== '' && !TERMINAL_PHASES.has(pod.phase);
}

/**
 * The pods that ask for something ioplace manages, by uid, kept in step with the commitments they
 * hold. Pods without demand are not kept: they hold nothing and free nothing when evicted.
 */
export class PodStore {
  readonly #pods = new Map<string, PodRecord>();
  readonly #commitments: Commitments;
  readonly #reservations: Reservations;

  constructor(deps: { commitments: Commitments; reservations: Reservations }) {
    this.#commitments = deps.commitments;
    this.#reservations = deps.reservations;
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
    this.#pods.set(pod.uid, pod);
    if (holdsDemand(pod)) this.#commitments.hold(holder(pod.uid), pod.node as string, pod.demand);
    else this.#commitments.release(holder(pod.uid));
  }

  remove(uid: string): PodRecord | undefined {
    const pod = this.#pods.get(uid);
    this.#pods.delete(uid);
    this.#commitments.release(holder(uid));
    this.#reservations.release(uid);
    return pod;
  }

  /** Makes the store exactly `pods` (after a relist), releasing whatever vanished meanwhile. */
  replace(pods: Iterable<PodRecord>): void {
    const seen = new Set<string>();
    for (const pod of pods) {
      seen.add(pod.uid);
      this.upsert(pod);
    }
    for (const uid of [...this.#pods.keys()]) if (!seen.has(uid)) this.remove(uid);
  }

  get(uid: string): PodRecord | undefined {
    return this.#pods.get(uid);
  }

  values(): IterableIterator<PodRecord> {
    return this.#pods.values();
  }

  get size(): number {
    return this.#pods.size;
  }
}
