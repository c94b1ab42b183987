/**
 * The endpoints the fuzz test sends to, by verb: each one's method and path, and the shape of
 * its success answer (a `Shape` returns what is wrong, or undefined).
 */

/** One request to send: an endpoint's method and path, and any body as text or bytes. */
export interface FuzzRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: string | Uint8Array;
  /** Defaults to application/json when there is a body; null sends none. */
  readonly contentType?: string | null;
}

export type Shape = (body: unknown) => string | undefined;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function exactKeys(value: Record<string, unknown>, keys: readonly string[]): string | undefined {
  const have = Object.keys(value).sort();
  const want = [...keys].sort();
  return have.join() === want.join() ? undefined : `keys ${have.join()} instead of ${want.join()}`;
}

function recordOf(value: unknown, item: (v: unknown) => boolean): boolean {
  return isObject(value) && Object.values(value).every(item);
}

const isString = (v: unknown) => typeof v === 'string';
const isScore = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 10;
const isFigures = (v: unknown) => recordOf(v, (n) => typeof n === 'number' && Number.isFinite(n));

export const errorShape: Shape = (b) => {
  if (!isObject(b)) return 'not an object';
  return (
    exactKeys(b, ['error']) ?? (typeof b.error === 'string' && b.error !== '' ? undefined : 'empty error')
  );
};

const filterShape: Shape = (b) => {
  if (!isObject(b)) return 'not an object';
  const keys = exactKeys(b, ['Nodes', 'NodeNames', 'FailedNodes', 'FailedAndUnresolvableNodes', 'Error']);
  if (keys) return keys;
  if (b.Error !== '') return 'Error is not empty';
  if (b.NodeNames !== null && !(Array.isArray(b.NodeNames) && b.NodeNames.every(isString)))
    return 'NodeNames';
  if (b.Nodes !== null && !(isObject(b.Nodes) && isObject(b.Nodes.metadata) && Array.isArray(b.Nodes.items)))
    return 'Nodes';
  if (!recordOf(b.FailedNodes, isString) || !recordOf(b.FailedAndUnresolvableNodes, isString))
    return 'failed maps';
  const failed: Record<string, unknown> = {
    ...(b.FailedNodes as object),
    ...(b.FailedAndUnresolvableNodes as object),
  };
  for (const name of (b.NodeNames ?? []) as string[])
    if (Object.hasOwn(failed, name)) return `${name} passed and failed`;
  return undefined;
};

const prioritizeShape: Shape = (b) => {
  if (!Array.isArray(b)) return 'not an array';
  for (const entry of b) {
    if (!isObject(entry)) return 'entry not an object';
    const keys = exactKeys(entry, ['Host', 'Score']);
    if (keys) return keys;
    if (!isString(entry.Host) || !isScore(entry.Score)) return `bad entry ${JSON.stringify(entry)}`;
  }
  return undefined;
};

const bindShape: Shape = (b) =>
  isObject(b) ? (exactKeys(b, ['Error']) ?? (isString(b.Error) ? undefined : 'Error')) : 'not an object';

const preemptShape: Shape = (b) => {
  if (!isObject(b)) return 'not an object';
  const keys = exactKeys(b, ['NodeNameToMetaVictims']);
  if (keys) return keys;
  const ok = recordOf(
    b.NodeNameToMetaVictims,
    (v) =>
      isObject(v) &&
      Array.isArray(v.Pods) &&
      v.Pods.length > 0 &&
      v.Pods.every((p) => isObject(p) && isString(p.UID) && p.UID !== '') &&
      Number.isInteger(v.NumPDBViolations) &&
      (v.NumPDBViolations as number) >= 0,
  );
  return ok ? undefined : 'NodeNameToMetaVictims';
};

const nodeViewShape: Shape = (b) => {
  if (!isObject(b)) return 'not an object';
  const keys = exactKeys(b, [
    'node',
    'fresh',
    'receivedAt',
    'ageSeconds',
    'capacity',
    'usage',
    'committed',
    'commitments',
    'allocatable',
    'free',
    'capacityUnknown',
  ]);
  if (keys) return keys;
  const dims = ['ingressBandwidth', 'egressBandwidth', 'iops'];
  if (!Array.isArray(b.capacityUnknown) || !b.capacityUnknown.every((d) => dims.includes(d)))
    return 'capacityUnknown';
  if (!isString(b.node) || typeof b.fresh !== 'boolean' || Number.isNaN(Date.parse(String(b.receivedAt))))
    return 'node, fresh or receivedAt';
  if (![b.capacity, b.usage, b.committed, b.allocatable, b.free].every(isFigures)) return 'figures';
  if (!recordOf(b.free, (n) => (n as number) >= 0)) return 'negative free';
  const parts = b.commitments;
  if (
    !isObject(parts) ||
    exactKeys(parts, ['pods', 'unmeasured', 'reserved']) ||
    !Object.values(parts).every(isFigures)
  )
    return 'commitments';
  return undefined;
};

const nodeListShape: Shape = (b) => {
  if (!isObject(b)) return 'not an object';
  const keys = exactKeys(b, ['nodes', 'count', 'fresh', 'stale']);
  if (keys) return keys;
  if (!Array.isArray(b.nodes) || b.count !== b.nodes.length) return 'count';
  for (const n of b.nodes) {
    const problem = nodeViewShape(n);
    if (problem) return `node: ${problem}`;
  }
  return undefined;
};

const explainShape: Shape = (b) => {
  if (!isObject(b)) return 'not an object';
  if (!isString(b.pod) || !isObject(b.settings) || !Array.isArray(b.nodes)) return 'pod, settings or nodes';
  if (b.demand !== null && !isFigures(b.demand)) return 'demand';
  for (const n of b.nodes) {
    if (!isObject(n) || !isString(n.node) || typeof n.fits !== 'boolean' || !isScore(n.score))
      return `node ${JSON.stringify(n).slice(0, 200)}`;
    if (isObject(n.preview) && !isScore(n.preview.score)) return 'preview score';
  }
  return undefined;
};

export type Verb =
  | 'filter'
  | 'prioritize'
  | 'bind'
  | 'preempt'
  | 'explain'
  | 'report'
  | 'node'
  | 'forget'
  | 'list';

export const SUCCESS: Record<Verb, { status: number; shape: Shape }> = {
  filter: { status: 200, shape: filterShape },
  prioritize: { status: 200, shape: prioritizeShape },
  bind: { status: 200, shape: bindShape },
  preempt: { status: 200, shape: preemptShape },
  explain: { status: 200, shape: explainShape },
  report: { status: 200, shape: nodeViewShape },
  node: { status: 200, shape: nodeViewShape },
  forget: { status: 204, shape: () => undefined },
  list: { status: 200, shape: nodeListShape },
};

export const SCHEDULER_VERBS = ['filter', 'prioritize', 'bind', 'preempt'] as const;
export const BODY_VERBS = [...SCHEDULER_VERBS, 'explain', 'report', 'forget'] as const;

export function pathOf(verb: Verb, nodeName = 'node-a'): FuzzRequest['path'] {
  const name = safeEncode(nodeName);
  switch (verb) {
    case 'explain':
      return '/v1/explain';
    case 'report':
      return `/v1/nodes/${name}/report`;
    case 'node':
    case 'forget':
      return `/v1/nodes/${name}`;
    case 'list':
      return '/v1/nodes';
    default:
      return `/scheduler/${verb}`;
  }
}

export function methodOf(verb: Verb): FuzzRequest['method'] {
  if (verb === 'report') return 'PUT';
  if (verb === 'forget') return 'DELETE';
  if (verb === 'node' || verb === 'list') return 'GET';
  return 'POST';
}

/** encodeURIComponent, which refuses lone surrogates: those go as U+FFFD. */
export function safeEncode(text: string): string {
  return encodeURIComponent(
    text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'),
  );
}
