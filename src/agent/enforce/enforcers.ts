/**
 * What the enforcement loop needs of the two kernel-facing libraries: the cgroup IOPS limiter and
 * the tc bandwidth shaper. Declared here, narrowly, so that the loop is tested with fakes and the
 * real classes satisfy these interfaces structurally. A method may answer at once or with a
 * promise; the loop awaits either.
 */
import type { Amounts } from '../../domain/resources.js';

export type MaybePromise<T> = T | Promise<T>;

/** How the pod's cgroup is found: the kubelet names it by the pod's uid under its QoS class. */
export interface CgroupPod {
  readonly uid: string;
  /** status.qosClass: Guaranteed, Burstable or BestEffort. */
  readonly qosClass: string | undefined;
}

export type IopsFailureReason = 'cgroup-not-found' | 'write-failed' | 'invalid-demand';

export interface IopsFailure {
  readonly ok: false;
  readonly reason: IopsFailureReason;
  /** The file or directory the library was at. */
  readonly path?: string;
  readonly message: string;
}

export type IopsResult = { readonly ok: true; readonly cgroup: string } | IopsFailure;

/** The IOPS limits the kernel holds for one device of a cgroup; a direction without one is absent. */
export interface DeviceIops {
  readonly readIops?: number;
  readonly writeIops?: number;
}

/** What `read` finds in force in a pod's cgroup. */
export interface IopsInForce {
  readonly cgroup: string;
  /** By device (MAJ:MIN), those with a limit. */
  readonly limits: Readonly<Record<string, DeviceIops>>;
  /** cgroup v1 only: the limits of the cgroups below the pod's (its containers), which v1 throttles by. */
  readonly containers?: Readonly<Record<string, Readonly<Record<string, DeviceIops>>>>;
  /** Why the limits could not be read. */
  readonly problem?: string;
}

/** The cgroup IOPS limiter (`IopsLimiter`). Devices are `MAJ:MIN` strings. */
export interface IopsEnforcement {
  /** The pod's cgroup directory; undefined while the kubelet has not made it (or once it is gone). */
  findPodCgroup(pod: CgroupPod): MaybePromise<string | undefined>;
  /** Limits the pod to `iops` on each of `devices` (read and write, per the split policy); writes only what differs. */
  apply(pod: CgroupPod, iops: number, devices: readonly string[]): MaybePromise<IopsResult>;
  /** What is in force; undefined when the pod has no cgroup. */
  read(pod: CgroupPod): MaybePromise<IopsInForce | undefined>;
  /** Lifts the pod's limits on `devices`. */
  clear(pod: CgroupPod, devices: readonly string[]): MaybePromise<IopsResult>;
}

/** Rates the shaper puts on a pod, bits per second; a direction left out is not shaped. */
export interface ShapingLimits {
  readonly ingressBps?: number;
  readonly egressBps?: number;
}

export type BandwidthFailureReason = 'veth-not-found' | 'tc-failed' | 'invalid-demand';

export interface BandwidthFailure {
  readonly ok: false;
  readonly reason: BandwidthFailureReason;
  /** The network device the library was at. */
  readonly device?: string;
  readonly message: string;
}

export type BandwidthResult = { readonly ok: true; readonly changed: boolean } | BandwidthFailure;

export type VethLookup = { readonly ok: true; readonly device: string } | BandwidthFailure;

export type BandwidthReading = { readonly ok: true; readonly limits: ShapingLimits } | BandwidthFailure;

/** The tc bandwidth shaper (`BandwidthShaper`), keyed by pod uid. */
export interface BandwidthEnforcement {
  /** The host end of the veth pair whose other end is in the network namespace at `netnsPath`. */
  findHostVeth(netnsPath: string): MaybePromise<VethLookup>;
  /** Makes the veth's shaping exactly `limits` (a direction left out is not shaped); changes only what differs. */
  apply(key: string, hostVeth: string, limits: ShapingLimits): MaybePromise<BandwidthResult>;
  /** What is shaped for `key` on `hostVeth`. */
  readLimits(key: string, hostVeth: string): MaybePromise<BandwidthReading>;
  /** Removes the pod's shaping; `hostVeth` undefined when the veth is gone (its ifb still goes). */
  remove(key: string, hostVeth: string | undefined): MaybePromise<BandwidthResult>;
}

/** What shapingPlan reads of a pod. */
export interface ShapedPod {
  readonly hostNetwork?: boolean;
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * The shaper's pure plan: the limits to put on the pod's veth, or why none (host network pods;
 * a direction with a kubernetes.io/*-bandwidth annotation is the CNI plugin's, never shaped twice).
 */
export type ShapingPlanner = (pod: ShapedPod, demand: Amounts) => ShapingLimits | { readonly skip: string };
