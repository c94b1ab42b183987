import type { DeviceNumber } from './cgroup-layout.js';

/**
 * cgroup v1 `blkio.throttle.read_iops_device` and `blkio.throttle.write_iops_device`
 * (Documentation/admin-guide/cgroup-v1/blkio-controller.rst; kernel block/blk-throttle.c
 * tg_print_conf_uint and tg_set_conf).
 *
 * Read: one `MAJ:MIN N` line per device that has a limit. Write: one `MAJ:MIN N` per write; 0
 * removes the limit. The kernel stores N in 32 bits without clamping (2^32 + 5 would become 5),
 * and UINT_MAX means no limit, so a value must stay below it.
 */

export const BLKIO_READ_IOPS_FILE = 'blkio.throttle.read_iops_device';
export const BLKIO_WRITE_IOPS_FILE = 'blkio.throttle.write_iops_device';

/** The limit of every line of a `blkio.throttle.*_iops_device` text, by device. Throws on a malformed line. */
export function parseBlkioThrottle(text: string, source = 'blkio.throttle'): Map<DeviceNumber, number> {
  const limits = new Map<DeviceNumber, number>();
  for (const [index, line] of text.split('\n').entries()) {
    const fields = line.trim().split(/\s+/);
    if (fields.length === 1 && fields[0] === '') continue;
    const [device = '', value = ''] = fields;
    if (fields.length !== 2 || !/^\d+:\d+$/.test(device) || !/^\d{1,20}$/.test(value))
      throw new Error(`${source}:${index + 1}: expected 'MAJ:MIN N', got '${line.trim()}'`);
    limits.set(device, Number(value));
  }
  return limits;
}

/** The line that sets one device's limit; undefined writes 0, which removes it. */
export function formatBlkioThrottleLine(device: DeviceNumber, limit: number | undefined): string {
  return `${device} ${limit ?? 0}`;
}
