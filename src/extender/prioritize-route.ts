import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { podDemand } from '../domain/demand.js';
import type { Placement } from '../domain/placement.js';
import { podKey } from '../domain/pod.js';
import { candidateNames } from './candidates.js';
import { hostPriorityListBytes } from './json-answer.js';
import { installJsonBodyParser } from './json-body.js';
import { canonicalizeExtenderArgs } from './parsed-body.js';
import { ExtenderArgsSchema } from './wire-schemas.js';

const TOP_SCORES_LOGGED = 3;

/** POST <prefix>/prioritize: ExtenderArgs in, HostPriorityList out, one entry per candidate node. */
export const prioritizeRoute: FastifyPluginAsyncTypebox<{ placement: Placement }> = async (
  app,
  { placement },
) => {
  installJsonBodyParser(app, { keepBody: false });
  app.post(
    '/prioritize',
    {
      // No response schema: the answer is written as JSON bytes (see below), a HostPriorityList.
      schema: { body: ExtenderArgsSchema },
      preValidation: canonicalizeExtenderArgs(),
      config: { verb: 'prioritize' },
    },
    async (request, reply) => {
      const args = request.body;
      const candidates = candidateNames(args);
      const scores = placement.prioritize(podDemand(args.Pod), candidates);
      if (request.log.level === 'debug' || request.log.level === 'trace') {
        const top = candidates
          .map((Host, i) => ({ Host, Score: scores[i] ?? 0 }))
          .sort((a, b) => b.Score - a.Score)
          .slice(0, TOP_SCORES_LOGGED);
        request.log.debug(
          { pod: podKey(args.Pod), candidates: candidates.length, top },
          'prioritize decision',
        );
      }
      // Written straight to JSON bytes: no object per candidate, no slow encode at the socket.
      return reply.type('application/json; charset=utf-8').send(hostPriorityListBytes(candidates, scores));
    },
  );
};
