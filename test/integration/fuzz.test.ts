/**
 * Fuzzing every HTTP endpoint over a real socket. Bodies are random JSON, random bytes, truncated
 * JSON and, most of all, mutations of the real kube-scheduler captures (a key deleted, a value of
 * another type, keys in another case or twice, huge numbers, long strings, odd node names), sent
 * with wrong content types too; and, place by place, 5000 levels of nesting in every value of the
 * captures. Whatever arrives:
 *  - the answer is never a 5xx;
 *  - a 4xx carries exactly `{"error": "..."}`, a 2xx the endpoint's own shape;
 *  - a refused PUT or DELETE leaves the inventory as it was (GET /v1/nodes before and after);
 *  - the same server still answers a known-good request after every batch.
 * Each server logs at `error` into a buffer; a failure quotes the request, the answer and the log
 * lines it caused (with the stack of a 500). fast-check prints the seed and path of a failure, and
 * `{ seed, path }` in the assert's parameters replays it.
 */
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { capture } from '../support/captures.js';
import { FAST_CLUSTER, node, pod } from '../support/cluster-harness.js';
import { FakeApiServer, waitFor } from '../support/fake-apiserver.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/** Ample for the few thousand requests below on 2 cores; each batch takes a few seconds. */
const BATCH_TIMEOUT_MS = 120_000;

/** Counts requests, for the report at the end. */
const volume = { requests: 0, byStatus: new Map<number, number>(), byVerb: new Map<string, number>() };

// ---------------------------------------------------------------------------------------------
// Servers under test

interface Target {
  readonly name: string;
  readonly server: TestServer;
  /** Lines the server logged at `error` (500s log their stack here). */
  readonly log: string[];
  /** Clock time of the last seedInventory: reports go stale 30 s later. */
  readonly seeded: { at: number };
  close(): Promise<void>;
}

function bufferLogger() {
  const log: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void log.push(line) });
  return { log, logger };
}

async function startStandalone(): Promise<Target> {
  const { log, logger } = bufferLogger();
  const server = await startTestServer({}, { logger });
  return { name: 'standalone', server, log, seeded: { at: 0 }, close: () => server.close() };
}

/** The scheduler's node names in the captures, and the victims of preempt-nodecache-true. */
const CAPTURED_NODES = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'];
const VICTIMS: Record<string, string> = {
  'node-a': '3537e209-a7a8-4e89-874c-b63a3d042181',
  'node-b': '6aa96f05-e931-4ee8-a0b1-a955a5e9f1d4',
  'node-c': 'dd917100-c2e2-4cb0-a089-70eb65836f47',
};

/**
 * As startCluster (test/support/cluster-harness.ts), with the logger this file reads: a fake API
 * server with the captured nodes, victims that ask for I/O bound to three of them, and the
 * captured bind's pod waiting to be bound.
 */
async function startClusterMode(): Promise<Target> {
  const api = await FakeApiServer.start();
  for (const name of CAPTURED_NODES) api.addNode(node(name));
  for (const [nodeName, uid] of Object.entries(VICTIMS)) {
    api.addPod(pod(`victim-${nodeName}`, { node: nodeName, iops: '2k', ingress: '100M', uid }));
  }
  api.addPod(pod('bind-1', { iops: '1k', uid: 'c6067e08-5450-43c3-babd-6d977d677c73' }));
  const { log, logger } = bufferLogger();
  const server = await startTestServer(FAST_CLUSTER, { kubeConfig: api.kubeConfig(), logger });
  await waitFor(() => server.app.cluster?.synced, 5000, 'the initial list');
  return {
    name: 'cluster',
    server,
    log,
    seeded: { at: 0 },
    close: async () => {
      await server.close();
      await api.close();
    },
  };
}

/** Gives the captured nodes figures, so that filter, prioritize and preempt get past "no report". */
async function seedInventory(target: Target): Promise<void> {
  for (const [i, name] of CAPTURED_NODES.entries()) {
    target.server.clock.now += 1000;
    const res = await send(target, {
      method: 'PUT',
      path: `/v1/nodes/${name}/report`,
      body: JSON.stringify({
        capacity: { ingressBandwidth: 1e9 * (i + 1), egressBandwidth: 1e9, iops: 10_000 * i },
        usage: { ingressBandwidth: 1e8, iops: 1000 },
      }),
    });
    expect(res.status, res.text).toBe(200);
    volume.requests++;
  }
  target.seeded.at = target.server.clock.now;
}

// ---------------------------------------------------------------------------------------------
// Requests and what every answer must look like

interface FuzzRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: string | Uint8Array;
  /** Defaults to application/json when there is a body; null sends none. */
  readonly contentType?: string | null;
}

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly contentType: string | null;
}

async function send(target: Target, request: FuzzRequest): Promise<Answer> {
  const headers: Record<string, string> = {};
  const { body } = request;
  const contentType = request.contentType === undefined ? 'application/json' : request.contentType;
  if (body !== undefined && contentType !== null) headers['content-type'] = contentType;
  // Bytes, so that fetch adds no content type of its own.
  const payload = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const response = await fetch(`${target.server.url}${request.path}`, {
    method: request.method,
    headers,
    body: payload,
  });
  return {
    status: response.status,
    text: await response.text(),
    contentType: response.headers.get('content-type'),
  };
}

function preview(body: FuzzRequest['body']): string {
  if (body === undefined) return '(none)';
  const text = typeof body === 'string' ? body : `bytes ${Buffer.from(body).toString('hex')}`;
  return text.length <= 600
    ? JSON.stringify(text)
    : `${JSON.stringify(text.slice(0, 600))}... (${text.length} chars)`;
}

/** Thrown from a property: fast-check reports it with the shrunk input. */
function failure(
  target: Target,
  request: FuzzRequest,
  answer: Answer,
  problem: string,
  logFrom: number,
): Error {
  const log = target.log.slice(logFrom).join('').trim();
  return new Error(
    [
      `${problem}`,
      `server: ${target.name}`,
      `request: ${request.method} ${request.path} content-type ${JSON.stringify(request.contentType ?? 'application/json')}`,
      `body: ${preview(request.body)}`,
      `answer: ${answer.status} ${answer.contentType ?? ''} ${answer.text.slice(0, 600)}`,
      `server log:\n${log === '' ? '(nothing at error level)' : log}`,
    ].join('\n'),
  );
}

type Shape = (body: unknown) => string | undefined;

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

const errorShape: Shape = (b) => {
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

type Verb = 'filter' | 'prioritize' | 'bind' | 'preempt' | 'explain' | 'report' | 'node' | 'forget' | 'list';

const SUCCESS: Record<Verb, { status: number; shape: Shape }> = {
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

const SCHEDULER_VERBS = ['filter', 'prioritize', 'bind', 'preempt'] as const;
const BODY_VERBS = [...SCHEDULER_VERBS, 'explain', 'report', 'forget'] as const;

function pathOf(verb: Verb, nodeName = 'node-a'): FuzzRequest['path'] {
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

function methodOf(verb: Verb): FuzzRequest['method'] {
  if (verb === 'report') return 'PUT';
  if (verb === 'forget') return 'DELETE';
  if (verb === 'node' || verb === 'list') return 'GET';
  return 'POST';
}

/** encodeURIComponent, which refuses lone surrogates: those go as U+FFFD. */
function safeEncode(text: string): string {
  return encodeURIComponent(
    text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'),
  );
}

/**
 * Sends one request and checks the answer against the invariants; a refused PUT or DELETE must
 * leave GET /v1/nodes exactly as it was.
 */
async function exercise(target: Target, verb: Verb, request: FuzzRequest): Promise<Answer> {
  // Reports age with every PUT below: give the captured nodes fresh figures again now and then.
  if (target.server.clock.now - target.seeded.at > 20_000) await seedInventory(target);
  const changes = request.method === 'PUT' || request.method === 'DELETE';
  // A second of the fake clock per report keeps the per-node rate limit out of the way.
  if (request.method === 'PUT') target.server.clock.now += 1000;
  const before = changes ? await send(target, { method: 'GET', path: '/v1/nodes' }) : undefined;
  const logFrom = target.log.length;
  const answer = await send(target, request);
  volume.requests += before === undefined ? 1 : 3;
  volume.byStatus.set(answer.status, (volume.byStatus.get(answer.status) ?? 0) + 1);
  const bound =
    verb === 'bind' && answer.status === 200 ? (answer.text === '{"Error":""}' ? ' bound' : ' Error') : '';
  const outcome = `${target.name} ${verb} ${answer.status}${bound}`;
  volume.byVerb.set(outcome, (volume.byVerb.get(outcome) ?? 0) + 1);
  const fail = (problem: string) => failure(target, request, answer, problem, logFrom);

  if (answer.status >= 500) throw fail(`answered ${answer.status}`);
  if (answer.status < 200 || (answer.status >= 300 && answer.status < 400)) throw fail('unexpected status');
  const isJson = answer.contentType?.includes('application/json') ?? false;
  let body: unknown;
  if (answer.status === 204) {
    if (answer.text !== '') throw fail('204 with a body');
  } else {
    if (!isJson) throw fail('answer is not JSON');
    try {
      body = JSON.parse(answer.text);
    } catch {
      throw fail('answer does not parse');
    }
  }
  if (answer.status >= 400) {
    const problem = errorShape(body);
    if (problem) throw fail(`error body: ${problem}`);
  } else {
    const success = SUCCESS[verb];
    if (answer.status !== success.status) throw fail(`status ${answer.status} from ${verb}`);
    const problem = success.shape(body);
    if (problem) throw fail(`${verb} answer: ${problem}`);
  }

  const errors = target.log.slice(logFrom).filter((line) => /"level":(50|60)/.test(line));
  if (errors.length > 0) throw fail('an error was logged');
  // A pod really bound (cluster mode): let the pod watch catch up before the next inventory
  // snapshot, so that only the requests under test change what GET /v1/nodes shows.
  if (bound === ' bound') {
    const { reservations } = target.server.app;
    await waitFor(() => reservations.size === 0, 5000, 'the pod watch to show the bound pod');
  }

  if (before !== undefined) {
    const after = await send(target, { method: 'GET', path: '/v1/nodes' });
    if (answer.status >= 400 && after.text !== before.text) {
      throw fail(
        `a refused ${request.method} changed the inventory:\nbefore ${before.text}\nafter  ${after.text}`,
      );
    }
    // An accepted one shows at once: the stored entry as the PUT answered it, or none after DELETE.
    const entryPath = request.path.replace(/\/report$/, '');
    if (answer.status < 300) {
      const entry = await send(target, { method: 'GET', path: entryPath });
      volume.requests++;
      const expected = request.method === 'PUT' ? `200 ${answer.text}` : '404';
      const got = request.method === 'PUT' ? `${entry.status} ${entry.text}` : String(entry.status);
      if (got !== expected) throw fail(`GET ${entryPath} then answered ${got}`);
    }
  }
  return answer;
}

/** The known-good request: the server still stores a report and filters by it. */
async function expectStillServing(target: Target): Promise<void> {
  target.server.clock.now += 1000;
  const report = await send(target, {
    method: 'PUT',
    path: '/v1/nodes/node-a/report',
    body: JSON.stringify({ capacity: { ingressBandwidth: 1e10, egressBandwidth: 1e10, iops: 50_000 } }),
  });
  expect(report.status, report.text).toBe(200);
  const args = capture<Record<string, unknown>>('filter-nodecache-true'); // asks 100M in, 50M out
  const res = await send(target, {
    method: 'POST',
    path: '/scheduler/filter',
    body: JSON.stringify({ ...args, NodeNames: ['node-a'] }),
  });
  expect(res.status, res.text).toBe(200);
  expect(JSON.parse(res.text)).toMatchObject({ NodeNames: ['node-a'], FailedNodes: {}, Error: '' });
}

// ---------------------------------------------------------------------------------------------
// Bodies

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Text put verbatim where a value goes: numbers JSON.stringify cannot write, deep nesting. */
class Raw {
  constructor(readonly text: string) {}
}

/** Extra members written into an object's text next to an existing one: keys twice. */
interface Duplicate {
  readonly key: string;
  readonly text: string;
  readonly first: boolean;
}

type Tree = Json | Raw | Tree[] | { [key: string]: Tree };

/**
 * JSON.stringify, but Raw stays raw and duplicates are written. Recursive: it only walks the
 * captures' own depth, as deep nesting goes in as Raw text.
 */
function serialize(value: Tree, duplicates: WeakMap<object, Duplicate[]>): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value)) return `[${value.map((v) => serialize(v, duplicates)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${serialize(v, duplicates)}`);
    for (const d of duplicates.get(value) ?? []) {
      const member = `${JSON.stringify(d.key)}:${d.text}`;
      if (d.first) members.unshift(member);
      else members.push(member);
    }
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

interface Slot {
  readonly parent: Tree[] | { [key: string]: Tree };
  readonly key: string | number;
  readonly path: readonly (string | number)[];
}

/** Every place a value sits in the tree, breadth first. */
function slots(root: Tree): Slot[] {
  const out: Slot[] = [];
  const queue: { value: Tree; path: (string | number)[] }[] = [{ value: root, path: [] }];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const { value, path } = next;
    if (value instanceof Raw || value === null || typeof value !== 'object') continue;
    const entries: [string | number, Tree][] = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : Object.entries(value);
    for (const [key, child] of entries) {
      out.push({ parent: value, key, path: [...path, key] });
      queue.push({ value: child, path: [...path, key] });
    }
  }
  return out;
}

function valueAt(slot: Slot): Tree {
  return (slot.parent as Record<string | number, Tree>)[slot.key] as Tree;
}

function put(slot: Slot, value: Tree): void {
  if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
  // defineProperty: a key such as "__proto__" must become a member, not the prototype.
  else
    Object.defineProperty(slot.parent, slot.key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
}

/** Renames a member in place, keeping the order of the members. */
function rename(slot: Slot, to: string): void {
  const parent = slot.parent as Record<string, Tree>;
  const entries = Object.entries(parent).map(([k, v]): [string, Tree] => [k === slot.key ? to : k, v]);
  for (const k of Object.keys(parent)) delete parent[k];
  for (const [k, v] of entries)
    Object.defineProperty(parent, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** Where node names sit: NodeNames, Nodes.items[].metadata.name, bind's Node, explain's nodes, victim maps' keys. */
function isNameSlot(slot: Slot): boolean {
  const [first, ...rest] = slot.path.map((p) => (typeof p === 'string' ? p.toLowerCase() : p));
  const value = valueAt(slot);
  if ((first === 'nodenames' || first === 'nodes') && rest.length === 1 && typeof value === 'string')
    return true;
  if (first === 'nodes' && rest[0] === 'items' && rest.at(-1) === 'name') return true;
  if (first === 'node' && rest.length === 0) return true;
  return typeof first === 'string' && first.startsWith('nodenameto') && rest.length === 1;
}

const NUMBER_TOKENS = [
  '1e400',
  '-1e400',
  '-0',
  '-0.0',
  '1e308',
  '-1e308',
  '1.7976931348623157e308',
  '5e-324',
  '1e-400',
  '123456789012345678901234567890',
  '9007199254740993',
  '0.1e1',
  '1E+2',
  '1e18',
  '1000000000000000001',
];

/** Strings that make trouble in names and keys: NUL, controls, bidi, surrogates, long. */
const weirdString = fc.oneof(
  fc.constantFrom(
    '',
    '\u0000',
    'node-a\u0000',
    'a\u0000b',
    '\u202enode-a',
    '\ufeffnode-a',
    'node-a\n',
    '\ud800',
    '\udfff\ud800',
    'ñode',
    '節点',
    '🚀',
    'NODE-A',
    'Node-A',
    ' node-a',
    '../../etc/passwd',
    '%00',
    '%',
    '__proto__',
    'constructor',
    'prototype',
    'hasOwnProperty',
    'a'.repeat(253),
    'a'.repeat(254),
  ),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const longString = fc
  .tuple(fc.constantFrom('a', 'é', '🚀', '\u0000', '\\'), fc.constantFrom(254, 1000, 65_536, 1 << 20))
  .map(([unit, length]) => unit.repeat(Math.ceil(length / unit.length)));

const json = (maxDepth: number) => fc.jsonValue({ maxDepth }) as fc.Arbitrary<Json>;

/** One value of each JSON type, in the order of `kindOf`. */
const oneOfEachType = fc.tuple(
  fc.constant(null),
  fc.boolean(),
  fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  fc.string({ maxLength: 10 }),
  fc.array(json(2), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), json(2), { maxKeys: 3 }),
);

function kindOf(value: Tree): number {
  if (value === null) return 0;
  if (typeof value === 'boolean') return 1;
  if (typeof value === 'number') return 2;
  if (typeof value === 'string') return 3;
  return Array.isArray(value) ? 4 : 5;
}

/** One edit of a parsed capture; `at` picks the place, modulo the places there are. */
type Mutation =
  | { readonly op: 'delete'; readonly at: number }
  | { readonly op: 'retype'; readonly at: number; readonly values: readonly Json[]; readonly shift: number }
  | { readonly op: 'replace'; readonly at: number; readonly value: Json }
  | { readonly op: 'recase'; readonly at: number; readonly how: 'lower' | 'upper' | 'swap' }
  | {
      readonly op: 'duplicate';
      readonly at: number;
      readonly value: Json;
      readonly first: boolean;
      readonly recase: boolean;
    }
  | { readonly op: 'number'; readonly at: number; readonly token: string }
  | { readonly op: 'long'; readonly at: number; readonly text: string }
  | { readonly op: 'weird'; readonly at: number; readonly text: string; readonly inKey: boolean };

const at = fc.nat();
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at }),
  fc.record({
    op: fc.constant('retype' as const),
    at,
    values: oneOfEachType,
    shift: fc.integer({ min: 1, max: 5 }),
  }),
  fc.record({ op: fc.constant('replace' as const), at, value: json(3) }),
  fc.record({ op: fc.constant('recase' as const), at, how: fc.constantFrom('lower', 'upper', 'swap') }),
  fc.record({
    op: fc.constant('duplicate' as const),
    at,
    value: json(2),
    first: fc.boolean(),
    recase: fc.boolean(),
  }),
  fc.record({ op: fc.constant('number' as const), at, token: fc.constantFrom(...NUMBER_TOKENS) }),
  fc.record({ op: fc.constant('long' as const), at, text: longString }),
  fc.record({ op: fc.constant('weird' as const), at, text: weirdString, inKey: fc.boolean() }),
);

function swapCase(text: string): string {
  return [...text].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
}

function pick<T>(items: readonly T[], index: number): T | undefined {
  return items.length === 0 ? undefined : items[index % items.length];
}

/** Applies the mutations to a copy of `base` and writes the result as JSON text. */
function mutate(base: Json, mutations: readonly Mutation[]): string {
  const root = structuredClone(base) as Tree;
  const duplicates = new WeakMap<object, Duplicate[]>();
  for (const m of mutations) {
    const all = slots(root);
    const members = all.filter((s) => !Array.isArray(s.parent));
    switch (m.op) {
      case 'delete': {
        const slot = pick(members, m.at);
        if (slot) delete (slot.parent as Record<string, Tree>)[slot.key as string];
        break;
      }
      case 'retype': {
        const slot = pick(all, m.at);
        // A value of another JSON type than the one there.
        if (slot) put(slot, m.values[(kindOf(valueAt(slot)) + m.shift) % m.values.length] ?? null);
        break;
      }
      case 'replace': {
        const slot = pick(all, m.at);
        if (slot) put(slot, m.value);
        break;
      }
      case 'recase': {
        const slot = pick(members, m.at);
        const key = slot?.key as string;
        if (slot)
          rename(
            slot,
            m.how === 'lower' ? key.toLowerCase() : m.how === 'upper' ? key.toUpperCase() : swapCase(key),
          );
        break;
      }
      case 'duplicate': {
        const slot = pick(members, m.at);
        if (slot) {
          const key = m.recase ? swapCase(slot.key as string) : (slot.key as string);
          const list = duplicates.get(slot.parent) ?? [];
          list.push({ key, text: JSON.stringify(m.value), first: m.first });
          duplicates.set(slot.parent, list);
        }
        break;
      }
      case 'number': {
        const slot = pick(all, m.at);
        if (slot) put(slot, new Raw(m.token));
        break;
      }
      case 'long': {
        const slot = pick(all, m.at);
        if (slot) put(slot, m.text);
        break;
      }
      case 'weird': {
        // Node names first: that is where such strings come from.
        const names = all.filter(isNameSlot);
        const slot = pick(names.length > 0 ? names : all, m.at);
        if (!slot) break;
        if (m.inKey && !Array.isArray(slot.parent)) rename(slot, m.text);
        else put(slot, m.text);
        break;
      }
    }
  }
  return serialize(root, duplicates);
}

// The captures, by verb, as parsed JSON.
const CAPTURE_FILES: Record<'filter' | 'prioritize' | 'preempt' | 'bind', string[]> = {
  filter: [
    'filter-nodecache-true',
    'filter-nodecache-false',
    'filter-nodecache-true-plainpod',
    'filter-managed-resource',
    'filter-preemptor-after-preemption-nodecache-true',
    'filter-preemptor-after-preemption-nodecache-false',
    'filter-reject-all',
  ],
  prioritize: [
    'prioritize-nodecache-true',
    'prioritize-nodecache-false',
    'prioritize-lowercase-response-keys',
  ],
  preempt: ['preempt-nodecache-true', 'preempt-nodecache-false'],
  bind: ['bind', 'bind-error-then-ok'],
};
const CAPTURES = Object.fromEntries(
  Object.entries(CAPTURE_FILES).map(([verb, files]) => [verb, files.map((f) => capture<Json>(f) as Json)]),
) as Record<keyof typeof CAPTURE_FILES, Json[]>;

/** Quantities a pod may ask with, good and bad. */
const quantity = fc.oneof(
  fc.constantFrom('2k', '100M', '1G', '1500m', '1Gi', '1e3', '0', '-5', '1e400', 'abc', '', ' 1k', '1.5.5'),
  fc.integer({ min: 0, max: 1_000_000 }).map(String),
  fc.integer({ min: 0, max: 1_000_000 }),
);
const podDemandEdit = fc.record(
  {
    'ioplace.io/iops': quantity,
    'ioplace.io/ingress-bandwidth': quantity,
    'ioplace.io/egress-bandwidth': quantity,
  },
  { requiredKeys: [] },
);

/** The capture with I/O requests on its pod's first container (the captured pods ask for CPU only). */
function withDemand(base: Json, requests: Record<string, string | number>): Json {
  const copy = structuredClone(base) as { [key: string]: Json };
  const podJson = copy.Pod as
    | { spec?: { containers?: { resources?: { requests?: Record<string, Json> } }[] } }
    | undefined;
  const container = podJson?.spec?.containers?.[0];
  if (container !== undefined) {
    container.resources ??= {};
    container.resources.requests = { ...container.resources.requests, ...requests };
  }
  return copy as Json;
}

const explainBase = (pod: Json, nodes: boolean): Json => ({
  pod,
  preview: {
    strategy: 'pack',
    weights: { iops: 3 },
    reserveFraction: 0.2,
    unknownNodes: 'allow',
    staleAfterSeconds: 60,
  },
  ...(nodes ? { nodes: ['node-a', 'node-b', 'never-reported'] } : {}),
});

const REPORTS: Json[] = [
  { capacity: { ingressBandwidth: 1e9, egressBandwidth: 1e9, iops: 50_000 }, usage: { iops: 2000 } },
  { capacity: { iops: 100 } },
  { capacity: {}, usage: {} },
];

/** What the deep-nesting scan goes through, place by place: one base of each kind per verb. */
const SCAN_BASES: Partial<Record<Verb, [string, Json][]>> = {
  filter: CAPTURE_FILES.filter.map((f) => [f, capture<Json>(f)]),
  prioritize: [['prioritize-nodecache-false', capture<Json>('prioritize-nodecache-false')]],
  preempt: CAPTURE_FILES.preempt.map((f) => [f, capture<Json>(f)]),
  bind: [['bind', capture<Json>('bind')]],
  explain: [
    [
      'explain of filter-nodecache-true',
      explainBase((capture<{ Pod: Json }>('filter-nodecache-true') as { Pod: Json }).Pod, true),
    ],
  ],
  report: [['report', REPORTS[0] as Json]],
};

/** A capture of the verb (or, now and then, of another verb), possibly with I/O demand, as a base to mutate. */
function baseFor(verb: (typeof BODY_VERBS)[number]): fc.Arbitrary<Json> {
  const pods = CAPTURES.filter.map((c) => (c as { Pod: Json }).Pod);
  switch (verb) {
    case 'report':
      return fc.constantFrom(...REPORTS);
    case 'forget':
      return fc.constantFrom<Json>({}, null, REPORTS[0] as Json);
    case 'explain':
      return fc.tuple(fc.constantFrom(...pods), podDemandEdit, fc.nat(2)).map(([p, demand, form]) => {
        const podWith = (withDemand({ Pod: p }, demand) as { Pod: Json }).Pod;
        return form === 0 ? podWith : explainBase(podWith, form === 1);
      });
    default: {
      const own = CAPTURES[verb];
      const any = Object.values(CAPTURES).flat();
      return fc
        .tuple(
          fc.oneof(
            { weight: 5, arbitrary: fc.constantFrom(...own) },
            { weight: 1, arbitrary: fc.constantFrom(...any) },
          ),
          fc.option(podDemandEdit),
        )
        .map(([base, demand]) => (demand === null ? base : withDemand(base, demand)));
    }
  }
}

const NODE_NAMES = ['node-a', 'node-b', 'node-c', 'fuzz-1', 'fuzz-2'];
/** The server's routerOptions.maxParamLength (src/http/create-server.ts). */
const MAX_PARAM_LENGTH = 300;

// ---------------------------------------------------------------------------------------------
// Properties

describe.each([
  ['standalone', startStandalone],
  ['cluster mode', startClusterMode],
] as const)('fuzzing a server (%s)', (mode, start) => {
  let target: Target;
  const standalone = mode === 'standalone';
  /** Cluster mode repeats the batches that differ there (bind, preempt, reports) at a smaller volume. */
  const runs = (n: number) => (standalone ? n : Math.ceil(n / 2));
  const verbsHere = standalone ? BODY_VERBS : (['bind', 'preempt', 'report', 'filter'] as const);
  /** The deep scan in cluster mode: only what reads the cluster's state differently. */
  const scanVerbs = standalone ? BODY_VERBS.filter((v) => v !== 'forget') : (['bind', 'preempt'] as const);

  beforeAll(async () => {
    target = await start();
    await seedInventory(target);
  });
  afterAll(async () => {
    await target?.close();
  });

  it(
    'survives mutations of the captured requests',
    async () => {
      const verbs = verbsHere.filter((v) => v !== 'forget');
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...verbs).chain((verb) =>
            fc.record({
              verb: fc.constant(verb),
              base: baseFor(verb),
              mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
              nodeName: fc.constantFrom(...NODE_NAMES),
            }),
          ),
          async ({ verb, base, mutations, nodeName }) => {
            await exercise(target, verb, {
              method: methodOf(verb),
              path: pathOf(verb, nodeName),
              body: mutate(base, mutations),
            });
          },
        ),
        { numRuns: runs(900) },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives well-formed bind and preempt requests with odd names, uids and victims',
    async () => {
      const pods = ['bind-1', ...Object.keys(VICTIMS).map((n) => `victim-${n}`)];
      const uids = ['c6067e08-5450-43c3-babd-6d977d677c73', ...Object.values(VICTIMS)];
      const podName = fc.oneof(
        fc.constantFrom(...pods),
        weirdString.filter((t) => t.length > 0 && t.length <= 253),
      );
      const namespace = fc.oneof(
        fc.constant('default'),
        weirdString.filter((t) => t.length > 0 && t.length <= 63),
      );
      const uid = fc.oneof(
        fc.constantFrom('', ...uids),
        weirdString.filter((t) => t.length <= 128),
      );
      const nodeName = fc.oneof(
        fc.constantFrom(...CAPTURED_NODES),
        weirdString.filter((t) => t.length > 0 && t.length <= 253),
      );
      const bindArgs = fc.record({ PodName: podName, PodNamespace: namespace, PodUID: uid, Node: nodeName });
      const victims = fc.dictionary(
        nodeName,
        fc.record(
          {
            Pods: fc.array(fc.record({ UID: uid.filter((t) => t.length > 0) }), { maxLength: 3 }),
            NumPDBViolations: fc.nat(3),
          },
          { requiredKeys: [] },
        ),
        { maxKeys: 4 },
      );
      const preemptArgs = fc
        .tuple(
          fc.constantFrom(...CAPTURES.filter.map((c) => (c as { Pod: Json }).Pod)),
          podDemandEdit,
          victims,
        )
        .map(([p, demand, meta]) => ({
          ...(withDemand({ Pod: p }, demand) as { Pod: Json }),
          NodeNameToVictims: null,
          NodeNameToMetaVictims: meta,
        }));
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            bindArgs.map((args) => ['bind', args] as const),
            preemptArgs.map((args) => ['preempt', args] as const),
          ),
          async ([verb, args]) => {
            await exercise(target, verb, { method: 'POST', path: pathOf(verb), body: JSON.stringify(args) });
          },
        ),
        { numRuns: 300 },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives random JSON of any shape',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...verbsHere),
          fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.anything({ maxDepth: 3 })),
          async (verb, value) => {
            // fc.anything goes through JSON.stringify, as any client's would; what it cannot write is sent as nothing.
            const body = JSON.stringify(value) ?? '';
            await exercise(target, verb, { method: methodOf(verb), path: pathOf(verb), body });
          },
        ),
        { numRuns: runs(400) },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives random bytes, noise and truncated JSON',
    async () => {
      const noise = fc.oneof(
        fc.uint8Array({ maxLength: 2048 }),
        fc.string({
          unit: fc.constantFrom(...'{}[]",:0123456789.eE+-truefalsenul \\u\n'.split('')),
          maxLength: 200,
        }),
        fc.string({ unit: 'binary', maxLength: 200 }),
      );
      const truncated = fc
        .tuple(fc.constantFrom(...BODY_VERBS.filter((v) => v !== 'forget')), fc.integer({ min: 0, max: 999 }))
        .chain(([verb, permille]) =>
          baseFor(verb).map((base) => {
            const text = JSON.stringify(base);
            return text.slice(0, Math.floor((text.length * permille) / 1000));
          }),
        );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...verbsHere), fc.oneof(noise, truncated), async (verb, body) => {
          await exercise(target, verb, { method: methodOf(verb), path: pathOf(verb), body });
        }),
        { numRuns: runs(400) },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives wrong, odd and missing content types',
    async () => {
      const contentType = fc.oneof(
        fc.constantFrom(
          null,
          '',
          'text/plain',
          'text/json',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/octet-stream',
          'application/JSON',
          'APPLICATION/JSON; CHARSET=UTF-8',
          'application/json;',
          'application/json; charset=utf-16',
          'application/json; charset=latin1',
          'application/json; charset="utf-8"',
          'application/json, text/plain',
          'application/problem+json',
          'application/merge-patch+json',
          'application/yaml',
          'text/yaml',
          'application/x-yaml',
          '*/*',
          'application/json; boundary=\u0001',
          `application/json; x=${'a'.repeat(2000)}`,
        ),
        fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...verbsHere).chain((verb) =>
            fc.record({
              verb: fc.constant(verb),
              base: verb === 'forget' ? fc.constant<Json>({}) : baseFor(verb),
              contentType,
            }),
          ),
          async ({ verb, base, contentType: type }) => {
            const body = type?.includes('yaml') ? toYaml(base) : JSON.stringify(base);
            // Header values fetch refuses (control characters) are a client-side error, not a request.
            const sendable = type === null || /^[\t\x20-\x7e]*$/.test(type);
            await exercise(target, verb, {
              method: methodOf(verb),
              path: pathOf(verb),
              body,
              contentType: sendable ? type : 'text/plain',
            });
          },
        ),
        { numRuns: runs(200) },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives odd node names in the inventory paths, and refusals change nothing',
    async () => {
      const name = fc
        .oneof(
          fc.constantFrom(...NODE_NAMES),
          fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/),
          weirdString,
          fc.constantFrom('a'.repeat(300), 'a/b', 'a?b=c', 'a#b', '.', '..', '-', 'a..b', 'A'),
        )
        // Longer path parameters meet Fastify's router limit: see "found by fuzzing" below.
        .filter((n) => safeEncode(n).length <= MAX_PARAM_LENGTH);
      const verb = fc.constantFrom<Verb>('report', 'node', 'forget');
      await fc.assert(
        fc.asyncProperty(
          verb,
          name,
          baseFor('report'),
          fc.array(mutation, { maxLength: 2 }),
          async (v, n, base, mutations) => {
            const body = v === 'report' ? mutate(base, mutations) : undefined;
            await exercise(target, v, { method: methodOf(v), path: pathOf(v, n), body });
          },
        ),
        { numRuns: runs(400) },
      );
      await exercise(target, 'list', { method: 'GET', path: '/v1/nodes' });
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it.runIf(standalone)(
    'survives YAML of any kind sent to explain',
    async () => {
      const yamlText = fc.oneof(
        baseFor('explain').map((base) => toYaml(base)),
        fc
          .tuple(baseFor('explain'), fc.array(mutation, { minLength: 1, maxLength: 3 }))
          .map(([base, mutations]) => {
            // The mutated text is JSON, which is YAML too.
            return mutate(base, mutations);
          }),
        fc.constantFrom(
          'metadata: &m {name: x, self: *m}',
          'spec: &s {containers: [{name: c, x: *s}]}',
          'a: &a [*a, *a]',
          `a: ${'['.repeat(5000)}`,
          `${'- '.repeat(2000)}x`,
          '!!binary aGVsbG8=',
          'metadata: {name: !!js/function "f"}',
          '---\na: 1\n---\nb: 2',
          '? [a, b]\n: c',
          '__proto__: {polluted: 1}\nmetadata: {name: x}',
          'preview: {reserveFraction: .nan, weights: {iops: .inf}}',
          'metadata: {name: 0x1F}',
          'nodes: [node-a, ~, 1]',
          '\t- bad indent',
          `a: ${'&x '.repeat(10)}1`,
          `x: ${'*y '.repeat(100)}`,
        ),
        fc.string({ maxLength: 200 }),
      );
      await fc.assert(
        fc.asyncProperty(
          yamlText,
          fc.constantFrom('application/yaml', 'text/yaml', 'application/x-yaml'),
          async (body, type) => {
            await exercise(target, 'explain', {
              method: 'POST',
              path: '/v1/explain',
              body,
              contentType: type,
            });
          },
        ),
        { numRuns: 200 },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives 5000 levels of nesting in every place of every captured request, and 100k as the whole body',
    async () => {
      // Exhaustive rather than random: every value of every base, in turn, becomes a deep array
      // (even places) or a deep object (odd places).
      const deepArray = new Raw(`${'['.repeat(5000)}${']'.repeat(5000)}`);
      const deepObject = new Raw(`${'{"a":'.repeat(5000)}0${'}'.repeat(5000)}`);
      const failures: string[] = [];
      let first: unknown;
      let place = 0;
      const attempt = async (verb: Verb, body: string, where: string) => {
        try {
          await exercise(target, verb, { method: methodOf(verb), path: pathOf(verb), body });
        } catch (err) {
          failures.push(`${verb} ${where}: ${String(err).split('\n')[0]}`);
          first ??= err;
        }
      };
      for (const verb of scanVerbs) {
        for (const [name, base] of SCAN_BASES[verb] ?? []) {
          const root = structuredClone(base) as Tree;
          for (const slot of slots(root)) {
            const original = valueAt(slot);
            put(slot, place++ % 2 === 0 ? deepArray : deepObject);
            await attempt(verb, serialize(root, new WeakMap()), `${name} at ${slot.path.join('.')}`);
            put(slot, original);
          }
        }
        await attempt(verb, `${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'whole body, 100k arrays');
        await attempt(verb, `${'{"a":'.repeat(100_000)}0${'}'.repeat(100_000)}`, 'whole body, 100k objects');
      }
      if (first !== undefined) {
        const places = new Set(failures.map((f) => f.replace(/\.\d+\..*?:/, '.N...:').replace(/:.*/, '')));
        throw new Error(
          `${failures.length} deep requests failed, in ${[...places].join(', ')}:\n${failures.slice(0, 30).join('\n')}\n\nThe first in full:\n${String(first)}`,
        );
      }
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------
// What fuzzing found, minimized

describe('found by fuzzing', () => {
  let target: Target;
  beforeAll(async () => {
    target = await startStandalone();
  });
  afterAll(async () => {
    await target?.close();
  });

  it.each([
    [
      'Nodes.metadata',
      `{"Pod":{},"Nodes":{"metadata":{"x":${'['.repeat(5000)}${']'.repeat(5000)}},"items":[]}}`,
    ],
    [
      'a passing Node',
      `{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"n"},"x":${'['.repeat(5000)}${']'.repeat(5000)}}]}}`,
    ],
  ])('filter in Nodes mode echoes %s nested 5000 deep without a 500', async (_where, body) => {
    // JSON.parse takes any depth, but the answer echoes Nodes.metadata and the passing Node
    // objects through JSON.stringify (fast-json-stringify's path for untyped values), which
    // overflows the stack from about 4100 levels (Node 20, default stack): 500 "internal error",
    // RangeError: Maximum call stack size exceeded.
    await exercise(target, 'filter', { method: 'POST', path: '/scheduler/filter', body });
  });

  it.each([
    ['a malformed percent-escape (400 FST_ERR_BAD_URL)', '/v1/nodes/%E0%A4%A/report'],
    [
      `a node name over ${MAX_PARAM_LENGTH} characters (414 FST_ERR_MAX_PARAM_LENGTH)`,
      `/v1/nodes/${'a'.repeat(301)}/report`,
    ],
  ])('answers %s with {"error"} only, as every other refusal', async (_what, path) => {
    // Fastify's router answers these itself, past the app's error handler, with its own body:
    // {"error":"Bad Request","code":"FST_...","message":"...","statusCode":...}.
    await exercise(target, 'report', { method: 'PUT', path, body: '{"capacity":{}}' });
  });
});

afterAll(() => {
  const statuses = [...volume.byStatus.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
  const outcomes = [...volume.byVerb.entries()].sort().map(([k, n]) => `${k}: ${n}`);
  console.info(`fuzz: ${volume.requests} requests (${statuses.join(', ')})\n${outcomes.join('\n')}`);
});
