/**
 * Closed-loop load: `concurrency` keep-alive connections, each sending its next request as soon
 * as the previous answer is read in full; and `send`, one request answered in full. The
 * benchmark's cases run on it, and both entry points seed their inventory with it (`sendAll`).
 */
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import { type Latency, latencySummary } from './latency.js';

/** One request to send: the load generator cycles through a list of these. */
export interface RequestSpec {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  /** Serialized once, before the case: the client's own cost is sending bytes, not building them. */
  readonly body?: Buffer;
}

export interface LoadOptions {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  readonly requests: readonly RequestSpec[];
  /** Keep-alive connections, each with one request in flight at a time. */
  readonly concurrency: number;
  /** The case stops at whichever comes first: this long, or `maxRequests` sent. */
  readonly durationMs: number;
  readonly maxRequests: number;
  /** Per-request limit; a request that takes longer counts as an error. */
  readonly timeoutMs?: number;
}

export interface LoadResult {
  readonly requests: number;
  /** Answers other than 2xx, and transport errors. */
  readonly errors: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly firstError: string | undefined;
  readonly elapsedMs: number;
  readonly requestsPerSecond: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Client-side latency, from just before the request is written to the last byte of the answer. */
  readonly latencyMs: Latency;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/** The spec as undici's request options: a body goes as JSON. */
function undiciRequest(spec: RequestSpec) {
  return {
    method: spec.method,
    path: spec.path,
    headers: spec.body === undefined ? undefined : JSON_HEADERS,
    body: spec.body,
  };
}

/**
 * Drives the server with `concurrency` keep-alive connections (one undici Client each, no
 * pipelining), each sending its next request as soon as the previous answer is read in full.
 * Bounded in time and in count.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { origin, requests, concurrency, durationMs, maxRequests } = options;
  if (requests.length === 0) throw new Error('runLoad: no requests to send');
  const timeoutMs = options.timeoutMs ?? 60_000;
  const latencies = new Float64Array(maxRequests);
  const statuses: Record<string, number> = {};
  let issued = 0;
  let completed = 0;
  let errors = 0;
  let bytesSent = 0;
  let bytesReceived = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + durationMs;

  const worker = async () => {
    const client = new Client(origin, {
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    try {
      while (issued < maxRequests && performance.now() < deadline) {
        const spec = requests[issued % requests.length] as RequestSpec;
        issued += 1;
        const t0 = performance.now();
        let status: string;
        try {
          const res = await client.request(undiciRequest(spec));
          let received = 0;
          for await (const chunk of res.body) received += (chunk as Buffer).length;
          bytesReceived += received;
          status = String(res.statusCode);
          if (res.statusCode < 200 || res.statusCode >= 300) {
            errors += 1;
            firstError ??= `HTTP ${res.statusCode} for ${spec.method} ${spec.path}`;
          }
        } catch (err) {
          status = 'error';
          errors += 1;
          firstError ??= `${spec.method} ${spec.path}: ${String(err)}`;
        }
        latencies[completed] = performance.now() - t0;
        completed += 1;
        bytesSent += spec.body?.length ?? 0;
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    } finally {
      await client.close();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  return {
    requests: completed,
    errors,
    statuses,
    firstError,
    elapsedMs,
    requestsPerSecond: completed / (elapsedMs / 1000),
    bytesSent,
    bytesReceived,
    latencyMs: latencySummary(latencies.subarray(0, completed)),
  };
}

/**
 * Sends each request once, `concurrency` at a time, within `durationMs` (seeding an inventory:
 * a report for each node); throws, naming `what`, unless every one is answered 2xx.
 */
export async function sendAll(
  origin: string,
  requests: readonly RequestSpec[],
  options: { readonly concurrency: number; readonly durationMs: number; readonly what: string },
): Promise<void> {
  const { concurrency, durationMs, what } = options;
  const result = await runLoad({ origin, requests, concurrency, durationMs, maxRequests: requests.length });
  if (result.errors > 0 || result.requests < requests.length) {
    throw new Error(
      `${what}: ${result.requests} of ${requests.length} sent, ${result.errors} failed${result.firstError === undefined ? '' : `: ${result.firstError}`}`,
    );
  }
}

/** One request, answered in full: status and body text. */
export async function send(
  origin: string,
  spec: RequestSpec,
  timeoutMs = 120_000,
): Promise<{ status: number; text: string }> {
  const client = new Client(origin, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  try {
    const res = await client.request(undiciRequest(spec));
    return { status: res.statusCode, text: await res.body.text() };
  } finally {
    await client.close();
  }
}
