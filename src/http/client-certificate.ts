import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * An onRequest hook for the scheduler verbs when tls.clientCAFile is set: only a caller with a
 * certificate from that CA (kube-scheduler with its extender tlsConfig) may filter, bind or
 * preempt. Checked per route rather than at the TLS handshake, because agents share the port and
 * prove who they are with tokens instead.
 */
export async function requireClientCertificate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const socket = request.raw.socket as TLSSocket;
  if (socket.authorized) return;
  const why = socket.authorizationError ? ` (${String(socket.authorizationError)})` : '';
  return reply.code(401).send({ error: `a client certificate signed by tls.clientCAFile is required${why}` });
}
