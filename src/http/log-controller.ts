import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/** Longest URL written to a log line: it is the caller's text. */
const MAX_LOGGED_URL = 200;

/**
 * Request lines at debug, not info: kube-scheduler calls us for every pod, so per-request info
 * lines would drown everything else. A refused request (4xx, or one of our own coded 5xx like a
 * full inventory) is one info line with its method, URL, status and the `error` it was answered,
 * whichever code path refused it (validation, the error handler, auth, rate limits, 404s): the
 * answer's `error` is read in `onSend` (installed by createServer).
 */
export class QuietRequestLogController extends LogController {
  readonly #refusals = new WeakMap<FastifyRequest, string>();

  /** An onSend hook: remembers the `error` of an error answer for requestCompleted. */
  readonly onSend = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (reply.statusCode < 400 || typeof payload !== 'string') return payload;
    try {
      const { error } = JSON.parse(payload) as { error?: unknown };
      if (typeof error === 'string') this.#refusals.set(request, error);
    } catch {
      // not our {"error"} shape: nothing to add
    }
    return payload;
  };

  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'incoming request');
  }

  override requestCompleted(_error: Error | null, request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const error = this.#refusals.get(request);
    // A 500 is logged by the error handler, with its stack, at error level.
    if (status >= 400 && status !== 500 && error !== undefined) {
      request.log.info(
        { method: request.method, url: request.url.slice(0, MAX_LOGGED_URL), status, error },
        'request refused',
      );
      return;
    }
    request.log.debug({ status, ms: reply.elapsedTime }, 'request completed');
  }
}
