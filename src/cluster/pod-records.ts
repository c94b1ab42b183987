import { podDemand } from '../domain/demand.js';
import type { PodLike } from '../domain/pod.js';
import type { PodRecord } from '../domain/pod-store.js';
import { type Amounts, DIMENSIONS } from '../domain/resources.js';

interface PodObject extends PodLike {
  readonly metadata?: PodLike['metadata'] & { readonly uid?: string };
  readonly spec?: PodLike['spec'] & { readonly nodeName?: string; readonly priority?: unknown };
  readonly status?: { readonly phase?: string; readonly startTime?: unknown };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

const NO_DEMAND: Amounts = Object.freeze({});

/** spec.priority as kube-scheduler reads it (corev1helpers.PodPriority): absent is 0. */
function priorityOf(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : 0;
}

/**
 * status.startTime (RFC 3339, whole seconds) as whole seconds since the epoch, a small integer
 * (see PodRecord); undefined when absent or unreadable, which ranks the pod as started last.
 */
function startedAtOf(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** The phases of the API, as constants: a phase is then one shared string, not one per pod. */
const PHASES = new Map(
  ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'].map((phase) => [phase, phase]),
);

/**
 * Distinct node names remembered for sharing. Far above any real cluster's node count, so that it
 * is reached only by years of node churn; then the table starts afresh, which costs nothing but
 * one more copy of each name in use.
 */
const MAX_NODE_NAMES = 65_536;
/** Distinct demands remembered for sharing: pods of one workload all ask the same. */
const MAX_DEMANDS = 4_096;

/**
 * Turns Pods from the API (list items, watch event objects) into the compact records the pod
 * store keeps. Every parsed Pod carries its own copy of its node's name and its demand; the
 * decoder hands out one shared string per node name and one shared, frozen Amounts per distinct
 * demand instead, so that 150,000 pods on 5,000 nodes keep 5,000 names, not 150,000. Sharing is
 * only an economy: nothing compares these by identity.
 */
export class PodDecoder {
  readonly #nodes = new Map<string, string>();
  readonly #demands = new Map<string, Amounts>();

  /**
   * The record of a Pod, or undefined for something that is not one. A pod whose demand does not
   * parse is kept with no demand: it cannot be accounted, and the filter has already told its
   * owner why.
   */
  decode(object: unknown): PodRecord | undefined {
    if (!isObject(object) || !isObject(object.metadata)) return undefined;
    const pod = object as PodObject;
    const uid = pod.metadata?.uid;
    if (typeof uid !== 'string' || uid === '') return undefined;
    const demand = podDemand(pod);
    const nodeName = pod.spec?.nodeName;
    const phase = pod.status?.phase ?? 'Pending';
    return {
      uid,
      node: typeof nodeName === 'string' && nodeName !== '' ? this.#node(nodeName) : undefined,
      phase: PHASES.get(phase) ?? phase,
      demand: demand.ok ? this.#demand(demand.demand) : NO_DEMAND,
      priority: priorityOf(pod.spec?.priority),
      startedAt: startedAtOf(pod.status?.startTime),
    };
  }

  #node(name: string): string {
    const known = this.#nodes.get(name);
    if (known !== undefined) return known;
    if (this.#nodes.size >= MAX_NODE_NAMES) this.#nodes.clear();
    this.#nodes.set(name, name);
    return name;
  }

  #demand(demand: Amounts): Amounts {
    let key = '';
    for (const d of DIMENSIONS) key += `${demand[d] ?? ''}/`;
    const known = this.#demands.get(key);
    if (known !== undefined) return known;
    if (this.#demands.size >= MAX_DEMANDS) this.#demands.clear();
    // Frozen: the ledgers keep a frozen amount as it is instead of copying it for every pod.
    const shared = Object.freeze({ ...demand });
    this.#demands.set(key, shared);
    return shared;
  }
}

/** The name of a Node from the API, or undefined for something that is not one. */
export function nodeName(object: unknown): string | undefined {
  if (!isObject(object) || !isObject(object.metadata)) return undefined;
  const name = object.metadata.name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}
