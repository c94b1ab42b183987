import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  isSafeName,
  matchesAny,
  type NameFilter,
  parseCounter,
  pathExists,
  selectedBy,
} from './net-interfaces.js';

export interface DeviceCounters {
  /** Completed reads plus completed writes since the device appeared (merged requests count once). */
  readonly ios: bigint;
}

/** The I/O counters of every line in `/proc/diskstats`, by name, in file order. */
export type DiskStats = Map<string, DeviceCounters>;

/** major, minor, name, then the 11 counters every kernel since 2.6 prints for disks and partitions. */
const MIN_FIELDS = 14;

/**
 * Parses the text of `/proc/diskstats` (Documentation/admin-guide/iostats.rst):
 * ```
 *    8       0 sda 12345 67 890123 4567 2345 678 901234 5678 0 6789 10234 0 0 0 0 0 0
 *    field:    1   2     3  4      5    6    7   8      9    10 11   12 ...
 * ```
 * Field 1 (after the name) is reads completed, field 5 writes completed. Kernels 4.18+ append four
 * discard fields and 5.5+ two flush fields; those are ignored. Throws on a line with fewer than 14
 * fields or a non-numeric counter: a malformed file means a wrong procRoot, not a quirk to skip.
 */
export function parseDiskStats(text: string, source = 'diskstats'): DiskStats {
  const stats: DiskStats = new Map();
  for (const [index, line] of text.split('\n').entries()) {
    const fields = line.trim().split(/\s+/);
    if (fields.length === 1 && fields[0] === '') continue;
    const where = `${source}:${index + 1}`;
    if (fields.length < MIN_FIELDS) {
      throw new Error(`${where}: expected at least ${MIN_FIELDS} fields, got ${fields.length}`);
    }
    const name = fields[2] ?? '';
    if (!isSafeSysfsName(name)) throw new Error(`${where}: bad device name '${name}'`);
    parseCounter(fields[0] ?? '', `${where} major`);
    parseCounter(fields[1] ?? '', `${where} minor`);
    const reads = parseCounter(fields[3] ?? '', `${where} reads completed`);
    const writes = parseCounter(fields[7] ?? '', `${where} writes completed`);
    stats.set(name, { ios: reads + writes });
  }
  return stats;
}

/**
 * The name of a disk under `/sys/block`: the kernel prints `cciss/c0d0` in diskstats but sysfs
 * cannot have '/' in a name and spells it `cciss!c0d0`.
 */
export function sysfsBlockName(name: string): string {
  return name.replaceAll('/', '!');
}

function isSafeSysfsName(name: string): boolean {
  return isSafeName(sysfsBlockName(name));
}

/**
 * Kernel-made devices that have no disk of their own or stack on other disks (whose I/O is then
 * counted at the bottom): loop, RAM disks, compressed swap, device-mapper (LVM, crypt), software
 * RAID, optical drives, floppies, network block devices.
 */
export const VIRTUAL_DEVICE_PATTERNS: readonly string[] = Object.freeze([
  'loop*',
  'ram*',
  'zram*',
  'dm-*',
  'md*',
  'sr*',
  'fd*',
  'nbd*',
]);

/**
 * A device is a whole physical disk when `/sys/block/<name>` exists (partitions are listed in
 * diskstats but not there), `/sys/block/<name>/device` exists (a symlink to the controller;
 * virtual devices have none) and its name is not one of VIRTUAL_DEVICE_PATTERNS.
 */
export async function isWholePhysicalDevice(sysRoot: string, name: string): Promise<boolean> {
  if (matchesAny(name, VIRTUAL_DEVICE_PATTERNS)) return false;
  const dir = join(sysRoot, 'block', sysfsBlockName(name));
  return (await pathExists(dir)) && (await pathExists(join(dir, 'device')));
}

/**
 * Reads `<procRoot>/diskstats` and returns the devices `filter` selects (see NameFilter; with no
 * include, the whole physical disks per isWholePhysicalDevice) with their completed I/O count.
 * Map order is the order of `/proc/diskstats`.
 */
export async function readBlockDevices(
  procRoot: string,
  sysRoot: string,
  filter: NameFilter,
): Promise<Map<string, DeviceCounters>> {
  const path = join(procRoot, 'diskstats');
  const stats = parseDiskStats(await readFile(path, 'utf8'), path);
  const picked = await Promise.all(
    [...stats.keys()].map((name) => selectedBy(filter, name, () => isWholePhysicalDevice(sysRoot, name))),
  );
  const selected = new Map<string, DeviceCounters>();
  for (const [i, [name, counters]] of [...stats].entries()) if (picked[i]) selected.set(name, counters);
  return selected;
}
