import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { podDemand } from '../domain/demand.js';
import type { Placement } from '../domain/placement.js';
import { podKey } from '../domain/pod.js';
import { candidateNames } from './candidates.js';
import { canonicalizeBody } from './preparse.js';
import { ExtenderArgsKeys, ExtenderArgsSchema, type HostPriorityList } from './wire-schemas.js';

const TOP_SCORES_LOGGED = 3;

/** POST <prefix>/prioritize: ExtenderArgs in, HostPriorityList out, one entry per candidate node. */
export const prioritizeRoute: FastifyPluginAsyncTypebox<{ placement: Placement }> = async (
  app,
  { placement },
) => {
  app.post(
    '/prioritize',
    {
      // No response schema: answered with one native JSON.stringify (see below).
      schema: { body: ExtenderArgsSchema },
      preValidation: canonicalizeBody(ExtenderArgsKeys),
      config: { verb: 'prioritize' },
    },
    async (request, reply) => {
      const args = request.body;
      const candidates = candidateNames(args);
      const scores = placement.prioritize(podDemand(args.Pod), candidates);
      const result: HostPriorityList = candidates.map((Host, i) => ({ Host, Score: scores[i] ?? 0 }));
      if (request.log.level === 'debug' || request.log.level === 'trace') {
        const top = [...result].sort((a, b) => b.Score - a.Score).slice(0, TOP_SCORES_LOGGED);
        request.log.debug(
          { pod: podKey(args.Pod), candidates: candidates.length, top },
          'prioritize decision',
        );
      }
      // One native call for thousands of {Host, Score}: cheaper than the compiled serializer's
      // per-string escaping, and the shape is fixed right here.
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(result));
    },
  );
};
