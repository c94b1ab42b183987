import type { FastifyInstance } from 'fastify';
import type { Metrics, Outcome, Verb } from '../metrics/metrics.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The verb a route is timed as in ioplace_request_duration_seconds. */
    verb?: Verb;
  }
}

function outcomeOf(status: number): Outcome {
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  return 'ok';
}

/** Times every request of a route that names its verb, by outcome; counts agent reports. */
export function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const verb = request.routeOptions.config.verb;
    if (verb === undefined) return;
    const outcome = outcomeOf(reply.statusCode);
    metrics.requestDuration.observe({ verb, outcome }, reply.elapsedTime / 1000);
    if (verb === 'report') metrics.reports.inc({ result: outcome === 'ok' ? 'accepted' : 'rejected' });
  });
}
