import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { podDemand } from '../domain/demand.js';
import type { RejectReason } from '../domain/fit.js';
import type { Placement } from '../domain/placement.js';
import { podKey } from '../domain/pod.js';
import { TooDeepError } from '../http/errors.js';
import { type Metrics, REASON_LABEL } from '../metrics/metrics.js';
import { candidateNames } from './candidates.js';
import { jsonBytes } from './json-answer.js';
import { installJsonBodyParser, rawJsonBody } from './json-body.js';
import { nodeListSpans } from './node-list-spans.js';
import { nodesModeAnswer } from './nodes-answer.js';
import { canonicalizeExtenderArgs, nodesKeptAsSent } from './parsed-body.js';
import {
  type ExtenderArgs,
  ExtenderArgsSchema,
  type ExtenderFilterResult,
  type WireNode,
} from './wire-schemas.js';

/** POST <prefix>/filter: ExtenderArgs in, ExtenderFilterResult out, in the mode the request came in. */
export const filterRoute: FastifyPluginAsyncTypebox<{ placement: Placement; metrics: Metrics }> = async (
  app,
  { placement, metrics },
) => {
  installJsonBodyParser(app, { keepBody: true });
  app.post(
    '/filter',
    {
      // No response schema: the answer is serialized in the handler (see below), typed by ExtenderFilterResult.
      schema: { body: ExtenderArgsSchema },
      preValidation: canonicalizeExtenderArgs(),
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
      const rest = {
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
      // Serialized here, in one native call, or copied from the request body: Node objects are
      // echoed whole, and metadata or a Node nested deeper than JSON.stringify can go is the
      // client's fault, not a 500.
      let body: Buffer;
      try {
        const metadata = args.Nodes?.metadata ?? {};
        const raw = args.Nodes === undefined ? undefined : echoableBody(request, items.length);
        if (raw !== undefined) {
          body = nodesModeAnswer(raw.bytes, raw.spans, passing.indexes(items), metadata, rest);
        } else {
          const result: ExtenderFilterResult = {
            Nodes: args.Nodes === undefined ? null : { metadata, items: passing.items(items) },
            ...rest,
          };
          body = jsonBytes(JSON.stringify(result));
        }
      } catch (err) {
        if (err instanceof RangeError) throw new TooDeepError();
        throw err;
      }
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );
};

/**
 * The request's bytes and where its Nodes are, when the passing Nodes can be echoed by copying
 * them: no key of a Node was respelled on the way in (else the parsed Node is not its bytes), the
 * body is well-formed UTF-8 (else its bytes are not what was parsed), and the scan found as many
 * Nodes as were parsed. Otherwise undefined, and they are serialized.
 */
function echoableBody(request: FastifyRequest, parsedItems: number) {
  const raw = rawJsonBody(request);
  if (raw === undefined || !nodesKeptAsSent(request) || !raw.isUtf8()) return undefined;
  const spans = nodeListSpans(raw.latin1());
  if (spans === undefined || spans.starts.length !== parsedItems) return undefined;
  return { bytes: raw.bytes, spans };
}

/**
 * The passing NodeNames and Node objects, in request order. The scheduler sends one list, and the
 * candidates are that list, so the passing indexes pick straight from it; only a hand-made request
 * with both lists needs a name lookup.
 */
function passingInOrder(candidates: readonly string[], passed: readonly number[], args: ExtenderArgs) {
  const both = args.NodeNames !== undefined && args.Nodes !== undefined;
  const names = both ? new Set(passed.map((i) => candidates[i])) : undefined;
  /** Where the passing Nodes of `list` are in it. */
  const indexes = (list: readonly WireNode[]): readonly number[] => {
    if (!names) return passed;
    const out: number[] = [];
    for (let i = 0; i < list.length; i++) if (names.has((list[i] as WireNode).metadata.name)) out.push(i);
    return out;
  };
  return {
    names: (list: readonly string[]) =>
      names ? list.filter((n) => names.has(n)) : passed.map((i) => list[i] as string),
    items: <T extends WireNode>(list: readonly T[]) => indexes(list).map((i) => list[i] as T),
    indexes,
  };
}
