import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { parseQuantity } from '../../src/domain/quantity.js';
import { EXTENDED_RESOURCE } from '../../src/domain/resources.js';
import type { FakeApiServer } from './fake-apiserver.js';
import { call } from './test-server.js';

const RESOURCES = Object.values(EXTENDED_RESOURCE);

/** How the stand-in preempts: kube-scheduler v1.32's dry run, or a newer scheduler's (#135486). */
export type PreemptionProtocol = 'victims' | 'empty-victims';

export interface SchedulingOutcome {
  readonly pod: string;
  /** The node the pod was bound to, if it was. */
  readonly node?: string;
  /** Pods deleted to make room (preemption), by name. */
  readonly evicted: string[];
  /** Why it stayed pending: the scheduler's own reasons and ioplace's. */
  readonly reasons: string[];
}

function quantity(value: unknown): number {
  if (typeof value !== 'string' && typeof value !== 'number') return 0;
  const parsed = parseQuantity(value);
  return parsed.ok ? parsed.value : 0;
}

/** A pod's request of each ioplace resource (app containers; the examples have no init containers). */
function requests(pod: V1Pod): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of pod.spec?.containers ?? []) {
    for (const r of RESOURCES) {
      const v = quantity(c.resources?.requests?.[r] ?? c.resources?.limits?.[r]);
      if (v > 0) out.set(r, (out.get(r) ?? 0) + v);
    }
  }
  return out;
}

const priority = (pod: V1Pod) => pod.spec?.priority ?? 0;
const startedAt = (pod: V1Pod) => Date.parse(String(pod.status?.startTime ?? '')) || Number.MAX_SAFE_INTEGER;

/**
 * The parts of kube-scheduler that ioplace meets, played over the real HTTP APIs of the fake API
 * server and of ioplace, so that a test can follow a pod from its creation to its node:
 *  - NodeResourcesFit for ioplace.io/* (managedResources with ignoredByScheduler: false): the
 *    requests of the pods bound or assumed on a node, plus the pod's, within the Node's
 *    advertised status.allocatable, else `Insufficient <resource>`;
 *  - the assume cache: a pod is counted on its node from the moment it is chosen, before the
 *    binding lands;
 *  - filter and prioritize through the extender (nodeCacheCapable: NodeNames), bind through it;
 *  - preemption: SelectVictimsOnNode (every lower-priority pod removed, then reprieved from the
 *    most important while the pod still fits), then the extender's preempt verb with
 *    NodeNameToMetaVictims, the victims deleted, and the pod tried again.
 * It is not kube-scheduler; it is the contract ioplace's README promises, checked end to end.
 */
export class SchedulerStandIn {
  readonly #assumed = new Map<string, string>();

  constructor(
    private readonly api: FakeApiServer,
    private readonly extender: string,
    private readonly protocol: PreemptionProtocol = 'victims',
  ) {}

  async #list<T>(path: string): Promise<T[]> {
    return (await call<{ items: T[] }>(`${this.api.url}${path}`, 'GET')).body.items;
  }

  /** The pods on each node: bound per the API, or assumed by this scheduler. */
  async #placement(): Promise<{ nodes: V1Node[]; onNode: Map<string, V1Pod[]>; pods: V1Pod[] }> {
    const [nodes, pods] = await Promise.all([
      this.#list<V1Node>('/api/v1/nodes'),
      this.#list<V1Pod>('/api/v1/pods'),
    ]);
    const onNode = new Map<string, V1Pod[]>();
    for (const pod of pods) {
      const node = pod.spec?.nodeName || this.#assumed.get(pod.metadata?.name ?? '');
      if (node === undefined) continue;
      const list = onNode.get(node) ?? [];
      list.push(pod);
      onNode.set(node, list);
    }
    return { nodes, onNode, pods };
  }

  /** NodeResourcesFit: the first resource that does not fit, or undefined. */
  #insufficient(node: V1Node, others: readonly V1Pod[], pod: V1Pod): string | undefined {
    const want = requests(pod);
    for (const [resource, need] of want) {
      const allocatable = quantity(node.status?.allocatable?.[resource]);
      let used = 0;
      for (const other of others) used += requests(other).get(resource) ?? 0;
      if (used + need > allocatable) return `Insufficient ${resource}`;
    }
    return undefined;
  }

  /** One scheduling attempt, with preemption when no node fits; `bind` false binds directly. */
  async schedule(name: string, options: { bind?: 'extender' | 'direct' } = {}): Promise<SchedulingOutcome> {
    const pod = this.api.getPod('default', name) as V1Pod;
    const { nodes, onNode } = await this.#placement();
    const reasons: string[] = [];
    const fitting: string[] = [];
    for (const node of nodes) {
      const why = this.#insufficient(node, onNode.get(node.metadata?.name ?? '') ?? [], pod);
      if (why === undefined) fitting.push(node.metadata?.name as string);
      else reasons.push(`${node.metadata?.name}: ${why}`);
    }
    let passing: string[] = [];
    if (fitting.length > 0) {
      const filtered = await call<{
        NodeNames: string[] | null;
        FailedNodes: Record<string, string>;
        FailedAndUnresolvableNodes: Record<string, string>;
        Error: string;
      }>(`${this.extender}/filter`, 'POST', { Pod: pod, Nodes: null, NodeNames: fitting });
      passing = filtered.body.NodeNames ?? [];
      for (const [n, m] of Object.entries({
        ...filtered.body.FailedNodes,
        ...filtered.body.FailedAndUnresolvableNodes,
      })) {
        reasons.push(`${n}: ${m}`);
      }
    }
    if (passing.length > 0) {
      const node = await this.#best(pod, passing);
      this.#assumed.set(name, node);
      await this.#bind(pod, node, options.bind ?? 'extender');
      return { pod: name, node, evicted: [], reasons: [] };
    }
    const evicted = await this.#preempt(pod, nodes, onNode, new Set(fitting));
    return { pod: name, evicted, reasons };
  }

  async #best(pod: V1Pod, names: string[]): Promise<string> {
    if (names.length === 1) return names[0] as string;
    const scores = await call<{ Host: string; Score: number }[]>(`${this.extender}/prioritize`, 'POST', {
      Pod: pod,
      Nodes: null,
      NodeNames: names,
    });
    let best = scores.body[0] as { Host: string; Score: number };
    for (const s of scores.body) if (s.Score > best.Score) best = s;
    return best.Host;
  }

  async #bind(pod: V1Pod, node: string, how: 'extender' | 'direct'): Promise<void> {
    const name = pod.metadata?.name as string;
    const namespace = pod.metadata?.namespace ?? 'default';
    const uid = pod.metadata?.uid as string;
    if (how === 'extender') {
      const answer = await call<{ Error: string }>(`${this.extender}/bind`, 'POST', {
        PodName: name,
        PodNamespace: namespace,
        PodUID: uid,
        Node: node,
      });
      if (answer.body.Error !== '') {
        this.#assumed.delete(name);
        throw new Error(`bind ${name} to ${node}: ${answer.body.Error}`);
      }
      return;
    }
    const answer = await call(`${this.api.url}/api/v1/namespaces/${namespace}/pods/${name}/binding`, 'POST', {
      metadata: { name, namespace, uid },
      target: { kind: 'Node', name: node },
    });
    if (answer.status !== 201) throw new Error(`binding ${name}: HTTP ${answer.status}`);
  }

  /**
   * kube-scheduler's preemption. With the v1.32 protocol, a node gets the victims its dry run
   * chose, and a node where the dry run needs none (only the extender turned it away) is an error
   * that ends the attempt; with #135486's protocol, such a node goes to the extender with an
   * empty victim list.
   */
  async #preempt(
    pod: V1Pod,
    nodes: V1Node[],
    onNode: Map<string, V1Pod[]>,
    fitting: Set<string>,
  ): Promise<string[]> {
    const victimsOf: Record<string, { Pods: { UID: string }[]; NumPDBViolations: number }> = {};
    for (const node of nodes) {
      const name = node.metadata?.name as string;
      const here = onNode.get(name) ?? [];
      const lower = here.filter((p) => priority(p) < priority(pod));
      const kept = here.filter((p) => priority(p) >= priority(pod));
      // "No preemption victims found for incoming pod": nothing of lower priority to evict.
      if (lower.length === 0) continue;
      if (this.#insufficient(node, kept, pod) !== undefined) continue;
      // Reprieve the most important first: higher priority, then earlier start.
      lower.sort((a, b) => priority(b) - priority(a) || startedAt(a) - startedAt(b));
      const victims: V1Pod[] = [];
      for (const candidate of lower) {
        if (this.#insufficient(node, [...kept, candidate], pod) === undefined) kept.push(candidate);
        else victims.push(candidate);
      }
      if (victims.length === 0) {
        if (!fitting.has(name)) continue;
        if (this.protocol === 'victims')
          throw new Error(`preemption: expected at least one victim pod on node "${name}"`);
      }
      victimsOf[name] = {
        Pods: victims.map((v) => ({ UID: v.metadata?.uid as string })),
        NumPDBViolations: 0,
      };
    }
    if (Object.keys(victimsOf).length === 0) return [];
    const answer = await call<{ NodeNameToMetaVictims: Record<string, { Pods: { UID: string }[] }> | null }>(
      `${this.extender}/preempt`,
      'POST',
      { Pod: pod, NodeNameToVictims: null, NodeNameToMetaVictims: victimsOf },
    );
    const kept = Object.entries(answer.body.NodeNameToMetaVictims ?? {});
    if (kept.length === 0) return [];
    // The candidate with the fewest victims (kube-scheduler's later criteria do not matter here).
    kept.sort((a, b) => a[1].Pods.length - b[1].Pods.length);
    const [node, chosen] = kept[0] as [string, { Pods: { UID: string }[] }];
    if (chosen.Pods.length === 0) throw new Error(`extender answered node ${node} with no victims`);
    const byUid = new Map((onNode.get(node) ?? []).map((p) => [p.metadata?.uid, p]));
    const evicted: string[] = [];
    for (const { UID } of chosen.Pods) {
      const victim = byUid.get(UID);
      if (victim === undefined) throw new Error(`extender named pod ${UID}, which is not on node ${node}`);
      this.api.deletePod(victim.metadata?.namespace ?? 'default', victim.metadata?.name as string);
      evicted.push(victim.metadata?.name as string);
    }
    return evicted;
  }
}
