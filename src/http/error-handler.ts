import type { FastifyError, FastifyInstance } from 'fastify';
import { OWN_CODE_PREFIX, RouteNotFoundError } from './errors.js';

/** The body of every error answer. */
export interface ErrorBody {
  error: string;
}

function clientMessage(error: FastifyError, bodyLimit: number): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `request body is larger than the limit of ${bodyLimit} bytes (server.bodyLimitBytes)`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported content type: send application/json';
    default:
      return error.message;
  }
}

/**
 * One error handler for the whole app: 4xx answers say what was wrong with the request; anything
 * else is our fault, is logged with its stack, and answers a bare 500 that leaks nothing.
 */
export function installErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler<FastifyError>((error, request, reply) => {
    const status = error.statusCode ?? 500;
    // Our own coded errors always speak to the caller, even the 5xx ones (inventory full).
    if ((status >= 400 && status < 500) || error.code?.startsWith(OWN_CODE_PREFIX)) {
      request.log.info({ code: error.code, status }, error.message);
      return reply.code(status).send({ error: clientMessage(error, bodyLimit) } satisfies ErrorBody);
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal error' } satisfies ErrorBody);
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new RouteNotFoundError(request.method, (request.url.split('?')[0] ?? '').slice(0, 200));
    return reply.code(404).send({ error: error.message } satisfies ErrorBody);
  });
}
