import { podDemand } from '../domain/demand.js';
import type { PodLike } from '../domain/pod.js';
import type { PodRecord } from '../domain/pod-store.js';

interface PodObject extends PodLike {
  readonly metadata?: PodLike['metadata'] & { readonly uid?: string };
  readonly spec?: PodLike['spec'] & { readonly nodeName?: string };
  readonly status?: { readonly phase?: string };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/**
 * The compact record of a Pod from the API (a list item or a watch event object). A pod whose
 * demand does not parse is kept with no demand: it cannot be accounted, and the filter has
 * already told its owner why.
 */
export function podRecord(object: unknown): PodRecord | undefined {
  if (!isObject(object) || !isObject(object.metadata)) return undefined;
  const pod = object as PodObject;
  const uid = pod.metadata?.uid;
  if (typeof uid !== 'string' || uid === '') return undefined;
  const demand = podDemand(pod);
  const nodeName = pod.spec?.nodeName;
  return {
    uid,
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    node: typeof nodeName === 'string' && nodeName !== '' ? nodeName : undefined,
    phase: pod.status?.phase ?? 'Pending',
    demand: demand.ok ? demand.demand : {},
  };
}

/** The name of a Node from the API, or undefined for something that is not one. */
export function nodeName(object: unknown): string | undefined {
  if (!isObject(object) || !isObject(object.metadata)) return undefined;
  const name = object.metadata.name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}
