import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { podDemand } from '../domain/demand.js';
import type { Placement } from '../domain/placement.js';
import type { PodStore } from '../domain/pod-store.js';
import { type Amounts, addAmounts } from '../domain/resources.js';
import type { Metrics } from '../metrics/metrics.js';
import { canonicalizeBody } from './preparse.js';
import {
  type ExtenderPreemptionArgs,
  ExtenderPreemptionArgsKeys,
  ExtenderPreemptionArgsSchema,
  type ExtenderPreemptionResult,
  ExtenderPreemptionResultSchema,
} from './wire-schemas.js';

interface Candidate {
  readonly node: string;
  readonly uids: string[];
  readonly freed: Amounts;
  readonly numPDBViolations: number;
}

/**
 * The scheduler's candidates as uids plus the demand their eviction frees. Full victim pods
 * (NodeNameToVictims) carry their own demand; bare uids (NodeNameToMetaVictims) are looked up in
 * the pod store, where a pod that is not found asks for nothing ioplace manages.
 */
function candidates(args: ExtenderPreemptionArgs, store: PodStore): Candidate[] {
  const out: Candidate[] = [];
  if (args.NodeNameToMetaVictims !== undefined) {
    for (const [node, victims] of Object.entries(args.NodeNameToMetaVictims)) {
      const freed: Amounts = {};
      const uids = (victims.Pods ?? []).map((p) => p.UID);
      for (const uid of uids) addAmounts(freed, store.get(uid)?.demand ?? {});
      out.push({ node, uids, freed, numPDBViolations: victims.NumPDBViolations ?? 0 });
    }
    return out;
  }
  for (const [node, victims] of Object.entries(args.NodeNameToVictims ?? {})) {
    const freed: Amounts = {};
    const uids: string[] = [];
    for (const pod of victims.Pods ?? []) {
      uids.push(pod.metadata.uid);
      const demand = podDemand(pod);
      addAmounts(freed, demand.ok ? demand.demand : (store.get(pod.metadata.uid)?.demand ?? {}));
    }
    out.push({ node, uids, freed, numPDBViolations: victims.NumPDBViolations ?? 0 });
  }
  return out;
}

/**
 * POST <prefix>/preempt: keeps a candidate node only if evicting its victims frees enough of
 * every dimension the preemptor asks for, and answers with uids (NodeNameToMetaVictims) in both
 * modes. A node without victims is never returned: the scheduler rejects it.
 */
export const preemptRoute: FastifyPluginAsyncTypebox<{
  placement: Placement;
  podStore: PodStore;
  metrics: Metrics;
}> = async (app, { placement, podStore, metrics }) => {
  app.post(
    '/preempt',
    {
      schema: { body: ExtenderPreemptionArgsSchema, response: { 200: ExtenderPreemptionResultSchema } },
      preValidation: canonicalizeBody(ExtenderPreemptionArgsKeys),
      config: { verb: 'preempt' },
    },
    async (request): Promise<ExtenderPreemptionResult> => {
      const demand = podDemand(request.body.Pod);
      const kept: ExtenderPreemptionResult['NodeNameToMetaVictims'] = {};
      for (const c of candidates(request.body, podStore)) {
        if (c.uids.length === 0 || !placement.evictionHelps(demand, c.node, c.freed)) {
          metrics.preemptionNodes.inc({ result: 'dropped' });
          continue;
        }
        metrics.preemptionNodes.inc({ result: 'kept' });
        kept[c.node] = { Pods: c.uids.map((UID) => ({ UID })), NumPDBViolations: c.numPDBViolations };
      }
      return { NodeNameToMetaVictims: kept };
    },
  );
};
