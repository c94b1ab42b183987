import {
  type Agent,
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { type AgentOptions, request as httpsRequest, type RequestOptions } from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Cluster, KubeConfig } from '@kubernetes/client-node';
import { ApiStatusError } from './api-errors.js';

export { ApiStatusError } from './api-errors.js';

export interface ApiRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** e.g. /api/v1/nodes/n1/status; the caller encodes path segments */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  /** JSON-serialised when given */
  readonly body?: unknown;
  /** default application/json; e.g. 'application/json-patch+json', 'application/merge-patch+json' */
  readonly contentType?: string;
  /** overrides the client's default timeout */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A request whose answer is read as a stream (a page of a list), however long it takes. */
export interface StreamRequest extends Omit<ApiRequest, 'timeoutMs'> {
  /** The request is given up when nothing (not a byte) arrives for this long. */
  readonly idleTimeoutMs: number;
  /** Asks for a gzipped answer: the caller then reads `content-encoding`. */
  readonly acceptGzip?: boolean;
}

export interface ApiClientOptions {
  /** How long a request() may take, head and body, unless the request says otherwise. */
  readonly timeoutMs: number;
  /** Connections open at once per TLS identity; more requests wait for one to be free. */
  readonly maxSockets?: number;
}

/** HTTP/1.1 carries one request at a time per connection: this many binds, reads and patches in flight. */
const DEFAULT_MAX_SOCKETS = 32;
/**
 * An idle pooled connection is closed after this long, well before the API server closes it
 * (Go's http.Server: kube-apiserver's IdleTimeout is 90 s), so that a request is rarely sent on a
 * connection the server is closing. A server that announces a shorter Keep-Alive timeout is obeyed.
 */
const IDLE_SOCKET_MS = 30_000;
/** How much of an error answer is read for its Status. */
const MAX_ERROR_BODY = 64 * 1024;
/** How much of an error answer that is not a Status is kept: it goes to logs and answers. */
const MAX_ERROR_TEXT = 1024;

/** What makes two connections interchangeable: the same server, proxy and TLS material. */
interface TlsIdentity {
  readonly server: string;
  readonly proxyUrl: string | undefined;
  readonly ca: unknown;
  readonly cert: unknown;
  readonly key: unknown;
  readonly pfx: unknown;
  readonly passphrase: unknown;
  readonly rejectUnauthorized: unknown;
  readonly servername: unknown;
}

interface Pool {
  readonly identity: TlsIdentity;
  readonly agent: Agent;
  inFlight: number;
  /** A newer identity took over (a rotated client certificate): closed once its last request ends. */
  retired: boolean;
}

/** client-node's agent factory (private in its types): the same agents, proxies included, as its own calls. */
type AgentFactory = { createAgent(cluster: Cluster | null, options: AgentOptions): Agent };

/**
 * Calls to the API server over pooled keep-alive connections. client-node 1.x makes a new
 * https.Agent for every call (`applyToFetchOptions`), so each call paid a TCP connect and a full
 * TLS handshake; kube-scheduler's own client keeps its connections. Credentials are still taken
 * from the KubeConfig on every call (`applyToHTTPSOptions`: token files re-read as they rotate,
 * exec plugins and auth providers refreshed), and the connection pool is chosen by the TLS
 * material it gave: a rotated client certificate or CA gets a pool of its own, and the old pool
 * is closed when its last request is done.
 */
export class ApiClient {
  readonly #kubeConfig: KubeConfig;
  readonly #timeoutMs: number;
  readonly #maxSockets: number;
  #current: Pool | undefined;
  readonly #retiring = new Set<Pool>();
  #closed = false;

  constructor(kubeConfig: KubeConfig, options: ApiClientOptions) {
    if (!(options.timeoutMs > 0))
      throw new Error(`ApiClient: timeoutMs must be > 0, got ${options.timeoutMs}`);
    const maxSockets = options.maxSockets ?? DEFAULT_MAX_SOCKETS;
    if (!Number.isInteger(maxSockets) || maxSockets < 1) {
      throw new Error(`ApiClient: maxSockets must be a whole number >= 1, got ${maxSockets}`);
    }
    this.#kubeConfig = kubeConfig;
    this.#timeoutMs = options.timeoutMs;
    this.#maxSockets = maxSockets;
  }

  /** Parsed JSON answer of a 2xx; rejects with ApiStatusError on any other status, or an Error on timeout/network failure. */
  async request<T = unknown>(request: ApiRequest): Promise<T> {
    const timeoutMs = request.timeoutMs ?? this.#timeoutMs;
    const what = `${request.method} ${request.path}`;
    // One controller and one timer per call (AbortSignal.timeout and .any cost several times more).
    const stop = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop.abort();
    }, timeoutMs);
    const stopWithCaller = () => stop.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', stopWithCaller, { once: true });
    if (request.signal?.aborted === true) stopWithCaller();
    try {
      const response = await this.#send(request, stop.signal, false, 0);
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 299) throw await statusError(status, response);
      const text = await readText(response, Number.POSITIVE_INFINITY);
      if (text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new Error(`${what}: HTTP ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
      }
    } catch (err) {
      if (timedOut) throw new Error(`${what}: no answer within ${timeoutMs} ms`, { cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', stopWithCaller);
    }
  }

  /**
   * Sends the request and resolves with the answer once its head has arrived, for a caller that
   * reads the body as it streams in. A 2xx only; anything else rejects with ApiStatusError. The
   * caller reads the body to its end (or destroys it), which gives the connection back.
   */
  async stream(request: StreamRequest): Promise<IncomingMessage> {
    const response = await this.#send(
      request,
      request.signal,
      request.acceptGzip === true,
      request.idleTimeoutMs,
    );
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 299) {
      const gzipped = response.headers['content-encoding'] === 'gzip';
      throw await statusError(status, gzipped ? pipeline(response, createGunzip(), () => {}) : response);
    }
    return response;
  }

  /** destroys pooled connections */
  close(): void {
    this.#closed = true;
    this.#current?.agent.destroy();
    this.#current = undefined;
    for (const pool of this.#retiring) pool.agent.destroy();
    this.#retiring.clear();
  }

  async #send(
    request: Omit<ApiRequest, 'timeoutMs'>,
    signal: AbortSignal | undefined,
    acceptGzip: boolean,
    idleTimeoutMs: number,
  ): Promise<IncomingMessage> {
    if (this.#closed) throw new Error('the API client is closed');
    const cluster = this.#kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server + request.path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
    }
    const options: RequestOptions = { method: request.method, headers: {} };
    await this.#kubeConfig.applyToHTTPSOptions(options);
    signal?.throwIfAborted();
    const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    const headers: OutgoingHttpHeaders = {
      ...(options.headers as OutgoingHttpHeaders),
      Accept: 'application/json',
    };
    if (acceptGzip) headers['Accept-Encoding'] = 'gzip';
    if (body !== undefined) {
      headers['Content-Type'] = request.contentType ?? 'application/json';
      headers['Content-Length'] = body.length;
    }
    options.headers = headers;
    const pool = this.#poolFor(cluster, options);
    // The agent applyToHTTPSOptions made for this one call (no keep-alive) is dropped unused.
    options.agent = pool.agent;
    pool.inFlight++;
    try {
      return await exchange(url, options, body, idleTimeoutMs, signal);
    } catch (err) {
      // A pooled connection the server closed while it sat idle fails before any answer: that
      // request never reached the server, so it is sent once more on a fresh connection, as Node's
      // documentation advises (`request.reusedSocket`).
      if (!(err instanceof StaleConnectionError) || signal?.aborted === true) throw unwrap(err);
      return await exchange(url, options, body, idleTimeoutMs, signal).catch((again) => {
        throw unwrap(again);
      });
    } finally {
      this.#done(pool);
    }
  }

  #poolFor(cluster: Cluster, options: RequestOptions): Pool {
    const identity: TlsIdentity = {
      server: cluster.server,
      proxyUrl: cluster.proxyUrl,
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      pfx: options.pfx,
      passphrase: options.passphrase,
      rejectUnauthorized: options.rejectUnauthorized,
      servername: options.servername,
    };
    const current = this.#current;
    if (current !== undefined && sameIdentity(current.identity, identity)) return current;
    if (current !== undefined) {
      current.retired = true;
      if (current.inFlight === 0) current.agent.destroy();
      else this.#retiring.add(current);
    }
    const agentOptions: AgentOptions = {
      keepAlive: true,
      maxSockets: this.#maxSockets,
      maxFreeSockets: this.#maxSockets,
      timeout: IDLE_SOCKET_MS,
      scheduling: 'lifo',
    };
    for (const field of [
      'ca',
      'cert',
      'key',
      'pfx',
      'passphrase',
      'rejectUnauthorized',
      'servername',
    ] as const) {
      if (options[field] !== undefined) Object.assign(agentOptions, { [field]: options[field] });
    }
    const agent = (this.#kubeConfig as unknown as AgentFactory).createAgent(cluster, agentOptions);
    const pool: Pool = { identity, agent, inFlight: 0, retired: false };
    this.#current = pool;
    return pool;
  }

  #done(pool: Pool): void {
    pool.inFlight--;
    if (pool.retired && pool.inFlight === 0) {
      pool.agent.destroy();
      this.#retiring.delete(pool);
    }
  }
}

/** A request on a reused keep-alive connection that failed before any answer arrived. */
class StaleConnectionError extends Error {}

function unwrap(err: unknown): unknown {
  return err instanceof StaleConnectionError ? err.cause : err;
}

/**
 * One request on the wire; resolves with the answer's head. `signal` ends it, the answer's body
 * included (it is not given to http.request, whose abort plumbing costs more than the call's own
 * work on a kept connection).
 */
function exchange(
  url: URL,
  options: RequestOptions,
  body: Buffer | undefined,
  idleTimeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const what = `${options.method} ${url.pathname}`;
    let req: ClientRequest;
    try {
      req = send(url, options, resolve);
    } catch (err) {
      reject(err);
      return;
    }
    req.on('error', (err: Error & { code?: string }) => {
      const stale =
        req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && signal?.aborted !== true;
      if (stale) reject(new StaleConnectionError(err.message, { cause: err }));
      else if (err.name === 'AbortError') reject(err);
      else reject(new Error(`${what}: ${err.message}`, { cause: err }));
    });
    if (signal !== undefined) {
      const abort = () => req.destroy(abortError(signal));
      signal.addEventListener('abort', abort, { once: true });
      req.once('close', () => signal.removeEventListener('abort', abort));
    }
    if (idleTimeoutMs > 0) {
      req.setTimeout(idleTimeoutMs, () => {
        req.destroy(new Error(`the API server sent nothing for ${idleTimeoutMs / 1000} s`));
      });
    }
    req.end(body);
  });
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('the request was aborted', { cause: signal.reason }), {
    name: 'AbortError',
  });
}

function sameIdentity(a: TlsIdentity, b: TlsIdentity): boolean {
  return (
    a.server === b.server &&
    a.proxyUrl === b.proxyUrl &&
    sameMaterial(a.ca, b.ca) &&
    sameMaterial(a.cert, b.cert) &&
    sameMaterial(a.key, b.key) &&
    sameMaterial(a.pfx, b.pfx) &&
    a.passphrase === b.passphrase &&
    a.rejectUnauthorized === b.rejectUnauthorized &&
    a.servername === b.servername
  );
}

/** TLS material as client-node gives it: Buffers (re-read from the files on every call), strings or lists. */
function sameMaterial(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => sameMaterial(item, b[i]));
  }
  return a === b;
}

/** The body as text, at most about `limit` bytes of it (the rest is not read). */
function readText(body: Readable, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => resolve(Buffer.concat(chunks, size).toString('utf8'));
    body.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) {
        done();
        body.destroy();
      }
    });
    body.on('end', done);
    body.on('error', reject);
    body.on('close', () => reject(new Error('the connection closed before the answer was complete')));
  });
}

/**
 * The ApiStatusError of an answer other than 2xx, with the Status it carries. Reads at most
 * MAX_ERROR_BODY of it; read to its end, the connection goes back to the pool.
 */
export async function statusError(code: number, body: Readable): Promise<ApiStatusError> {
  let text = '';
  try {
    text = await readText(body, MAX_ERROR_BODY);
  } catch {
    // what arrived is all there is
  }
  try {
    return new ApiStatusError(code, JSON.parse(text));
  } catch {
    return new ApiStatusError(code, text.slice(0, MAX_ERROR_TEXT));
  }
}
