import type { FastifyError, FastifyInstance } from 'fastify';
import { OWN_CODE_PREFIX, RouteNotFoundError } from './errors.js';

/** The body of every error answer. */
export interface ErrorBody {
  error: string;
}

/** The parts of an Ajv error the messages use (Ajv runs with `verbose`, for parentSchema). */
interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
  readonly parentSchema?: { readonly description?: string; readonly properties?: Record<string, unknown> };
}

/** A value from the request, quoted and cut short: it is echoed back, so keep it small. */
const quoted = (value: unknown) => JSON.stringify(String(value).slice(0, 64));

/**
 * The first schema error, naming the field and what it may be: which property is unknown and
 * which are known, the allowed values of an enum, what a pattern means (its schema's
 * description) rather than the regular expression.
 */
export function validationMessage(context: string, e: SchemaError): string {
  const where = `${context}${e.instancePath}`;
  switch (e.keyword) {
    case 'additionalProperties': {
      const known = Object.keys(e.parentSchema?.properties ?? {});
      const allowed = known.length > 0 ? ` (known: ${known.join(', ')})` : '';
      return `${where} must NOT have additional properties: ${quoted(e.params.additionalProperty)} is not one${allowed}`;
    }
    case 'enum':
      return `${where} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
    case 'pattern': {
      const means = e.parentSchema?.description;
      if (means !== undefined) return `${where} must be ${means}`;
      break;
    }
  }
  return `${where} ${e.message ?? 'is not valid'}`;
}

function clientMessage(error: FastifyError, bodyLimit: number): string {
  const first = error.validation?.[0] as SchemaError | undefined;
  if (first !== undefined && error.validationContext !== undefined)
    return validationMessage(error.validationContext, first);
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
      // Logged once the answer is sent, with method and URL (QuietRequestLogController).
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
