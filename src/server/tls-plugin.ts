import type { Server as HttpsServer } from 'node:https';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { Config } from '../config/schema.js';
import { followTlsFiles } from '../http/tls.js';

/**
 * Follows the certificate, key and client CA files while the server runs, so that rotated
 * certificates are served without a restart. For a server created with TLS only.
 */
export const tlsPlugin: FastifyPluginAsync<{ tls: Config['tls']; logger: FastifyBaseLogger }> = async (
  server,
  { tls, logger },
) => {
  let stopFollowing = () => {};
  server.addHook('onReady', async () => {
    stopFollowing = followTlsFiles(tls, server.server as HttpsServer, (error) => {
      if (error)
        logger.error({ error: error.message }, 'new TLS certificate refused; keeping the current one');
      else logger.info('TLS certificate reloaded');
    });
  });
  server.addHook('onClose', async () => stopFollowing());
};
