import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseDiskStats,
  readBlockDevices,
  sysfsBlockName,
  VIRTUAL_DEVICE_PATTERNS,
} from '../../../src/agent/block-devices.js';
import { matchesPattern, type NameFilter } from '../../../src/agent/net-interfaces.js';
import { fileTrees } from '../../support/file-tree.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/agent/', import.meta.url));
const proc = (c: string) => join(FIXTURES, c, 'proc');
const sys = (c: string) => join(FIXTURES, c, 'sys');

const AUTO: NameFilter = { include: [], exclude: [] };

/** A /proc/diskstats line in the 5.5+ format (20 fields): reads at field 4, writes at field 8. */
function statLine(
  name: string,
  reads: bigint | number,
  writes: bigint | number,
  major = 8,
  minor = 0,
): string {
  return `${String(major).padStart(4)} ${String(minor).padStart(7)} ${name} ${reads} 0 0 0 ${writes} 0 0 0 0 0 0 0 0 0 0 0 0`;
}

const trees = fileTrees('ioplace-block-');
afterEach(() => trees.cleanup());

/** A throwaway tree: path -> file content, or null for an empty directory. Returns its root. */
const tree = (files: Record<string, string | null>): string => trees.make(files);

/**
 * A tree with the given devices in diskstats (10 reads, 5 writes each). `block`: listed in
 * /sys/block (default true); `device`: has a device link there (default true).
 */
function disks(entries: Record<string, { block?: boolean; device?: boolean }>): string {
  const files: Record<string, string | null> = {
    'proc/diskstats': `${Object.keys(entries)
      .map((n) => statLine(n, 10, 5))
      .join('\n')}\n`,
    'sys/block': null,
  };
  for (const [name, e] of Object.entries(entries)) {
    if (!(e.block ?? true)) continue;
    const dir = `sys/block/${sysfsBlockName(name)}`;
    files[`${dir}/dev`] = '8:0\n';
    if (e.device ?? true) files[`${dir}/device`] = '../../../0:0:0:0\n';
  }
  return tree(files);
}

async function readTree(root: string, filter: NameFilter = AUTO) {
  return readBlockDevices(join(root, 'proc'), join(root, 'sys'), filter);
}

describe('parseDiskStats', () => {
  it.each([
    {
      name: '20 fields (5.5+, discard and flush)',
      line: ' 254       0 vda 41543 5816 1812242 35272 4548 22186 1190456 2937 0 4580 38654 5110 44 58080 444 5 0',
      ios: 46091n,
    },
    {
      name: '18 fields (4.18+, discard)',
      line: '   8       0 sda 41543 5816 1812242 35272 4548 22186 1190456 2937 0 4580 38654 5110 44 58080 444',
      ios: 46091n,
    },
    {
      name: '14 fields (the original format)',
      line: '   8       0 sda 41543 5816 1812242 35272 4548 22186 1190456 2937 0 4580 38654',
      ios: 46091n,
    },
  ])('reads completed reads + completed writes: $name', ({ line, ios }) => {
    const [name] = line.trim().split(/\s+/).slice(2);
    expect(parseDiskStats(`${line}\n`)).toEqual(new Map([[name, { ios }]]));
  });

  it('keeps counters exact beyond 2^53', () => {
    const got = parseDiskStats(`${statLine('nvme0n1', 2n ** 63n, 2n ** 63n - 1n)}\n`);
    expect(got.get('nvme0n1')?.ios).toBe(2n ** 64n - 1n);
  });

  it('keeps file order and skips blank lines', () => {
    const text = `\n${statLine('sdb', 1, 1)}\n\n${statLine('sda', 1, 1)}\n`;
    expect([...parseDiskStats(text).keys()]).toEqual(['sdb', 'sda']);
  });

  it.each([
    {
      name: '13 fields',
      line: '8 0 sda 1 2 3 4 5 6 7 8 9 10',
      error: /diskstats:1: expected at least 14 fields, got 13/,
    },
    { name: 'old partition format', line: '8 1 sda1 1 2 3 4', error: /expected at least 14 fields, got 7/ },
    {
      name: 'non-numeric reads',
      line: '8 0 sda x 2 3 4 5 6 7 8 9 10 11',
      error: /reads completed: expected an unsigned integer, got 'x'/,
    },
    { name: 'non-numeric writes', line: '8 0 sda 1 2 3 4 -5 6 7 8 9 10 11', error: /writes completed/ },
    { name: 'non-numeric major', line: 'a 0 sda 1 2 3 4 5 6 7 8 9 10 11', error: /major/ },
    { name: 'a path as name', line: '8 0 .. 1 2 3 4 5 6 7 8 9 10 11', error: /bad device name '..'/ },
  ])('refuses a malformed line: $name', ({ line, error }) => {
    expect(() => parseDiskStats(`${line}\n`)).toThrow(error);
  });
});

describe('readBlockDevices on committed fixtures', () => {
  it('k8s-node: whole physical disks only, no partitions, loop, dm, md, zram or optical', async () => {
    const got = await readBlockDevices(proc('k8s-node'), sys('k8s-node'), AUTO);
    expect(got).toEqual(
      new Map([
        ['sda', { ios: 13999999n }],
        ['nvme0n1', { ios: 186419753n }],
      ]),
    );
  });

  it('old-kernel: 14-field lines', async () => {
    const got = await readBlockDevices(proc('old-kernel'), sys('old-kernel'), AUTO);
    expect(got).toEqual(
      new Map([
        ['sda', { ios: 777777n }],
        ['sdb', { ios: 3000n }],
      ]),
    );
  });

  it('virtio-vm: vda only, not loop0..7 or zram0', async () => {
    const got = await readBlockDevices(proc('virtio-vm'), sys('virtio-vm'), AUTO);
    expect(got).toEqual(new Map([['vda', { ios: 60646n }]]));
  });

  it.each([
    {
      name: 'include overrides the skip list',
      filter: { include: ['dm-0', 'md0'], exclude: [] },
      want: ['dm-0', 'md0'],
    },
    {
      name: 'include glob, partitions too',
      filter: { include: ['sda*'], exclude: [] },
      want: ['sda', 'sda1', 'sda2'],
    },
    {
      name: 'include is the whole selection',
      filter: { include: ['nvme0n1'], exclude: [] },
      want: ['nvme0n1'],
    },
    { name: 'exclude', filter: { include: [], exclude: ['sda'] }, want: ['nvme0n1'] },
    { name: 'exclude glob', filter: { include: [], exclude: ['nvme*'] }, want: ['sda'] },
    { name: 'exclude beats include', filter: { include: ['loop*'], exclude: ['loop1'] }, want: ['loop0'] },
    {
      name: 'an included name that does not exist',
      filter: { include: ['sdz', 'sr0'], exclude: [] },
      want: ['sr0'],
    },
  ])('k8s-node: $name', async ({ filter, want }) => {
    const got = await readBlockDevices(proc('k8s-node'), sys('k8s-node'), filter);
    expect([...got.keys()]).toEqual(want);
  });

  it('fails when diskstats is missing (a wrong procRoot)', async () => {
    await expect(readBlockDevices(sys('k8s-node'), sys('k8s-node'), AUTO)).rejects.toThrow(/ENOENT/);
  });
});

describe('readBlockDevices: which devices are whole and physical', () => {
  const examples = ['loop0', 'ram0', 'zram0', 'dm-3', 'md127', 'sr0', 'fd0', 'nbd0'];

  it('every skipped pattern has an example here', () => {
    for (const p of VIRTUAL_DEVICE_PATTERNS) expect(examples.some((e) => matchesPattern(e, p))).toBe(true);
  });

  it.each(examples)('%s is skipped by name even with a device, unless included', async (name) => {
    const root = disks({ [name]: {}, sdc: {} });
    expect([...(await readTree(root)).keys()]).toEqual(['sdc']);
    expect([...(await readTree(root, { include: [name], exclude: [] })).keys()]).toEqual([name]);
  });

  it.each(['sda', 'nvme0n1', 'vdb', 'xvda', 'mmcblk0', 'hda'])('%s: whole and physical', async (name) => {
    expect([...(await readTree(disks({ [name]: {} }))).keys()]).toEqual([name]);
  });

  it('not in /sys/block (a partition): skipped', async () => {
    expect((await readTree(disks({ sda1: { block: false } }))).size).toBe(0);
  });

  it('in /sys/block without a device (virtual): skipped', async () => {
    expect((await readTree(disks({ pmem0: { device: false } }))).size).toBe(0);
  });

  it('a name with a slash is looked up with "!" as sysfs spells it', async () => {
    const got = await readTree(disks({ 'cciss/c0d0': {} }));
    expect(got).toEqual(new Map([['cciss/c0d0', { ios: 15n }]]));
  });
});
