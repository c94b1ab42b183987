import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/**
 * Request lines at debug, not info: kube-scheduler calls us for every pod, so per-request info
 * lines would drown everything else. Failed requests are still logged by the error handler.
 */
export class QuietRequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'incoming request');
  }

  override requestCompleted(_error: Error | null, request: FastifyRequest, reply: FastifyReply): void {
    request.log.debug({ status: reply.statusCode, ms: reply.elapsedTime }, 'request completed');
  }
}
