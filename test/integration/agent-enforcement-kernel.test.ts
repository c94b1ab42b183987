import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BandwidthShaper, ifbDeviceName, shapingPlan } from '../../src/agent/enforce/bandwidth-shaper.js';
import { IopsLimiter } from '../../src/agent/enforce/iops-limits.js';
import { podNetns } from '../../src/agent/enforce/pod-netns.js';
import { decodeNodePod, type NodePod } from '../../src/agent/enforce/pod-record.js';
import { Reconciler } from '../../src/agent/enforce/reconciler.js';
import { type CommandRunner, execFileRunner } from '../../src/agent/enforce/tc-command.js';
import { capturingLogger } from '../support/fake-enforcers.js';

/**
 * The bandwidth path of the enforcement loop on this machine's kernel, as the agent runs it: a pod
 * (a process in a network namespace of its own, whose eth0 is a veth's end) is found from a cgroup
 * tree whose cgroup.procs lists that process, through the real /proc, nsenter and ip, and shaped
 * with tc by the real BandwidthShaper; then its shaping goes when the pod does. The "host" is a
 * network namespace made for the test, so that the machine's own network is never touched.
 */

const ID = `${process.pid}`;
const HOST_NS = `iopl-rk-h-${ID}`;
const POD_NS = `iopl-rk-p-${ID}`;
const HOST_VETH = 'vethrk0';
const UID = `7e1d0c2a-0000-4000-8000-${ID.padStart(12, '0').slice(-12)}`;

function sh(file: string, args: readonly string[]): string {
  return execFileSync(file, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inNs(ns: string, file: string, args: readonly string[]): string {
  return sh('nsenter', [`--net=/run/netns/${ns}`, '--', file, ...args]);
}

function tryRun(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return (e.stderr?.trim() || e.message).split('\n')[0];
  }
}

/** Why this test cannot run here, or undefined when it can. */
function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root (ip netns, tc)';
  for (const tool of ['ip', 'tc', 'nsenter']) {
    const missing = tryRun(() => sh(tool, ['-V']));
    if (missing !== undefined) return `${tool} not usable: ${missing}`;
  }
  const probe = `iopl-rk-probe-${ID}`;
  const refused = tryRun(() => sh('ip', ['netns', 'add', probe]));
  if (refused !== undefined) return `ip netns add refused: ${refused}`;
  try {
    const noIfb = tryRun(() => inNs(probe, 'ip', ['link', 'add', 'probe0', 'type', 'ifb']));
    if (noIfb !== undefined) return `no ifb devices: ${noIfb}`;
  } finally {
    tryRun(() => sh('ip', ['netns', 'del', probe]));
  }
  return undefined;
}

const skipReason = whyNot();

describe.skipIf(skipReason !== undefined)(
  `the enforcement loop on this kernel${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let dir = '';
    let sysRoot = '';
    let mounted = false;
    let podProcess: ChildProcess | undefined;
    let shaper: BandwidthShaper;
    let cgroupRoot = '';
    const base = execFileRunner();
    /** The shaper's commands run in the test's host namespace, as the agent's run in the node's. */
    const inHost: CommandRunner = (file, args) =>
      base('nsenter', [`--net=/run/netns/${HOST_NS}`, '--', file, ...args]);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ioplace-rk-'));
      sh('ip', ['netns', 'add', HOST_NS]);
      sh('ip', ['netns', 'add', POD_NS]);
      inNs(HOST_NS, 'ip', [
        'link',
        'add',
        HOST_VETH,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        POD_NS,
      ]);
      inNs(HOST_NS, 'ip', ['link', 'set', HOST_VETH, 'up']);
      inNs(POD_NS, 'ip', ['link', 'set', 'eth0', 'up']);
      // sysfs lists the devices of the network namespace of whoever mounts it: the host ns's.
      sysRoot = join(dir, 'sys');
      mkdirSync(sysRoot);
      inNs(HOST_NS, 'mount', ['-t', 'sysfs', 'sysfs', sysRoot]);
      mounted = true;
      shaper = new BandwidthShaper({ procRoot: '/proc', sysRoot, run: inHost });
      // The pod: one process in its network namespace (nsenter execs it: the PID is the child's).
      podProcess = spawn('nsenter', [`--net=/run/netns/${POD_NS}`, '--', 'sleep', '300'], {
        stdio: 'ignore',
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      // Its cgroup as the kubelet (systemd driver, v2) names it; the process sits in a container's.
      cgroupRoot = join(dir, 'cgroup');
      const pod = join(
        cgroupRoot,
        `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice`,
      );
      mkdirSync(join(pod, 'cri-containerd-abc.scope'), { recursive: true });
      writeFileSync(join(cgroupRoot, 'cgroup.controllers'), 'cpu io memory pids\n');
      writeFileSync(join(pod, 'cgroup.procs'), '');
      writeFileSync(join(pod, 'io.max'), '');
      writeFileSync(join(pod, 'cri-containerd-abc.scope', 'cgroup.procs'), `${podProcess.pid}\n`);
    });

    afterAll(() => {
      podProcess?.kill('SIGKILL');
      if (mounted) tryRun(() => sh('umount', ['-l', sysRoot]));
      tryRun(() => sh('ip', ['netns', 'del', POD_NS]));
      tryRun(() => sh('ip', ['netns', 'del', HOST_NS]));
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    it('finds the pod’s veth from its cgroup and shapes it, then takes it all off when the pod goes', async () => {
      const pods = new Map<string, NodePod>();
      const pod = decodeNodePod({
        metadata: { name: 'web', namespace: 'shop', uid: UID },
        spec: {
          containers: [
            {
              name: 'web',
              resources: {
                requests: { 'ioplace.io/ingress-bandwidth': '20M', 'ioplace.io/egress-bandwidth': '10M' },
              },
            },
          ],
        },
        status: { phase: 'Running', qosClass: 'Burstable' },
      }) as NodePod;
      pods.set(pod.uid, pod);
      const { logger, lines } = capturingLogger('warn');
      const reconciler = new Reconciler({
        mode: 'all',
        pods: () => pods.values(),
        devices: async () => [],
        iops: new IopsLimiter({ cgroupRoot }),
        bandwidth: {
          shaper,
          plan: (p, demand) =>
            shapingPlan(p, { ingressBps: demand.ingressBandwidth, egressBps: demand.egressBandwidth }),
          netns: (cgroup) => podNetns(cgroup, '/proc'),
        },
        clock: () => Date.now(),
        startedAt: Date.now(),
        logger,
      });

      await reconciler.round();
      expect(lines).toEqual([]);
      expect(await shaper.readLimits(UID, HOST_VETH)).toEqual({
        ok: true,
        limits: { ingressBps: 20_000_000, egressBps: 10_000_000 },
      });
      expect(reconciler.summary()).toEqual({ mode: 'all', pods: 1, errors: 0 });
      expect(reconciler.enforced()).toEqual({ iops: 0, bandwidth: 1 });
      expect(inNs(HOST_NS, 'ip', ['-d', '-o', 'link', 'show', 'dev', ifbDeviceName(UID)])).toMatch(/\bifb\b/);

      await reconciler.round(); // nothing differs: nothing changes, nothing fails
      expect(reconciler.summary()).toEqual({ mode: 'all', pods: 1, errors: 0 });

      pods.delete(UID);
      await reconciler.round();
      expect(await shaper.readLimits(UID, HOST_VETH)).toEqual({ ok: true, limits: {} });
      expect(tryRun(() => inNs(HOST_NS, 'ip', ['link', 'show', 'dev', ifbDeviceName(UID)]))).toMatch(
        /does not exist/,
      );
      expect(lines).toEqual([]);
    });
  },
);
