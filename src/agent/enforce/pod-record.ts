import { podDemand } from '../../domain/demand.js';
import type { PodLike } from '../../domain/pod.js';
import { type Amounts, BANDWIDTH_ANNOTATION } from '../../domain/resources.js';

/**
 * What the agent keeps of a pod of its node: what enforcement needs, and nothing else. The demand
 * is computed once, when the pod is seen, exactly as the extender computes it (podDemand).
 */
export interface NodePod {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  /** status.qosClass (Guaranteed, Burstable, BestEffort): where the kubelet puts the pod's cgroup. */
  readonly qosClass: string | undefined;
  readonly hostNetwork: boolean;
  /** The pod's kubernetes.io/{ingress,egress}-bandwidth annotations, the only ones shaping reads. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly phase: string;
  /** status.startTime, ms since the epoch (whole seconds); undefined before the kubelet sets it. */
  readonly startedAt: number | undefined;
  readonly demand:
    | { readonly ok: true; readonly demand: Amounts }
    | { readonly ok: false; readonly problem: string };
}

interface PodObject extends PodLike {
  readonly spec?: PodLike['spec'] & { readonly hostNetwork?: unknown };
  readonly status?: { readonly phase?: unknown; readonly qosClass?: unknown; readonly startTime?: unknown };
}

const SHAPING_ANNOTATIONS = Object.values(BANDWIDTH_ANNOTATION);

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `namespace/name`, as logs and tables show a pod. */
export function podName(pod: Pick<NodePod, 'namespace' | 'name'>): string {
  return `${pod.namespace}/${pod.name}`;
}

/** The record of a Pod from the API (a list item or a watch event's object); undefined for anything else. */
export function decodeNodePod(object: unknown): NodePod | undefined {
  if (!isObject(object) || !isObject(object.metadata)) return undefined;
  const pod = object as PodObject;
  const uid = text(pod.metadata?.uid);
  if (uid === undefined) return undefined;
  const annotations: Record<string, string> = {};
  const all = isObject(pod.metadata?.annotations) ? pod.metadata.annotations : {};
  for (const key of SHAPING_ANNOTATIONS) {
    const value = all[key];
    if (typeof value === 'string') annotations[key] = value;
  }
  const started = text(pod.status?.startTime);
  const startedMs = started === undefined ? Number.NaN : Date.parse(started);
  const demand = podDemand(pod);
  return {
    uid,
    namespace: text(pod.metadata?.namespace) ?? '',
    name: text(pod.metadata?.name) ?? '',
    qosClass: text(pod.status?.qosClass),
    hostNetwork: pod.spec?.hostNetwork === true,
    annotations,
    phase: text(pod.status?.phase) ?? 'Pending',
    startedAt: Number.isNaN(startedMs) ? undefined : startedMs,
    demand: demand.ok ? { ok: true, demand: demand.demand } : { ok: false, problem: demand.problem },
  };
}

/** A pod whose containers will not run again: its limits go (the kubelet removes its cgroup). */
export function hasTerminated(pod: Pick<NodePod, 'phase'>): boolean {
  return pod.phase === 'Succeeded' || pod.phase === 'Failed';
}
