import { describe, expect, it } from 'vitest';
import { inspectPods, limitsTable } from '../../../../src/agent/enforce/pod-limits.js';
import type { NodePod } from '../../../../src/agent/enforce/pod-record.js';
import {
  FakeIops,
  FakeSandboxes,
  FakeShaper,
  fakeShapingPlan,
  nodePod,
} from '../../../support/fake-enforcers.js';

/** Table rows as cells: columns are separated by three spaces or more. */
const cells = (text: string) => text.split('\n').map((l) => l.split(/ {3,}/));

/** A node: a pod in force, one missing its limit, one without demand, a host-network one, a broken one. */
async function node() {
  const iops = new FakeIops();
  const shaper = new FakeShaper();
  const sandboxes = new FakeSandboxes(shaper);
  const pods: NodePod[] = [];
  const add = (pod: NodePod) => {
    pods.push(pod);
    const cgroup = iops.makeCgroup(pod.uid);
    return { cgroup, veth: pod.hostNetwork ? undefined : sandboxes.start(cgroup, `veth-${pod.uid}`) };
  };
  const ok = (demand: NodePod['demand'] & { ok: true }) => demand;
  add(
    nodePod('a', {
      namespace: 'db',
      name: 'main',
      demand: ok({ ok: true, demand: { iops: 1000, egressBandwidth: 50e6 } }),
    }),
  );
  await iops.apply({ uid: 'a', qosClass: 'Burstable' }, 1000, ['8:0']);
  await shaper.apply('a', 'veth-a', { egressBps: 50e6 });
  add(
    nodePod('b', {
      namespace: 'db',
      name: 'late',
      demand: ok({ ok: true, demand: { iops: 400, ingressBandwidth: 1e9 } }),
    }),
  );
  add(nodePod('c', { namespace: 'web', name: 'plain' }));
  await iops.apply({ uid: 'c', qosClass: 'Burstable' }, 50, ['8:0']); // someone else's limit
  add(
    nodePod('d', {
      namespace: 'kube-system',
      name: 'proxy',
      hostNetwork: true,
      demand: ok({ ok: true, demand: { ingressBandwidth: 1e9 } }),
    }),
  );
  pods.push(
    nodePod('e', {
      namespace: 'web',
      name: 'typo',
      demand: { ok: false, problem: 'annotation kubernetes.io/egress-bandwidth "fast" is not a quantity' },
    }),
  );
  return { pods, iops, bandwidth: { shaper, plan: fakeShapingPlan, netns: sandboxes.netns } };
}

describe('ioplace-agent limits --print', () => {
  it('shows every pod with its demand, cgroup, the limits read back, and what is wrong', async () => {
    const { pods, iops, bandwidth } = await node();
    const rows = await inspectPods(pods, { mode: 'all', devices: ['8:0'], iops, bandwidth });
    expect(cells(limitsTable(rows, '/cg'))).toEqual([
      [
        'POD',
        'PHASE',
        'DEMAND in/out/iops',
        'CGROUP',
        'IOPS IN FORCE',
        'BANDWIDTH IN FORCE in/out',
        'PROBLEMS',
      ],
      ['db/main', 'Running', '-/50M/1k', 'kubepods/poda', '8:0=500/500', '-/50M on veth-a'],
      [
        'db/late',
        'Running',
        '1G/-/400',
        'kubepods/podb',
        '-',
        '-/- on veth-b',
        'iops: no limit in force on 8:0; bandwidth: no ingress limit in force',
      ],
      [
        'web/plain',
        'Running',
        '-/-/-',
        'kubepods/podc',
        '8:0=25/25',
        '-/- on veth-c',
        'iops: limits in force without demand (not set by this agent, or left over)',
      ],
      ['kube-system/proxy', 'Running', '1G/-/-', 'kubepods/podd', '-', '- (host network)'],
      [
        'web/typo',
        'Running',
        'invalid',
        '-',
        '-',
        '-',
        'invalid demand: annotation kubernetes.io/egress-bandwidth "fast" is not a quantity',
      ],
    ]);
    expect(rows[0]).toEqual({
      pod: 'db/main',
      uid: 'a',
      phase: 'Running',
      qosClass: 'Burstable',
      demand: { iops: 1000, egressBandwidth: 50e6 },
      cgroup: '/cg/kubepods/poda',
      iops: { wanted: 1000, inForce: { '8:0': { readIops: 500, writeIops: 500 } } },
      bandwidth: {
        wanted: { egressBps: 50e6 },
        skip: undefined,
        veth: 'veth-a',
        inForce: { egressBps: 50e6 },
      },
      problems: [],
    });
  });

  it('reads without judging what the mode does not enforce', async () => {
    const { pods, iops } = await node();
    const rows = await inspectPods(pods, { mode: 'off', devices: ['8:0'], iops, bandwidth: undefined });
    expect(rows.map((r) => r.problems)).toEqual([[], [], [], [], [expect.stringMatching(/^invalid demand/)]]);
    expect(rows[0]?.iops.inForce).toEqual({ '8:0': { readIops: 500, writeIops: 500 } });
  });

  it('says when a bandwidth limit differs from the demand, and when a pod has no cgroup', async () => {
    const { pods, iops, bandwidth } = await node();
    await bandwidth.shaper.apply('a', 'veth-a', { egressBps: 20e6 });
    iops.removeCgroup('b');
    const rows = await inspectPods(pods.slice(0, 2), { mode: 'all', devices: ['8:0'], iops, bandwidth });
    expect(rows.map((r) => r.problems)).toEqual([
      [
        'bandwidth: egress 20M bit/s in force, 50M bit/s wanted'
          .replace(' bit', 'bit')
          .replace(' bit', 'bit'),
      ],
      ['iops: no cgroup found for the pod', 'bandwidth: the pod has no cgroup (yet)'],
    ]);
  });
});
