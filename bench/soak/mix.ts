/**
 * The traffic mix: production rates of a 5,000-node cluster, times `scale`, as load streams.
 *
 * Production (scale 1), the assumption every rate derives from:
 * - kube-scheduler places 100 pods/s; each pod costs one filter and one prioritize call in
 *   NodeNames mode (nodeCacheCapable). The scheduler stops its own filtering once it has found
 *   `percentageOfNodesToScore` of the nodes feasible (adaptive: max(5, 50 - nodes/125)%, at least
 *   100 nodes), so each call names ~500 nodes at 5,000.
 * - every node's agent reports every 10 s: 500 reports/s.
 * - a second scheduler whose extender entry has nodeCacheCapable: false, at 1 pod/s: full Node
 *   objects (the ~500 candidates, 1.2 MB a body).
 * - operators or CI jobs running explain: 1 every 8 s over the whole inventory, 1 every 8 s over
 *   50 nodes with a what-if preview; junk from a broken client: 1/s; node
 *   churn (autoscaler nodes joining, reporting and being deleted): 1 request/s.
 * - Prometheus scraping /metrics: not scaled, every 5 s here (SOAK_SCRAPE_SECONDS; 15-30 s in
 *   production), because each scrape is also the heap sample.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { nodeName, nodeNamesArgs, nodeObjectsJson, nodesArgs, prng } from '../harness/cluster-payloads.js';
import type { PlannedRequest, Stream } from './open-loop-load.js';
import {
  candidateLists,
  junkCases,
  nodeNamesPods,
  nodesModePod,
  reportBody,
  weightedPicker,
} from './payloads.js';

const JSON_TYPE = 'application/json';
const EXPLAIN_PREVIEW = JSON.stringify({ strategy: 'pack', reserveFraction: 0.2, weights: { iops: 3 } });

export interface MixOptions {
  readonly nodes: number;
  readonly silentNodes: number;
  readonly scale: number;
  readonly scrapeEverySeconds: number;
  /** Called with every /metrics answer; returns what is wrong with it, if anything. */
  readonly onScrape: (text: string) => string | undefined;
}

export interface Rates {
  readonly productionPodsPerSecond: number;
  readonly candidatesPerCall: number;
  readonly reportIntervalSeconds: number;
  readonly perKind: Record<string, { production: number; target: number; maxInFlight: number }>;
}

/** kube-scheduler's adaptive percentageOfNodesToScore, as a node count. */
export function candidatesPerCall(nodes: number): number {
  const percent = Math.max(5, 50 - nodes / 125);
  return Math.min(nodes, Math.max(100, Math.floor((nodes * percent) / 100)));
}

const PODS_PER_SECOND = 100;
const REPORT_INTERVAL_S = 10;

type FilterResult = {
  Nodes: { items: unknown[] } | null;
  NodeNames: string[] | null;
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
};

function checkFilter(
  text: string,
  sent: number,
  mode: 'NodeNames' | 'Nodes',
  nonePass: boolean,
): string | undefined {
  const r = JSON.parse(text) as FilterResult;
  if (r.Error !== '') return `Error ${JSON.stringify(r.Error)}`;
  const failed =
    Object.keys(r.FailedNodes ?? {}).length + Object.keys(r.FailedAndUnresolvableNodes ?? {}).length;
  let passed: number;
  if (mode === 'NodeNames') {
    if (r.Nodes !== null || !Array.isArray(r.NodeNames)) return 'NodeNames mode answered without NodeNames';
    passed = r.NodeNames.length;
  } else {
    if (r.NodeNames !== null || !Array.isArray(r.Nodes?.items)) return 'Nodes mode answered without Nodes';
    passed = r.Nodes.items.length;
  }
  if (passed + failed !== sent) return `${passed} passed + ${failed} failed != ${sent} candidates`;
  if (nonePass && passed !== 0) return `${passed} nodes passed a pod with an invalid quantity`;
  return undefined;
}

function checkPrioritize(text: string, names: readonly string[]): string | undefined {
  const r = JSON.parse(text) as { Host: string; Score: number }[];
  if (!Array.isArray(r) || r.length !== names.length) return `expected ${names.length} scores`;
  for (let i = 0; i < r.length; i++) {
    const e = r[i] as { Host: string; Score: number };
    if (e.Host !== names[i]) return `score ${i} is for ${e.Host}, not ${names[i]}`;
    if (!Number.isInteger(e.Score) || e.Score < 0 || e.Score > 10) return `score ${e.Score} for ${e.Host}`;
  }
  return undefined;
}

/** The streams of the mix and the rates they run at. */
export function buildMix(options: MixOptions): {
  streams: Stream[];
  rates: Rates;
  junkExpected: Map<string, number>;
} {
  const { nodes, scale } = options;
  const candidates = candidatesPerCall(nodes);
  const rnd = prng(99);

  // NodeNames mode: 32 candidate lists, the pods of payloads.ts.
  const lists = candidateLists(32, candidates, nodes, options.silentNodes).map((names) => ({
    names,
    json: JSON.stringify(names),
  }));
  const pods = nodeNamesPods();
  const pickPod = weightedPicker(
    pods.map((p) => ({ weight: p.weight, value: p.template })),
    rnd,
  );
  let listIndex = 0;
  const nextList = () => lists[listIndex++ % lists.length] as { names: string[]; json: string };

  // Nodes mode: 4 candidate lists as full Node objects.
  const nodesPod = nodesModePod();
  const nodeLists = candidateLists(4, candidates, nodes, 0).map((names) => ({
    count: names.length,
    items: nodeObjectsJson(names).join(','),
  }));
  let nodesIndex = 0;

  // Reports: round robin over the nodes, with usage changing every round.
  let reportSeq = 0;

  // Churn: autoscaler nodes that join, report, and are deleted after a while.
  const churnLifetimeMs = 20_000;
  const churnPopulation = 20;
  const live: { name: string; born: number }[] = [];
  let churnSeq = 0;

  // Explain: the whole inventory, or 50 nodes with a preview.
  const explainPod = pods[0]?.template;
  if (explainPod === undefined) throw new Error('no pods to explain');
  const explainNames = (lists[0]?.names ?? []).slice(0, 50);
  const explainNamesJson = JSON.stringify(explainNames);

  const junk = junkCases();
  let junkSeq = 0;

  const perKind: Rates['perKind'] = {};
  const stream = (
    kind: string,
    production: number,
    maxInFlight: number,
    next: () => PlannedRequest,
  ): Stream => {
    const target = production * scale;
    perKind[kind] = { production, target, maxInFlight };
    return { kind, ratePerSecond: target, maxInFlight, next };
  };
  const fixed = (kind: string, target: number, next: () => PlannedRequest): Stream => {
    perKind[kind] = { production: target, target, maxInFlight: 1 };
    return { kind, ratePerSecond: target, maxInFlight: 1, next };
  };

  const streams: Stream[] = [
    stream('filter', PODS_PER_SECOND, 8, () => {
      const pod = pickPod();
      const list = nextList();
      return {
        method: 'POST',
        path: '/scheduler/filter',
        contentType: JSON_TYPE,
        body: nodeNamesArgs(pod.next(), list.json),
        check: (_s, text) => checkFilter(text, list.names.length, 'NodeNames', pod.label === 'bad'),
      };
    }),
    stream('prioritize', PODS_PER_SECOND, 8, () => {
      const pod = pickPod();
      const list = nextList();
      return {
        method: 'POST',
        path: '/scheduler/prioritize',
        contentType: JSON_TYPE,
        body: nodeNamesArgs(pod.next(), list.json),
        check: (_s, text) => checkPrioritize(text, list.names),
      };
    }),
    stream('filter-nodes-mode', 1, 2, () => {
      const list = nodeLists[nodesIndex++ % nodeLists.length] as { count: number; items: string };
      return {
        method: 'POST',
        path: '/scheduler/filter',
        contentType: JSON_TYPE,
        body: nodesArgs(nodesPod.next(), list.items),
        check: (_s, text) => checkFilter(text, list.count, 'Nodes', false),
      };
    }),
    stream('report', nodes / REPORT_INTERVAL_S, 32, () => {
      const seq = reportSeq++;
      const i = seq % nodes;
      const name = nodeName(i);
      return {
        method: 'PUT',
        path: `/v1/nodes/${name}/report`,
        contentType: JSON_TYPE,
        body: reportBody(i, 1 + Math.floor(seq / nodes)),
        check: (_s, text) => {
          const r = JSON.parse(text) as { node?: string; fresh?: boolean };
          return r.node === name && r.fresh === true ? undefined : `answered ${text.slice(0, 200)}`;
        },
      };
    }),
    stream('churn', 1, 4, () => {
      const now = performance.now();
      const oldest = live[0];
      if (oldest !== undefined && now - oldest.born > churnLifetimeMs) {
        live.shift();
        return {
          method: 'DELETE',
          path: `/v1/nodes/${oldest.name}`,
          check: (status) => (status === 204 ? undefined : `DELETE answered ${status}, not 204`),
        };
      }
      let name: string;
      if (live.length < churnPopulation) {
        churnSeq += 1;
        name = `churn-${churnSeq}-${randomUUID().slice(0, 8)}.soak.internal`;
        live.push({ name, born: now });
      } else {
        name = (live[Math.floor(rnd() * live.length)] as { name: string }).name;
      }
      return {
        method: 'PUT',
        path: `/v1/nodes/${name}/report`,
        contentType: JSON_TYPE,
        body: reportBody(churnSeq, Math.floor(now / 1000)),
        check: (_s, text) =>
          (JSON.parse(text) as { node?: string }).node === name ? undefined : 'wrong node',
      };
    }),
    stream('explain-all', 0.125, 2, () => ({
      method: 'POST',
      path: '/v1/explain',
      contentType: JSON_TYPE,
      body: `{"pod":${explainPod.next()}}`,
      check: (_s, text) => {
        const n = (JSON.parse(text) as { nodes?: unknown[] }).nodes?.length ?? -1;
        return n >= nodes ? undefined : `explained ${n} nodes, the inventory has at least ${nodes}`;
      },
    })),
    stream('explain-50', 0.125, 2, () => ({
      method: 'POST',
      path: '/v1/explain',
      contentType: JSON_TYPE,
      body: `{"pod":${explainPod.next()},"preview":${EXPLAIN_PREVIEW},"nodes":${explainNamesJson}}`,
      check: (_s, text) => {
        const r = JSON.parse(text) as { nodes?: { preview?: unknown }[] };
        if (r.nodes?.length !== explainNames.length)
          return `explained ${r.nodes?.length} of ${explainNames.length} nodes`;
        return r.nodes.every((n) => n.preview !== undefined)
          ? undefined
          : 'a node without its preview verdict';
      },
    })),
    stream('junk', 1, 4, () => {
      const c = junk[junkSeq++ % junk.length] as (typeof junk)[number];
      return {
        method: c.method,
        path: c.path,
        contentType: c.contentType,
        body: c.body,
        junk: true,
        label: c.name,
        check: () => undefined,
      };
    }),
    fixed('metrics', 1 / options.scrapeEverySeconds, () => ({
      method: 'GET',
      path: '/metrics',
      check: (_s, text) => options.onScrape(text),
    })),
  ];

  return {
    streams,
    rates: {
      productionPodsPerSecond: PODS_PER_SECOND,
      candidatesPerCall: candidates,
      reportIntervalSeconds: REPORT_INTERVAL_S,
      perKind,
    },
    junkExpected: new Map(junk.map((c) => [c.name, c.expect])),
  };
}
