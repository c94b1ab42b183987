import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { podDemand } from '../domain/demand.js';
import type { RejectReason } from '../domain/fit.js';
import type { Placement } from '../domain/placement.js';
import { podKey } from '../domain/pod.js';
import { TooDeepError } from '../http/errors.js';
import { type Metrics, REASON_LABEL } from '../metrics/metrics.js';
import { candidateNames } from './candidates.js';
import { canonicalizeBody } from './preparse.js';
import { ExtenderArgsKeys, ExtenderArgsSchema, type ExtenderFilterResult } from './wire-schemas.js';

/** POST <prefix>/filter: ExtenderArgs in, ExtenderFilterResult out, in the mode the request came in. */
export const filterRoute: FastifyPluginAsyncTypebox<{ placement: Placement; metrics: Metrics }> = async (
  app,
  { placement, metrics },
) => {
  app.post(
    '/filter',
    {
      // No response schema: the answer is serialized in the handler (see below), typed by ExtenderFilterResult.
      schema: { body: ExtenderArgsSchema },
      preValidation: canonicalizeBody(ExtenderArgsKeys),
      config: { verb: 'filter' },
    },
    async (request, reply) => {
      const args = request.body;
      const candidates = candidateNames(args);
      const demand = podDemand(args.Pod);
      const outcome = placement.filter(demand, candidates);
      metrics.filterNodesPassed.inc(outcome.passed.length);
      for (const [reason, count] of Object.entries(outcome.rejections) as [RejectReason, number][]) {
        metrics.filterNodesRejected.inc({ reason: REASON_LABEL[reason] }, count);
      }
      const passed = new Set<string>();
      for (const i of outcome.passed) passed.add(candidates[i] as string);

      const items = args.Nodes?.items ?? [];
      const result: ExtenderFilterResult = {
        Nodes:
          args.Nodes === undefined
            ? null
            : {
                metadata: args.Nodes.metadata ?? {},
                items: items.filter((n) => passed.has(n.metadata.name)),
              },
        NodeNames: args.NodeNames === undefined ? null : args.NodeNames.filter((n) => passed.has(n)),
        FailedNodes: outcome.failed,
        FailedAndUnresolvableNodes: outcome.unresolvable,
        Error: '',
      };
      request.log.debug(
        {
          pod: podKey(args.Pod),
          candidates: candidates.length,
          passed: outcome.passed.length,
          rejections: outcome.rejections,
        },
        'filter decision',
      );
      // Serialized here, in one native call: Node objects are echoed whole, and a Node nested
      // deeper than JSON.stringify can go is the client's fault, not a 500.
      let body: string;
      try {
        body = JSON.stringify(result);
      } catch (err) {
        if (err instanceof RangeError) throw new TooDeepError();
        throw err;
      }
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );
};
