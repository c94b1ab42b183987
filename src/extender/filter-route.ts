import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { podDemand } from '../domain/demand.js';
import type { RejectReason } from '../domain/fit.js';
import type { Placement } from '../domain/placement.js';
import { podKey } from '../domain/pod.js';
import { TooDeepError } from '../http/errors.js';
import { type Metrics, REASON_LABEL } from '../metrics/metrics.js';
import { candidateNames } from './candidates.js';
import { canonicalizeBody } from './preparse.js';
import {
  type ExtenderArgs,
  ExtenderArgsKeys,
  ExtenderArgsSchema,
  type ExtenderFilterResult,
} from './wire-schemas.js';

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
      const items = args.Nodes?.items ?? [];
      const passing = passingInOrder(candidates, outcome.passed, args);
      const result: ExtenderFilterResult = {
        Nodes:
          args.Nodes === undefined
            ? null
            : { metadata: args.Nodes.metadata ?? {}, items: passing.items(items) },
        NodeNames: args.NodeNames === undefined ? null : passing.names(args.NodeNames),
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

/**
 * The passing NodeNames and Node objects, in request order. The scheduler sends one list, and the
 * candidates are that list, so the passing indexes pick straight from it; only a hand-made request
 * with both lists needs a name lookup.
 */
function passingInOrder(candidates: readonly string[], passed: readonly number[], args: ExtenderArgs) {
  const both = args.NodeNames !== undefined && args.Nodes !== undefined;
  const names = both ? new Set(passed.map((i) => candidates[i])) : undefined;
  return {
    names: (list: readonly string[]) =>
      names ? list.filter((n) => names.has(n)) : passed.map((i) => list[i] as string),
    items: <T extends { metadata: { name: string } }>(list: readonly T[]) =>
      names ? list.filter((n) => names.has(n.metadata.name)) : passed.map((i) => list[i] as T),
  };
}
