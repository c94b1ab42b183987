import type { FastifyBaseLogger } from 'fastify';

/**
 * Every logger that lives as long as the app, so that a new `server.logLevel` reaches them all.
 * A pino child copies its parent's level when it is made and never follows it again: setting the
 * root's level alone leaves Fastify's logger (itself a child of the one it is given) and each
 * module's `child({ module })` where they were. Loggers made per request are children of a
 * Fastify logger listed here, so they take the level current when the request arrives.
 */
export class LogLevels {
  readonly #loggers = new Set<FastifyBaseLogger>();

  constructor(root: FastifyBaseLogger) {
    this.#loggers.add(root);
  }

  /** A child of `parent` with these bindings, which follows later level changes. */
  child(parent: FastifyBaseLogger, bindings: Record<string, unknown>): FastifyBaseLogger {
    return this.follow(parent.child(bindings));
  }

  /** Makes an existing long-lived logger (a Fastify instance's `log`) follow level changes. */
  follow(logger: FastifyBaseLogger): FastifyBaseLogger {
    this.#loggers.add(logger);
    return logger;
  }

  set level(level: string) {
    for (const logger of this.#loggers) logger.level = level;
  }
}
