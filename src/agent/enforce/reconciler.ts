import type { Logger } from 'pino';
import type { Delay } from '../../cluster/backoff.js';
import type { Amounts } from '../../domain/resources.js';
import type {
  BandwidthEnforcement,
  CgroupPod,
  IopsEnforcement,
  ShapingLimits,
  ShapingPlanner,
} from './enforcers.js';
import type { NetnsLookup } from './pod-netns.js';
import { hasTerminated, type NodePod, podName } from './pod-record.js';

/** What the agent enforces: nothing, IOPS only (cgroups), or IOPS and bandwidth (cgroups and tc). */
export const ENFORCE_MODES = ['off', 'iops', 'all'] as const;
export type EnforceMode = (typeof ENFORCE_MODES)[number];

export const ENFORCE_KINDS = ['iops', 'bandwidth'] as const;
export type EnforceKind = (typeof ENFORCE_KINDS)[number];

/** Something that kept a pod's limit from being in force, as it is logged and counted. */
export interface Failure {
  /** `pod` for what concerns the pod as a whole (a demand that does not parse). */
  readonly kind: EnforceKind | 'pod';
  /** The library's reason (cgroup-not-found, write-failed, veth-not-found, tc-failed, invalid-demand) or ours. */
  readonly reason: string;
  /** The file, directory or network device concerned, when there is one. */
  readonly path?: string;
  readonly message: string;
}

/** What the report to ioplace says of enforcement on this node. */
export interface EnforcementSummary {
  readonly mode: EnforceMode;
  /** Pods with demand whose every limit is in force. */
  readonly pods: number;
  /** Pods with at least one limit that failed at the last round. */
  readonly errors: number;
}

/** What the agent's metrics read of the loop. */
export interface EnforcementMetrics {
  /** A distinct failure of a pod, counted once, when it is first seen (and logged). */
  error(reason: string): void;
  /** Seconds from the pod's start to its limit of `kind` in force, once per pod and kind. */
  delay(kind: EnforceKind, seconds: number): void;
}

export interface BandwidthDeps {
  readonly shaper: BandwidthEnforcement;
  readonly plan: ShapingPlanner;
  /** The pod's network namespace, from a process in its cgroup (podNetns). */
  netns(cgroupDir: string): Promise<NetnsLookup>;
}

export interface ReconcilerDeps {
  readonly mode: Exclude<EnforceMode, 'off'>;
  /** The pods of the node as last listed and watched. */
  readonly pods: () => Iterable<NodePod>;
  /** MAJ:MIN of the disks the agent measures; may reject (the last known set is kept). */
  readonly devices: () => Promise<readonly string[]>;
  readonly iops: IopsEnforcement;
  /** Required in mode `all`. */
  readonly bandwidth: BandwidthDeps | undefined;
  readonly metrics?: EnforcementMetrics;
  readonly clock: () => number;
  /**
   * When the agent started (ms): the start-to-limit delay is observed only for pods that started
   * since, so that a restarted agent does not record days-old pods as days late.
   */
  readonly startedAt: number;
  readonly logger: Logger;
  /** Pods worked on at once (the shaper runs tc; a round should not take a pod at a time). */
  readonly concurrency?: number;
}

/** How the loop wakes: every `periodMs`, sooner while a pod waits for its cgroup, soon after a change. */
export interface LoopTiming {
  readonly periodMs: number;
  /** While a pod waits for its cgroup, network or veth to appear. */
  readonly retryMs: number;
  /** After a change of the pods, this long for more to arrive before the round. */
  readonly settleMs: number;
  readonly delay: Delay;
}

/** What the loop knows of one pod it has done (or must undo) something for. */
interface PodState {
  pod: NodePod;
  /** Still listed by the API server; false once deleted: what was applied is undone, then the state goes. */
  listed: boolean;
  /** The IOPS limit last applied, and on which devices: what a release clears. */
  iops: { readonly iops: number; readonly devices: readonly string[] } | undefined;
  /** The shaping last applied, and on which veth: what a release removes. */
  bandwidth: { readonly limits: ShapingLimits; readonly veth: string } | undefined;
  /** The pod's cgroup directory and host veth, once found (looked up again after a failure). */
  cgroup: string | undefined;
  veth: string | undefined;
  /** Limits that held at the last round. */
  inForce: Set<EnforceKind>;
  /** Limits the pod should have at the last round. */
  planned: Set<EnforceKind>;
  failures: Failure[];
  /** Kinds whose lookups have not found the pod's cgroup, process or veth yet (a pod starting). */
  waiting: Set<EnforceKind>;
  /** Failures already logged and counted (kind, reason, path): each is logged once per pod. */
  readonly logged: Set<string>;
  /** Kinds whose start-to-limit delay has been observed. */
  readonly timed: Set<EnforceKind>;
}

/** The outcome of one lookup or write: continue with the value, or wait, or fail. */
type Step<T> = { ok: true; value: T } | { ok: false };

const DEFAULT_CONCURRENCY = 4;

/** Reasons that mean "not there yet" while a pod is still Pending: its sandbox is being made. */
const NOT_YET = new Set(['cgroup-not-found', 'no-process', 'veth-not-found']);

/**
 * Puts every pod's IOPS and bandwidth limits in force on this node, and takes them off again.
 * Each round looks at every pod of the node:
 *  - a pod that is not terminated and asks for `ioplace.io/iops` gets that many IOPS on the disks
 *    the agent measures; in mode `all`, a pod the shaper's plan shapes gets its bandwidth on its
 *    host veth (found from a process of its cgroup, through its network namespace);
 *  - a pod that asks for nothing is left alone;
 *  - a pod that lost its demand, terminated or was deleted has what this agent applied cleared.
 * Every round applies again (after an agent restart, a new disk, a cgroup that appeared late);
 * the libraries write only what differs. A failure of one pod never stops the others: it is
 * logged and counted once per pod and distinct failure, and tried again next round.
 */
export class Reconciler {
  readonly #d: ReconcilerDeps;
  readonly #log: Logger;
  readonly #states = new Map<string, PodState>();
  #devices: readonly string[] = [];
  #devicesFailed = false;
  #summary: EnforcementSummary;
  #enforced: Record<EnforceKind, number> = { iops: 0, bandwidth: 0 };
  #waiting = 0;
  #kicked = false;
  #wake: AbortController | undefined;

  constructor(deps: ReconcilerDeps) {
    if (deps.mode === 'all' && deps.bandwidth === undefined)
      throw new Error('Reconciler: mode all needs the bandwidth shaper');
    this.#d = deps;
    this.#log = deps.logger.child({ module: 'enforcement' });
    this.#summary = { mode: deps.mode, pods: 0, errors: 0 };
  }

  /** For the report: pods enforced and pods failing, as of the last round. */
  summary(): EnforcementSummary {
    return this.#summary;
  }

  /** For the gauges: pods with each kind of limit in force, as of the last round. */
  enforced(): Readonly<Record<EnforceKind, number>> {
    return this.#enforced;
  }

  /** The current failures of every pod, by `namespace/name`. */
  failures(): ReadonlyMap<string, readonly Failure[]> {
    const out = new Map<string, readonly Failure[]>();
    for (const s of this.#states.values()) if (s.failures.length > 0) out.set(podName(s.pod), s.failures);
    return out;
  }

  /** A change of the pods: the loop runs a round soon instead of at the end of its period. */
  kick(): void {
    this.#kicked = true;
    this.#wake?.abort();
  }

  /** Runs rounds until `signal` aborts; see LoopTiming. A round that throws is logged, and the next goes ahead. */
  async run(signal: AbortSignal, timing: LoopTiming): Promise<void> {
    while (!signal.aborted) {
      this.#kicked = false;
      try {
        await this.round();
      } catch (err) {
        this.#log.error({ err }, 'enforcement round failed; trying again');
      }
      if (signal.aborted) break;
      if (!this.#kicked) {
        const wake = new AbortController();
        this.#wake = wake;
        await timing.delay(
          this.#waiting > 0 ? timing.retryMs : timing.periodMs,
          AbortSignal.any([signal, wake.signal]),
        );
        this.#wake = undefined;
      }
      if (this.#kicked && !signal.aborted) await timing.delay(timing.settleMs, signal);
    }
  }

  /** One pass over every pod of the node (and those deleted since the last). */
  async round(): Promise<void> {
    const devices = await this.#currentDevices();
    const seen = new Set<string>();
    const work: PodState[] = [];
    for (const pod of this.#d.pods()) {
      seen.add(pod.uid);
      let state = this.#states.get(pod.uid);
      if (state === undefined) {
        if (!needsState(pod)) continue;
        state = newState(pod);
        this.#states.set(pod.uid, state);
      }
      state.pod = pod;
      state.listed = true;
      work.push(state);
    }
    for (const state of this.#states.values()) {
      if (seen.has(state.pod.uid)) continue;
      state.listed = false;
      work.push(state);
    }
    await eachLimited(work, this.#d.concurrency ?? DEFAULT_CONCURRENCY, (state) =>
      this.#visit(state, devices),
    );
    this.#tally();
  }

  async #visit(state: PodState, devices: readonly string[]): Promise<void> {
    state.failures = [];
    state.waiting = new Set();
    state.planned = new Set();
    try {
      await this.#enforce(state, devices);
    } catch (err) {
      // The libraries answer failures as results; a throw is a bug, kept to this pod.
      this.#fail(state, { kind: 'pod', reason: 'internal', message: (err as Error).message });
    }
    if (!state.listed && state.iops === undefined && state.bandwidth === undefined) {
      this.#states.delete(state.pod.uid);
    } else if (
      state.listed &&
      state.planned.size === 0 &&
      state.failures.length === 0 &&
      state.iops === undefined &&
      state.bandwidth === undefined
    ) {
      // Nothing to hold on to: a pod without demand (or whose limits are lifted) is forgotten,
      // and its logged failures with it.
      this.#states.delete(state.pod.uid);
    }
  }

  async #enforce(state: PodState, devices: readonly string[]): Promise<void> {
    const pod = state.pod;
    let demand: Amounts = {};
    if (state.listed && !hasTerminated(pod)) {
      if (pod.demand.ok) demand = pod.demand.demand;
      else this.#fail(state, { kind: 'pod', reason: 'invalid-demand', message: pod.demand.problem });
    }

    const iops = demand.iops;
    if (iops !== undefined && iops > 0) await this.#applyIops(state, iops, devices);
    else await this.#releaseIops(state);

    if (this.#d.mode !== 'all') return;
    const plan = isEmptyDemand(demand) ? undefined : (this.#d.bandwidth as BandwidthDeps).plan(pod, demand);
    if (
      plan === undefined ||
      'skip' in plan ||
      (plan.ingressBps === undefined && plan.egressBps === undefined)
    ) {
      await this.#releaseBandwidth(state);
    } else {
      await this.#applyBandwidth(state, plan);
    }
  }

  async #applyIops(state: PodState, iops: number, devices: readonly string[]): Promise<void> {
    state.planned.add('iops');
    if (devices.length === 0) {
      this.#fail(state, {
        kind: 'iops',
        reason: 'no-devices',
        message: 'no disk is selected for measurement, so there is none to limit IOPS on',
      });
      return;
    }
    const target = cgroupPod(state.pod);
    const result = await this.#d.iops.apply(target, iops, devices);
    if (!result.ok) {
      this.#failOrWait(state, 'iops', result);
      return;
    }
    state.cgroup = result.cgroup;
    const dropped = state.iops?.devices.filter((d) => !devices.includes(d)) ?? [];
    state.iops = { iops, devices };
    if (dropped.length > 0) {
      // A disk no longer measured (removed, or deselected): its limit is lifted, once.
      const cleared = await this.#d.iops.clear(target, dropped);
      if (!cleared.ok && cleared.reason !== 'cgroup-not-found')
        this.#fail(state, { kind: 'iops', ...cleared });
    }
    this.#inForce(state, 'iops');
  }

  async #releaseIops(state: PodState): Promise<void> {
    const applied = state.iops;
    if (applied === undefined) return;
    const result = await this.#d.iops.clear(cgroupPod(state.pod), applied.devices);
    // A cgroup that is gone holds no limit.
    if (result.ok || result.reason === 'cgroup-not-found') {
      state.iops = undefined;
      this.#log.debug({ pod: podName(state.pod), uid: state.pod.uid }, 'IOPS limit lifted');
    } else {
      this.#fail(state, { kind: 'iops', ...result });
    }
  }

  async #applyBandwidth(state: PodState, limits: ShapingLimits): Promise<void> {
    state.planned.add('bandwidth');
    const shaper = (this.#d.bandwidth as BandwidthDeps).shaper;
    const cached = state.veth;
    const veth = await this.#hostVeth(state);
    if (!veth.ok) return;
    let result = await shaper.apply(state.pod.uid, veth.value, limits);
    if (!result.ok && result.reason === 'veth-not-found' && cached !== undefined) {
      // The sandbox was made again (a new network namespace, a new veth): look it up afresh.
      state.veth = undefined;
      const again = await this.#hostVeth(state);
      if (!again.ok) return;
      result = await shaper.apply(state.pod.uid, again.value, limits);
    }
    if (!result.ok) {
      state.veth = undefined;
      state.cgroup = undefined;
      this.#failOrWait(state, 'bandwidth', { ...result, path: result.device });
      return;
    }
    state.bandwidth = { limits, veth: state.veth as string };
    this.#inForce(state, 'bandwidth');
  }

  /** The pod's host veth: its cgroup, a process in it, that process's network namespace, the veth. */
  async #hostVeth(state: PodState): Promise<Step<string>> {
    if (state.veth !== undefined) return { ok: true, value: state.veth };
    const bandwidth = this.#d.bandwidth as BandwidthDeps;
    if (state.cgroup === undefined) {
      const found = await this.#d.iops.findPodCgroup(cgroupPod(state.pod));
      if (found === undefined) {
        this.#failOrWait(state, 'bandwidth', {
          reason: 'cgroup-not-found',
          message: 'no cgroup for the pod under the cgroup root',
        });
        return { ok: false };
      }
      state.cgroup = found;
    }
    const netns = await bandwidth.netns(state.cgroup);
    if (!netns.ok) {
      state.cgroup = undefined;
      this.#failOrWait(state, 'bandwidth', netns);
      return { ok: false };
    }
    const veth = await bandwidth.shaper.findHostVeth(netns.netns);
    if (!veth.ok) {
      state.cgroup = undefined;
      this.#failOrWait(state, 'bandwidth', { ...veth, path: veth.device ?? netns.netns });
      return { ok: false };
    }
    state.veth = veth.device;
    return { ok: true, value: veth.device };
  }

  async #releaseBandwidth(state: PodState): Promise<void> {
    const applied = state.bandwidth;
    if (applied === undefined) return;
    const shaper = (this.#d.bandwidth as BandwidthDeps).shaper;
    let result = await shaper.remove(state.pod.uid, applied.veth);
    // The veth went with the pod's sandbox: what is left (the pod's ifb) still goes.
    if (!result.ok && result.reason === 'veth-not-found')
      result = await shaper.remove(state.pod.uid, undefined);
    if (result.ok || result.reason === 'veth-not-found') {
      state.bandwidth = undefined;
      state.veth = undefined;
      this.#log.debug({ pod: podName(state.pod), uid: state.pod.uid }, 'bandwidth shaping removed');
    } else {
      this.#fail(state, { kind: 'bandwidth', ...result, path: result.device });
    }
  }

  #inForce(state: PodState, kind: EnforceKind): void {
    state.inForce.add(kind);
    if (state.timed.has(kind)) return;
    state.timed.add(kind);
    const started = state.pod.startedAt;
    // Pods older than the agent were enforced (or not) by a previous agent: no delay to tell.
    if (started === undefined || started < this.#d.startedAt) return;
    const seconds = Math.max(0, this.#d.clock() - started) / 1000;
    this.#d.metrics?.delay(kind, seconds);
    this.#log.debug({ pod: podName(state.pod), uid: state.pod.uid, kind, seconds }, 'limit in force');
  }

  /** A Pending pod's sandbox may not exist yet: its lookups wait; anything else is a failure. */
  #failOrWait(
    state: PodState,
    kind: EnforceKind,
    failure: { readonly reason: string; readonly path?: string | undefined; readonly message: string },
  ): void {
    state.inForce.delete(kind);
    if (state.pod.phase === 'Pending' && state.listed && NOT_YET.has(failure.reason)) {
      state.waiting.add(kind);
      return;
    }
    this.#fail(state, { kind, reason: failure.reason, path: failure.path, message: failure.message });
  }

  #fail(state: PodState, failure: Failure): void {
    if (failure.kind !== 'pod') state.inForce.delete(failure.kind);
    const clean: Failure = {
      kind: failure.kind,
      reason: failure.reason,
      message: failure.message,
      ...(failure.path === undefined ? {} : { path: failure.path }),
    };
    state.failures.push(clean);
    const key = `${clean.kind}|${clean.reason}|${clean.path ?? ''}`;
    if (state.logged.has(key)) return;
    state.logged.add(key);
    this.#d.metrics?.error(clean.reason);
    this.#log.warn(
      {
        pod: podName(state.pod),
        uid: state.pod.uid,
        kind: clean.kind,
        reason: clean.reason,
        path: clean.path,
        error: clean.message,
      },
      'cannot enforce the limits of a pod; trying again every round',
    );
  }

  async #currentDevices(): Promise<readonly string[]> {
    try {
      this.#devices = await this.#d.devices();
      if (this.#devicesFailed) this.#log.info({ devices: this.#devices }, 'disks readable again');
      this.#devicesFailed = false;
    } catch (err) {
      if (!this.#devicesFailed) {
        this.#log.warn({ err, devices: this.#devices }, 'cannot read the disks; keeping the last known ones');
      }
      this.#devicesFailed = true;
    }
    return this.#devices;
  }

  #tally(): void {
    let pods = 0;
    let errors = 0;
    let waiting = 0;
    const enforced: Record<EnforceKind, number> = { iops: 0, bandwidth: 0 };
    for (const s of this.#states.values()) {
      if (!s.listed) continue;
      for (const kind of s.inForce) if (s.planned.has(kind)) enforced[kind]++;
      if (s.failures.length > 0) errors++;
      if (s.waiting.size > 0) waiting++;
      if (s.planned.size > 0 && s.failures.length === 0 && [...s.planned].every((k) => s.inForce.has(k)))
        pods++;
    }
    this.#enforced = enforced;
    this.#waiting = waiting;
    this.#summary = { mode: this.#d.mode, pods, errors };
  }
}

function newState(pod: NodePod): PodState {
  return {
    pod,
    listed: true,
    iops: undefined,
    bandwidth: undefined,
    cgroup: undefined,
    veth: undefined,
    inForce: new Set(),
    planned: new Set(),
    failures: [],
    waiting: new Set(),
    logged: new Set(),
    timed: new Set(),
  };
}

/** A pod is worth a state when it asks for something, or its demand is wrong (to say so once). */
function needsState(pod: NodePod): boolean {
  if (hasTerminated(pod)) return false;
  return !pod.demand.ok || !isEmptyDemand(pod.demand.demand);
}

function isEmptyDemand(demand: Amounts): boolean {
  return !((demand.iops ?? 0) > 0 || (demand.ingressBandwidth ?? 0) > 0 || (demand.egressBandwidth ?? 0) > 0);
}

function cgroupPod(pod: NodePod): CgroupPod {
  return { uid: pod.uid, qosClass: pod.qosClass };
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
