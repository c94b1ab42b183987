/**
 * A fake Kubernetes API server for tests: a real HTTP server on loopback that speaks enough of the
 * core/v1 list/watch protocol for Pods and Nodes that the real @kubernetes/client-node (`Watch`,
 * `CoreV1Api`) works against it unmodified. Tests drive the cluster state and the faults (expired
 * resource versions, dropped watches, the server going away) through its methods, so cluster code
 * is tested without mocks.
 *
 * Faithful where clients can tell the difference: one etcd-like resourceVersion counter, watch
 * replay from a resourceVersion, field-selector entry/exit turned into ADDED/DELETED, snapshot
 * pagination, 410 Expired both in the stream and as an HTTP status, Status bodies for errors,
 * gzip for big answers to clients that accept it.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';

/** The bearer token of the user in `kubeConfig()` and `writeKubeconfig()`. */
export const TEST_TOKEN = 'test-token';

const TLS_FIXTURES = new URL('../fixtures/tls/', import.meta.url);

export interface FakeApiServerOptions {
  /** Serve HTTPS with the test serving certificate (test/fixtures/tls/server.crt, SAN 127.0.0.1). */
  readonly tls?: boolean;
  /** Each binding is answered this much later, as etcd's write latency would have it. */
  readonly bindingLatencyMs?: number;
}

export type Kind = 'pod' | 'node';
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** An object as stored and sent: plain JSON in the Kubernetes wire shape. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    [field: string]: unknown;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [field: string]: unknown;
}

/** One change, as etcd would have it: what a watch from an older resourceVersion replays. */
export interface LoggedEvent {
  readonly rv: number;
  readonly type: EventType;
  readonly kind: Kind;
  readonly object: KubeObject;
  /** The object before the change (MODIFIED, DELETED): a field-selector watch needs it to see an exit. */
  readonly previous?: KubeObject;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly authorization: string | undefined;
}

export interface RecordedBinding {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly uid: string | undefined;
}

export interface RecordedPatch {
  readonly name: string;
  /** 'status' for a patch of the nodes/status subresource; undefined for the Node itself. */
  readonly subresource?: 'status';
  readonly contentType: string;
  readonly patch: unknown;
}

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code: number;
}

/** How a watch from a compacted resourceVersion is refused: clients must handle both. */
export type CompactionAnswer = 'event' | 'http';

// ---------------------------------------------------------------------------------------------
// Wire helpers

const TYPES = {
  pod: { kind: 'Pod', listKind: 'PodList', resource: 'pods' },
  node: { kind: 'Node', listKind: 'NodeList', resource: 'nodes' },
} as const;

/** The `reason` the real API server puts in a Status for each code. */
const REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function failureStatus(
  code: number,
  message: string,
  reason = REASONS[code] ?? 'Unknown',
): KubeStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** An HTTP error a handler throws; the router turns it into a Status response. */
class HttpFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** kube-apiserver compresses answers from this size on (defaultGzipThresholdBytes), at level 1. */
const GZIP_THRESHOLD = 128 * 1024;

function acceptsGzip(req: IncomingMessage | undefined): boolean {
  const accepted = req?.headers['accept-encoding'] ?? '';
  return accepted.split(',').some((coding) => coding.split(';')[0]?.trim().toLowerCase() === 'gzip');
}

/**
 * Every answer carries a JSON content type: client-node refuses to parse a body without one.
 * Given the request, a big answer is gzipped when the client accepts it, as the real server does.
 */
function sendJson(res: ServerResponse, code: number, body: unknown, req?: IncomingMessage): boolean {
  const text = JSON.stringify(body);
  if (text.length >= GZIP_THRESHOLD && acceptsGzip(req)) {
    const zipped = gzipSync(text, { level: 1 });
    res.writeHead(code, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'content-length': zipped.length,
    });
    res.end(zipped);
    return true;
  }
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return false;
}

const MAX_BODY = 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpFailure(413, 'request entity too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpFailure(400, 'the request body is not valid JSON');
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Stored objects are never mutated in place: every change stores a fresh copy made with this. */
function clone<T>(value: T): T {
  return structuredClone(value);
}

/** RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

const JSON_PATCH_TYPE = 'application/json-patch+json';

/** The member names of an RFC 6901 JSON pointer ("/a/b~1c" is a, then b/c). */
function pointerPath(pointer: unknown): string[] {
  if (typeof pointer !== 'string' || !pointer.startsWith('/')) {
    throw new HttpFailure(422, `invalid JSON pointer ${JSON.stringify(pointer)}`);
  }
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** RFC 6902 JSON patch over objects (add, replace, remove, test); arrays are not needed here. */
function jsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw new HttpFailure(400, 'a JSON patch must be an array of operations');
  const document = clone(target);
  for (const operation of patch as unknown[]) {
    if (!isPlainObject(operation)) throw new HttpFailure(400, 'a JSON patch operation must be an object');
    const path = pointerPath(operation.path);
    const last = path.pop() as string;
    let parent: unknown = document;
    for (const key of path) {
      parent = isPlainObject(parent) ? parent[key] : undefined;
    }
    if (!isPlainObject(parent)) {
      throw new HttpFailure(
        422,
        `the server rejected our request: missing path for ${String(operation.path)}`,
      );
    }
    switch (operation.op) {
      case 'add':
        parent[last] = clone(operation.value);
        break;
      case 'replace':
      case 'remove':
        if (!(last in parent)) {
          throw new HttpFailure(
            422,
            `the server rejected our request: missing value for ${String(operation.path)}`,
          );
        }
        if (operation.op === 'remove') delete parent[last];
        else parent[last] = clone(operation.value);
        break;
      case 'test':
        if (JSON.stringify(parent[last]) !== JSON.stringify(operation.value)) {
          throw new HttpFailure(
            422,
            `the server rejected our request: test failed for ${String(operation.path)}`,
          );
        }
        break;
      default:
        throw new HttpFailure(400, `unsupported JSON patch operation ${JSON.stringify(operation.op)}`);
    }
  }
  return document;
}

const SI_SUFFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** The canonical form the API server stores a whole decimal quantity in: 45000 is "45k". */
function canonicalQuantity(value: unknown): unknown {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return value;
  let digits = value.replace(/^0+(?=\d)/, '');
  let suffix = 0;
  while (suffix < SI_SUFFIXES.length - 1 && digits.length > 3 && digits.endsWith('000')) {
    digits = digits.slice(0, -3);
    suffix++;
  }
  return `${digits}${SI_SUFFIXES[suffix]}`;
}

function canonicalStatus(status: Record<string, unknown>): Record<string, unknown> {
  const out = { ...status };
  for (const field of ['capacity', 'allocatable']) {
    const list = out[field];
    if (!isPlainObject(list)) continue;
    out[field] = Object.fromEntries(Object.entries(list).map(([k, v]) => [k, canonicalQuantity(v)]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Field selectors

interface SelectorTerm {
  readonly path: readonly string[];
  readonly equal: boolean;
  readonly value: string;
}

/** Parses `a.b=v,c.d==w,e!=x`; an empty or absent selector matches everything. */
function parseFieldSelector(text: string | null): SelectorTerm[] {
  if (text === null || text.trim() === '') return [];
  return text.split(',').map((term) => {
    const match = /^([^=!]+)(==|!=|=)(.*)$/.exec(term.trim());
    if (match === null) throw new HttpFailure(400, `unable to parse field selector term "${term}"`);
    const [, path = '', op, value = ''] = match;
    return { path: path.trim().split('.'), equal: op !== '!=', value: value.trim() };
  });
}

/** The value of a dotted path as the API server compares it: a missing field is "". */
function fieldValue(object: unknown, path: readonly string[]): string {
  let value: unknown = object;
  for (const step of path) value = isPlainObject(value) ? value[step] : undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

function matchesTerms(object: KubeObject, terms: readonly SelectorTerm[]): boolean {
  return terms.every((t) => (fieldValue(object, t.path) === t.value) === t.equal);
}

// ---------------------------------------------------------------------------------------------
// Watches

interface Watcher {
  readonly kind: Kind;
  readonly matches: (object: KubeObject) => boolean;
  readonly res: ServerResponse;
  readonly socket: Socket;
  readonly bookmarks: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * What one watcher sees of a logged change, as the real watch cache decides it: an object entering
 * the selector is ADDED, one leaving it is DELETED (with its previous content and the event's rv).
 */
function translate(
  event: LoggedEvent,
  matches: (object: KubeObject) => boolean,
): { type: EventType; object: KubeObject } | undefined {
  const now = event.type !== 'DELETED' && matches(event.object);
  const before = event.previous !== undefined && matches(event.previous);
  if (now) return { type: before ? 'MODIFIED' : 'ADDED', object: event.object };
  if (before && event.previous !== undefined) {
    const object = clone(event.previous);
    object.metadata.resourceVersion = String(event.rv);
    return { type: 'DELETED', object };
  }
  return undefined;
}

function writeLine(res: ServerResponse, line: unknown): void {
  if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(line)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Pagination

interface ContinueToken {
  /** The snapshot the whole paginated list is served from. */
  readonly rv: number;
  /** The last key already returned. */
  readonly start: string;
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(text: string): ContinueToken {
  try {
    const token: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (isPlainObject(token) && Number.isInteger(token.rv) && typeof token.start === 'string') {
      return { rv: token.rv as number, start: token.start };
    }
  } catch {
    // fall through
  }
  throw new HttpFailure(400, 'continue key is not valid');
}

const EXPIRED_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. ' +
  'You can start a new list without the continue parameter.';

/** The index of the first of the sorted `keys` after `start`. */
function firstAfter(keys: readonly string[], start: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((keys[mid] as string) <= start) low = mid + 1;
    else high = mid;
  }
  return low;
}

// ---------------------------------------------------------------------------------------------
// Routes

const ROUTES = {
  list: /^\/api\/v1\/(pods|nodes)$/,
  namespacedPods: /^\/api\/v1\/namespaces\/([^/]+)\/pods$/,
  pod: /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/,
  binding: /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/binding$/,
  node: /^\/api\/v1\/nodes\/([^/]+)$/,
  nodeStatus: /^\/api\/v1\/nodes\/([^/]+)\/status$/,
  tokenReviews: /^\/apis\/authentication\.k8s\.io\/v1\/tokenreviews$/,
};

/** What the fake's TokenReview says of a token it knows. */
export interface FakeTokenIdentity {
  readonly username: string;
  /** e.g. authentication.kubernetes.io/node-name for bound service account tokens. */
  readonly extra?: Record<string, string[]>;
  readonly audiences?: string[];
}

const MERGE_PATCH_TYPES = new Set(['application/merge-patch+json', 'application/strategic-merge-patch+json']);

interface Fault {
  readonly method: string;
  readonly path: RegExp;
  readonly status: number;
  remaining: number;
}

// ---------------------------------------------------------------------------------------------

export class FakeApiServer {
  /** Every request received, in order (also the ones answered by a fault). */
  readonly requests: RecordedRequest[] = [];
  /** Every successful binding, in order. */
  readonly bindings: RecordedBinding[] = [];
  /** Every successful node patch, in order. */
  readonly patches: RecordedPatch[] = [];
  /** Tokens the TokenReview endpoint authenticates; any other token is not authenticated. */
  readonly tokens = new Map<string, FakeTokenIdentity>();
  /** Every token reviewed, in order (to check caching). */
  readonly reviewedTokens: string[] = [];
  /** How many answers went out gzipped. */
  gzippedResponses = 0;
  /** TCP connections accepted so far (a client that keeps its connections makes few). */
  connections = 0;

  readonly #server: Server;
  readonly #pods = new Map<string, KubeObject>();
  readonly #nodes = new Map<string, KubeObject>();
  readonly #events: LoggedEvent[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #sockets = new Set<Socket>();
  readonly #faults: Fault[] = [];
  /** Per kind, the state a paginated list is served from, keys sorted: a page costs no sort. */
  readonly #listViews = new Map<Kind, { rv: number; state: Map<string, KubeObject>; keys: string[] }>();
  #rv = 1;
  #compactedRv = 0;
  #compactionAnswer: CompactionAnswer = 'event';
  #port = 0;
  readonly #tls: boolean;
  readonly #bindingLatencyMs: number;

  private constructor(options: FakeApiServerOptions) {
    const handle = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    this.#tls = options.tls === true;
    this.#bindingLatencyMs = options.bindingLatencyMs ?? 0;
    this.#server = this.#tls
      ? createHttpsServer(
          {
            cert: readFileSync(new URL('server.crt', TLS_FIXTURES)),
            key: readFileSync(new URL('server.key', TLS_FIXTURES)),
          },
          handle,
        )
      : createServer(handle);
    this.#server.on('connection', (socket: Socket) => {
      this.connections += 1;
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** A server listening on 127.0.0.1 on a free port. */
  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const server = new FakeApiServer(options);
    await server.#listen(0);
    return server;
  }

  /** Stays the same across stop() and restart(). */
  get url(): string {
    return `${this.#tls ? 'https' : 'http'}://127.0.0.1:${this.#port}`;
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** The change log a watch replays from (pruned by compact()). */
  get events(): readonly LoggedEvent[] {
    return this.#events;
  }

  /** Watch streams currently open: wait for one before changing state a test expects to see live. */
  get watchCount(): number {
    return this.#watchers.size;
  }

  // --- Client configuration ---

  /**
   * A KubeConfig for the real client; `skipTLSVerify` is what lets client-node use plain http.
   * With TLS, the server is verified against the test CA.
   */
  kubeConfig(token = TEST_TOKEN): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        this.#tls
          ? { name: 'fake', server: this.url, skipTLSVerify: false, caData: this.#caData() }
          : { name: 'fake', server: this.url, skipTLSVerify: true },
      ],
      users: [{ name: 'test-user', token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'test-user' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** The same configuration as a kubeconfig file, for code that loads KUBECONFIG. */
  async writeKubeconfig(path: string, token = TEST_TOKEN): Promise<void> {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'fake',
          cluster: this.#tls
            ? { server: this.url, 'certificate-authority-data': this.#caData() }
            : { server: this.url, 'insecure-skip-tls-verify': true },
        },
      ],
      users: [{ name: 'test-user', user: { token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'test-user' } }],
      'current-context': 'fake',
    };
    await writeFile(path, toYaml(config));
  }

  #caData(): string {
    return readFileSync(new URL('server-ca.crt', TLS_FIXTURES)).toString('base64');
  }

  // --- State ---

  addPod(pod: V1Pod): V1Pod {
    const object = this.#normalize('pod', pod);
    object.metadata.namespace ??= 'default';
    return this.#create('pod', object) as V1Pod;
  }

  updatePod(namespace: string, name: string, mutate: (pod: V1Pod) => void): V1Pod {
    return this.#modify('pod', `${namespace}/${name}`, (draft) => {
      mutate(draft as V1Pod);
      return draft;
    }) as V1Pod;
  }

  deletePod(namespace: string, name: string): void {
    this.#delete('pod', `${namespace}/${name}`);
  }

  getPod(namespace: string, name: string): V1Pod | undefined {
    const pod = this.#pods.get(`${namespace}/${name}`);
    return pod === undefined ? undefined : (clone(pod) as V1Pod);
  }

  addNode(node: V1Node): V1Node {
    const object = this.#normalize('node', node);
    delete object.metadata.namespace;
    return this.#create('node', object) as V1Node;
  }

  updateNode(name: string, mutate: (node: V1Node) => void): V1Node {
    return this.#modify('node', name, (draft) => {
      mutate(draft as V1Node);
      return draft;
    }) as V1Node;
  }

  deleteNode(name: string): void {
    this.#delete('node', name);
  }

  getNode(name: string): V1Node | undefined {
    const node = this.#nodes.get(name);
    return node === undefined ? undefined : (clone(node) as V1Node);
  }

  // --- Watch control ---

  /** Sends a BOOKMARK at the current resourceVersion to every watch that asked for bookmarks. */
  sendBookmarks(): void {
    for (const w of this.#watchers) {
      if (!w.bookmarks) continue;
      const object = {
        kind: TYPES[w.kind].kind,
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.#rv) },
      };
      writeLine(w.res, { type: 'BOOKMARK', object });
    }
  }

  /**
   * Forgets history up to now, as etcd compaction does: a watch from an older resourceVersion (or a
   * continue token from an older list) gets 410 Expired, in the stream by default or as the HTTP status.
   */
  compact(options: { as?: CompactionAnswer } = {}): void {
    this.#compactedRv = this.#rv;
    this.#compactionAnswer = options.as ?? 'event';
    const kept = this.#events.findIndex((e) => e.rv > this.#compactedRv);
    this.#events.splice(0, kept === -1 ? this.#events.length : kept);
  }

  // --- Faults ---

  /** Cuts every open watch connection abruptly (no clean end of the chunked stream). */
  dropWatches(): void {
    for (const w of this.#watchers) w.socket.destroy();
  }

  /** The next `times` requests of `method` whose path matches answer `status` with a Status body. */
  failNext(method: string, pathRegex: RegExp, status: number, times = 1): void {
    if (!Number.isInteger(times) || times < 1) throw new Error(`failNext: times must be >= 1, got ${times}`);
    this.#faults.push({ method: method.toUpperCase(), path: pathRegex, status, remaining: times });
  }

  /** The API server goes away: the listener closes and every connection is cut (connections refused). */
  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Comes back on the same port with the state kept. */
  async restart(): Promise<void> {
    if (this.#server.listening) throw new Error('restart: the server is already listening');
    await this.#listen(this.#port);
  }

  /** For afterEach: stops everything; safe to call twice. */
  async close(): Promise<void> {
    this.#faults.length = 0;
    await this.stop();
  }

  // --- Internals: state changes ---

  #store(kind: Kind): Map<string, KubeObject> {
    return kind === 'pod' ? this.#pods : this.#nodes;
  }

  #key(kind: Kind, object: KubeObject): string {
    return kind === 'pod' ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name;
  }

  /** A plain-JSON copy with kind, apiVersion and uid filled in; rejects an object without a name. */
  #normalize(kind: Kind, input: V1Pod | V1Node): KubeObject {
    const object = JSON.parse(JSON.stringify(input)) as Partial<KubeObject>;
    if (
      !isPlainObject(object.metadata) ||
      typeof object.metadata.name !== 'string' ||
      !object.metadata.name
    ) {
      throw new Error(`add${TYPES[kind].kind}: metadata.name is required`);
    }
    const normalized = { apiVersion: 'v1', kind: TYPES[kind].kind, ...object } as KubeObject;
    normalized.metadata.uid ??= randomUUID();
    return normalized;
  }

  #create(kind: Kind, object: KubeObject): KubeObject {
    const store = this.#store(kind);
    const key = this.#key(kind, object);
    if (store.has(key)) throw new Error(`${TYPES[kind].resource} "${key}" already exists`);
    store.set(key, object);
    this.#commit('ADDED', kind, object);
    return clone(object);
  }

  /** Applies `edit` to a copy; identity (name, namespace, uid) is not the editor's to change. */
  #modify(kind: Kind, key: string, edit: (draft: KubeObject) => KubeObject): KubeObject {
    const store = this.#store(kind);
    const current = store.get(key);
    if (current === undefined) throw new Error(`${TYPES[kind].resource} "${key}" not found`);
    const next = edit(clone(current));
    next.metadata = { ...next.metadata, name: current.metadata.name, uid: current.metadata.uid };
    if (kind === 'pod') next.metadata.namespace = current.metadata.namespace;
    store.set(key, next);
    this.#commit('MODIFIED', kind, next, current);
    return clone(next);
  }

  #delete(kind: Kind, key: string): void {
    const store = this.#store(kind);
    const current = store.get(key);
    if (current === undefined) throw new Error(`${TYPES[kind].resource} "${key}" not found`);
    store.delete(key);
    this.#commit('DELETED', kind, clone(current), current);
  }

  /** Bumps the global resourceVersion, stamps it on the object, logs the change and tells the watches. */
  #commit(type: EventType, kind: Kind, object: KubeObject, previous?: KubeObject): void {
    this.#rv += 1;
    object.metadata.resourceVersion = String(this.#rv);
    const event: LoggedEvent = { rv: this.#rv, type, kind, object, ...(previous ? { previous } : {}) };
    this.#events.push(event);
    for (const w of this.#watchers) {
      if (w.kind !== kind) continue;
      const seen = translate(event, w.matches);
      if (seen) writeLine(w.res, seen);
    }
  }

  /** The state of `kind` as it was at `rv`, rebuilt by undoing the later changes. */
  #snapshot(kind: Kind, rv: number): Map<string, KubeObject> {
    const state = new Map(this.#store(kind));
    for (let i = this.#events.length - 1; i >= 0; i--) {
      const event = this.#events[i];
      if (event === undefined || event.rv <= rv) break;
      if (event.kind !== kind) continue;
      const key = this.#key(kind, event.object);
      if (event.type === 'ADDED') state.delete(key);
      else if (event.previous) state.set(key, event.previous);
    }
    return state;
  }

  // --- Internals: HTTP ---

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    this.requests.push({
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
    });
    try {
      const fault = this.#takeFault(method, path);
      if (fault !== undefined) throw new HttpFailure(fault, `injected failure (HTTP ${fault})`);
      await this.#route(method, path, url.searchParams, req, res);
    } catch (err) {
      const failure =
        err instanceof HttpFailure ? err : new HttpFailure(500, `fake apiserver: ${String(err)}`);
      if (res.headersSent) res.destroy();
      else sendJson(res, failure.code, failureStatus(failure.code, failure.message));
    }
  }

  #takeFault(method: string, path: string): number | undefined {
    const index = this.#faults.findIndex((f) => {
      f.path.lastIndex = 0;
      return f.method === method && f.path.test(path);
    });
    const fault = this.#faults[index];
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.#faults.splice(index, 1);
    return fault.status;
  }

  /** The routes served; path parameters arrive URL-decoded. Anything else is a 404 Status. */
  async #route(
    method: string,
    path: string,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const watch = query.get('watch') === 'true' || query.get('watch') === '1';
    const listOrWatch = (kind: Kind, namespace?: string) =>
      watch ? this.#watch(kind, namespace, query, req, res) : this.#list(kind, namespace, query, req, res);
    const routes: [string, RegExp, (params: string[]) => void | Promise<void>][] = [
      ['GET', ROUTES.list, ([resource]) => listOrWatch(resource === 'pods' ? 'pod' : 'node')],
      ['GET', ROUTES.namespacedPods, ([namespace = '']) => listOrWatch('pod', namespace)],
      ['GET', ROUTES.pod, ([namespace, name]) => this.#get(res, 'pod', `${namespace}/${name}`)],
      ['GET', ROUTES.node, ([name = '']) => this.#get(res, 'node', name)],
      ['POST', ROUTES.binding, ([namespace = '', name = '']) => this.#bind(namespace, name, req, res)],
      ['PATCH', ROUTES.node, ([name = '']) => this.#patchNode(name, req, res)],
      ['PATCH', ROUTES.nodeStatus, ([name = '']) => this.#patchNodeStatus(name, req, res)],
      ['POST', ROUTES.tokenReviews, () => this.#tokenReview(req, res)],
    ];
    for (const [routeMethod, pattern, handle] of routes) {
      const match = routeMethod === method ? pattern.exec(path) : null;
      if (match !== null) return handle(match.slice(1).map((param) => decodeURIComponent(param)));
    }
    throw new HttpFailure(404, 'the server could not find the requested resource');
  }

  #get(res: ServerResponse, kind: Kind, key: string): void {
    const object = this.#store(kind).get(key);
    if (object === undefined) throw this.#notFound(kind, key);
    sendJson(res, 200, object);
  }

  #notFound(kind: Kind, key: string): HttpFailure {
    const name = key.split('/').at(-1) ?? key;
    return new HttpFailure(404, `${TYPES[kind].resource} "${name}" not found`);
  }

  #selector(kind: Kind, namespace: string | undefined, query: URLSearchParams): (o: KubeObject) => boolean {
    const terms = parseFieldSelector(query.get('fieldSelector'));
    return (object) =>
      (kind !== 'pod' || namespace === undefined || object.metadata.namespace === namespace) &&
      matchesTerms(object, terms);
  }

  /** A list from one snapshot: later pages of a paginated list see the state of the first. */
  #list(
    kind: Kind,
    namespace: string | undefined,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const matches = this.#selector(kind, namespace, query);
    const limitText = query.get('limit');
    const limit = limitText === null ? 0 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) throw new HttpFailure(400, `invalid limit "${limitText}"`);
    const continueText = query.get('continue');
    const token = continueText ? decodeContinue(continueText) : undefined;
    if (token !== undefined && token.rv < this.#compactedRv) throw new HttpFailure(410, EXPIRED_CONTINUE);
    const rv = token?.rv ?? this.#rv;
    const { state, keys } = this.#view(kind, rv);
    const start = token?.start ?? '';
    const page: string[] = [];
    let more = false;
    for (let i = firstAfter(keys, start); i < keys.length; i++) {
      const key = keys[i] as string;
      const object = state.get(key);
      if (object === undefined || !matches(object)) continue;
      if (limit > 0 && page.length === limit) {
        more = true;
        break;
      }
      page.push(key);
    }
    const last = page.at(-1);
    const metadata: { resourceVersion: string; continue?: string } = { resourceVersion: String(rv) };
    if (more && last !== undefined) metadata.continue = encodeContinue({ rv, start: last });
    // Items of a list carry no kind/apiVersion on the real server either.
    const items = page.map((key) => {
      const { apiVersion: _apiVersion, kind: _kind, ...rest } = state.get(key) as KubeObject;
      return rest;
    });
    if (sendJson(res, 200, { kind: TYPES[kind].listKind, apiVersion: 'v1', metadata, items }, req)) {
      this.gzippedResponses += 1;
    }
  }

  /** The state of `kind` at `rv` with its keys sorted; the same until the next change or rv. */
  #view(kind: Kind, rv: number): { state: Map<string, KubeObject>; keys: string[] } {
    const cached = this.#listViews.get(kind);
    // A change bumps the current rv, so a view of a given rv never goes stale.
    if (cached !== undefined && cached.rv === rv) return cached;
    // The live store is copied: the view must stay as it was at `rv` while the store changes.
    const state = rv === this.#rv ? new Map(this.#store(kind)) : this.#snapshot(kind, rv);
    const view = { rv, state, keys: [...state.keys()].sort() };
    this.#listViews.set(kind, view);
    return view;
  }

  /** A chunked stream of one JSON event per line: replay or initial ADDEDs first, then live changes. */
  #watch(
    kind: Kind,
    namespace: string | undefined,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const matches = this.#selector(kind, namespace, query);
    const rvText = query.get('resourceVersion');
    const from = rvText === null || rvText === '' || rvText === '0' ? undefined : Number(rvText);
    if (from !== undefined && !Number.isInteger(from)) {
      throw new HttpFailure(400, `invalid resourceVersion "${rvText}"`);
    }
    const expired = from !== undefined && from < this.#compactedRv;
    if (expired && this.#compactionAnswer === 'http') {
      throw new HttpFailure(410, `too old resource version: ${from} (${this.#compactedRv})`);
    }
    // Node sends this chunked since no content-length is set.
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    if (expired) {
      const status = failureStatus(410, `too old resource version: ${from} (${this.#compactedRv})`);
      writeLine(res, { type: 'ERROR', object: status });
      res.end();
      return;
    }
    const watcher: Watcher = {
      kind,
      matches,
      res,
      socket: req.socket,
      bookmarks: query.get('allowWatchBookmarks') === 'true',
    };
    this.#watchers.add(watcher);
    res.on('close', () => {
      this.#watchers.delete(watcher);
      clearTimeout(watcher.timer);
    });
    // Fractional seconds are accepted (the real server wants an integer) so tests can stay fast.
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 0);
    if (timeoutSeconds > 0) {
      watcher.timer = setTimeout(() => res.end(), timeoutSeconds * 1000);
      watcher.timer.unref();
    }
    if (from === undefined) {
      const store = this.#store(kind);
      for (const key of [...store.keys()].sort()) {
        const object = store.get(key);
        if (object !== undefined && matches(object)) writeLine(res, { type: 'ADDED', object });
      }
      return;
    }
    for (const event of this.#events) {
      if (event.rv <= from || event.kind !== kind) continue;
      const seen = translate(event, matches);
      if (seen) writeLine(res, seen);
    }
  }

  /** Assigns a pod to a node, with the real server's refusals (pod gone, already bound, uid changed). */
  async #bind(namespace: string, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (this.#bindingLatencyMs > 0) await sleep(this.#bindingLatencyMs);
    const key = `${namespace}/${name}`;
    const target = isPlainObject(body) && isPlainObject(body.target) ? body.target.name : undefined;
    if (typeof target !== 'string' || target === '') {
      throw new HttpFailure(400, 'Binding.target.name: Required value');
    }
    const pod = this.#pods.get(key);
    if (pod === undefined) throw this.#notFound('pod', key);
    const meta = isPlainObject(body) && isPlainObject(body.metadata) ? body.metadata : {};
    const uid = typeof meta.uid === 'string' && meta.uid !== '' ? meta.uid : undefined;
    const refused = `Operation cannot be fulfilled on pods/binding "${name}"`;
    if (uid !== undefined && uid !== pod.metadata.uid) {
      throw new HttpFailure(
        409,
        `${refused}: Precondition failed: UID in precondition: ${uid}, UID in object meta: ${pod.metadata.uid}`,
      );
    }
    const assigned = pod.spec?.nodeName;
    if (typeof assigned === 'string' && assigned !== '') {
      throw new HttpFailure(409, `${refused}: pod ${name} is already assigned to node "${assigned}"`);
    }
    // Like the real server, annotations on the Binding are copied onto the pod.
    const annotations = isPlainObject(meta.annotations) ? (meta.annotations as Record<string, string>) : {};
    this.#modify('pod', key, (draft) => {
      draft.spec = { ...draft.spec, nodeName: target };
      if (Object.keys(annotations).length > 0) {
        draft.metadata.annotations = { ...draft.metadata.annotations, ...annotations };
      }
      return draft;
    });
    this.bindings.push({ namespace, name, node: target, uid });
    sendJson(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
  }

  /**
   * JSON merge patch onto a node. A strategic merge patch is applied the same way, which differs
   * from the real server only for lists with merge keys (taints, conditions): they are replaced.
   */
  /** TokenReview as the API server answers it, for the tokens in `tokens`. */
  async #tokenReview(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const review = (await readJson(req)) as { spec?: { token?: string; audiences?: string[] } };
    const token = review.spec?.token ?? '';
    this.reviewedTokens.push(token);
    const known = this.tokens.get(token);
    const wanted = review.spec?.audiences ?? [];
    const audiences = known?.audiences ?? ['https://kubernetes.default.svc'];
    const audienceOk = wanted.length === 0 || wanted.some((a) => audiences.includes(a));
    const status =
      known === undefined || !audienceOk
        ? {
            authenticated: false,
            error: known === undefined ? 'invalid bearer token' : 'token audiences is invalid',
          }
        : {
            authenticated: true,
            audiences: wanted.length === 0 ? audiences : wanted.filter((a) => audiences.includes(a)),
            user: {
              username: known.username,
              uid: 'uid-1',
              groups: ['system:serviceaccounts'],
              extra: known.extra ?? {},
            },
          };
    sendJson(res, 201, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: review.spec,
      status,
    });
  }

  async #patchNode(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    if (!MERGE_PATCH_TYPES.has(contentType)) {
      throw new HttpFailure(
        415,
        `the body of the request was in an unknown format - accepted media types include: ${[...MERGE_PATCH_TYPES].join(', ')}`,
      );
    }
    const patch = await readJson(req);
    if (!isPlainObject(patch)) throw new HttpFailure(400, 'the patch must be a JSON object');
    const node = this.#nodes.get(name);
    if (node === undefined) throw this.#notFound('node', name);
    const wanted = isPlainObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
    if (typeof wanted === 'string' && wanted !== node.metadata.resourceVersion) {
      throw new HttpFailure(
        409,
        `Operation cannot be fulfilled on nodes "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const patched = this.#modify('node', name, (draft) => mergePatch(draft, patch) as KubeObject);
    this.patches.push({ name, contentType, patch });
    sendJson(res, 200, patched);
  }

  /**
   * A patch of the nodes/status subresource, as a JSON patch (RFC 6902) or a merge patch. As on the
   * real server, only `status` changes through it, and resource quantities are stored in their
   * canonical form ("45000" reads back as "45k"), so clients must compare values, not text.
   */
  async #patchNodeStatus(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    if (contentType !== JSON_PATCH_TYPE && !MERGE_PATCH_TYPES.has(contentType)) {
      throw new HttpFailure(
        415,
        `the body of the request was in an unknown format - accepted media types include: ${[JSON_PATCH_TYPE, ...MERGE_PATCH_TYPES].join(', ')}`,
      );
    }
    const patch = await readJson(req);
    const node = this.#nodes.get(name);
    if (node === undefined) throw this.#notFound('node', name);
    const apply = (draft: KubeObject): KubeObject => {
      const next = (
        contentType === JSON_PATCH_TYPE ? jsonPatch(draft, patch) : mergePatch(draft, patch)
      ) as KubeObject;
      const status = isPlainObject(next.status) ? canonicalStatus(next.status) : next.status;
      return { ...draft, status } as KubeObject;
    };
    // Applied to a copy first, so that a patch that fails leaves the stored Node as it was.
    apply(clone(node));
    const patched = this.#modify('node', name, apply);
    this.patches.push({ name, subresource: 'status', contentType, patch });
    sendJson(res, 200, patched);
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Polls until `predicate` returns something truthy and returns it; a predicate that throws counts
 * as not yet. Tests wait on conditions with this, never on fixed sleeps.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs = 5000,
  what = predicate.toString(),
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError === undefined ? '' : `; last error: ${String(lastError)}`;
      throw new Error(`waitFor timed out after ${timeoutMs} ms waiting for: ${what}${cause}`);
    }
    await sleep(10);
  }
}
