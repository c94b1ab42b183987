/**
 * In-memory stand-ins for the kernel-facing libraries (IopsLimiter, BandwidthShaper, shapingPlan)
 * and the pod records the agent keeps, so that the enforcement loop is tested without cgroups or
 * tc. They keep what a kernel would hold and log every call; tests steer the faults.
 */
import { pino } from 'pino';
import type {
  BandwidthEnforcement,
  BandwidthReading,
  BandwidthResult,
  CgroupPod,
  IopsEnforcement,
  IopsInForce,
  IopsResult,
  ShapedPod,
  ShapingLimits,
  VethLookup,
} from '../../src/agent/enforce/enforcers.js';
import type { NetnsLookup } from '../../src/agent/enforce/pod-netns.js';
import type { NodePod } from '../../src/agent/enforce/pod-record.js';
import type { Amounts } from '../../src/domain/resources.js';

/** The largest value the kernel takes for an IOPS limit, below UINT_MAX. */
const MAX_IOPS = 2 ** 32 - 2;

export class FakeIops implements IopsEnforcement {
  /** uid -> cgroup directory, for the pods whose cgroup exists. */
  readonly cgroups = new Map<string, string>();
  /** uid -> device -> IOPS in force. */
  readonly limits = new Map<string, Map<string, number>>();
  /** uid -> how writes to its io.max fail. */
  readonly failing = new Map<string, string>();
  readonly calls: string[] = [];
  /** Device writes that changed something. */
  writes = 0;

  makeCgroup(uid: string): string {
    const dir = `/cg/kubepods/pod${uid}`;
    this.cgroups.set(uid, dir);
    return dir;
  }

  findPodCgroup(pod: CgroupPod): string | undefined {
    return this.cgroups.get(pod.uid);
  }

  #locate(pod: CgroupPod): IopsResult {
    const cgroup = this.cgroups.get(pod.uid);
    return cgroup === undefined
      ? { ok: false, reason: 'cgroup-not-found', message: `no cgroup for pod ${pod.uid}` }
      : { ok: true, cgroup };
  }

  async apply(pod: CgroupPod, iops: number, devices: readonly string[]): Promise<IopsResult> {
    this.calls.push(`apply ${pod.uid} ${iops} ${devices.join(',')}`);
    const found = this.#locate(pod);
    if (!found.ok) return found;
    if (!Number.isInteger(iops) || iops < 1 || iops > MAX_IOPS)
      return { ok: false, reason: 'invalid-demand', message: `${iops} IOPS is more than the kernel takes` };
    const failure = this.failing.get(pod.uid);
    if (failure !== undefined)
      return { ok: false, reason: 'write-failed', path: `${found.cgroup}/io.max`, message: failure };
    const held = this.limits.get(pod.uid) ?? new Map<string, number>();
    for (const d of devices) {
      if (held.get(d) !== iops) this.writes++;
      held.set(d, iops);
    }
    this.limits.set(pod.uid, held);
    return { ok: true, cgroup: found.cgroup };
  }

  /** Reads and writes each get half, as the `even` split gives them. */
  read(pod: CgroupPod): IopsInForce | undefined {
    const cgroup = this.cgroups.get(pod.uid);
    if (cgroup === undefined) return undefined;
    const limits = Object.fromEntries(
      [...(this.limits.get(pod.uid) ?? new Map<string, number>())].map(([device, iops]) => [
        device,
        { readIops: Math.ceil(iops / 2), writeIops: Math.floor(iops / 2) },
      ]),
    );
    return { cgroup, limits };
  }

  async clear(pod: CgroupPod, devices: readonly string[]): Promise<IopsResult> {
    this.calls.push(`clear ${pod.uid} ${devices.join(',')}`);
    const found = this.#locate(pod);
    if (!found.ok) return found;
    const failure = this.failing.get(pod.uid);
    if (failure !== undefined)
      return { ok: false, reason: 'write-failed', path: `${found.cgroup}/io.max`, message: failure };
    for (const d of devices) this.limits.get(pod.uid)?.delete(d);
    return { ok: true, cgroup: found.cgroup };
  }

  /** The kubelet removes a deleted pod's cgroup, and its limits with it. */
  removeCgroup(uid: string): void {
    this.cgroups.delete(uid);
    this.limits.delete(uid);
  }
}

export class FakeShaper implements BandwidthEnforcement {
  /** network namespace path -> host veth. */
  readonly veths = new Map<string, string>();
  /** pod uid -> what is shaped, and on which veth. */
  readonly shaped = new Map<string, { veth: string; limits: ShapingLimits }>();
  /** Veths on which tc fails. */
  readonly failing = new Set<string>();
  readonly calls: string[] = [];

  findHostVeth(netnsPath: string): VethLookup {
    const device = this.veths.get(netnsPath);
    return device === undefined
      ? { ok: false, reason: 'veth-not-found', message: `no veth peer for ${netnsPath}` }
      : { ok: true, device };
  }

  #exists(veth: string): boolean {
    return [...this.veths.values()].includes(veth);
  }

  async apply(key: string, hostVeth: string, limits: ShapingLimits): Promise<BandwidthResult> {
    this.calls.push(`apply ${key} ${hostVeth} ${limits.ingressBps ?? '-'}/${limits.egressBps ?? '-'}`);
    if (!this.#exists(hostVeth))
      return { ok: false, reason: 'veth-not-found', device: hostVeth, message: `${hostVeth} does not exist` };
    if (this.failing.has(hostVeth))
      return {
        ok: false,
        reason: 'tc-failed',
        device: hostVeth,
        message: 'RTNETLINK answers: Operation not permitted',
      };
    const before = this.shaped.get(key);
    const changed = JSON.stringify(before) !== JSON.stringify({ veth: hostVeth, limits });
    this.shaped.set(key, { veth: hostVeth, limits });
    return { ok: true, changed };
  }

  readLimits(key: string, hostVeth: string): BandwidthReading {
    if (!this.#exists(hostVeth))
      return { ok: false, reason: 'veth-not-found', device: hostVeth, message: `${hostVeth} does not exist` };
    const shaped = this.shaped.get(key);
    return { ok: true, limits: shaped?.veth === hostVeth ? shaped.limits : {} };
  }

  async remove(key: string, hostVeth: string | undefined): Promise<BandwidthResult> {
    this.calls.push(`remove ${key} ${hostVeth ?? '-'}`);
    if (hostVeth !== undefined && !this.#exists(hostVeth))
      return { ok: false, reason: 'veth-not-found', device: hostVeth, message: `${hostVeth} does not exist` };
    if (hostVeth !== undefined && this.failing.has(hostVeth))
      return {
        ok: false,
        reason: 'tc-failed',
        device: hostVeth,
        message: 'RTNETLINK answers: Device or resource busy',
      };
    return { ok: true, changed: this.shaped.delete(key) };
  }
}

/** A pod's sandbox: a process in its cgroup, a network namespace, a veth on the host. */
export class FakeSandboxes {
  /** cgroup directory -> netns path. */
  readonly netnsByCgroup = new Map<string, string>();
  #next = 100;

  constructor(readonly shaper: FakeShaper) {}

  /** Starts the pod's sandbox in `cgroup`; returns its host veth. */
  start(cgroup: string, veth = `veth${this.#next}`): string {
    const netns = `/proc/${this.#next++}/ns/net`;
    this.netnsByCgroup.set(cgroup, netns);
    this.shaper.veths.set(netns, veth);
    return veth;
  }

  stop(cgroup: string): void {
    const netns = this.netnsByCgroup.get(cgroup);
    if (netns !== undefined) this.shaper.veths.delete(netns);
    this.netnsByCgroup.delete(cgroup);
  }

  netns = async (cgroup: string): Promise<NetnsLookup> => {
    const netns = this.netnsByCgroup.get(cgroup);
    return netns === undefined
      ? { ok: false, reason: 'no-process', path: cgroup, message: `no process under ${cgroup}` }
      : { ok: true, pid: Number(netns.split('/')[2]), netns };
  };
}

/** The shaper's plan as the bandwidth library states it: host network skipped, CNI annotations win. */
export function fakeShapingPlan(pod: ShapedPod, demand: Amounts): ShapingLimits | { skip: string } {
  if (pod.hostNetwork) return { skip: 'host network' };
  const annotated = (key: string) => pod.annotations?.[key] !== undefined;
  const limits: { ingressBps?: number; egressBps?: number } = {};
  if (demand.ingressBandwidth !== undefined && !annotated('kubernetes.io/ingress-bandwidth'))
    limits.ingressBps = demand.ingressBandwidth;
  if (demand.egressBandwidth !== undefined && !annotated('kubernetes.io/egress-bandwidth'))
    limits.egressBps = demand.egressBandwidth;
  return limits;
}

/** A pod record of the node, as decodeNodePod makes them. */
export function nodePod(
  uid: string,
  fields: Partial<NodePod> & { demand?: NodePod['demand'] } = {},
): NodePod {
  return {
    uid,
    namespace: 'default',
    name: `pod-${uid}`,
    qosClass: 'Burstable',
    hostNetwork: false,
    annotations: {},
    phase: 'Running',
    startedAt: undefined,
    demand: { ok: true, demand: {} },
    ...fields,
  };
}

/** A logger whose JSON lines are kept, to check what is logged (and how often). */
export function capturingLogger(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}
