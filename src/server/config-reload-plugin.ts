import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { Counter } from 'prom-client';
import type { LiveConfig, ReloadResult } from '../config/live-config.js';
import type { LogLevels } from '../config/log-levels.js';

export interface ConfigReloaderOptions {
  readonly live: LiveConfig;
  readonly logLevels: LogLevels;
  readonly logger: FastifyBaseLogger;
  /** ioplace_config_reloads_total. */
  readonly reloads: Counter<'result'>;
  /** The live fields a reload changed, for those that act on them beyond reading the new value. */
  readonly onChanged?: (changed: readonly string[]) => void;
}

/**
 * Reloads of the config file, on SIGHUP or when the file changes: each is counted and logged, a
 * new server.logLevel reaches every logger, and `onChanged` hears which live fields moved. What
 * the domain reads (the placement settings) it takes from `live` on the next request.
 */
export class ConfigReloader {
  readonly #o: ConfigReloaderOptions;

  constructor(options: ConfigReloaderOptions) {
    this.#o = options;
  }

  /** Reads the file again and applies it. Never throws. */
  reload(trigger: string): ReloadResult {
    const outcome = this.#o.live.reload();
    this.#apply(outcome, trigger);
    return outcome;
  }

  /** Follows the file until stop(). */
  follow(): void {
    this.#o.live.watch((outcome) => this.#apply(outcome, 'file changed'));
  }

  stop(): void {
    this.#o.live.close();
  }

  #apply(outcome: ReloadResult, trigger: string): void {
    const { live, logger } = this.#o;
    if (outcome.result === 'unchanged') return;
    this.#o.reloads.inc({ result: outcome.result });
    if (outcome.result === 'failure') {
      logger.error({ trigger, error: outcome.error }, 'new configuration refused; keeping the current one');
      return;
    }
    this.#o.logLevels.level = live.current.server.logLevel;
    logger.info({ trigger, changed: outcome.changed }, 'configuration reloaded');
    this.#o.onChanged?.(outcome.changed);
    if (outcome.needRestart.length > 0) {
      logger.warn({ fields: outcome.needRestart }, 'these changes take effect only after a restart');
    }
  }
}

/** Follows the config file while the server runs. */
export const configReloadPlugin: FastifyPluginAsync<{ reloader: ConfigReloader }> = async (
  server,
  { reloader },
) => {
  server.addHook('onReady', async () => reloader.follow());
  server.addHook('onClose', async () => reloader.stop());
};
