/**
 * An open-loop load driver: each stream (a kind of request) is sent at its own target rate,
 * whatever the answers' pace, with a cap on how many of its requests are in flight at once. A
 * request that comes due while its stream is at the cap is not sent ("shed") and counted: a
 * sizeable shed count means the machine could not keep up with the target rate.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { LatencyHistogram } from '../harness/latency.js';

export interface PlannedRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly contentType?: string;
  readonly body?: string | Buffer;
  /** What is wrong with the answer, or undefined when it is right. */
  readonly check: (status: number, text: string) => string | undefined;
  /** Junk must be refused with a 4xx; its statuses are tallied by `label`. */
  readonly junk?: boolean;
  readonly label?: string;
}

export interface Stream {
  readonly kind: string;
  readonly ratePerSecond: number;
  readonly maxInFlight: number;
  readonly next: () => PlannedRequest;
}

export type Phase = 'warmup' | 'measure' | 'shutdown';

/** Why a request failed. */
export type Failure =
  | 'http_5xx'
  | 'http_4xx_on_valid_request'
  | 'junk_not_refused'
  | 'bad_answer'
  | 'timeout'
  | 'connection_error';

export class KindStats {
  requests = 0;
  ok = 0;
  shed = 0;
  bytesSent = 0;
  bytesReceived = 0;
  readonly failures: Partial<Record<Failure, number>> = {};
  readonly examples: Partial<Record<Failure, string>> = {};
  readonly statuses: Record<string, number> = {};
  readonly latency = new LatencyHistogram();

  fail(failure: Failure, example: string): void {
    this.failures[failure] = (this.failures[failure] ?? 0) + 1;
    this.examples[failure] ??= example;
  }

  get errors(): number {
    return Object.values(this.failures).reduce((s, n) => s + (n ?? 0), 0);
  }
}

/** What happened to requests answered (or failed) after SIGTERM. */
export class ShutdownStats {
  /** Requests sent before SIGTERM and still in flight at that moment. */
  inFlightAtSigterm = 0;
  inFlightCompletedOk = 0;
  inFlightFailed = 0;
  /** Requests sent after SIGTERM. */
  sentAfter = 0;
  sentAfterOk = 0;
  sentAfterFailed = 0;
  readonly failureReasons: Record<string, number> = {};
}

interface StreamState {
  readonly stream: Stream;
  /** Seconds: streams start staggered, so that those at the same rate do not fire together. */
  readonly offset: number;
  readonly pool: Pool;
  scheduled: number;
  inFlight: number;
  readonly stats: Record<Phase, KindStats>;
}

const TICK_MS = 5;

function errorCode(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string }; name?: string };
  return e.code ?? e.cause?.code ?? e.name ?? 'error';
}

export interface DriverOptions {
  readonly origin: string;
  readonly streams: readonly Stream[];
  /** Per request: an answer slower than this is a failure (kube-scheduler's httpTimeout default is 30 s). */
  readonly timeoutMs: number;
  /** No more requests are sent once this many have been (the driver is bounded in count). */
  readonly limit: number;
}

export class LoadDriver {
  readonly #states: StreamState[];
  readonly #options: DriverOptions;
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #started = 0;
  #phase: Phase = 'warmup';
  #sigtermAt: number | undefined;
  issued = 0;
  readonly shutdown = new ShutdownStats();
  /** Requests answered or failed so far (for the progress lines). */
  completed = 0;
  errorsBeforeShutdown = 0;

  constructor(options: DriverOptions) {
    this.#options = options;
    this.#states = options.streams.map((stream, i) => ({
      stream,
      offset: ((i * 0.618_034) % 1) / stream.ratePerSecond,
      pool: new Pool(options.origin, {
        connections: stream.maxInFlight,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      }),
      scheduled: 0,
      inFlight: 0,
      stats: { warmup: new KindStats(), measure: new KindStats(), shutdown: new KindStats() },
    }));
  }

  start(): void {
    this.#started = performance.now();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  setPhase(phase: Phase): void {
    this.#phase = phase;
  }

  /** Marks the moment SIGTERM was sent: later outcomes go to the shutdown accounting. */
  sigtermSent(at: number): void {
    this.#sigtermAt = at;
    this.#phase = 'shutdown';
    this.shutdown.inFlightAtSigterm = this.#states.reduce((s, st) => s + st.inFlight, 0);
  }

  inFlightByKind(): Record<string, number> {
    return Object.fromEntries(this.#states.map((s) => [s.stream.kind, s.inFlight]));
  }

  stats(phase: Phase): Map<string, KindStats> {
    return new Map(this.#states.map((s) => [s.stream.kind, s.stats[phase]]));
  }

  #tick(): void {
    const elapsed = (performance.now() - this.#started) / 1000;
    for (const state of this.#states) {
      const due =
        Math.floor(Math.max(0, elapsed - state.offset) * state.stream.ratePerSecond) - state.scheduled;
      for (let i = 0; i < due; i++) {
        state.scheduled += 1;
        if (this.issued >= this.#options.limit) return;
        if (state.inFlight >= state.stream.maxInFlight) {
          state.stats[this.#phase].shed += 1;
          continue;
        }
        this.issued += 1;
        const p = this.#send(state);
        this.#inFlight.add(p);
        void p.finally(() => this.#inFlight.delete(p));
      }
    }
  }

  async #send(state: StreamState): Promise<void> {
    const plan = state.stream.next();
    const sentBeforeSigterm = this.#sigtermAt === undefined;
    state.inFlight += 1;
    const t0 = performance.now();
    let status = 0;
    let text = '';
    let transport: string | undefined;
    try {
      const res = await state.pool.request({
        method: plan.method,
        path: plan.path,
        headers: plan.contentType === undefined ? undefined : { 'content-type': plan.contentType },
        body: plan.body,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      transport = errorCode(err);
    }
    const ms = performance.now() - t0;
    state.inFlight -= 1;
    this.completed += 1;

    const afterSigterm = this.#sigtermAt !== undefined;
    const stats = state.stats[afterSigterm ? 'shutdown' : this.#phase];
    stats.requests += 1;
    stats.bytesSent += plan.body?.length ?? 0;
    stats.bytesReceived += text.length;
    const statusKey = transport ?? String(status);
    const tally = plan.junk ? `${plan.label ?? 'junk'} -> ${statusKey}` : statusKey;
    stats.statuses[tally] = (stats.statuses[tally] ?? 0) + 1;

    const where = `${plan.method} ${plan.path.length > 80 ? `${plan.path.slice(0, 80)}...` : plan.path}`;
    let failure: Failure | undefined;
    let example = '';
    if (transport !== undefined) {
      failure = transport.includes('TIMEOUT') ? 'timeout' : 'connection_error';
      example = `${where}: ${transport} after ${ms.toFixed(0)} ms`;
    } else if (status >= 500) {
      failure = 'http_5xx';
      example = `${where}: HTTP ${status} ${text.slice(0, 300)}`;
    } else if (plan.junk) {
      if (status < 400) {
        failure = 'junk_not_refused';
        example = `${plan.label}: ${where}: HTTP ${status} ${text.slice(0, 200)}`;
      }
    } else if (status >= 400) {
      failure = 'http_4xx_on_valid_request';
      example = `${where}: HTTP ${status} ${text.slice(0, 300)}`;
    } else {
      let problem: string | undefined;
      try {
        problem = plan.check(status, text);
      } catch (err) {
        problem = `answer not understood: ${String(err)}`;
      }
      if (problem !== undefined) {
        failure = 'bad_answer';
        example = `${where}: ${problem}`;
      }
    }

    if (afterSigterm) {
      const s = this.shutdown;
      const failed = failure !== undefined;
      if (sentBeforeSigterm) {
        if (failed) s.inFlightFailed += 1;
        else s.inFlightCompletedOk += 1;
      } else {
        s.sentAfter += 1;
        if (failed) s.sentAfterFailed += 1;
        else s.sentAfterOk += 1;
      }
      if (failed) s.failureReasons[statusKey] = (s.failureReasons[statusKey] ?? 0) + 1;
    }
    if (failure !== undefined) {
      stats.fail(failure, example);
      if (!afterSigterm) this.errorsBeforeShutdown += 1;
    } else {
      stats.ok += 1;
      stats.latency.record(ms);
    }
  }

  /** Stops sending; waits (at most `graceMs`) for the requests in flight, then closes the pools. */
  async stop(graceMs: number): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const timeout = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.#inFlight]), timeout]);
    await Promise.allSettled(this.#states.map((s) => s.pool.destroy()));
  }
}
