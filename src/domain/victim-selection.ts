import type { NodeAssessment } from './node-assessment.js';
import type { PlacementSettings } from './placement-settings.js';
import { evictionMakesRoom } from './preemption.js';
import { type Amounts, addAmounts } from './resources.js';

/** What victim selection reads of a pod that could be evicted (a PodRecord has all of it). */
export interface EvictablePod {
  readonly uid: string;
  /** spec.priority, 0 when absent. */
  readonly priority: number;
  /** status.startTime in any unit that orders (PodRecord: seconds); undefined when not started. */
  readonly startedAt: number | undefined;
  readonly demand: Amounts;
}

/**
 * kube-scheduler's MoreImportantPod as a sort comparator, most important first: higher priority
 * first, then the earlier start time. A pod not started yet counts as starting now (kube-scheduler's
 * GetPodStartTime), so after every started pod. Equal pods are ordered by uid, so that the choice
 * does not depend on the order the store happens to list them in.
 */
export function byImportance(a: EvictablePod, b: EvictablePod): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const sa = a.startedAt ?? Number.POSITIVE_INFINITY;
  const sb = b.startedAt ?? Number.POSITIVE_INFINITY;
  if (sa !== sb) return sa < sb ? -1 : 1;
  return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
}

export type VictimSelection<P extends EvictablePod> =
  /** The victims already given make room (or none is needed): nothing to add. */
  | { readonly outcome: 'fits' }
  /** Not even evicting every lower-priority pod ioplace knows on the node makes room. */
  | { readonly outcome: 'impossible' }
  /** Evicting these on top of the victims already given makes room; never empty, most important first. */
  | { readonly outcome: 'chosen'; readonly victims: readonly P[] };

/**
 * Chooses which pods to evict from a node so that the preemptor's demand fits there, the way
 * kube-scheduler's SelectVictimsOnNode does for its own resources, with ioplace's free formula
 * (evictionMakesRoom: measured usage, unmeasured pods and reservations count) as the fit test:
 *
 *   1. `given` is what the victims already chosen (by the scheduler) free; they are evicted
 *      whatever happens. If they make room, nothing is added: 'fits'.
 *   2. The potential victims are the `pods` of strictly lower priority than the preemptor (equal
 *      priority never preempts), sorted most important first (byImportance).
 *   3. If the demand does not fit even with every potential victim evicted: 'impossible'.
 *   4. Otherwise go through them from the most important to the least, and reprieve each (keep it
 *      on the node) if the demand still fits with it kept and the earlier reprieves kept too.
 *      Those not reprieved are the victims.
 *
 * The result is minimal in kube-scheduler's sense: no single victim could be kept and the demand
 * still fit; among equally sufficient sets, the more important pods are the ones spared. It is
 * never empty: reprieving every pod would leave only `given`, which step 1 found short.
 *
 * `pods` are the pods on the node that ioplace may add as victims (those already given excluded).
 * Each step frees, in every dimension, `given` plus the sums of the kept-as-victims pods so far
 * and of the pods not yet considered; sums are only ever added to, never subtracted from, so no
 * rounding accumulates over a long list.
 */
export function selectVictims<P extends EvictablePod>(
  demand: Amounts,
  node: NodeAssessment,
  given: Amounts,
  pods: readonly P[],
  preemptorPriority: number,
  settings: Pick<PlacementSettings, 'unknownNodes'>,
): VictimSelection<P> {
  if (evictionMakesRoom(demand, node, given, settings)) return { outcome: 'fits' };
  const potential = pods.filter((p) => p.priority < preemptorPriority).sort(byImportance);
  // after[i]: what potential[i + 1 ..] free together; after[n] is nothing.
  const after: Amounts[] = new Array(potential.length + 1);
  after[potential.length] = {};
  for (let i = potential.length - 1; i >= 0; i--) {
    const sum: Amounts = { ...after[i + 1] };
    addAmounts(sum, (potential[i] as P).demand);
    after[i] = sum;
  }
  const all: Amounts = { ...given };
  addAmounts(all, after[0] as Amounts);
  if (!evictionMakesRoom(demand, node, all, settings)) return { outcome: 'impossible' };

  const victims: P[] = [];
  const chosen: Amounts = { ...given };
  for (let i = 0; i < potential.length; i++) {
    const pod = potential[i] as P;
    const withoutIt: Amounts = { ...chosen };
    addAmounts(withoutIt, after[i + 1] as Amounts);
    if (evictionMakesRoom(demand, node, withoutIt, settings)) continue;
    victims.push(pod);
    addAmounts(chosen, pod.demand);
  }
  // Rounding alone could make the sum of the victims fall a hair short where the sums above did
  // not (fractional amounts added in another order): then evict every potential victim, the set
  // step 3 found to make room, rather than answer one that does not.
  if (!evictionMakesRoom(demand, node, chosen, settings)) return { outcome: 'chosen', victims: potential };
  return { outcome: 'chosen', victims };
}

/**
 * The victims the scheduler gave (uids, in its order) and those ioplace added, as one list most
 * important first, as kube-scheduler orders victims and reads the first as the node's most
 * important one when it picks a node. `known` gives a given victim's priority and start time; one
 * ioplace does not keep (it asks for nothing ioplace manages) stays where the scheduler put it,
 * ahead of any added victim not yet placed.
 */
export function mergeVictims(
  given: readonly string[],
  known: (uid: string) => EvictablePod | undefined,
  added: readonly EvictablePod[],
): string[] {
  const out: string[] = [];
  let j = 0;
  for (const uid of given) {
    const pod = known(uid);
    if (pod !== undefined) {
      while (j < added.length && byImportance(added[j] as EvictablePod, pod) < 0) {
        out.push((added[j] as EvictablePod).uid);
        j++;
      }
    }
    out.push(uid);
  }
  for (; j < added.length; j++) out.push((added[j] as EvictablePod).uid);
  return out;
}
