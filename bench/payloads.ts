/**
 * What the benchmark sends (on the shared parts in harness/cluster-payloads.ts): agent reports
 * with mixed capacities and usages (so that filter turns some nodes away), scheduler request
 * bodies, and the pods the fake API server holds for the memory and bind cases.
 */
import type { RequestSpec } from './harness/closed-loop-load.js';
import {
  capture,
  type Json,
  nodeName,
  nodeNamesArgs,
  nodeObjectsJson,
  nodeReport,
  nodesArgs,
  prng,
  type Report,
  withRequests,
} from './harness/cluster-payloads.js';

/**
 * How the inventory is mixed, by node index (stable across runs). Against the benchmark pods
 * (100 Mbit/s in, 50 Mbit/s out, 2k IOPS) a quarter of the nodes are turned away (of the first
 * 5,000: 3,746 pass, 748 fail for now, 506 fail for good):
 * - 2% never report (unknown): `report` answers undefined for them;
 * - 3% report no IOPS figure (unmeasured);
 * - 5% have only 1k IOPS (exceeds capacity);
 * - 12% are nearly full (insufficient);
 * - the rest have 1, 10 or 25 Gbit/s and 5k to 100k IOPS, 0 to 60% used (small ones can be short).
 */
export function report(i: number, round = 0): Report | undefined {
  const rnd = prng(i * 7919 + round * 104729 + 1);
  const kind = rnd();
  if (kind < 0.02) return undefined;
  const link = [1e9, 10e9, 25e9][Math.floor(rnd() * 3)] ?? 10e9;
  const iops = [5_000, 20_000, 50_000, 100_000][Math.floor(rnd() * 4)] ?? 20_000;
  const load = kind < 0.22 && kind >= 0.1 ? 0.97 : rnd() * 0.6;
  return nodeReport(link, iops, load, kind < 0.05 ? 'none' : kind < 0.1 ? 'small' : 'full');
}

/** PUT /v1/nodes/{node}/report for each node of the first `count` that reports at all. */
export function reportRequests(count: number, round = 0): RequestSpec[] {
  const specs: RequestSpec[] = [];
  for (let i = 0; i < count; i++) {
    const r = report(i, round);
    if (r === undefined) continue;
    specs.push({
      method: 'PUT',
      path: `/v1/nodes/${nodeName(i)}/report`,
      body: Buffer.from(JSON.stringify(r)),
    });
  }
  return specs;
}

/** The demand every benchmark pod gets on top of what its capture carries. */
const IOPS_REQUEST = '2k';

function withIopsRequest(pod: Json, iops: string): Json {
  return withRequests(pod, { 'ioplace.io/iops': iops });
}

export type Mode = 'NodeNames' | 'Nodes';
export type PodKind = 'demand' | 'no-demand';

/** The captured pods: with CNI bandwidth annotations and an IOPS request, or with no demand. */
function pod(mode: Mode, kind: PodKind): Json {
  if (kind === 'no-demand') return capture('filter-nodecache-true-plainpod').Pod;
  const source = mode === 'NodeNames' ? 'filter-nodecache-true' : 'filter-nodecache-false';
  return withIopsRequest(capture(source).Pod, IOPS_REQUEST);
}

/**
 * An ExtenderArgs body, compact as Go's encoding/json writes it, with the keys in the captured
 * order: `{"Pod":..,"Nodes":null,"NodeNames":[..]}` or `{"Pod":..,"Nodes":{"metadata":{},"items":[..]},"NodeNames":null}`.
 */
export function extenderArgs(
  mode: Mode,
  kind: PodKind,
  names: readonly string[],
  nodes?: readonly string[],
): Buffer {
  const podJson = JSON.stringify(pod(mode, kind));
  if (mode === 'NodeNames') return Buffer.from(nodeNamesArgs(podJson, JSON.stringify(names)));
  return Buffer.from(nodesArgs(podJson, (nodes ?? nodeObjectsJson(names)).join(',')));
}

/**
 * The captured Pod with demand, as the API server would list it once bound and running: with its
 * phase and start time (its spec.priority, 0, is in the capture already).
 */
export function boundPodTemplate(): Json {
  const source = withIopsRequest(capture('filter-nodecache-true').Pod, '100') as {
    metadata: Json;
    spec: Json;
    status?: Json;
  };
  source.status = { ...source.status, phase: 'Running', startTime: '2026-11-25T20:20:00Z' };
  return source as unknown as Json;
}

/**
 * The captured Pod of filter-nodecache-true.json, pending, asking for `iops` and nothing else
 * from ioplace (its CNI bandwidth annotations removed), without name, uid or resourceVersion.
 */
export function pendingPodTemplate(iops: string): Json {
  const source = withIopsRequest(capture('filter-nodecache-true').Pod, iops) as {
    metadata: { annotations?: Record<string, string> } & Json;
    spec: Json;
    status?: Json;
  };
  const annotations = { ...source.metadata.annotations };
  delete annotations['kubernetes.io/ingress-bandwidth'];
  delete annotations['kubernetes.io/egress-bandwidth'];
  source.metadata = { ...source.metadata, annotations, uid: undefined, resourceVersion: undefined };
  delete source.spec.nodeName;
  source.status = { phase: 'Pending' };
  return source as unknown as Json;
}
