import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { healthRoutes, type ReadinessCheck } from './health-routes.js';

/** What Prometheus and the kubelet need: /metrics, /healthz, /readyz. */
export const opsRoutes: FastifyPluginAsync<{
  registry: Registry;
  checks: readonly ReadinessCheck[];
}> = async (app, { registry, checks }) => {
  await app.register(healthRoutes, { checks });
  app.get('/metrics', async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
};
