import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Amounts } from '../domain/resources.js';
import type { EnforcementSummary } from './enforce/reconciler.js';
import { type ReplicaTarget, type Resolve, resolveTargets, targetKey } from './replica-targets.js';
import { type SendResult, sendReport } from './report-sender.js';

export interface ReportBody {
  readonly capacity: Amounts;
  readonly usage: Amounts;
  /** Enforcement on the node; servers older than the field refuse it (see Reporter). */
  readonly enforcement?: EnforcementSummary;
}

export interface ReporterOptions {
  readonly servers: readonly URL[];
  readonly nodeName: string;
  readonly tokenFile: string | undefined;
  /** CA bundle for https servers; re-read at every round like the token. */
  readonly caFile?: string | undefined;
  readonly timeoutMs: number;
  readonly resolve: Resolve;
  readonly logger: Logger;
  readonly now: () => number;
  /** Longest wait before a failing replica is tried again. */
  readonly maxBackoffMs: number;
  readonly send?: typeof sendReport;
}

export interface RoundResult {
  readonly delivered: number;
  readonly failed: number;
  /** Replicas skipped because they are backing off after failures. */
  readonly skipped: number;
  /** Why each failed one failed: the caller logs them, in one line per round. */
  readonly problems: readonly DeliveryProblem[];
}

/** A server name that did not resolve, or a replica that did not take the report. */
export interface DeliveryProblem {
  /** The server name as configured, or the replica's address. */
  readonly replica: string;
  readonly reason: string;
  /** Consecutive failures of this replica, and the wait before it is tried again. */
  readonly failures?: number;
  readonly retryInMs?: number;
}

interface TargetState {
  failures: number;
  retryAt: number;
}

const FIRST_BACKOFF_MS = 1_000;
/** How long a replica that refused the enforcement field gets reports without it. */
const OLDER_RECHECK_MS = 10 * 60_000;

/** How an ioplace from before the `enforcement` field refuses it (its schema is closed). */
function refusesEnforcement(outcome: SendResult | Error): boolean {
  return (
    !(outcome instanceof Error) &&
    outcome.status === 400 &&
    /must NOT have additional properties/.test(outcome.body) &&
    !/enforcement\//.test(outcome.body)
  );
}

/**
 * Sends each round's report to every replica at once. Every replica must hold the whole
 * inventory, so none is skipped for being slow; a replica that fails is retried at later rounds
 * with exponential backoff (1 s doubling up to maxBackoffMs), and never delays the others, since
 * each send has its own timeout and they all run in parallel.
 */
export class Reporter {
  readonly #o: ReporterOptions;
  readonly #state = new Map<string, TargetState>();
  /**
   * Replicas that refused the `enforcement` field, and until when: an ioplace from before it, met
   * while the agents are upgraded before the servers. They get the report without it, so that their
   * inventory stays fresh, and are offered the field again after OLDER_RECHECK_MS (a replica
   * upgraded in place keeps its address; a replaced one has a new one).
   */
  readonly #older = new Map<string, number>();

  constructor(options: ReporterOptions) {
    this.#o = options;
  }

  async report(body: ReportBody): Promise<RoundResult> {
    const { targets, failed: unresolved } = await resolveTargets(this.#o.servers, this.#o.resolve);
    const problems: DeliveryProblem[] = unresolved.map((f) => ({
      replica: f.server.href,
      reason: `cannot resolve: ${f.error}`,
    }));
    const token = await this.#token();
    const ca = await this.#ca();
    const json = JSON.stringify(body);
    const { enforcement: _left, ...older } = body;
    const olderJson = body.enforcement === undefined ? json : JSON.stringify(older);
    const path = `/v1/nodes/${encodeURIComponent(this.#o.nodeName)}/report`;
    const now = this.#o.now();
    const due = targets.filter((t) => (this.#state.get(targetKey(t))?.retryAt ?? 0) <= now);
    const results = await Promise.all(due.map((t) => this.#sendOne(t, path, { json, olderJson }, token, ca)));
    this.#forgetGone(targets);
    let delivered = 0;
    for (const r of results) {
      if (r === undefined) delivered++;
      else problems.push(r);
    }
    return {
      delivered,
      failed: due.length - delivered + unresolved.length,
      skipped: targets.length - due.length,
      problems,
    };
  }

  async #sendOne(
    target: ReplicaTarget,
    path: string,
    bodies: { readonly json: string; readonly olderJson: string },
    token: string | undefined,
    ca: Buffer | undefined,
  ): Promise<DeliveryProblem | undefined> {
    const key = targetKey(target);
    const send = this.#o.send ?? sendReport;
    const attempt = async (json: string): Promise<SendResult | Error> => {
      try {
        return await send(target, path, json, { token, timeoutMs: this.#o.timeoutMs, ...(ca ? { ca } : {}) });
      } catch (err) {
        return err as Error;
      }
    };
    const older = (this.#older.get(key) ?? 0) > this.#o.now() || bodies.json === bodies.olderJson;
    let outcome = await attempt(older ? bodies.olderJson : bodies.json);
    if (!older && refusesEnforcement(outcome)) {
      this.#older.set(key, this.#o.now() + OLDER_RECHECK_MS);
      this.#o.logger.info({ replica: key }, 'replica predates the enforcement field; reporting without it');
      outcome = await attempt(bodies.olderJson);
    }
    if (!(outcome instanceof Error) && outcome.status >= 200 && outcome.status < 300) {
      if (this.#state.get(key)?.failures) this.#o.logger.info({ replica: key }, 'replica reachable again');
      this.#state.delete(key);
      return undefined;
    }
    const state = this.#state.get(key) ?? { failures: 0, retryAt: 0 };
    state.failures++;
    const wait = Math.min(this.#o.maxBackoffMs, FIRST_BACKOFF_MS * 2 ** (state.failures - 1));
    state.retryAt = this.#o.now() + wait;
    this.#state.set(key, state);
    const reason =
      outcome instanceof Error ? outcome.message : `HTTP ${outcome.status}: ${outcome.body.slice(0, 300)}`;
    return { replica: key, reason, failures: state.failures, retryInMs: wait };
  }

  async #token(): Promise<string | undefined> {
    if (this.#o.tokenFile === undefined) return undefined;
    try {
      // Read at every round: the kubelet rotates projected service account tokens.
      return (await readFile(this.#o.tokenFile, 'utf8')).trim();
    } catch (err) {
      this.#o.logger.warn(
        { file: this.#o.tokenFile, error: (err as NodeJS.ErrnoException).code },
        'cannot read the token',
      );
      return undefined;
    }
  }

  async #ca(): Promise<Buffer | undefined> {
    if (this.#o.caFile === undefined) return undefined;
    try {
      return await readFile(this.#o.caFile);
    } catch (err) {
      this.#o.logger.warn(
        { file: this.#o.caFile, error: (err as NodeJS.ErrnoException).code },
        'cannot read the CA file',
      );
      return undefined;
    }
  }

  #forgetGone(targets: readonly ReplicaTarget[]): void {
    const live = new Set(targets.map(targetKey));
    for (const key of this.#state.keys()) if (!live.has(key)) this.#state.delete(key);
    for (const key of this.#older.keys()) if (!live.has(key)) this.#older.delete(key);
  }
}
