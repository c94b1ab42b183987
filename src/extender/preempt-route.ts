import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { podDemand } from '../domain/demand.js';
import type { Placement } from '../domain/placement.js';
import type { PodStore } from '../domain/pod-store.js';
import { type Amounts, addAmounts } from '../domain/resources.js';
import { mergeVictims } from '../domain/victim-selection.js';
import type { Metrics } from '../metrics/metrics.js';
import { canonicalizeBody } from './parsed-body.js';
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

/** A candidate's answer: its victims, and whether ioplace chose some of them. */
interface Answer {
  readonly uids: string[];
  readonly chosen: boolean;
}

/**
 * For the candidates whose answer is still missing, the victims sent plus those ioplace chooses
 * among the other pods on the node (see selectVictims); a node that cannot be freed, or that
 * needs nothing evicted, stays without an answer. The pods of every such node are gathered in one
 * pass over the store.
 */
function chooseWhereShort(
  all: readonly Candidate[],
  answers: (Answer | undefined)[],
  demand: Amounts,
  priority: number,
  placement: Placement,
  podStore: PodStore,
): void {
  const open = all.flatMap((_, i) => (answers[i] === undefined ? [i] : []));
  if (open.length === 0) return;
  const podsOn = podStore.podsOn(new Set(open.map((i) => (all[i] as Candidate).node)));
  for (const i of open) {
    const c = all[i] as Candidate;
    const sent = new Set(c.uids);
    const others = (podsOn.get(c.node) ?? []).filter((p) => !sent.has(p.uid));
    const choice = placement.chooseVictims(demand, c.node, c.freed, others, priority);
    if (choice.outcome !== 'chosen') continue;
    answers[i] = { uids: mergeVictims(c.uids, (uid) => podStore.get(uid), choice.victims), chosen: true };
  }
}

/**
 * POST <prefix>/preempt: answers, for each candidate node, the victims whose eviction makes room
 * for the preemptor's demand, as uids (NodeNameToMetaVictims) in both modes:
 *  - the victims sent, when they free enough (result "kept");
 *  - in NodeNameToMetaVictims mode, when none were sent (schedulers with kubernetes#135486 send
 *    nodes that only an extender turned away with empty lists) or those sent free too little by
 *    ioplace's figures: the ones sent plus those selectVictims picks among the node's other
 *    lower-priority pods in the pod store (result "chosen"). The scheduler takes any pod on that
 *    node by uid;
 *  - otherwise the node is dropped: it cannot be freed, or NodeNameToVictims mode sent too little
 *    (there ioplace answers only with pods it was sent), or the demand is invalid.
 * A node is never answered without victims: a scheduler rejects that ("expected at least one
 * victim pod on node") when the extender is not ignorable. So a node that already fits the
 * preemptor with nothing evicted, and was sent no victim, is dropped too: evicting a pod there
 * would be for nothing, and the pod will pass the filter there on its next attempt.
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
      const all = candidates(request.body, podStore);
      // In request order; undefined drops the node.
      const answers = all.map((c): Answer | undefined =>
        c.uids.length > 0 && placement.evictionHelps(demand, c.node, c.freed)
          ? { uids: c.uids, chosen: false }
          : undefined,
      );
      if (request.body.NodeNameToMetaVictims !== undefined && demand.ok && !demand.none) {
        const priority = request.body.Pod.spec?.priority ?? 0;
        chooseWhereShort(all, answers, demand.demand, priority, placement, podStore);
      }
      // No prototype: a candidate may be named anything, "__proto__" included.
      const kept = Object.create(null) as ExtenderPreemptionResult['NodeNameToMetaVictims'];
      const counts = { kept: 0, chosen: 0, dropped: 0 };
      all.forEach((c, i) => {
        const answer = answers[i];
        if (answer === undefined) {
          counts.dropped++;
          return;
        }
        counts[answer.chosen ? 'chosen' : 'kept']++;
        kept[c.node] = { Pods: answer.uids.map((UID) => ({ UID })), NumPDBViolations: c.numPDBViolations };
      });
      for (const [result, n] of Object.entries(counts)) if (n > 0) metrics.preemptionNodes.inc({ result }, n);
      return { NodeNameToMetaVictims: kept };
    },
  );
};
