import type { FastifyPluginAsync } from 'fastify';

/** A readiness gate: a name and a check that says whether the process can serve yet. */
export interface ReadinessCheck {
  readonly name: string;
  ready(): boolean;
}

/** /healthz: the process is alive. /readyz: every readiness gate is open. */
export const healthRoutes: FastifyPluginAsync<{ checks: readonly ReadinessCheck[] }> = async (
  app,
  { checks },
) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const waiting = checks.filter((c) => !c.ready()).map((c) => c.name);
    if (waiting.length > 0) return reply.code(503).send({ status: 'not ready', waitingFor: waiting });
    return { status: 'ready' };
  });
};
