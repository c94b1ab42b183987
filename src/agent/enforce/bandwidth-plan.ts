import { createHash } from 'node:crypto';
import { BANDWIDTH_ANNOTATION } from '../../domain/resources.js';
import type { TbfState } from './tc-json.js';

/** Rates put on a pod's traffic, bits per second; a direction left out is not shaped. */
export interface BandwidthLimits {
  /** Traffic towards the pod: a tbf on the root of its host veth. */
  readonly ingressBps?: number;
  /** Traffic from the pod: redirected from its host veth's ingress to an ifb, a tbf on the ifb. */
  readonly egressBps?: number;
}

/**
 * The tbf the shaper installs, in the units the kernel takes (bytes, bytes per second):
 *
 *   rateBytes  = floor(bps / 8)
 *   burstBytes = max(ceil(rateBytes × BURST_WINDOW_S), MIN_BURST_BYTES)
 *   limitBytes = floor(rateBytes × LATENCY_S) + burstBytes
 *
 * Rate and limit are the CNI bandwidth plugin's (containernetworking/plugins
 * plugins/meta/bandwidth: rate in bytes, `limit = rate × 25 ms + burst`). Its burst is given by
 * the runtime, and the kubelet/containerd pass 2^32 − 1 bits ("no limit"): half a gigabyte at
 * line rate before any shaping, far from a guarantee. ioplace picks its own:
 *  - at least one timer tick of tokens at the rate: tc-tbf(8) says the bucket must hold
 *    rate / HZ or the rate cannot be reached; 10 ms is a tick at HZ=100, the coarsest kernel
 *    setting (with high-resolution timers, the usual case, a smaller bucket would do);
 *  - at least 64 KiB: every packet must fit the bucket (tbf drops a packet larger than the
 *    burst unless it can segment it), and 64 KiB holds a jumbo frame and a whole GSO/TSO
 *    packet, which tbf then passes without splitting it.
 * So a pod may send (or get) up to max(10 ms of traffic, 64 KiB) at line rate after being idle;
 * over any longer span it gets its rate. At 20 Mbit/s that is 64 KiB, 26 ms of traffic.
 */
export interface TbfParameters {
  readonly rateBytes: number;
  readonly burstBytes: number;
  readonly limitBytes: number;
}

export const BURST_WINDOW_S = 0.01;
export const MIN_BURST_BYTES = 65_536;
/** The CNI bandwidth plugin's `latencyInMillis`: how long a packet may queue in the tbf. */
export const LATENCY_S = 0.025;

/**
 * The smallest rate shaped: 8 kbit/s. Below it the 64 KiB bucket holds more than a minute of
 * traffic (tbf keeps the bucket in 64 ns ticks, 32 bits: 274 s at most), and no pod means it.
 */
export const MIN_RATE_BPS = 8_000;

/**
 * tbf's `limit` (and burst) is a 32-bit byte count; with the limit above that caps the rate at
 * about 981 Gbit/s. The rate itself is 64-bit (TCA_TBF_RATE64, which tc sends for rates of
 * 2^32 bytes/s and more; 900 Gbit/s is taken by iproute2 6.1 here), so the limit is the bound:
 * tc refuses `limit 5937500000` ("illegal value").
 */
export const MAX_LIMIT_BYTES = 0xffff_ffff;

/** The tbf for `bps` (see TbfParameters), or why the demand is absurd. */
export function tbfParameters(bps: number): TbfParameters | { readonly invalid: string } {
  if (typeof bps !== 'number' || !Number.isFinite(bps)) return { invalid: `${String(bps)} is not a rate` };
  if (!Number.isInteger(bps)) return { invalid: `${bps} bit/s is not a whole number of bits per second` };
  if (bps <= 0) return { invalid: `${bps} bit/s: a rate must be positive` };
  if (bps < MIN_RATE_BPS)
    return { invalid: `${bps} bit/s is below the smallest rate shaped (${MIN_RATE_BPS})` };
  const rateBytes = Math.floor(bps / 8);
  const burstBytes = Math.max(Math.ceil(rateBytes * BURST_WINDOW_S), MIN_BURST_BYTES);
  const limitBytes = Math.floor(rateBytes * LATENCY_S) + burstBytes;
  if (limitBytes > MAX_LIMIT_BYTES) {
    return { invalid: `${bps} bit/s is above what tbf shapes (its queue limit would pass 4 GiB)` };
  }
  return { rateBytes, burstBytes, limitBytes };
}

/** The largest rate tbfParameters accepts, bits per second (about 981 Gbit/s). */
export const MAX_RATE_BPS = Math.floor(MAX_LIMIT_BYTES / (LATENCY_S + BURST_WINDOW_S)) * 8;

/**
 * Does the tbf in force do what `wanted` asks? Rates read as numbers must be equal; the burst
 * tc reports back is what the kernel's tick rounding left of it (64 KiB comes back as 65535),
 * so it may differ by 0.1%. Values read from an old iproute2's rounded strings get 0.5% on the
 * rate and 1% (at least 1 KiB) on the burst. The latency, when printed, within 2% of 25 ms.
 */
export function tbfMatches(state: TbfState, wanted: TbfParameters): boolean {
  const exact = state.exact;
  const rateOk = exact
    ? state.rateBytes === wanted.rateBytes
    : Math.abs(state.rateBytes - wanted.rateBytes) <= wanted.rateBytes * 0.005;
  const burstSlack = exact
    ? Math.max(2, wanted.burstBytes * 0.001)
    : Math.max(1024, wanted.burstBytes * 0.01);
  const burstOk = Math.abs(state.burstBytes - wanted.burstBytes) <= burstSlack;
  const latencyUs = LATENCY_S * 1e6;
  const latencyOk =
    state.latencyUs === undefined || Math.abs(state.latencyUs - latencyUs) <= Math.max(100, latencyUs * 0.02);
  return rateOk && burstOk && latencyOk;
}

/** Linux's IFNAMSIZ − 1. */
export const MAX_IFNAME = 15;
export const IFB_PREFIX = 'iopl';

/**
 * The ifb device of a pod: `iopl` and the first 11 hex digits of SHA-256(key), 15 characters,
 * the most a Linux interface name holds. The same key always gives the same name, so an agent
 * that restarts finds the ifb it made; 44 bits make two pods of a node sharing one unlikely
 * (1 in 10^9 for a thousand pods).
 */
export function ifbDeviceName(key: string): string {
  const hash = createHash('sha256').update(key, 'utf8').digest('hex');
  return `${IFB_PREFIX}${hash.slice(0, MAX_IFNAME - IFB_PREFIX.length)}`;
}

/** A name the kernel would take (dev_valid_name): 1-15 bytes, not . or .., no '/', ':' or space. */
export function isValidIfname(name: string): boolean {
  return (
    name !== '' &&
    Buffer.byteLength(name, 'utf8') <= MAX_IFNAME &&
    name !== '.' &&
    name !== '..' &&
    !/[/:\s]/.test(name) &&
    !name.startsWith('-')
  );
}

/** What shapingPlan reads of a pod. */
export interface ShapedPod {
  readonly hostNetwork?: boolean;
  readonly annotations?: Readonly<Record<string, string>>;
}

const CNI_ANNOTATION = {
  ingressBps: BANDWIDTH_ANNOTATION.ingressBandwidth ?? 'kubernetes.io/ingress-bandwidth',
  egressBps: BANDWIDTH_ANNOTATION.egressBandwidth ?? 'kubernetes.io/egress-bandwidth',
} as const;

/**
 * What to shape for a pod that asks for `demand`, or why it is not shaped at all:
 *  - a hostNetwork pod is skipped: it has no veth of its own, its traffic is the node's;
 *  - a direction with a `kubernetes.io/<direction>-bandwidth` annotation is left to the CNI
 *    bandwidth plugin, which the runtime asks to shape it when the sandbox is made: shaping it
 *    twice would fight over the same device (and the rate in force would be the lower one);
 *  - a direction asked at 0 asks for nothing (as a pod without the resource).
 * A pod whose every asked direction is the CNI plugin's is skipped; one that asks for nothing
 * gets `{}` (nothing to shape: what ioplace shaped before comes off).
 */
export function shapingPlan(
  pod: ShapedPod,
  demand: BandwidthLimits,
): BandwidthLimits | { readonly skip: string } {
  if (pod.hostNetwork === true)
    return { skip: "hostNetwork pod: it has no veth of its own, its traffic is the node's" };
  const plan: { ingressBps?: number; egressBps?: number } = {};
  const toCni: string[] = [];
  for (const direction of ['ingressBps', 'egressBps'] as const) {
    const bps = demand[direction];
    if (bps === undefined || bps === 0) continue;
    const annotation = CNI_ANNOTATION[direction];
    if (pod.annotations?.[annotation] !== undefined) toCni.push(annotation);
    else plan[direction] = bps;
  }
  if (toCni.length > 0 && plan.ingressBps === undefined && plan.egressBps === undefined) {
    return { skip: `shaped by the CNI bandwidth plugin (${toCni.join(', ')})` };
  }
  return plan;
}
