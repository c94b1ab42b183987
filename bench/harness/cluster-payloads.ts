/**
 * The cluster both entry points load ioplace with: node names shaped like a cloud provider's,
 * agent reports, Node objects and ExtenderArgs bodies built from the kube-scheduler v1.32.5
 * captures in test/fixtures (compact, keys in the captured order, as Go's encoding/json writes
 * them). What each entry point makes of them is in bench/payloads.ts and bench/soak/payloads.ts.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CAPTURES = fileURLToPath(new URL('../../test/fixtures/kube-scheduler-v1.32.5/', import.meta.url));

export type Json = Record<string, unknown>;

export interface Capture {
  Pod: Json;
  Nodes: { metadata: Json; items: Json[] } | null;
  NodeNames: string[] | null;
}

/** A capture by name, e.g. `filter-nodecache-true`. */
export function capture(name: string): Capture {
  return JSON.parse(readFileSync(`${CAPTURES}${name}.json`, 'utf8')) as Capture;
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
 * A report of a node with `link` bit/s each way and `iops`, `load` (0..1) of it in use, egress at
 * half the ingress load. Its IOPS figure: `full` as given, `none` (the agent measures none), or
 * `small` (1k IOPS whatever `iops` says).
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

type Containers = { resources?: { requests?: Json; limits?: Json } }[];

/** A copy of the pod with `requests` added to every container's resource requests. */
export function withRequests(pod: Json, requests: Record<string, string>): Json {
  const copy = structuredClone(pod) as { spec: { containers: Containers } };
  for (const c of copy.spec.containers) {
    const resources = c.resources ?? {};
    resources.requests = { ...resources.requests, ...requests };
    c.resources = resources;
  }
  return copy as unknown as Json;
}

/** The captured Node `node-b`, compact, as a template whose name is replaced. */
function nodeTemplate(): { text: string; name: string; uid: string } {
  const items = capture('filter-nodecache-false').Nodes?.items ?? [];
  const node = items[0] as { metadata: { name: string; uid: string } } | undefined;
  if (node === undefined) throw new Error('filter-nodecache-false.json has no Node');
  return { text: JSON.stringify(node), name: node.metadata.name, uid: node.metadata.uid };
}

/**
 * Node objects as JSON text, each the captured Node with its name (also in its labels and
 * last-applied annotation) and uid changed: the shape kube-scheduler sends.
 */
export function nodeObjectsJson(names: readonly string[]): string[] {
  const template = nodeTemplate();
  return names.map((name) =>
    template.text.replaceAll(template.name, name).replaceAll(template.uid, randomUUID()),
  );
}

/** The captured Node, with the given name (for the fake API server). */
export function nodeObject(name: string): Json {
  return JSON.parse(nodeObjectsJson([name])[0] as string) as Json;
}

/** ExtenderArgs in NodeNames mode (nodeCacheCapable: true), from the pod's and the names' JSON. */
export function nodeNamesArgs(podJson: string, namesJson: string): string {
  return `{"Pod":${podJson},"Nodes":null,"NodeNames":${namesJson}}`;
}

/** ExtenderArgs in Nodes mode (nodeCacheCapable: false), from the pod's JSON and the Nodes' JSON, comma-separated. */
export function nodesArgs(podJson: string, itemsJson: string): string {
  return `{"Pod":${podJson},"Nodes":{"metadata":{},"items":[${itemsJson}]},"NodeNames":null}`;
}
