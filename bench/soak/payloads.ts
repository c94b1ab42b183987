/**
 * What the soak test sends: a 5,000-node inventory whose agents report changing usage, scheduler
 * bodies built from the kube-scheduler v1.32.5 captures (a fresh pod name and uid per request, as
 * every scheduling attempt is a different pod), explain bodies, and junk that must be refused.
 * Node names, reports, Node objects and ExtenderArgs are the shared ones of
 * bench/harness/cluster-payloads.ts.
 */
import { randomUUID } from 'node:crypto';
import { capture, type Json, nodeName, nodeReport, prng, withRequests } from '../harness/cluster-payloads.js';

/** Nodes the scheduler knows but whose agent never reports: filter must answer them unknown. */
export function silentNodeName(i: number): string {
  return `ip-10-30-${Math.floor(i / 250)}-${(i % 250) + 4}.eu-west-1.compute.internal`;
}

/**
 * Node `i`'s report in round `round`: capacity fixed per node, usage moving from round to round.
 * 3% report no IOPS figure, 5% have only 1k IOPS, 12% are nearly full, the rest have 1, 10 or
 * 25 Gbit/s and 5k to 100k IOPS with 0 to 60% in use: filter turns a share of nodes away for
 * each reason.
 */
export function reportBody(i: number, round: number): string {
  const fixed = prng(i * 7919 + 1);
  const kind = fixed();
  const link = [1e9, 10e9, 25e9][Math.floor(fixed() * 3)] ?? 10e9;
  const iops = [5_000, 20_000, 50_000, 100_000][Math.floor(fixed() * 4)] ?? 20_000;
  const moving = prng(i * 7919 + round * 104_729 + 17);
  const load = kind >= 0.08 && kind < 0.2 ? 0.95 + moving() * 0.05 : moving() * 0.6;
  return JSON.stringify(nodeReport(link, iops, load, kind < 0.03 ? 'none' : kind < 0.08 ? 'small' : 'full'));
}

const NAME_TOKEN = '__SOAK_POD_NAME__';
const UID_TOKEN = '__SOAK_POD_UID__';

/** A pod as JSON text with a fresh name and uid per call, from a template split once. */
export class PodTemplate {
  readonly #parts: string[];
  readonly label: string;
  #n = 0;

  constructor(label: string, pod: Json) {
    this.label = label;
    const copy = structuredClone(pod) as { metadata: Json };
    copy.metadata.name = NAME_TOKEN;
    copy.metadata.uid = UID_TOKEN;
    copy.metadata.generateName = undefined;
    this.#parts = JSON.stringify(copy).split(new RegExp(`(${NAME_TOKEN}|${UID_TOKEN})`));
  }

  next(): string {
    this.#n += 1;
    const name = `soak-${this.label}-${this.#n.toString(36)}`;
    const uid = randomUUID();
    let out = '';
    for (const part of this.#parts) out += part === NAME_TOKEN ? name : part === UID_TOKEN ? uid : part;
    return out;
  }
}

/**
 * The pods scheduled, in NodeNames mode: the captured `pod-annotated` (CNI annotations 100M in,
 * 50M out) with IOPS requests of several sizes, one that asks for bandwidth as an extended
 * resource, and now and then one with a malformed quantity (answered 200, failing every node).
 */
export function nodeNamesPods(): { template: PodTemplate; weight: number }[] {
  const base = capture('filter-nodecache-true').Pod;
  return [
    { template: new PodTemplate('iops2k', withRequests(base, { 'ioplace.io/iops': '2k' })), weight: 10 },
    { template: new PodTemplate('iops500', withRequests(base, { 'ioplace.io/iops': '500' })), weight: 5 },
    { template: new PodTemplate('iops30k', withRequests(base, { 'ioplace.io/iops': '30k' })), weight: 2 },
    {
      template: new PodTemplate(
        'bw',
        withRequests(base, { 'ioplace.io/iops': '1k', 'ioplace.io/ingress-bandwidth': '2G' }),
      ),
      weight: 2,
    },
    { template: new PodTemplate('bad', withRequests(base, { 'ioplace.io/iops': '-5' })), weight: 1 },
  ];
}

/** The captured Nodes-mode pod (`nc-false-1`, 100M ingress annotation) with a 2k IOPS request. */
export function nodesModePod(): PodTemplate {
  return new PodTemplate(
    'nodes',
    withRequests(capture('filter-nodecache-false').Pod, { 'ioplace.io/iops': '2k' }),
  );
}

/** Picks items by weight with a PRNG. */
export function weightedPicker<T>(items: { weight: number; value: T }[], rnd: () => number): () => T {
  const total = items.reduce((s, i) => s + i.weight, 0);
  return () => {
    let r = rnd() * total;
    for (const item of items) {
      r -= item.weight;
      if (r < 0) return item.value;
    }
    return (items[items.length - 1] as { value: T }).value;
  };
}

/**
 * `lists` candidate lists of `size` names each, as kube-scheduler sends them after its own
 * filters: a random sample of the reporting nodes, with about 1% silent nodes mixed in.
 */
export function candidateLists(lists: number, size: number, nodes: number, silent: number): string[][] {
  const rnd = prng(4242);
  const out: string[][] = [];
  for (let l = 0; l < lists; l++) {
    const picked = new Set<string>();
    while (picked.size < size) {
      picked.add(
        rnd() < 0.01 ? silentNodeName(Math.floor(rnd() * silent)) : nodeName(Math.floor(rnd() * nodes)),
      );
    }
    out.push([...picked]);
  }
  return out;
}

/** A request that must be refused with a 4xx, and the status ioplace documents for it. */
export interface JunkCase {
  readonly name: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly contentType?: string;
  readonly body?: string;
  readonly expect: number;
}

export function junkCases(): JunkCase[] {
  const node = nodeName(7);
  const pod = JSON.stringify(capture('filter-nodecache-true').Pod);
  const json = 'application/json';
  return [
    {
      name: 'filter: malformed JSON',
      method: 'POST',
      path: '/scheduler/filter',
      contentType: json,
      body: '{"Pod": {"metadata": ',
      expect: 400,
    },
    {
      name: 'filter: NodeNames not an array',
      method: 'POST',
      path: '/scheduler/filter',
      contentType: json,
      body: `{"Pod":${pod},"Nodes":null,"NodeNames":"node-a"}`,
      expect: 400,
    },
    {
      name: 'filter: neither Nodes nor NodeNames',
      method: 'POST',
      path: '/scheduler/filter',
      contentType: json,
      body: `{"Pod":${pod},"Nodes":null,"NodeNames":null}`,
      expect: 400,
    },
    {
      name: 'filter: Pod a string',
      method: 'POST',
      path: '/scheduler/filter',
      contentType: json,
      body: '{"Pod":"web-1","NodeNames":["a"]}',
      expect: 400,
    },
    {
      name: 'prioritize: body an array',
      method: 'POST',
      path: '/scheduler/prioritize',
      contentType: json,
      body: '[1,2,3]',
      expect: 400,
    },
    {
      name: 'prioritize: text/plain',
      method: 'POST',
      path: '/scheduler/prioritize',
      contentType: 'text/plain',
      body: 'hello',
      expect: 415,
    },
    {
      name: 'report: iops a string',
      method: 'PUT',
      path: `/v1/nodes/${node}/report`,
      contentType: json,
      body: '{"capacity":{"iops":"lots"}}',
      expect: 400,
    },
    {
      name: 'report: negative capacity',
      method: 'PUT',
      path: `/v1/nodes/${node}/report`,
      contentType: json,
      body: '{"capacity":{"iops":-1}}',
      expect: 400,
    },
    {
      name: 'report: unknown field',
      method: 'PUT',
      path: `/v1/nodes/${node}/report`,
      contentType: json,
      body: '{"capacity":{"iops":1},"cpu":4}',
      expect: 400,
    },
    {
      name: 'report: truncated JSON',
      method: 'PUT',
      path: `/v1/nodes/${node}/report`,
      contentType: json,
      body: '{"capacity":{"io',
      expect: 400,
    },
    {
      name: 'report: bad node name',
      method: 'PUT',
      path: '/v1/nodes/Not_A_Node/report',
      contentType: json,
      body: '{"capacity":{"iops":1}}',
      expect: 400,
    },
    {
      name: 'explain: malformed JSON',
      method: 'POST',
      path: '/v1/explain',
      contentType: json,
      body: '{"pod": {',
      expect: 400,
    },
    { name: 'node: unknown', method: 'GET', path: '/v1/nodes/never-reported-node', expect: 404 },
    { name: 'route: unknown', method: 'GET', path: '/scheduler/nothing-here', expect: 404 },
  ];
}
