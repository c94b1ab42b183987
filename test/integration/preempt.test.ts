import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { capture } from '../support/captures.js';
import {
  type ClusterHarness,
  node,
  type PodSpecInput,
  pod,
  podsTracked,
  report,
  startCluster,
} from '../support/cluster-harness.js';
import { waitFor } from '../support/fake-apiserver.js';
import { call } from '../support/test-server.js';

interface Container {
  resources?: { requests?: Record<string, string> };
}
interface WirePod {
  metadata: { name: string; uid: string };
  spec: { containers: Container[]; nodeName?: string; priority?: unknown };
}
type Victims<P> = Record<string, { Pods: P[]; NumPDBViolations: number }>;
interface PreemptArgs {
  Pod: WirePod;
  NodeNameToVictims: Victims<WirePod> | null;
  NodeNameToMetaVictims: Victims<{ UID: string }> | null;
}
interface PreemptResult {
  NodeNameToMetaVictims: Victims<{ UID: string }>;
}

const NODES = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'];
/** The preemptor's priority in both captures (its PriorityClass harness-high). */
const PREEMPTOR_PRIORITY = 100_000;
/** The priority of the captured victims (harness-low). */
const VICTIM_PRIORITY = 100;
/** Above the preemptor: never a victim. */
const HIGH = 1_000_000;

let h: ClusterHarness;
afterEach(async () => {
  await h.close();
});

function askIops(p: WirePod, iops: string): void {
  const container = p.spec.containers[0];
  if (container === undefined) throw new Error('capture pod has no container');
  container.resources = { requests: { ...container.resources?.requests, 'ioplace.io/iops': iops } };
}

interface Seeded extends PodSpecInput {
  readonly node: string;
  readonly priority?: number;
  readonly startTime?: string;
}

/** A bound, running pod with a priority and a start time, as the API shows one. */
function running(name: string, input: Seeded): V1Pod {
  const p = pod(name, { uid: `uid-${name}`, ...input });
  if (p.spec === undefined) throw new Error('pod() made no spec');
  return {
    ...p,
    spec: { ...p.spec, ...(input.priority === undefined ? {} : { priority: input.priority }) },
    status: {
      ...p.status,
      ...(input.startTime === undefined ? {} : { startTime: new Date(input.startTime) }),
    },
  };
}

/**
 * Every node has 10k iops (9k allocatable), reported with `usage` (none by default), and holds
 * `pods`. Resolves once ioplace knows every pod that asks for iops.
 */
async function seed(pods: readonly V1Pod[], usage: Record<string, number> = {}): Promise<void> {
  h = await startCluster({}, (api) => {
    for (const n of NODES) api.addNode(node(n));
    for (const p of pods) api.addPod(p);
  });
  for (const n of NODES) {
    const body = { capacity: { iops: 10_000 }, usage: { iops: usage[n] ?? 0 } };
    expect(await report(h.server, n, body)).toBe(200);
  }
  const withDemand = pods.filter((p) => p.spec?.containers[0]?.resources?.requests?.['ioplace.io/iops']);
  await waitFor(async () => (await podsTracked(h.server)) === withDemand.length, 5000, 'the pods');
}

function preempt(args: unknown) {
  return call<PreemptResult>(`${h.server.url}/scheduler/preempt`, 'POST', args);
}

async function preemptionCounts(): Promise<Record<string, number>> {
  const text = await (await fetch(`${h.server.url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^ioplace_preemption_nodes_total\{result="(\w+)"\} (\d+)$/gm)) {
    counts[m[1] as string] = Number(m[2]);
  }
  return counts;
}

/** The capture with uids, the victims the scheduler sent named by node. */
function metaCapture() {
  const args = capture<PreemptArgs>('preempt-nodecache-true');
  const meta = args.NodeNameToMetaVictims ?? {};
  const sentUid = (n: string) => meta[n]?.Pods[0]?.UID ?? '';
  askIops(args.Pod, '4k');
  return { args, meta, sentUid };
}

/** The pod the scheduler named as the victim on `n`, seeded with the uid it sent. */
function sentVictim(n: string, uid: string, iops: string | undefined): V1Pod {
  return running(`victim-${n}`, {
    node: n,
    uid,
    priority: VICTIM_PRIORITY,
    ...(iops === undefined ? {} : { iops }),
  });
}

function emptied<P>(victims: Victims<P>): Victims<P> {
  return Object.fromEntries(Object.keys(victims).map((n) => [n, { Pods: [], NumPDBViolations: 0 }]));
}

describe('preempt', () => {
  it('keeps the victims sent, unchanged, where they free enough; drops a node that no lower-priority pod can free', async () => {
    const { args, meta, sentUid } = metaCapture();
    // Victims: a frees 6k, b 1k, c nothing ioplace manages, d and e are not in the store. The
    // rest of each node's 8.5k is held by a pod of higher priority than the preemptor's.
    const victimIops: Record<string, string | undefined> = { 'node-a': '6k', 'node-b': '1k' };
    const pods = NODES.flatMap((n) => {
      const iops = victimIops[n];
      const rest = 8_500 - (iops === undefined ? 0 : Number.parseInt(iops, 10) * 1000);
      const victim = n === 'node-d' || n === 'node-e' ? [] : [sentVictim(n, sentUid(n), iops)];
      return [...victim, running(`${n}-high`, { node: n, iops: String(rest), priority: HIGH })];
    });
    await seed(pods);

    const res = await preempt(args);
    expect(res.status).toBe(200);
    // a: 9k - 2.5k = 6.5k free after eviction; b 1.5k; c, d, e 0.5k; and nothing else may go.
    expect(res.body).toEqual({ NodeNameToMetaVictims: { 'node-a': meta['node-a'] } });
    expect(await preemptionCounts()).toEqual({ kept: 1, dropped: 4 });
  });

  it('with empty victim lists (newer schedulers), chooses the victims itself among lower-priority pods', async () => {
    const { args } = metaCapture();
    args.NodeNameToMetaVictims = emptied(args.NodeNameToMetaVictims ?? {});
    await seed(
      [
        // a: 8.5k held, 0.5k free, 3.5k to free. Of the two 3k pods of equal priority the one
        // started later goes; the 500 of lowest priority then completes it, and low-early is spared.
        running('a-high', { node: 'node-a', iops: '2k', priority: HIGH }),
        running('a-low-early', {
          node: 'node-a',
          iops: '3k',
          priority: 10,
          startTime: '2026-11-25T19:00:00Z',
        }),
        running('a-low-late', {
          node: 'node-a',
          iops: '3k',
          priority: 10,
          startTime: '2026-11-25T19:05:00Z',
        }),
        running('a-lowest', { node: 'node-a', iops: '500', priority: 5, startTime: '2026-11-25T18:00:00Z' }),
        // b: only pods that outrank the preemptor.
        running('b-high', { node: 'node-b', iops: '8500', priority: HIGH }),
        // c: room already; nothing needs to go, and the scheduler must not get an empty list.
        running('c-low', { node: 'node-c', iops: '1k', priority: 1 }),
        // d: the preemptor's own priority is no lower: never a victim.
        running('d-peer', { node: 'node-d', iops: '8500', priority: PREEMPTOR_PRIORITY }),
        // e: declared 3k, but 9k measured in use: evicting the pod frees 3k, 4k are needed.
        running('e-low', { node: 'node-e', iops: '3k', priority: 1 }),
      ],
      { 'node-e': 9_000 },
    );

    const res = await preempt(args);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      NodeNameToMetaVictims: {
        'node-a': { Pods: [{ UID: 'uid-a-low-late' }, { UID: 'uid-a-lowest' }], NumPDBViolations: 0 },
      },
    });
    expect(await preemptionCounts()).toEqual({ chosen: 1, dropped: 4 });
  });

  it('adds victims of its own on top of those sent when they free too little by its figures', async () => {
    const { args, meta, sentUid } = metaCapture();
    const pods = NODES.flatMap((n) => [
      sentVictim(n, sentUid(n), '1k'),
      running(`${n}-high`, { node: n, iops: '4500', priority: HIGH }),
      // Below the sent victim's priority: listed after it.
      running(`${n}-low`, { node: n, iops: '3k', priority: VICTIM_PRIORITY - 1 }),
    ]);
    await seed(pods);
    // 8.5k held: 0.5k free, the sent 1k leaves 2.5k short; each node's low pod makes up for it.
    // On node-c a preemptor-priority pod takes the low pod's place: there only the sent victim can go.
    h.api.updatePod('default', 'node-c-low', (p) => {
      if (p.spec !== undefined) p.spec.priority = PREEMPTOR_PRIORITY;
    });
    await waitFor(
      () => h.server.app.watches?.pod('uid-node-c-low')?.priority === PREEMPTOR_PRIORITY,
      5000,
      'c',
    );

    const res = await preempt(args);
    expect(res.status).toBe(200);
    const expected = Object.fromEntries(
      NODES.filter((n) => n !== 'node-c').map((n) => [
        n,
        { Pods: [{ UID: sentUid(n) }, { UID: `uid-${n}-low` }], NumPDBViolations: meta[n]?.NumPDBViolations },
      ]),
    );
    expect(res.body).toEqual({ NodeNameToMetaVictims: expected });
    expect(await preemptionCounts()).toEqual({ chosen: 4, dropped: 1 });
  });

  it('with full victim pods, answers only pods it was sent: an empty or short list drops the node', async () => {
    const args = capture<PreemptArgs>('preempt-nodecache-false');
    const victims = args.NodeNameToVictims ?? {};
    const sent = (n: string) => {
      const v = victims[n]?.Pods[0];
      if (v === undefined) throw new Error(`no victim on ${n}`);
      return v;
    };
    // a's victim frees 6k (enough); b's 1k (short); c, d, e are sent empty. Every node also has
    // a lower-priority pod that would make room, which uid mode would add.
    const victimIops: Record<string, string> = { 'node-a': '6k', 'node-b': '1k' };
    const pods = NODES.flatMap((n) => {
      const iops = victimIops[n];
      const v = sent(n).metadata;
      const victim = iops === undefined ? [] : [sentVictim(n, v.uid, iops)];
      const held = iops === undefined ? 0 : Number.parseInt(iops, 10) * 1000;
      return [...victim, running(`${n}-low`, { node: n, iops: String(8_500 - held), priority: 1 })];
    });
    await seed(pods);
    for (const [n, v] of Object.entries(victims)) {
      const iops = victimIops[n];
      if (iops === undefined) v.Pods = [];
      else for (const p of v.Pods) askIops(p, iops);
    }
    askIops(args.Pod, '4k');

    const res = await preempt(args);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      NodeNameToMetaVictims: {
        'node-a': { Pods: [{ UID: sent('node-a').metadata.uid }], NumPDBViolations: 0 },
      },
    });
    expect(await preemptionCounts()).toEqual({ kept: 1, dropped: 4 });
  });

  it('keeps every candidate with victims for a preemptor that asks for nothing, but never one without', async () => {
    const { args, meta, sentUid } = metaCapture();
    await seed(NODES.map((n) => sentVictim(n, sentUid(n), '1k')));
    args.Pod.spec.containers = [{}];
    const withEmpty = {
      ...args,
      NodeNameToMetaVictims: { ...meta, 'node-e': { Pods: [], NumPDBViolations: 0 } },
    };
    const res = await preempt(withEmpty);
    expect(Object.keys(res.body.NodeNameToMetaVictims).sort()).toEqual([
      'node-a',
      'node-b',
      'node-c',
      'node-d',
    ]);
  });

  it('keeps no node for a preemptor whose demand is invalid, and chooses nothing for it', async () => {
    const { args, sentUid } = metaCapture();
    await seed(NODES.map((n) => sentVictim(n, sentUid(n), '9k')));
    askIops(args.Pod, 'lots');
    expect((await preempt(args)).body).toEqual({ NodeNameToMetaVictims: {} });
    args.NodeNameToMetaVictims = emptied(args.NodeNameToMetaVictims ?? {});
    expect((await preempt(args)).body).toEqual({ NodeNameToMetaVictims: {} });
  });

  it('reads a preemptor without a priority as priority 0: pods of priority 0 are not its victims', async () => {
    const { args } = metaCapture();
    args.NodeNameToMetaVictims = emptied(args.NodeNameToMetaVictims ?? {});
    await seed([
      running('zero', { node: 'node-a', iops: '9k' }),
      running('below', { node: 'node-b', iops: '9k', priority: -1 }),
    ]);
    delete args.Pod.spec.priority;
    const res = await preempt(args);
    expect(res.body).toEqual({
      NodeNameToMetaVictims: { 'node-b': { Pods: [{ UID: 'uid-below' }], NumPDBViolations: 0 } },
    });
  });

  it.each<{ priority: unknown; error: string }>([
    { priority: 'high', error: 'body/Pod/spec/priority must be integer' },
    { priority: 1.5, error: 'body/Pod/spec/priority must be integer' },
    { priority: 2 ** 31, error: 'body/Pod/spec/priority must be <= 2147483647' },
    { priority: -(2 ** 31) - 1, error: 'body/Pod/spec/priority must be >= -2147483648' },
  ])('refuses a preemptor priority of $priority with 400: $error', async ({ priority, error }) => {
    const { args } = metaCapture();
    await seed([]);
    args.Pod.spec.priority = priority;
    const res = await call<{ error: string }>(`${h.server.url}/scheduler/preempt`, 'POST', args);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
  });

  it('refuses a malformed victim list', async () => {
    const { args } = metaCapture();
    await seed([]);
    const bad = await call<{ error: string }>(`${h.server.url}/scheduler/preempt`, 'POST', {
      Pod: args.Pod,
      NodeNameToMetaVictims: { 'node-a': { Pods: [{ UID: 5 }] } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('body/NodeNameToMetaVictims/node-a/Pods/0/UID must be string');
  });
});
