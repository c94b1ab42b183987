import { relative } from 'node:path';
import { table } from '../../cli/table.js';
import { formatAmount } from '../../domain/human-units.js';
import type { Amounts } from '../../domain/resources.js';
import type { DeviceIops, IopsEnforcement, ShapingLimits } from './enforcers.js';
import { hasTerminated, type NodePod, podName } from './pod-record.js';
import type { BandwidthDeps, EnforceMode } from './reconciler.js';

/** One pod as `ioplace-agent limits --print` shows it: what it asks, what the kernel holds. */
export interface PodLimits {
  readonly pod: string;
  readonly uid: string;
  readonly phase: string;
  readonly qosClass: string | undefined;
  /** null when the demand does not parse (see problems). */
  readonly demand: Amounts | null;
  /** The pod's cgroup directory; undefined when not found. */
  readonly cgroup: string | undefined;
  readonly iops: {
    /** ioplace.io/iops, when asked and enforced in this mode. */
    readonly wanted: number | undefined;
    /** io.max (or blkio.throttle) as read back, by device (MAJ:MIN), those with a limit. */
    readonly inForce: Readonly<Record<string, DeviceIops>>;
    /** cgroup v1: the containers' cgroups, which v1 throttles by. */
    readonly containers?: Readonly<Record<string, Readonly<Record<string, DeviceIops>>>>;
  };
  readonly bandwidth: {
    readonly wanted: ShapingLimits | undefined;
    /** Why the shaper leaves the pod alone (host network, the CNI plugin's annotations), if it does. */
    readonly skip: string | undefined;
    readonly veth: string | undefined;
    /** What tc holds for the pod, as read back; undefined when nothing could be read. */
    readonly inForce: ShapingLimits | undefined;
  };
  /** What is wrong: a lookup or read that failed, or a limit in force that is not the one wanted. */
  readonly problems: readonly string[];
}

export interface InspectDeps {
  readonly mode: EnforceMode;
  /** MAJ:MIN of the disks pods are limited on. */
  readonly devices: readonly string[];
  readonly iops: IopsEnforcement;
  /** Present when the shaper can be used to read back (any mode: reading changes nothing). */
  readonly bandwidth: BandwidthDeps | undefined;
}

/** A rate read back from tc counts as the wanted one within this fraction (tc keeps bytes per second). */
const RATE_TOLERANCE = 0.01;

/**
 * Reads back, for every pod, the limits the kernel holds for it, beside those it should have in
 * `mode`, through the same libraries the agent writes with (nothing is written). Every pod of the
 * node is listed, those without demand included: a limit found on one was left by someone else.
 */
export async function inspectPods(pods: readonly NodePod[], deps: InspectDeps): Promise<PodLimits[]> {
  const out: PodLimits[] = [];
  for (const pod of pods) out.push(await inspectPod(pod, deps));
  return out;
}

async function inspectPod(pod: NodePod, deps: InspectDeps): Promise<PodLimits> {
  const problems: string[] = [];
  const live = !hasTerminated(pod);
  const demand = pod.demand.ok ? pod.demand.demand : null;
  if (!pod.demand.ok) problems.push(`invalid demand: ${pod.demand.problem}`);
  const enforcing = deps.mode !== 'off' && live && demand !== null;

  const wantedIops = enforcing && (demand?.iops ?? 0) > 0 ? demand?.iops : undefined;
  let cgroup: string | undefined;
  let iopsInForce: Readonly<Record<string, DeviceIops>> = {};
  let containers: PodLimits['iops']['containers'];
  if (live) {
    const reading = await deps.iops.read({ uid: pod.uid, qosClass: pod.qosClass });
    if (reading !== undefined) {
      cgroup = reading.cgroup;
      iopsInForce = withLimits(reading.limits);
      if (reading.containers !== undefined) containers = reading.containers;
      if (reading.problem !== undefined) problems.push(`iops: ${reading.problem}`);
    } else if (wantedIops !== undefined && pod.phase !== 'Pending') {
      problems.push('iops: no cgroup found for the pod');
    }
  }
  if (wantedIops !== undefined && cgroup !== undefined) {
    if (deps.devices.length === 0) problems.push('iops: no disk is selected, none to limit on');
    for (const device of deps.devices) {
      const v1 = containers === undefined ? [] : Object.values(containers).map((c) => c[device]);
      const limit = iopsInForce[device] ?? v1.find((l) => l !== undefined);
      if (limit?.readIops === undefined || limit.writeIops === undefined)
        problems.push(`iops: no limit in force on ${device}`);
    }
  } else if (wantedIops === undefined && Object.keys(iopsInForce).length > 0 && deps.mode !== 'off') {
    problems.push('iops: limits in force without demand (not set by this agent, or left over)');
  }

  const bandwidth = await inspectBandwidth(pod, deps, demand, enforcing, cgroup, live, problems);
  return {
    pod: podName(pod),
    uid: pod.uid,
    phase: pod.phase,
    qosClass: pod.qosClass,
    demand,
    cgroup,
    iops: {
      wanted: wantedIops,
      inForce: iopsInForce,
      ...(containers === undefined ? {} : { containers }),
    },
    bandwidth,
    problems,
  };
}

async function inspectBandwidth(
  pod: NodePod,
  deps: InspectDeps,
  demand: Amounts | null,
  enforcing: boolean,
  cgroup: string | undefined,
  live: boolean,
  problems: string[],
): Promise<PodLimits['bandwidth']> {
  const bw = deps.bandwidth;
  const none = { wanted: undefined, skip: undefined, veth: undefined, inForce: undefined };
  if (bw === undefined || !live) return none;
  let wanted: ShapingLimits | undefined;
  let skip: string | undefined;
  if (demand !== null && (demand.ingressBandwidth !== undefined || demand.egressBandwidth !== undefined)) {
    const plan = bw.plan(pod, demand);
    if ('skip' in plan) skip = plan.skip;
    else if (plan.ingressBps !== undefined || plan.egressBps !== undefined) wanted = plan;
  }
  if (deps.mode !== 'all' || !enforcing) wanted = undefined;
  if (pod.hostNetwork) return { wanted, skip: skip ?? 'host network', veth: undefined, inForce: undefined };
  const say = (problem: string) => {
    if (wanted !== undefined) problems.push(`bandwidth: ${problem}`);
  };
  if (cgroup === undefined) {
    say('the pod has no cgroup (yet)');
    return { wanted, skip, veth: undefined, inForce: undefined };
  }
  const netns = await bw.netns(cgroup);
  if (!netns.ok) {
    say(`${netns.reason}: ${netns.message}`);
    return { wanted, skip, veth: undefined, inForce: undefined };
  }
  const veth = await bw.shaper.findHostVeth(netns.netns);
  if (!veth.ok) {
    say(`${veth.reason}: ${veth.message}`);
    return { wanted, skip, veth: undefined, inForce: undefined };
  }
  const reading = await bw.shaper.readLimits(pod.uid, veth.device);
  if (!reading.ok) {
    say(`${reading.reason}: ${reading.message}`);
    return { wanted, skip, veth: veth.device, inForce: undefined };
  }
  const inForce = reading.limits;
  if (wanted !== undefined) {
    for (const [key, label] of [
      ['ingressBps', 'ingress'],
      ['egressBps', 'egress'],
    ] as const) {
      const want = wanted[key];
      const have = inForce[key];
      if (want === undefined) continue;
      if (have === undefined) problems.push(`bandwidth: no ${label} limit in force`);
      else if (Math.abs(have - want) > want * RATE_TOLERANCE)
        problems.push(
          `bandwidth: ${label} ${formatAmount(have)}bit/s in force, ${formatAmount(want)}bit/s wanted`,
        );
    }
  } else if ((inForce.ingressBps !== undefined || inForce.egressBps !== undefined) && deps.mode === 'all') {
    problems.push('bandwidth: shaping in force without demand (not set by this agent, or left over)');
  }
  return { wanted, skip, veth: veth.device, inForce };
}

const amount = (v: number | undefined) => (v === undefined ? '-' : formatAmount(v));

function withLimits(limits: Readonly<Record<string, DeviceIops>>): Record<string, DeviceIops> {
  const out: Record<string, DeviceIops> = {};
  for (const [device, l] of Object.entries(limits))
    if (l.readIops !== undefined || l.writeIops !== undefined) out[device] = l;
  return out;
}

/** `MAJ:MIN=reads/writes` per device, sorted; a direction without a limit is `-`. */
function iopsCell(limits: Readonly<Record<string, DeviceIops>>): string {
  const devices = Object.keys(limits).sort();
  if (devices.length === 0) return '-';
  return devices.map((d) => `${d}=${amount(limits[d]?.readIops)}/${amount(limits[d]?.writeIops)}`).join(' ');
}

function bandwidthCell(b: PodLimits['bandwidth']): string {
  if (b.inForce === undefined) return b.skip === undefined ? '-' : `- (${b.skip})`;
  const text = `${amount(b.inForce.ingressBps)}/${amount(b.inForce.egressBps)}`;
  return b.veth === undefined ? text : `${text} on ${b.veth}`;
}

/**
 * The table of `ioplace-agent limits --print`: one line per pod, cgroups shown under
 * `cgroupRoot`, amounts with decimal prefixes (IOPS per device as `MAJ:MIN=reads/writes`; on
 * cgroup v1, where containers are throttled, those of the containers).
 */
export function limitsTable(rows: readonly PodLimits[], cgroupRoot: string): string {
  return table(
    [
      'POD',
      'PHASE',
      'DEMAND in/out/iops',
      'CGROUP',
      'IOPS IN FORCE',
      'BANDWIDTH IN FORCE in/out',
      'PROBLEMS',
    ],
    rows.map((r) => [
      r.pod,
      r.phase,
      r.demand === null
        ? 'invalid'
        : `${amount(r.demand.ingressBandwidth)}/${amount(r.demand.egressBandwidth)}/${amount(r.demand.iops)}`,
      r.cgroup === undefined ? '-' : relative(cgroupRoot, r.cgroup) || '.',
      iopsCell(
        r.iops.containers === undefined
          ? r.iops.inForce
          : Object.assign({}, r.iops.inForce, ...Object.values(r.iops.containers)),
      ),
      bandwidthCell(r.bandwidth),
      r.problems.length === 0 ? '' : r.problems.join('; '),
    ]),
  );
}
