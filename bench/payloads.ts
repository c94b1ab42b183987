/**
 * What the benchmark sends: node names shaped like a cloud provider's, agent reports with mixed
 * capacities and usages (so that filter turns some nodes away), and scheduler request bodies
 * built from the kube-scheduler v1.32.5 captures in test/fixtures.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RequestSpec } from './load.js';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/kube-scheduler-v1.32.5/', import.meta.url));

type Json = Record<string, unknown>;

interface Capture {
  Pod: Json;
  Nodes: { metadata: Json; items: Json[] } | null;
  NodeNames: string[] | null;
}

function capture(file: string): Capture {
  return JSON.parse(readFileSync(`${FIXTURES}${file}`, 'utf8')) as Capture;
}

/** Node `i` (0-based), named as EKS names its nodes: by private IP address. */
export function nodeName(i: number): string {
  return `ip-10-20-${Math.floor(i / 250)}-${(i % 250) + 4}.eu-west-1.compute.internal`;
}

export function nodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => nodeName(i));
}

/** A small deterministic PRNG (mulberry32): the same inventory on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Amounts {
  ingressBandwidth?: number;
  egressBandwidth?: number;
  iops?: number;
}

export interface Report {
  capacity: Amounts;
  usage: Amounts;
}

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

/**
 * A report of a node with `link` bit/s each way and `iops`, `load` (0..1) of it in use, egress at
 * half the ingress load. Its IOPS figure: `full` as given, `none` (the agent measures none), or
 * `small` (1k IOPS whatever `iops` says). The soak test builds its reports with it too.
 */
export function nodeReport(
  link: number,
  iops: number,
  load: number,
  disk: 'full' | 'none' | 'small',
): Report {
  const capacity: Amounts = { ingressBandwidth: link, egressBandwidth: link, iops };
  const usage: Amounts = {
    ingressBandwidth: Math.round(link * load),
    egressBandwidth: Math.round(link * load * 0.5),
    iops: Math.round(iops * load),
  };
  if (disk === 'none') {
    delete capacity.iops;
    delete usage.iops;
  } else if (disk === 'small') {
    capacity.iops = 1_000;
    usage.iops = Math.round(1_000 * load);
  }
  return { capacity, usage };
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
  const copy = structuredClone(pod) as { spec: { containers: { resources?: Json }[] } };
  for (const c of copy.spec.containers) {
    const resources = (c.resources ?? {}) as { requests?: Json; limits?: Json };
    resources.requests = { ...resources.requests, 'ioplace.io/iops': iops };
    c.resources = resources;
  }
  return copy as unknown as Json;
}

export type Mode = 'NodeNames' | 'Nodes';
export type PodKind = 'demand' | 'no-demand';

/** The captured pods: with CNI bandwidth annotations and an IOPS request, or with no demand. */
function pod(mode: Mode, kind: PodKind): Json {
  if (kind === 'no-demand') return capture('filter-nodecache-true-plainpod.json').Pod;
  const source = mode === 'NodeNames' ? 'filter-nodecache-true.json' : 'filter-nodecache-false.json';
  return withIopsRequest(capture(source).Pod, IOPS_REQUEST);
}

/** The captured Node `node-b`, compact, as a template whose name is replaced. */
function nodeTemplate(): { text: string; name: string; uid: string } {
  const items = capture('filter-nodecache-false.json').Nodes?.items ?? [];
  const node = items[0] as { metadata: { name: string; uid: string } } | undefined;
  if (node === undefined) throw new Error('filter-nodecache-false.json has no Node');
  return { text: JSON.stringify(node), name: node.metadata.name, uid: node.metadata.uid };
}

/**
 * `count` Node objects as JSON text, each the captured Node with its name (also in its labels
 * and last-applied annotation) and uid changed: the shape kube-scheduler sends.
 */
export function nodeObjectsJson(names: readonly string[]): string[] {
  const template = nodeTemplate();
  return names.map((name) =>
    template.text.replaceAll(template.name, name).replaceAll(template.uid, randomUUID()),
  );
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
  if (mode === 'NodeNames') {
    return Buffer.from(`{"Pod":${podJson},"Nodes":null,"NodeNames":${JSON.stringify(names)}}`);
  }
  const items = nodes ?? nodeObjectsJson(names);
  return Buffer.from(
    `{"Pod":${podJson},"Nodes":{"metadata":{},"items":[${items.join(',')}]},"NodeNames":null}`,
  );
}

/**
 * The captured Pod with demand, as the API server would list it once bound and running: with its
 * phase and start time (its spec.priority, 0, is in the capture already).
 */
export function boundPodTemplate(): Json {
  const source = withIopsRequest(capture('filter-nodecache-true.json').Pod, '100') as {
    metadata: Json;
    spec: Json;
    status?: Json;
  };
  source.status = { ...source.status, phase: 'Running', startTime: '2026-11-25T20:20:00Z' };
  return source as unknown as Json;
}

/** The captured Node, with the given name (for the fake API server). */
export function nodeObject(name: string): Json {
  const template = nodeTemplate();
  return JSON.parse(
    template.text.replaceAll(template.name, name).replaceAll(template.uid, randomUUID()),
  ) as Json;
}

/**
 * The captured Pod of filter-nodecache-true.json, pending, asking for `iops` and nothing else
 * from ioplace (its CNI bandwidth annotations removed), without name, uid or resourceVersion.
 */
export function pendingPodTemplate(iops: string): Json {
  const source = withIopsRequest(capture('filter-nodecache-true.json').Pod, iops) as {
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
