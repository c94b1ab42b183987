import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readBlockDevices, sysfsBlockName } from '../block-devices.js';
import type { NameFilter } from '../net-interfaces.js';

/** A block device as io.max names it. */
export interface LimitedDevice {
  readonly name: string;
  /** MAJ:MIN */
  readonly device: string;
}

const DEV_NUMBER = /^\d+:\d+$/;

/**
 * The disks pods' IOPS are limited on: exactly those the agent measures (readBlockDevices with the
 * same --devices / --exclude-devices selection), each with its MAJ:MIN from
 * `<sysRoot>/block/<name>/dev`, sorted by name. A disk whose `dev` cannot be read or does not
 * look like MAJ:MIN is left out and named in `problems`.
 */
export async function limitedDevices(
  procRoot: string,
  sysRoot: string,
  filter: NameFilter,
): Promise<{ devices: LimitedDevice[]; problems: string[] }> {
  const names = [...(await readBlockDevices(procRoot, sysRoot, filter)).keys()].sort();
  const devices: LimitedDevice[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const path = join(sysRoot, 'block', sysfsBlockName(name), 'dev');
    try {
      const device = (await readFile(path, 'utf8')).trim();
      if (DEV_NUMBER.test(device)) devices.push({ name, device });
      else problems.push(`${path}: ${JSON.stringify(device)} is not MAJ:MIN`);
    } catch (err) {
      problems.push(`${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return { devices, problems };
}
