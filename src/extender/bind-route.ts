import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { apiErrorMessage } from '../cluster/api-errors.js';
import type { PodBinder } from '../cluster/pod-binder.js';
import type { Clock } from '../domain/clock.js';
import { type DemandResult, podDemand } from '../domain/demand.js';
import type { Placement } from '../domain/placement.js';
import type { PodLike } from '../domain/pod.js';
import type { PodStore } from '../domain/pod-store.js';
import type { Reservations } from '../domain/reservations.js';
import { isEmpty } from '../domain/resources.js';
import type { BindResult, Metrics } from '../metrics/metrics.js';
import { canonicalizeBody } from './parsed-body.js';
import {
  type ExtenderBindingArgs,
  ExtenderBindingArgsKeys,
  ExtenderBindingArgsSchema,
  type ExtenderBindingResult,
  ExtenderBindingResultSchema,
} from './wire-schemas.js';

export interface BindRouteOptions {
  readonly placement: Placement;
  readonly podStore: PodStore;
  readonly reservations: Reservations;
  /** Undefined when ioplace runs without cluster access. */
  readonly binder: PodBinder | undefined;
  readonly reservationTtlMs: number;
  readonly clock: Clock;
  readonly metrics: Metrics;
}

const NO_CLUSTER =
  'ioplace runs without cluster access (cluster.mode off, or no kubeconfig found), so it cannot bind; ' +
  'remove bindVerb from the extender configuration or give ioplace a cluster';

/**
 * POST <prefix>/bind. kube-scheduler runs the next pod's filter as soon as it has assumed this
 * one, before this bind arrives, so the filter that passed this pod may already be stale. Bind
 * therefore checks the fit again against every commitment and reservation and reserves the
 * demand in the same synchronous step; a pod that no longer fits gets an Error, and the
 * scheduler retries it with fresh filters.
 */
export const bindRoute: FastifyPluginAsyncTypebox<BindRouteOptions> = async (app, options) => {
  const { placement, podStore, reservations, binder, reservationTtlMs, clock, metrics } = options;
  const answer = (result: BindResult, error: string): ExtenderBindingResult => {
    metrics.bindings.inc({ result });
    return { Error: error };
  };

  /** The pod's uid and demand: from the pod store, or read from the API when it is not there. */
  async function podOf(args: ExtenderBindingArgs): Promise<{ uid: string; demand: DemandResult } | string> {
    const known = args.PodUID === '' ? undefined : podStore.get(args.PodUID);
    if (known !== undefined)
      return { uid: known.uid, demand: { ok: true, demand: known.demand, none: isEmpty(known.demand) } };
    // The pod watch has not shown this pod yet (or it asks for nothing): read it.
    try {
      const pod = (await binder?.read(args.PodNamespace, args.PodName)) as
        | (PodLike & { metadata?: { uid?: string } })
        | undefined;
      if (pod === undefined) return NO_CLUSTER;
      const uid = pod.metadata?.uid ?? '';
      if (args.PodUID !== '' && uid !== args.PodUID) {
        return `pod ${args.PodNamespace}/${args.PodName} was replaced (uid ${uid || '?'}, expected ${args.PodUID})`;
      }
      return { uid, demand: podDemand(pod) };
    } catch (err) {
      return `cannot read pod ${args.PodNamespace}/${args.PodName}: ${apiErrorMessage(err)}`;
    }
  }

  app.post(
    '/bind',
    {
      schema: { body: ExtenderBindingArgsSchema, response: { 200: ExtenderBindingResultSchema } },
      preValidation: canonicalizeBody(ExtenderBindingArgsKeys),
      config: { verb: 'bind' },
    },
    async (request): Promise<ExtenderBindingResult> => {
      const args = request.body;
      const pod = `${args.PodNamespace}/${args.PodName}`;
      if (binder === undefined) return answer('no_cluster', NO_CLUSTER);
      const found = await podOf(args);
      if (typeof found === 'string') return answer('pod_error', found);
      const { uid, demand } = found;

      const verdict = placement.reserve(uid, demand, args.Node, clock() + reservationTtlMs);
      if (!verdict.fits) {
        request.log.info(
          { pod, node: args.Node, reason: verdict.reason },
          'bind refused: node no longer fits',
        );
        return answer('no_fit', `pod ${pod} no longer fits on node ${args.Node}: ${verdict.message}`);
      }
      try {
        await binder.bind({ namespace: args.PodNamespace, name: args.PodName, uid }, args.Node);
      } catch (err) {
        reservations.release(uid);
        const reason = apiErrorMessage(err);
        request.log.warn({ pod, node: args.Node, reason }, 'binding failed');
        return answer('api_error', `binding ${pod} to ${args.Node} failed: ${reason}`);
      }
      request.log.debug({ pod, node: args.Node }, 'bound');
      return answer('bound', '');
    },
  );
};
