import { type DeviceCounters, readBlockDevices } from './block-devices.js';
import { type InterfaceCounters, type NameFilter, readInterfaces } from './net-interfaces.js';

/** Where to read and what to select: the agent's measuring config, resolved. */
export interface SampleSources {
  /** `/proc` on the host; in a DaemonSet, where the host's /proc is mounted (e.g. `/host/proc`). */
  readonly procRoot: string;
  /** `/sys` on the host, likewise. */
  readonly sysRoot: string;
  readonly interfaces: NameFilter;
  readonly devices: NameFilter;
}

/** The raw counters of one instant; two of them make a Measurement (see measure). */
export interface CounterSample {
  /** Clock time of the reading, ms. */
  readonly at: number;
  readonly interfaces: ReadonlyMap<string, InterfaceCounters>;
  readonly devices: ReadonlyMap<string, DeviceCounters>;
}

/**
 * Reads the selected interfaces' and devices' counters. `now` is the caller's clock reading for
 * this sample (taken just before reading, so intervals between samples are comparable).
 */
export async function takeSample(sources: SampleSources, now: number): Promise<CounterSample> {
  const [interfaces, devices] = await Promise.all([
    readInterfaces(sources.procRoot, sources.sysRoot, sources.interfaces),
    readBlockDevices(sources.procRoot, sources.sysRoot, sources.devices),
  ]);
  return { at: now, interfaces, devices };
}
