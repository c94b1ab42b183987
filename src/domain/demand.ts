import type { ContainerLike, PodLike, ResourceList } from './pod.js';
import { parseQuantity } from './quantity.js';
import {
  type Amounts,
  BANDWIDTH_ANNOTATION,
  DIMENSIONS,
  type Dimension,
  EXTENDED_RESOURCE,
} from './resources.js';

/**
 * What a pod asks for. `none` is true when it asks for nothing ioplace manages: such a pod fits
 * everywhere and is scored neutrally, without looking at the inventory.
 */
export type DemandResult = { ok: true; demand: Amounts; none: boolean } | { ok: false; problem: string };

class InvalidQuantity extends Error {}

function readResource(list: ResourceList | undefined, name: string, where: string): number | undefined {
  const raw = list?.[name];
  if (raw === undefined) return undefined;
  const parsed = parseQuantity(raw);
  if (!parsed.ok)
    throw new InvalidQuantity(`${where} ${name} ${JSON.stringify(String(raw))} ${parsed.problem}`);
  return parsed.value;
}

function containerRequest(container: ContainerLike, dimension: Dimension, kind: string): number {
  const where = `${kind} ${JSON.stringify(container.name ?? '')}`;
  const name = EXTENDED_RESOURCE[dimension];
  // The API server defaults a missing request to the limit; a pod that reaches us unvalidated
  // (explain, tests) is read the same way.
  return (
    readResource(container.resources?.requests, name, where) ??
    readResource(container.resources?.limits, name, where) ??
    0
  );
}

/**
 * The pod's effective request for one dimension, computed as kube-scheduler does
 * (k8s.io/component-helpers/resource.PodRequests):
 *   app      = sum(app containers) + sum(restartable init containers)
 *   init_i   = request(init container i) + sum(restartable init containers started before it)
 *   request  = max(app, max_i init_i) + overhead
 * Returns undefined when no container asks for a positive amount of the resource, so that an
 * explicit zero leaves the bandwidth annotations in charge, as an absent request does.
 */
function effectiveRequest(pod: PodLike, dimension: Dimension): number | undefined {
  const spec = pod.spec;
  let named = false;
  const note = (value: number): number => {
    if (value > 0) named = true;
    return value;
  };
  let app = 0;
  for (const c of spec?.containers ?? []) app += note(containerRequest(c, dimension, 'container'));
  let sidecars = 0;
  let init = 0;
  for (const c of spec?.initContainers ?? []) {
    const request = note(containerRequest(c, dimension, 'init container'));
    if (c.restartPolicy === 'Always') {
      app += request;
      sidecars += request;
      init = Math.max(init, sidecars);
    } else {
      init = Math.max(init, request + sidecars);
    }
  }
  const overhead = note(readResource(spec?.overhead, EXTENDED_RESOURCE[dimension], 'overhead') ?? 0);
  return named ? Math.max(app, init) + overhead : undefined;
}

function annotationDemand(pod: PodLike, dimension: Dimension): number | undefined {
  const key = BANDWIDTH_ANNOTATION[dimension];
  if (key === undefined) return undefined;
  const raw = pod.metadata?.annotations?.[key];
  if (raw === undefined) return undefined;
  const parsed = parseQuantity(raw);
  if (!parsed.ok) throw new InvalidQuantity(`annotation ${key} ${JSON.stringify(raw)} ${parsed.problem}`);
  return parsed.value;
}

/**
 * Reads the pod's demand: extended resources first, then the CNI bandwidth annotations for a
 * bandwidth dimension that no extended resource gives. A zero demand counts as no demand.
 */
export function podDemand(pod: PodLike): DemandResult {
  const demand: Amounts = {};
  let none = true;
  try {
    for (const d of DIMENSIONS) {
      const value = effectiveRequest(pod, d) ?? annotationDemand(pod, d);
      if (value !== undefined && value > 0) {
        demand[d] = value;
        none = false;
      }
    }
  } catch (err) {
    if (err instanceof InvalidQuantity) return { ok: false, problem: err.message };
    throw err;
  }
  return { ok: true, demand, none };
}
