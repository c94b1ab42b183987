import type { Watch } from '@kubernetes/client-node';
import type { FastifyBaseLogger } from 'fastify';
import { Backoff, type Delay } from './backoff.js';

/**
 * What a reflector keeps in step with the API server. A (re)list arrives as `relisting`, then
 * `listed` for each item as the pages come in, then `relisted` once the list is complete; a list
 * that fails part way is started again with `relisting`. Watch events arrive as upsert/remove.
 */
export interface ReflectorHandler<T> {
  relisting(): void;
  listed(item: T): void;
  /** The list is complete: what was not `listed` since `relisting` no longer exists. */
  relisted(count: number): void;
  upsert(item: T): void;
  remove(item: T): void;
}

export interface ListPage {
  readonly resourceVersion: string;
  readonly continueToken: string | undefined;
}

export interface ReflectorOptions<T> {
  /** For logs: "pods", "nodes". */
  readonly resource: string;
  /**
   * Lists one page, handing each raw item to `onItem` as it arrives; `continueToken` undefined for
   * the first. A page that cannot be had rejects (an HTTP status in `statusCode` or `code`).
   */
  list(
    limit: number,
    continueToken: string | undefined,
    onItem: (object: unknown) => void,
    signal: AbortSignal,
  ): Promise<ListPage>;
  readonly watch: Watch;
  /** Watch path, e.g. /api/v1/pods. */
  readonly path: string;
  /** Extra query parameters of the watch (fieldSelector). */
  readonly query: Readonly<Record<string, string>>;
  /** Turns an API object into the compact record kept; undefined to skip it. */
  decode(object: unknown): T | undefined;
  readonly handler: ReflectorHandler<T>;
  readonly logger: FastifyBaseLogger;
  readonly pageSize: number;
  readonly watchTimeoutSeconds: number;
  readonly backoff: { initialMs: number; maxMs: number };
  readonly delay: Delay;
}

class ResourceExpired extends Error {}

const QUICK_END_MS = 5_000;

interface WatchEvent {
  readonly type: string;
  readonly object: { metadata?: { resourceVersion?: string }; code?: number; message?: string };
}

function statusCode(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}

/**
 * List, then watch from the list's resourceVersion, forever: the reflector of client-go, which
 * client-node's informer only half provides (it gives up after an error other than 410).
 *  - A watch that ends is resumed from the last resourceVersion seen (events and BOOKMARKs).
 *  - 410 Gone (in the stream or as the HTTP status) means our resourceVersion was compacted
 *    away: list again and replace the whole state.
 *  - Any other failure is retried with exponential backoff, and the last known state stays in
 *    place meanwhile, so placement goes on while the API server is away.
 *  - A watch silent for longer than the server's own timeout is presumed dead and reopened.
 */
export class Reflector<T> {
  readonly #o: ReflectorOptions<T>;
  readonly #backoff: Backoff;
  readonly #stop = new AbortController();
  #resourceVersion: string | undefined;
  #synced = false;
  #connected = false;
  #running: Promise<void> | undefined;
  #activeWatch: AbortController | undefined;

  constructor(options: ReflectorOptions<T>) {
    this.#o = options;
    this.#backoff = new Backoff(options.backoff);
  }

  /** The first list has completed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** A watch is open (the state is live, not just last known). */
  get connected(): boolean {
    return this.#connected;
  }

  get resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#activeWatch?.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    const log = this.#o.logger;
    while (!this.#stop.signal.aborted) {
      try {
        if (this.#resourceVersion === undefined) await this.#relist();
        const progressed = await this.#watchOnce(this.#resourceVersion as string);
        if (progressed) this.#backoff.reset();
        else await this.#o.delay(this.#backoff.next(), this.#stop.signal);
      } catch (err) {
        this.#connected = false;
        if (this.#stop.signal.aborted) break;
        if (err instanceof ResourceExpired) {
          log.info({ resource: this.#o.resource }, 'resourceVersion expired (410 Gone); listing again');
          this.#resourceVersion = undefined;
          continue;
        }
        const wait = this.#backoff.next();
        log.warn(
          { resource: this.#o.resource, err, retryInMs: Math.round(wait) },
          'list/watch failed; serving the last known state meanwhile',
        );
        await this.#o.delay(wait, this.#stop.signal);
      }
    }
    this.#connected = false;
  }

  async #relist(): Promise<void> {
    const { handler, decode } = this.#o;
    let count = 0;
    const onItem = (object: unknown) => {
      const item = decode(object);
      if (item === undefined) return;
      count++;
      handler.listed(item);
    };
    let continueToken: string | undefined;
    let resourceVersion = '';
    handler.relisting();
    do {
      let page: ListPage;
      try {
        page = await this.#o.list(this.#o.pageSize, continueToken, onItem, this.#stop.signal);
      } catch (err) {
        // The continue token of a long list outlived the API server's compaction: start over now.
        if (continueToken !== undefined && statusCode(err) === 410) throw new ResourceExpired();
        throw err;
      }
      if (continueToken === undefined) resourceVersion = page.resourceVersion;
      continueToken = page.continueToken || undefined;
    } while (continueToken !== undefined && !this.#stop.signal.aborted);
    if (this.#stop.signal.aborted) return;
    handler.relisted(count);
    this.#resourceVersion = resourceVersion;
    if (!this.#synced) this.#o.logger.info({ resource: this.#o.resource, count }, 'initial list synced');
    this.#synced = true;
  }

  /** Watches until the stream ends; resolves whether any event arrived, rejects on failure. */
  #watchOnce(from: string): Promise<boolean> {
    const { watch, path, query, watchTimeoutSeconds } = this.#o;
    const startedAt = performance.now();
    return new Promise<boolean>((resolve, reject) => {
      let events = 0;
      // A watch that ran for a while did fine even if nothing happened; one that ends at once
      // with nothing to show must not be reopened in a tight loop.
      const progressed = () => events > 0 || performance.now() - startedAt >= QUICK_END_MS;
      let settled = false;
      let idle: NodeJS.Timeout | undefined;
      const onStop = () => finish(null);
      const finish = (err: unknown) => {
        if (settled) return;
        settled = true;
        this.#stop.signal.removeEventListener('abort', onStop);
        clearTimeout(idle);
        this.#activeWatch?.abort();
        this.#activeWatch = undefined;
        this.#connected = false;
        if (this.#stop.signal.aborted) resolve(progressed());
        else if (err instanceof ResourceExpired || statusCode(err) === 410) reject(new ResourceExpired());
        else if (err) reject(err);
        else resolve(progressed());
      };
      const armIdle = () => {
        clearTimeout(idle);
        // The server ends the watch after timeoutSeconds; silence well past that means a dead
        // connection that TCP has not noticed.
        idle = setTimeout(
          () => finish(new Error('watch silent past its timeout')),
          (watchTimeoutSeconds + 30) * 1000,
        );
        idle.unref();
      };
      const onEvent = (type: string, object: WatchEvent['object']) => {
        armIdle();
        try {
          this.#apply(type, object);
          events++;
        } catch (err) {
          finish(err);
        }
      };
      armIdle();
      // client-node hands out the watch's AbortController only once the response headers are in;
      // a stop before that must not wait for them.
      this.#stop.signal.addEventListener('abort', onStop, { once: true });
      watch
        .watch(
          path,
          { ...query, resourceVersion: from, allowWatchBookmarks: true, timeoutSeconds: watchTimeoutSeconds },
          onEvent,
          finish,
        )
        .then(
          (controller) => {
            if (settled) controller.abort();
            else {
              this.#activeWatch = controller;
              this.#connected = true;
            }
          },
          (err: unknown) => finish(err),
        );
    });
  }

  #apply(type: string, object: WatchEvent['object']): void {
    if (type === 'ERROR') {
      if (object.code === 410) throw new ResourceExpired();
      throw new Error(`watch error ${object.code ?? ''}: ${object.message ?? 'unknown'}`);
    }
    const rv = object.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (rv) this.#resourceVersion = rv;
      return;
    }
    const item = this.#o.decode(object);
    if (item !== undefined) {
      if (type === 'DELETED') this.#o.handler.remove(item);
      else if (type === 'ADDED' || type === 'MODIFIED') this.#o.handler.upsert(item);
    }
    if (rv) this.#resourceVersion = rv;
  }
}
