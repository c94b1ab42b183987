/**
 * What the fuzz test mutates, by verb: the real kube-scheduler captures (test/fixtures), with or
 * without I/O demand on the pod, explain bodies built from their pods, and agent reports.
 */
import fc from 'fast-check';
import { capture } from './captures.js';
import type { BODY_VERBS, Verb } from './fuzz-endpoints.js';
import type { Json } from './fuzz-json-mutations.js';

// The captures, by verb, as parsed JSON.
export const CAPTURE_FILES: Record<'filter' | 'prioritize' | 'preempt' | 'bind', string[]> = {
  filter: [
    'filter-nodecache-true',
    'filter-nodecache-false',
    'filter-nodecache-true-plainpod',
    'filter-managed-resource',
    'filter-preemptor-after-preemption-nodecache-true',
    'filter-preemptor-after-preemption-nodecache-false',
    'filter-reject-all',
  ],
  prioritize: [
    'prioritize-nodecache-true',
    'prioritize-nodecache-false',
    'prioritize-lowercase-response-keys',
  ],
  preempt: ['preempt-nodecache-true', 'preempt-nodecache-false'],
  bind: ['bind', 'bind-error-then-ok'],
};
export const CAPTURES = Object.fromEntries(
  Object.entries(CAPTURE_FILES).map(([verb, files]) => [verb, files.map((f) => capture<Json>(f) as Json)]),
) as Record<keyof typeof CAPTURE_FILES, Json[]>;

/** Quantities a pod may ask with, good and bad. */
const quantity = fc.oneof(
  fc.constantFrom('2k', '100M', '1G', '1500m', '1Gi', '1e3', '0', '-5', '1e400', 'abc', '', ' 1k', '1.5.5'),
  fc.integer({ min: 0, max: 1_000_000 }).map(String),
  fc.integer({ min: 0, max: 1_000_000 }),
);
export const podDemandEdit = fc.record(
  {
    'ioplace.io/iops': quantity,
    'ioplace.io/ingress-bandwidth': quantity,
    'ioplace.io/egress-bandwidth': quantity,
  },
  { requiredKeys: [] },
);

/** The capture with I/O requests on its pod's first container (the captured pods ask for CPU only). */
export function withDemand(base: Json, requests: Record<string, string | number>): Json {
  const copy = structuredClone(base) as { [key: string]: Json };
  const podJson = copy.Pod as
    | { spec?: { containers?: { resources?: { requests?: Record<string, Json> } }[] } }
    | undefined;
  const container = podJson?.spec?.containers?.[0];
  if (container !== undefined) {
    container.resources ??= {};
    container.resources.requests = { ...container.resources.requests, ...requests };
  }
  return copy as Json;
}

const explainBase = (pod: Json, nodes: boolean): Json => ({
  pod,
  preview: {
    strategy: 'pack',
    weights: { iops: 3 },
    reserveFraction: 0.2,
    unknownNodes: 'allow',
    staleAfterSeconds: 60,
  },
  ...(nodes ? { nodes: ['node-a', 'node-b', 'never-reported'] } : {}),
});

export const REPORTS: Json[] = [
  { capacity: { ingressBandwidth: 1e9, egressBandwidth: 1e9, iops: 50_000 }, usage: { iops: 2000 } },
  { capacity: { iops: 100 } },
  { capacity: {}, usage: {} },
];

/** What the deep-nesting scan goes through, place by place: one base of each kind per verb. */
export const SCAN_BASES: Partial<Record<Verb, [string, Json][]>> = {
  filter: CAPTURE_FILES.filter.map((f) => [f, capture<Json>(f)]),
  prioritize: [['prioritize-nodecache-false', capture<Json>('prioritize-nodecache-false')]],
  preempt: CAPTURE_FILES.preempt.map((f) => [f, capture<Json>(f)]),
  bind: [['bind', capture<Json>('bind')]],
  explain: [
    [
      'explain of filter-nodecache-true',
      explainBase((capture<{ Pod: Json }>('filter-nodecache-true') as { Pod: Json }).Pod, true),
    ],
  ],
  report: [['report', REPORTS[0] as Json]],
};

/** A capture of the verb (or, now and then, of another verb), possibly with I/O demand, as a base to mutate. */
export function baseFor(verb: (typeof BODY_VERBS)[number]): fc.Arbitrary<Json> {
  const pods = CAPTURES.filter.map((c) => (c as { Pod: Json }).Pod);
  switch (verb) {
    case 'report':
      return fc.constantFrom(...REPORTS);
    case 'forget':
      return fc.constantFrom<Json>({}, null, REPORTS[0] as Json);
    case 'explain':
      return fc.tuple(fc.constantFrom(...pods), podDemandEdit, fc.nat(2)).map(([p, demand, form]) => {
        const podWith = (withDemand({ Pod: p }, demand) as { Pod: Json }).Pod;
        return form === 0 ? podWith : explainBase(podWith, form === 1);
      });
    default: {
      const own = CAPTURES[verb];
      const any = Object.values(CAPTURES).flat();
      return fc
        .tuple(
          fc.oneof(
            { weight: 5, arbitrary: fc.constantFrom(...own) },
            { weight: 1, arbitrary: fc.constantFrom(...any) },
          ),
          fc.option(podDemandEdit),
        )
        .map(([base, demand]) => (demand === null ? base : withDemand(base, demand)));
    }
  }
}
