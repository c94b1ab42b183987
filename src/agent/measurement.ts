import { formatAmount } from '../domain/human-units.js';
import { type Amounts, MAX_AMOUNT } from '../domain/resources.js';
import type { CounterSample } from './sample.js';

export interface MeasureOptions {
  /**
   * Bits per second in each direction (the --network-capacity flag), used only when interfaces
   * are up but none reports a link speed (virtio and most cloud NICs print -1).
   */
  readonly networkCapacityBps?: number;
  /** Operations per second (the --iops-capacity flag): IOPS capacity cannot be read passively. */
  readonly iopsCapacity?: number;
}

/** What the agent reports, plus what it looked at and why anything is missing. */
export interface Measurement {
  capacity: Amounts;
  usage: Amounts;
  /** The selected interfaces and devices in the current sample, sorted. */
  interfaces: string[];
  devices: string[];
  /** Human-readable reasons for every left-out dimension, interface or device, and counter oddity. */
  notes: string[];
}

const TWO_POW_32 = 1n << 32n;

export type CounterChange = { readonly delta: bigint; readonly kind: 'normal' | 'wrapped' | 'reset' };

/**
 * How much a monotonic counter advanced between two readings:
 *   current >= previous                -> current - previous
 *   current < previous < 2^32          -> 2^32 - previous + current (a 32-bit counter wrapped)
 *   current < previous, previous >= 2^32 -> current (a 64-bit counter cannot wrap in practice, so
 *                                         it was reset: driver reload, device re-created; what it
 *                                         counted since the reset is the best estimate)
 */
export function counterDelta(previous: bigint, current: bigint): CounterChange {
  if (current >= previous) return { delta: current - previous, kind: 'normal' };
  if (previous < TWO_POW_32) return { delta: TWO_POW_32 - previous + current, kind: 'wrapped' };
  return { delta: current, kind: 'reset' };
}

function checkOption(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < 0 || value > MAX_AMOUNT) {
    throw new RangeError(`${name} must be a number from 0 to ${MAX_AMOUNT}, got ${value}`);
  }
}

function sortedNames(map: ReadonlyMap<string, unknown>): string[] {
  return [...map.keys()].sort();
}

function describeChange(name: string, counter: string, kind: CounterChange['kind'], notes: string[]) {
  if (kind === 'wrapped') notes.push(`${name}: ${counter}counter wrapped at 32 bits`);
  if (kind === 'reset') notes.push(`${name}: ${counter}counter reset, counting from zero`);
}

/** Notes names that are in only one of the two samples; returns the names in both. */
function common(
  previous: ReadonlyMap<string, unknown>,
  current: ReadonlyMap<string, unknown>,
  notes: string[],
): string[] {
  for (const name of sortedNames(current)) {
    if (!previous.has(name)) notes.push(`${name}: new since the previous sample, measured from the next one`);
  }
  for (const name of sortedNames(previous)) {
    if (!current.has(name)) notes.push(`${name}: gone since the previous sample, left out`);
  }
  return sortedNames(current).filter((name) => previous.has(name));
}

/**
 * Network capacity, the same in each direction (links are full duplex):
 *   sum over up interfaces with a known speed of speedMbps x 10^6
 * Interfaces that are down contribute nothing. When interfaces are up but none knows its speed,
 * `fallbackBps` stands in for the sum; when none is up, nothing is known and the dimensions are
 * left out.
 */
function networkCapacity(current: CounterSample, fallbackBps: number | undefined, notes: string[]) {
  let known = 0;
  let sum = 0;
  let up = 0;
  for (const name of sortedNames(current.interfaces)) {
    const nic = current.interfaces.get(name);
    if (nic === undefined) continue;
    if (!nic.up) {
      notes.push(`${name}: link down, not counted in capacity`);
      continue;
    }
    up++;
    if (nic.speedMbps === undefined) {
      notes.push(`${name}: link speed unknown`);
      continue;
    }
    known++;
    sum += nic.speedMbps * 1e6;
  }
  if (known > 0) return sum;
  if (current.interfaces.size === 0) {
    notes.push('network capacity unknown: no network interface selected');
    return undefined;
  }
  if (up === 0) {
    notes.push('network capacity unknown: no selected interface is up');
    return undefined;
  }
  if (fallbackBps !== undefined) {
    notes.push(
      `network capacity ${formatAmount(fallbackBps)}bit/s from the configured fallback: no up interface reports its link speed`,
    );
    return fallbackBps;
  }
  notes.push(
    'network capacity unknown: no up interface reports its link speed and no fallback is configured',
  );
  return undefined;
}

/**
 * Turns two counter samples into capacity and usage (units as in domain/resources.ts):
 *   capacity.ingressBandwidth = capacity.egressBandwidth: see networkCapacity
 *   capacity.iops             = options.iopsCapacity, else left out
 *   usage.ingressBandwidth    = round(sum of rx byte deltas x 8 / elapsed seconds)
 *   usage.egressBandwidth     = round(sum of tx byte deltas x 8 / elapsed seconds)
 *   usage.iops                = round(sum of (reads + writes) deltas / elapsed seconds)
 * with deltas per counterDelta, over the interfaces (devices) present in both samples. Usage is
 * empty for the first sample (no previous) or when the clock did not advance; a usage dimension
 * is left out when no interface (device) is in both samples. Every omission gets a note.
 */
export function measure(
  previous: CounterSample | undefined,
  current: CounterSample,
  options: MeasureOptions = {},
): Measurement {
  checkOption('networkCapacityBps', options.networkCapacityBps);
  checkOption('iopsCapacity', options.iopsCapacity);
  const notes: string[] = [];
  const capacity: Amounts = {};
  const usage: Amounts = {};

  const bandwidth = networkCapacity(current, options.networkCapacityBps, notes);
  if (bandwidth !== undefined) {
    capacity.ingressBandwidth = bandwidth;
    capacity.egressBandwidth = bandwidth;
  }
  if (options.iopsCapacity !== undefined) capacity.iops = options.iopsCapacity;
  else notes.push('iops capacity unknown: not configured (it cannot be measured passively)');
  if (current.devices.size === 0) notes.push('no block device selected');

  const elapsedMs = previous === undefined ? 0 : current.at - previous.at;
  if (previous === undefined) {
    notes.push('first sample: usage needs a previous one');
  } else if (!(elapsedMs > 0)) {
    notes.push(`no time elapsed since the previous sample (${elapsedMs} ms): usage not computed`);
  } else {
    const seconds = elapsedMs / 1000;

    const nics = common(previous.interfaces, current.interfaces, notes);
    let rx = 0n;
    let tx = 0n;
    for (const name of nics) {
      const before = previous.interfaces.get(name);
      const after = current.interfaces.get(name);
      if (before === undefined || after === undefined) continue;
      const r = counterDelta(before.rxBytes, after.rxBytes);
      const t = counterDelta(before.txBytes, after.txBytes);
      describeChange(name, 'rx ', r.kind, notes);
      describeChange(name, 'tx ', t.kind, notes);
      rx += r.delta;
      tx += t.delta;
    }
    if (nics.length > 0) {
      usage.ingressBandwidth = Math.round(Number(rx * 8n) / seconds);
      usage.egressBandwidth = Math.round(Number(tx * 8n) / seconds);
    }

    const disks = common(previous.devices, current.devices, notes);
    let ios = 0n;
    for (const name of disks) {
      const before = previous.devices.get(name);
      const after = current.devices.get(name);
      if (before === undefined || after === undefined) continue;
      const d = counterDelta(before.ios, after.ios);
      describeChange(name, '', d.kind, notes);
      ios += d.delta;
    }
    if (disks.length > 0) usage.iops = Math.round(Number(ios) / seconds);
  }

  return {
    capacity,
    usage,
    interfaces: sortedNames(current.interfaces),
    devices: sortedNames(current.devices),
    notes,
  };
}
