import type { DeviceNumber } from './cgroup-layout.js';

/**
 * cgroup v2 `io.max` (Documentation/admin-guide/cgroup-v2.rst, "IO Interface Files"; kernel
 * block/blk-throttle.c tg_prfill_limit and tg_set_limit).
 *
 * Read: one line per device that has any limit, all four keys, `max` for none:
 * ```
 * 8:16 rbps=2097152 wbps=max riops=max wiops=120
 * ```
 * Write: one device per write, only the keys to change (`max` removes a limit):
 * ```
 * 8:16 riops=100 wiops=100
 * ```
 * The kernel keeps the other keys as they were, rejects 0 (ERANGE) and, from 5.10 to 6.9, 1
 * (EINVAL), and takes at most UINT_MAX for an IOPS key, which then reads back as `max`.
 */

/** An IOPS limit; undefined is no limit (`max`). */
export interface IopsPairLimit {
  readonly riops: number | undefined;
  readonly wiops: number | undefined;
}

const IOPS_VALUE = /^(max|\d{1,10})$/;

/**
 * The IOPS keys of every line of an `io.max` text, by device. The byte keys are not ours and are
 * skipped. Throws on a line that is not `MAJ:MIN key=value...`: a malformed file means a wrong
 * cgroupRoot, not a quirk to skip.
 */
export function parseIoMax(text: string, source = 'io.max'): Map<DeviceNumber, IopsPairLimit> {
  const limits = new Map<DeviceNumber, IopsPairLimit>();
  for (const [index, line] of text.split('\n').entries()) {
    const fields = line.trim().split(/\s+/);
    const device = fields[0] ?? '';
    if (device === '') continue;
    if (!/^\d+:\d+$/.test(device)) throw new Error(`${source}:${index + 1}: bad device '${device}'`);
    let riops: number | undefined;
    let wiops: number | undefined;
    for (const field of fields.slice(1)) {
      const eq = field.indexOf('=');
      if (eq <= 0) throw new Error(`${source}:${index + 1}: bad field '${field}'`);
      const key = field.slice(0, eq);
      const value = field.slice(eq + 1);
      if (key !== 'riops' && key !== 'wiops') continue;
      if (!IOPS_VALUE.test(value)) throw new Error(`${source}:${index + 1}: bad ${key} '${value}'`);
      const n = value === 'max' ? undefined : Number(value);
      if (key === 'riops') riops = n;
      else wiops = n;
    }
    limits.set(device, { riops, wiops });
  }
  return limits;
}

/** The line that sets both IOPS keys of one device: `8:16 riops=100 wiops=max`. */
export function formatIoMaxLine(device: DeviceNumber, limit: IopsPairLimit): string {
  return `${device} riops=${limit.riops ?? 'max'} wiops=${limit.wiops ?? 'max'}`;
}
