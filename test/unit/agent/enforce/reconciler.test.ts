import { describe, expect, it } from 'vitest';
import type { NodePod } from '../../../../src/agent/enforce/pod-record.js';
import {
  type EnforceKind,
  type EnforcementMetrics,
  Reconciler,
  type ReconcilerDeps,
} from '../../../../src/agent/enforce/reconciler.js';
import type { Amounts } from '../../../../src/domain/resources.js';
import {
  capturingLogger,
  FakeIops,
  FakeSandboxes,
  FakeShaper,
  fakeShapingPlan,
  nodePod,
} from '../../../support/fake-enforcers.js';

const DISKS = ['8:0', '259:0'];
/** The agent started at this time; the clock starts a minute later. */
const AGENT_START = Date.parse('2026-11-25T20:00:00Z');

interface Harness {
  reconciler: Reconciler;
  iops: FakeIops;
  shaper: FakeShaper;
  sandboxes: FakeSandboxes;
  pods: Map<string, NodePod>;
  devices: { list: readonly string[]; fail: boolean };
  clock: { now: number };
  errors: string[];
  delays: [EnforceKind, number][];
  lines: Record<string, unknown>[];
  round(): Promise<void>;
  /** Sets a pod of the node (a watch event). */
  put(pod: NodePod): void;
  /** A new agent over the same kernel and pods: what a restart looks like. */
  restart(): Harness;
}

function harness(
  mode: ReconcilerDeps['mode'] = 'all',
  kernel?: Pick<Harness, 'iops' | 'shaper' | 'sandboxes' | 'pods' | 'clock'>,
): Harness {
  const iops = kernel?.iops ?? new FakeIops();
  const shaper = kernel?.shaper ?? new FakeShaper();
  const sandboxes = kernel?.sandboxes ?? new FakeSandboxes(shaper);
  const pods = kernel?.pods ?? new Map<string, NodePod>();
  const clock = kernel?.clock ?? { now: AGENT_START + 60_000 };
  const devices = { list: DISKS, fail: false };
  const errors: string[] = [];
  const delays: [EnforceKind, number][] = [];
  const metrics: EnforcementMetrics = {
    error: (reason) => errors.push(reason),
    delay: (kind, seconds) => delays.push([kind, seconds]),
  };
  const { logger, lines } = capturingLogger();
  const reconciler = new Reconciler({
    mode,
    pods: () => pods.values(),
    devices: async () => {
      if (devices.fail) throw new Error('ENOENT: /sys/block');
      return devices.list;
    },
    iops,
    bandwidth: mode === 'all' ? { shaper, plan: fakeShapingPlan, netns: sandboxes.netns } : undefined,
    metrics,
    clock: () => clock.now,
    startedAt: kernel === undefined ? AGENT_START : clock.now,
    logger,
  });
  const h: Harness = {
    reconciler,
    iops,
    shaper,
    sandboxes,
    pods,
    devices,
    clock,
    errors,
    delays,
    lines,
    round: () => reconciler.round(),
    put: (pod) => void pods.set(pod.uid, pod),
    restart: () => harness(mode, { iops, shaper, sandboxes, pods, clock }),
  };
  return h;
}

const wants = (demand: Amounts) => ({ ok: true, demand }) as const;

/** A running pod with a cgroup and a sandbox, started at `startedAt`. */
function runningPod(h: Harness, uid: string, demand: Amounts, extra: Partial<NodePod> = {}) {
  const cgroup = h.iops.makeCgroup(uid);
  const veth = h.sandboxes.start(cgroup);
  h.put(nodePod(uid, { demand: wants(demand), ...extra }));
  return { cgroup, veth };
}

const warnings = (h: Harness) => h.lines.filter((l) => l.level === 40);

describe('the enforcement loop', () => {
  it('puts a running pod’s IOPS on every measured disk and its bandwidth on its veth', async () => {
    const h = harness();
    const { veth } = runningPod(h, 'a', { iops: 2000, ingressBandwidth: 100e6, egressBandwidth: 50e6 });
    await h.round();
    expect(h.iops.limits.get('a')).toEqual(
      new Map([
        ['8:0', 2000],
        ['259:0', 2000],
      ]),
    );
    expect(h.shaper.shaped.get('a')).toEqual({ veth, limits: { ingressBps: 100e6, egressBps: 50e6 } });
    expect(h.reconciler.summary()).toEqual({ mode: 'all', pods: 1, errors: 0 });
    expect(h.reconciler.enforced()).toEqual({ iops: 1, bandwidth: 1 });
  });

  it('leaves a pod without demand alone, and forgets it', async () => {
    const h = harness();
    runningPod(h, 'idle', {});
    await h.round();
    expect(h.iops.calls).toEqual([]);
    expect(h.shaper.calls).toEqual([]);
    expect(h.reconciler.summary()).toEqual({ mode: 'all', pods: 0, errors: 0 });
  });

  it('waits for the cgroup of a Pending pod, then enforces it and times the delay from its start', async () => {
    const h = harness();
    const startedAt = AGENT_START + 120_000;
    h.clock.now = startedAt + 300;
    h.put(nodePod('p', { phase: 'Pending', startedAt, demand: wants({ iops: 500, egressBandwidth: 1e9 }) }));
    await h.round();
    expect(h.iops.limits.get('p')).toBeUndefined();
    // Not there yet is not an error: nothing logged, nothing counted.
    expect(h.reconciler.summary()).toEqual({ mode: 'all', pods: 0, errors: 0 });
    expect(h.errors).toEqual([]);
    expect(warnings(h)).toEqual([]);

    const cgroup = h.iops.makeCgroup('p'); // the kubelet made it, the sandbox is not up yet
    h.clock.now = startedAt + 1_500;
    await h.round();
    expect(h.iops.limits.get('p')?.get('8:0')).toBe(500);
    expect(h.reconciler.enforced()).toEqual({ iops: 1, bandwidth: 0 });
    expect(h.reconciler.summary().pods).toBe(0);

    const veth = h.sandboxes.start(cgroup);
    h.clock.now = startedAt + 2_250;
    await h.round();
    expect(h.shaper.shaped.get('p')).toEqual({ veth, limits: { egressBps: 1e9 } });
    expect(h.reconciler.summary()).toEqual({ mode: 'all', pods: 1, errors: 0 });
    expect(h.delays).toEqual([
      ['iops', 1.5],
      ['bandwidth', 2.25],
    ]);
    await h.round();
    expect(h.delays).toHaveLength(2); // once per pod and kind
    expect(warnings(h)).toEqual([]);
  });

  it('counts a Running pod whose cgroup cannot be found as an error, logged and counted once', async () => {
    const h = harness('iops');
    h.put(nodePod('lost', { demand: wants({ iops: 100 }) }));
    for (let i = 0; i < 3; i++) await h.round();
    expect(h.reconciler.summary()).toEqual({ mode: 'iops', pods: 0, errors: 1 });
    expect(h.errors).toEqual(['cgroup-not-found']);
    expect(warnings(h)).toHaveLength(1);
    expect(warnings(h)[0]).toMatchObject({
      pod: 'default/pod-lost',
      uid: 'lost',
      kind: 'iops',
      reason: 'cgroup-not-found',
    });
    h.iops.makeCgroup('lost'); // found at last, at the next round
    await h.round();
    expect(h.reconciler.summary()).toEqual({ mode: 'iops', pods: 1, errors: 0 });
  });

  it('clears what it applied when a pod is deleted, then forgets the pod', async () => {
    const h = harness();
    const { cgroup, veth } = runningPod(h, 'gone', { iops: 300, ingressBandwidth: 10e6 });
    await h.round();
    h.pods.delete('gone');
    await h.round();
    expect(h.iops.calls.at(-1)).toBe('clear gone 8:0,259:0');
    expect(h.iops.limits.get('gone')?.size).toBe(0);
    expect(h.shaper.calls.at(-1)).toBe(`remove gone ${veth}`);
    expect(h.shaper.shaped.has('gone')).toBe(false);
    expect(h.reconciler.summary()).toEqual({ mode: 'all', pods: 0, errors: 0 });
    const calls = h.iops.calls.length + h.shaper.calls.length;
    await h.round();
    expect(h.iops.calls.length + h.shaper.calls.length).toBe(calls);
    expect(cgroup).toBeDefined();
  });

  it('counts a deleted pod whose cgroup and veth went first as released (its ifb still goes)', async () => {
    const h = harness();
    const { cgroup } = runningPod(h, 'gone', { iops: 300, ingressBandwidth: 10e6 });
    await h.round();
    h.pods.delete('gone');
    h.sandboxes.stop(cgroup);
    h.iops.removeCgroup('gone');
    await h.round();
    expect(h.shaper.calls.slice(-2)).toEqual([expect.stringMatching(/^remove gone veth/), 'remove gone -']);
    expect(h.errors).toEqual([]);
    expect(h.shaper.calls.length + h.iops.calls.length).toBe(5);
    await h.round();
    expect(h.shaper.calls.length + h.iops.calls.length).toBe(5);
  });

  it('lifts the limits of a pod that lost its demand or terminated', async () => {
    const h = harness();
    runningPod(h, 'a', { iops: 300, egressBandwidth: 10e6 });
    runningPod(h, 'b', { iops: 400 });
    await h.round();
    h.put(nodePod('a', { demand: wants({}) })); // its bandwidth annotation went
    h.put(nodePod('b', { phase: 'Succeeded', demand: wants({ iops: 400 }) }));
    await h.round();
    expect(h.iops.limits.get('a')?.size).toBe(0);
    expect(h.shaper.shaped.has('a')).toBe(false);
    expect(h.iops.limits.get('b')?.size).toBe(0);
    expect(h.reconciler.enforced()).toEqual({ iops: 0, bandwidth: 0 });
  });

  it('applies again at every round and after a restart, and the kernel is written only when it differs', async () => {
    const h = harness();
    runningPod(h, 'a', { iops: 300, ingressBandwidth: 10e6 }, { startedAt: AGENT_START - 3_600_000 });
    await h.round();
    expect(h.iops.writes).toBe(2);
    await h.round();
    expect(h.iops.calls.filter((c) => c.startsWith('apply'))).toHaveLength(2);
    expect(h.iops.writes).toBe(2);

    h.iops.limits.clear(); // someone wrote io.max behind the agent's back
    h.shaper.shaped.clear();
    const again = h.restart();
    await again.round();
    expect(h.iops.limits.get('a')?.get('8:0')).toBe(300);
    expect(h.shaper.shaped.get('a')?.limits).toEqual({ ingressBps: 10e6 });
    expect(again.reconciler.summary()).toEqual({ mode: 'all', pods: 1, errors: 0 });
    // The pod is older than the new agent: no delay to tell.
    expect(again.delays).toEqual([]);
  });

  it('moves the limit when the measured disks change', async () => {
    const h = harness('iops');
    runningPod(h, 'a', { iops: 700 });
    await h.round();
    h.devices.list = ['8:0', '8:16'];
    await h.round();
    expect(h.iops.calls.slice(-2)).toEqual(['apply a 700 8:0,8:16', 'clear a 259:0']);
    expect([...(h.iops.limits.get('a')?.keys() ?? [])].sort()).toEqual(['8:0', '8:16']);
  });

  it('keeps the last known disks when they cannot be read, and says so once', async () => {
    const h = harness('iops');
    runningPod(h, 'a', { iops: 700 });
    await h.round();
    h.devices.fail = true;
    await h.round();
    await h.round();
    expect(h.iops.calls.at(-1)).toBe('apply a 700 8:0,259:0');
    expect(warnings(h).map((l) => l.msg)).toEqual(['cannot read the disks; keeping the last known ones']);
  });

  it('says why when no disk is measured', async () => {
    const h = harness('iops');
    h.devices.list = [];
    runningPod(h, 'a', { iops: 700 });
    await h.round();
    expect(h.iops.calls).toEqual([]);
    expect(h.errors).toEqual(['no-devices']);
    expect(h.reconciler.summary().errors).toBe(1);
  });

  it('keeps one pod’s failure to that pod: the others are enforced, and it is logged once with its path', async () => {
    const h = harness();
    runningPod(h, 'bad', { iops: 100, ingressBandwidth: 5e6 });
    const { veth } = runningPod(h, 'shaky', { ingressBandwidth: 5e6 });
    runningPod(h, 'good', { iops: 200, ingressBandwidth: 7e6 });
    h.iops.failing.set('bad', 'EINVAL');
    h.shaper.failing.add(veth);
    for (let i = 0; i < 3; i++) await h.round();
    expect(h.iops.limits.get('good')?.get('8:0')).toBe(200);
    expect(h.shaper.shaped.get('good')?.limits).toEqual({ ingressBps: 7e6 });
    expect(h.shaper.shaped.get('bad')?.limits).toEqual({ ingressBps: 5e6 }); // its bandwidth is fine
    expect(h.reconciler.summary()).toEqual({ mode: 'all', pods: 1, errors: 2 });
    expect(h.reconciler.enforced()).toEqual({ iops: 1, bandwidth: 2 });
    expect(h.errors.sort()).toEqual(['tc-failed', 'write-failed']);
    expect(warnings(h).map((l) => [l.pod, l.kind, l.reason, l.path])).toEqual([
      ['default/pod-bad', 'iops', 'write-failed', '/cg/kubepods/podbad/io.max'],
      ['default/pod-shaky', 'bandwidth', 'tc-failed', veth],
    ]);
    expect(h.reconciler.failures().get('default/pod-bad')).toEqual([
      { kind: 'iops', reason: 'write-failed', path: '/cg/kubepods/podbad/io.max', message: 'EINVAL' },
    ]);
  });

  it('goes on with the other pods when a library throws', async () => {
    const h = harness('iops');
    runningPod(h, 'a', { iops: 100 });
    runningPod(h, 'b', { iops: 100 });
    const apply = h.iops.apply.bind(h.iops);
    h.iops.apply = async (pod, iops, devices) => {
      if (pod.uid === 'a') throw new Error('bug');
      return apply(pod, iops, devices);
    };
    await h.round();
    expect(h.iops.limits.get('b')?.get('8:0')).toBe(100);
    expect(h.errors).toEqual(['internal']);
  });

  it.each([
    [
      'an invalid quantity',
      { ok: false, problem: 'container "app" ioplace.io/iops "lots" is not a quantity' },
    ],
    ['more IOPS than the kernel takes', { ok: true, demand: { iops: 1e18 } }],
  ] as const)('refuses %s, says so once, and lets the other pods be', async (_name, demand) => {
    const h = harness('iops');
    h.iops.makeCgroup('absurd');
    h.put(nodePod('absurd', { demand }));
    runningPod(h, 'fine', { iops: 100 });
    await h.round();
    await h.round();
    expect(h.errors).toEqual(['invalid-demand']);
    expect(warnings(h)).toHaveLength(1);
    expect(h.iops.limits.get('absurd')).toBeUndefined();
    expect(h.iops.limits.get('fine')?.get('8:0')).toBe(100);
    expect(h.reconciler.summary()).toEqual({ mode: 'iops', pods: 1, errors: 1 });
  });

  it('lifts the limit of a pod whose demand became invalid (its annotation was edited)', async () => {
    const h = harness();
    runningPod(h, 'a', { egressBandwidth: 10e6 });
    await h.round();
    h.put(
      nodePod('a', {
        demand: { ok: false, problem: 'annotation kubernetes.io/egress-bandwidth "x" is not a quantity' },
      }),
    );
    await h.round();
    expect(h.shaper.shaped.has('a')).toBe(false);
    expect(h.errors).toEqual(['invalid-demand']);
  });

  it('in mode iops never touches tc', async () => {
    const h = harness('iops');
    runningPod(h, 'a', { iops: 100, ingressBandwidth: 1e9, egressBandwidth: 1e9 });
    await h.round();
    expect(h.shaper.calls).toEqual([]);
    expect(h.iops.limits.get('a')?.get('8:0')).toBe(100);
    expect(h.reconciler.summary()).toEqual({ mode: 'iops', pods: 1, errors: 0 });
  });

  it('does not shape host-network pods, nor a direction the CNI plugin shapes', async () => {
    const h = harness();
    runningPod(h, 'host', { iops: 100, ingressBandwidth: 1e9 }, { hostNetwork: true });
    runningPod(
      h,
      'cni',
      { ingressBandwidth: 1e9, egressBandwidth: 2e9 },
      { annotations: { 'kubernetes.io/ingress-bandwidth': '1G' } },
    );
    await h.round();
    expect(h.shaper.shaped.has('host')).toBe(false);
    expect(h.shaper.shaped.get('cni')?.limits).toEqual({ egressBps: 2e9 });
    expect(h.reconciler.summary()).toEqual({ mode: 'all', pods: 2, errors: 0 });
  });

  it('finds the new veth of a pod whose sandbox was made again', async () => {
    const h = harness();
    const { cgroup, veth } = runningPod(h, 'a', { ingressBandwidth: 1e6 });
    await h.round();
    h.sandboxes.stop(cgroup);
    const renewed = h.sandboxes.start(cgroup, 'vethnew');
    await h.round();
    expect(renewed).not.toBe(veth);
    expect(h.shaper.shaped.get('a')).toEqual({ veth: 'vethnew', limits: { ingressBps: 1e6 } });
    expect(h.errors).toEqual([]);
  });

  it('refuses mode all without a shaper', () => {
    const { logger } = capturingLogger();
    expect(
      () =>
        new Reconciler({
          mode: 'all',
          pods: () => [],
          devices: async () => [],
          iops: new FakeIops(),
          bandwidth: undefined,
          clock: () => 0,
          startedAt: 0,
          logger,
        }),
    ).toThrow(/bandwidth/);
  });
});

describe('the enforcement loop over time', () => {
  /** A delay that records each wait and returns when told to (or aborted). */
  function steppedDelay() {
    const waits: number[] = [];
    let release: (() => void) | undefined;
    const delay = (ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        waits.push(ms);
        const done = () => {
          release = undefined;
          resolve();
        };
        release = done;
        signal.addEventListener('abort', done, { once: true });
      });
    return {
      waits,
      delay,
      step: async () => {
        release?.();
        await new Promise((r) => setTimeout(r, 5));
      },
    };
  }

  it('waits a round, retries sooner while a pod waits for its cgroup, and runs soon after a change', async () => {
    const h = harness('iops');
    const timing = steppedDelay();
    const stop = new AbortController();
    const running = h.reconciler.run(stop.signal, {
      periodMs: 10_000,
      retryMs: 1_000,
      settleMs: 100,
      delay: timing.delay,
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(timing.waits).toEqual([10_000]);

    h.put(nodePod('p', { phase: 'Pending', demand: wants({ iops: 10 }) }));
    h.reconciler.kick(); // the watch saw the pod: the period wait ends, then a short settle
    await new Promise((r) => setTimeout(r, 5));
    expect(timing.waits).toEqual([10_000, 100]);
    await timing.step();
    expect(timing.waits).toEqual([10_000, 100, 1_000]); // waiting for its cgroup

    h.iops.makeCgroup('p');
    await timing.step();
    expect(h.iops.limits.get('p')?.get('8:0')).toBe(10);
    expect(timing.waits.at(-1)).toBe(10_000);

    stop.abort();
    await running;
  });
});
