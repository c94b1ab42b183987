/** Waits `ms`, or less if `signal` aborts first. Injected so tests need not wait for real. */
export type Delay = (ms: number, signal: AbortSignal) => Promise<void>;

function makeDelay(keepAlive: boolean): Delay {
  return (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      if (!keepAlive) timer.unref();
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
}

/** For waits that must not keep the process alive (a server's background retries). */
export const realDelay: Delay = makeDelay(false);

/** For waits that are the process's reason to live (the agent between rounds). */
export const keepAliveDelay: Delay = makeDelay(true);

/**
 * Exponential backoff with full jitter (a random wait between half and all of the current step),
 * so that many replicas that lost the API server at once do not come back in lockstep.
 */
export class Backoff {
  #step: number;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;

  constructor(options: { initialMs: number; maxMs: number; random?: () => number }) {
    this.#initialMs = options.initialMs;
    this.#maxMs = options.maxMs;
    this.#step = options.initialMs;
    this.#random = options.random ?? Math.random;
  }

  next(): number {
    const wait = this.#step * (0.5 + 0.5 * this.#random());
    this.#step = Math.min(this.#maxMs, this.#step * 2);
    return wait;
  }

  reset(): void {
    this.#step = this.#initialMs;
  }
}
