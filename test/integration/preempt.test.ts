import { afterEach, describe, expect, it } from 'vitest';
import { capture } from '../support/captures.js';
import { type ClusterHarness, node, pod, report, startCluster } from '../support/cluster-harness.js';
import { waitFor } from '../support/fake-apiserver.js';
import { call } from '../support/test-server.js';

interface Container {
  resources?: { requests?: Record<string, string> };
}
interface WirePod {
  metadata: { name: string; uid: string };
  spec: { containers: Container[]; nodeName?: string };
}
interface PreemptArgs {
  Pod: WirePod;
  NodeNameToVictims: Record<string, { Pods: WirePod[]; NumPDBViolations: number }> | null;
  NodeNameToMetaVictims: Record<string, { Pods: { UID: string }[]; NumPDBViolations: number }> | null;
}
interface PreemptResult {
  NodeNameToMetaVictims: Record<string, { Pods: { UID: string }[]; NumPDBViolations: number }>;
}

/** Victim iops per node: a frees plenty, b frees too little, c's victim asks for nothing. */
const VICTIM_IOPS: Record<string, string | undefined> = {
  'node-a': '6k',
  'node-b': '1k',
  'node-c': undefined,
};
const NODES = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'];

let h: ClusterHarness;
afterEach(async () => {
  await h.close();
});

function askIops(p: WirePod, iops: string): void {
  const container = p.spec.containers[0];
  if (container === undefined) throw new Error('capture pod has no container');
  container.resources = { requests: { ...container.resources?.requests, 'ioplace.io/iops': iops } };
}

/**
 * Every node has 10k iops (9k allocatable) and is full: its victim plus a pod the scheduler does
 * not offer hold 8.5k together. The preemptor needs 4k.
 */
async function seed(victimOf: (n: string) => { name: string; uid: string }): Promise<void> {
  h = await startCluster({}, (api) => {
    for (const n of NODES) {
      api.addNode(node(n));
      const v = victimOf(n);
      const iops = VICTIM_IOPS[n];
      const victim = pod(v.name, { node: n, uid: v.uid, ...(iops === undefined ? {} : { iops }) });
      api.addPod(victim);
      const rest = 8_500 - (iops === undefined ? 0 : Number(iops.replace('k', '')) * 1000);
      api.addPod(pod(`${n}-other`, { node: n, iops: String(rest) }));
    }
  });
  for (const n of NODES) expect(await report(h.server, n, { capacity: { iops: 10_000 } })).toBe(200);
  await waitFor(() => h.server.app.podStore.size === 7, 5000, 'the pods');
}

function preempt(args: unknown) {
  return call<PreemptResult>(`${h.server.url}/scheduler/preempt`, 'POST', args);
}

describe('preempt', () => {
  it('with uids (nodeCacheCapable): keeps only nodes where eviction frees enough, answered with uids', async () => {
    const args = capture<PreemptArgs>('preempt-nodecache-true');
    const meta = args.NodeNameToMetaVictims ?? {};
    await seed((n) => ({ name: `victim-${n}`, uid: meta[n]?.Pods[0]?.UID ?? '' }));
    askIops(args.Pod, '4k');

    const res = await preempt(args);
    expect(res.status).toBe(200);
    // a: 9k - (8.5k - 6k) = 6.5k free after eviction; b: 9k - 7.5k = 1.5k; c: nothing freed, 0.5k;
    // d and e: victims ask 0 in the store (no demand) -> 0.5k. Only a helps.
    expect(res.body).toEqual({ NodeNameToMetaVictims: { 'node-a': meta['node-a'] } });
  });

  it('with full victim pods: reads their demand from the pods and answers with their uids', async () => {
    const args = capture<PreemptArgs>('preempt-nodecache-false');
    const victims = args.NodeNameToVictims ?? {};
    await seed((n) => {
      const v = victims[n]?.Pods[0];
      if (v === undefined) throw new Error(`no victim on ${n}`);
      return { name: v.metadata.name, uid: v.metadata.uid };
    });
    for (const [n, v] of Object.entries(victims)) {
      const iops = VICTIM_IOPS[n];
      for (const p of v.Pods) if (iops !== undefined) askIops(p, iops);
    }
    askIops(args.Pod, '4k');
    const res = await preempt(args);
    expect(Object.keys(res.body.NodeNameToMetaVictims)).toEqual(['node-a']);
    expect(res.body.NodeNameToMetaVictims['node-a']).toEqual({
      Pods: [{ UID: victims['node-a']?.Pods[0]?.metadata.uid }],
      NumPDBViolations: 0,
    });
    expect(Object.keys(JSON.parse(JSON.stringify(res.body)))).toEqual(['NodeNameToMetaVictims']);
  });

  it('keeps every candidate for a preemptor that asks for nothing, but never one without victims', async () => {
    const args = capture<PreemptArgs>('preempt-nodecache-true');
    const meta = args.NodeNameToMetaVictims ?? {};
    await seed((n) => ({ name: `victim-${n}`, uid: meta[n]?.Pods[0]?.UID ?? '' }));
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

  it('keeps no node for a preemptor whose demand is invalid, and refuses a malformed request', async () => {
    const args = capture<PreemptArgs>('preempt-nodecache-true');
    await seed((n) => ({ name: `victim-${n}`, uid: `uid-${n}` }));
    askIops(args.Pod, 'lots');
    expect((await preempt(args)).body).toEqual({ NodeNameToMetaVictims: {} });
    const bad = await call<{ error: string }>(`${h.server.url}/scheduler/preempt`, 'POST', {
      Pod: args.Pod,
      NodeNameToMetaVictims: { 'node-a': { Pods: [{ UID: 5 }] } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('body/NodeNameToMetaVictims/node-a/Pods/0/UID must be string');
  });
});
