import type { Logger } from 'pino';
import type { Delay } from '../cluster/backoff.js';
import type { AgentOptions } from './agent-options.js';
import type { EnforcementSummary } from './enforce/reconciler.js';
import { type Measurement, measure } from './measurement.js';
import type { Reporter, RoundResult } from './reporter.js';
import type { CounterSample } from './sample.js';

/** How far each interval may stray, so that a thousand agents started together spread out. */
const JITTER = 0.1;

export interface AgentDeps {
  readonly options: Pick<AgentOptions, 'intervalMs' | 'iopsCapacity' | 'networkCapacityBps' | 'nodeName'>;
  readonly sample: (now: number) => Promise<CounterSample>;
  /** The node's own IOPS capacity from the API, when there is one; it wins over the flag. */
  readonly nodeIopsCapacity: ((now: number) => Promise<number | undefined>) | undefined;
  readonly reporter: Reporter | undefined;
  /** Enforcement as of its last round, carried by each report; undefined: not said (--once). */
  readonly enforcement?: () => EnforcementSummary | undefined;
  readonly clock: () => number;
  readonly delay: Delay;
  readonly random?: () => number;
  readonly logger: Logger;
}

/** Samples the node's counters every interval and reports what they moved by. */
export class Agent {
  readonly #d: AgentDeps;

  constructor(deps: AgentDeps) {
    this.#d = deps;
  }

  /** One measurement over `windowMs`, from two samples taken that far apart. */
  async measureOver(windowMs: number, signal: AbortSignal): Promise<Measurement> {
    const first = await this.#d.sample(this.#d.clock());
    await this.#d.delay(windowMs, signal);
    return this.#measure(first, await this.#d.sample(this.#d.clock()));
  }

  async reportOnce(measurement: Measurement): Promise<RoundResult | undefined> {
    const enforcement = this.#d.enforcement?.();
    return this.#d.reporter?.report({
      capacity: measurement.capacity,
      usage: measurement.usage,
      ...(enforcement === undefined ? {} : { enforcement }),
    });
  }

  /**
   * Reports every interval until `signal` aborts. A round that fails (an unreadable /proc file,
   * every replica down) is logged and the next one goes ahead: nothing transient ends the agent.
   */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.#d.logger;
    let previous: CounterSample | undefined;
    while (!signal.aborted) {
      try {
        const current = await this.#d.sample(this.#d.clock());
        if (previous !== undefined) {
          const measurement = await this.#measure(previous, current);
          const result = await this.reportOnce(measurement);
          log.debug({ ...measurement, result }, 'reported');
          if (result !== undefined && result.failed > 0) {
            // One line per round, whatever the number of replicas and reasons.
            const { problems, ...counts } = result;
            log.warn(
              { ...counts, problems },
              result.delivered === 0
                ? 'no ioplace replica took the report'
                : 'some ioplace replicas did not take the report',
            );
          }
        }
        previous = current;
      } catch (err) {
        log.error({ err }, 'measuring round failed; trying again next interval');
      }
      const random = this.#d.random ?? Math.random;
      await this.#d.delay(this.#d.options.intervalMs * (1 + JITTER * (2 * random() - 1)), signal);
    }
  }

  async #measure(previous: CounterSample, current: CounterSample): Promise<Measurement> {
    const fromNode = await this.#d.nodeIopsCapacity?.(current.at);
    return measure(previous, current, {
      networkCapacityBps: this.#d.options.networkCapacityBps,
      iopsCapacity: fromNode ?? this.#d.options.iopsCapacity,
    });
  }
}
