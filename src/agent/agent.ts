import type { Logger } from 'pino';
import type { Delay } from '../cluster/backoff.js';
import { DIMENSIONS, type Dimension } from '../domain/resources.js';
import type { AgentOptions } from './agent-options.js';
import type { EnforcementSummary } from './enforce/reconciler.js';
import { type Measurement, measure } from './measurement.js';
import { IOPS_CAPACITY_KEY } from './node-iops-capacity.js';
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

/** What an operator sets for each dimension whose capacity is unknown. */
function hint(dimensions: readonly Dimension[]): string {
  const hints: string[] = [];
  if (dimensions.includes('iops'))
    hints.push(`set --iops-capacity (IOPLACE_IOPS_CAPACITY) or annotate the node ${IOPS_CAPACITY_KEY}`);
  if (dimensions.some((d) => d !== 'iops'))
    hints.push('set --network-capacity (IOPLACE_NETWORK_CAPACITY) for NICs that report no speed');
  return hints.join('; ');
}

/** Samples the node's counters every interval and reports what they moved by. */
export class Agent {
  readonly #d: AgentDeps;
  /** Dimensions last measured without a capacity, already warned about. */
  #unknownCapacity = new Set<Dimension>();

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
          this.#sayUnknownCapacity(measurement);
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

  /**
   * Warns once when a capacity becomes unknown, and says when it is known again (--once has it in
   * its notes): ioplace turns away every pod that asks for that dimension from this node, which
   * would otherwise show only as pods that never land here.
   */
  #sayUnknownCapacity(m: Measurement): void {
    const missing = DIMENSIONS.filter((d) => m.capacity[d] === undefined);
    const newly = missing.filter((d) => !this.#unknownCapacity.has(d));
    const known = [...this.#unknownCapacity].filter((d) => !missing.includes(d));
    this.#unknownCapacity = new Set(missing);
    if (newly.length > 0) {
      this.#d.logger.warn(
        { dimensions: newly, why: m.notes.filter((n) => n.includes('capacity unknown')) },
        `capacity unknown: ioplace will not place pods that ask for ${newly.join(', ')} on this node; ${hint(newly)}`,
      );
    }
    if (known.length > 0) this.#d.logger.info({ dimensions: known }, 'capacity known again');
  }
}
