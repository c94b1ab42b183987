import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyReply } from 'fastify';
import type { Config } from '../config/schema.js';
import { installErrorHandling } from './error-handler.js';
import { QuietRequestLogController } from './log-controller.js';
import { httpsOptions, type TlsMaterial } from './tls.js';

/** A node name is up to 253 characters; Fastify's default parameter limit is 100. */
const MAX_PARAM_LENGTH = 300;

/**
 * A Fastify instance with ioplace's limits, validation and error handling, over HTTPS when
 * `tls` is given. Used for the main listener and the plain-HTTP ops listener alike.
 */
export function createServer(config: Config, logger: FastifyBaseLogger, tls?: TlsMaterial) {
  const s = config.server;
  const logController = new QuietRequestLogController();
  const server = Fastify({
    loggerInstance: logger,
    bodyLimit: s.bodyLimitBytes,
    logController,
    // Slow or stalled clients must not hold sockets forever: the scheduler's own calls are short.
    requestTimeout: s.requestTimeoutSeconds * 1000,
    keepAliveTimeout: s.keepAliveTimeoutSeconds * 1000,
    routerOptions: {
      maxParamLength: MAX_PARAM_LENGTH,
      // The router answers these before any handler: keep them in ioplace's {"error"} shape.
      onMaxParamLength: (_path, _req, res) => {
        res.writeHead(414, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: `a path parameter is longer than ${MAX_PARAM_LENGTH} characters` }));
      },
    },
    frameworkErrors: (error, _request, reply) => {
      (reply as FastifyReply)
        .code(400)
        .send({ error: error.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid' : error.message });
    },
    ...(tls === undefined ? {} : { https: httpsOptions(tls) }),
    ajv: {
      customOptions: {
        // A wrong type is a client error to report, not something to guess a meaning for; and
        // Pod and Node objects must reach the handler whole.
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: false,
        allErrors: false,
        // Errors carry their schema, so that messages can say what a field may be (error-handler.ts).
        verbose: true,
        // Quantities are string | number, as Go's Quantity unmarshals both.
        allowUnionTypes: true,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  server.server.headersTimeout = s.headersTimeoutSeconds * 1000;
  // Every body we take is JSON (or YAML where a route says so); anything else gets 415.
  server.removeContentTypeParser('text/plain');
  installErrorHandling(server, s.bodyLimitBytes);
  server.addHook('onSend', logController.onSend);
  return server;
}
