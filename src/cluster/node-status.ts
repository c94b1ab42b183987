import { parseQuantity } from '../domain/quantity.js';
import { type Amounts, DIMENSIONS, EXTENDED_RESOURCE } from '../domain/resources.js';
import { nodeName } from './pod-records.js';

/**
 * ioplace's resources as a Node's status shows them. A map is undefined when the Node has no
 * `status.capacity` (or `status.allocatable`) at all, which a JSON patch must create before it can
 * add members to it; inside a map, only the dimensions the Node carries are present.
 */
export interface AdvertisedStatus {
  readonly capacity: Amounts | undefined;
  readonly allocatable: Amounts | undefined;
}

/** What ioplace keeps of a Node from the watch: its name and the resources it advertises. */
export interface NodeRecord {
  readonly name: string;
  readonly status: AdvertisedStatus;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** ioplace's dimensions in one resource list; a value that does not parse counts as absent. */
function readList(list: unknown): Amounts | undefined {
  if (!isObject(list)) return undefined;
  const amounts: Amounts = {};
  for (const d of DIMENSIONS) {
    const raw = list[EXTENDED_RESOURCE[d]];
    if (typeof raw !== 'string' && typeof raw !== 'number') continue;
    const parsed = parseQuantity(raw);
    if (parsed.ok) amounts[d] = parsed.value;
  }
  return amounts;
}

/** The record of a Node from the API (list item, watch event, PATCH answer), or undefined. */
export function decodeNode(object: unknown): NodeRecord | undefined {
  const name = nodeName(object);
  if (name === undefined) return undefined;
  const status = isObject(object) && isObject(object.status) ? object.status : {};
  return { name, status: { capacity: readList(status.capacity), allocatable: readList(status.allocatable) } };
}

export interface JsonPatchOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: string | Readonly<Record<string, string>>;
}

/** RFC 6901: `~` and `/` inside a member name are written `~0` and `~1` in a JSON pointer. */
export function pointerSegment(name: string): string {
  return name.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * A whole amount as a Kubernetes quantity: plain digits (the API server stores its canonical form,
 * "45k" for 45000, so the watch shows the figure back in another spelling; readers compare values).
 */
export function quantityText(amount: number): string {
  return BigInt(Math.floor(amount)).toString();
}

/**
 * The JSON patch (for the `nodes/status` subresource) that makes both `status.capacity` and
 * `status.allocatable` carry `wanted`, or an empty list when the Node already shows it. Both maps,
 * because the kubelet copies an extended resource's capacity into allocatable on its next status
 * update anyway, and the scheduler reads allocatable: writing both makes the figure count at once.
 * Only the dimensions in `wanted` are touched; "add" replaces a member that exists.
 */
export function advertisePatch(wanted: Amounts, observed: AdvertisedStatus): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  for (const field of ['capacity', 'allocatable'] as const) {
    const shown = observed[field];
    const missing: Record<string, string> = {};
    let anyMissing = false;
    for (const d of DIMENSIONS) {
      const amount = wanted[d];
      if (amount === undefined || shown?.[d] === amount) continue;
      missing[EXTENDED_RESOURCE[d]] = quantityText(amount);
      anyMissing = true;
    }
    if (!anyMissing) continue;
    if (shown === undefined) {
      ops.push({ op: 'add', path: `/status/${field}`, value: missing });
      continue;
    }
    for (const [resource, value] of Object.entries(missing)) {
      ops.push({ op: 'add', path: `/status/${field}/${pointerSegment(resource)}`, value });
    }
  }
  return ops;
}
