import type { Clock } from './clock.js';
import type { Reservations } from './reservations.js';

/** Calls `tick` every `ms` until the function it returns is called. */
export type Repeat = (ms: number, tick: () => void) => () => void;

/** setInterval, unref'd: a sweep never keeps the process alive by itself. */
export const repeatEvery: Repeat = (ms, tick) => {
  const timer = setInterval(tick, ms);
  timer.unref();
  return () => clearInterval(timer);
};

/** How often expired bind reservations are swept. */
const SWEEP_INTERVAL_MS = 1_000;

export interface ReservationSweepOptions {
  readonly reservations: Reservations;
  readonly clock: Clock;
  /**
   * Whether expiring is safe now. A reservation is the only record of a pod bound while the pod
   * watch is away: expire reservations only while the watch is live and would have shown the pod.
   */
  readonly active: () => boolean;
  /** Told of each reservation that expired before the watch showed its pod. */
  readonly onExpired: (uid: string) => void;
  readonly intervalMs?: number;
  /** The timer; tests drive the sweeps by hand. */
  readonly repeat?: Repeat;
}

/** Releases expired bind reservations, periodically between start() and stop(). */
export class ReservationSweep {
  readonly #o: ReservationSweepOptions;
  #cancel: (() => void) | undefined;

  constructor(options: ReservationSweepOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#cancel !== undefined) return;
    const repeat = this.#o.repeat ?? repeatEvery;
    this.#cancel = repeat(this.#o.intervalMs ?? SWEEP_INTERVAL_MS, () => this.sweep());
  }

  stop(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }

  /** One sweep: releases what expired by now, when active. */
  sweep(): void {
    if (!this.#o.active()) return;
    for (const uid of this.#o.reservations.expire(this.#o.clock())) this.#o.onExpired(uid);
  }
}
