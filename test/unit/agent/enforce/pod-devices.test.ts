import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { limitedDevices } from '../../../../src/agent/enforce/pod-devices.js';
import { fileTrees } from '../../../support/file-tree.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/agent/', import.meta.url));
const trees = fileTrees('ioplace-devices-');
afterEach(() => trees.cleanup());

describe('limitedDevices', () => {
  it('gives the MAJ:MIN of exactly the disks the agent measures', async () => {
    const node = join(FIXTURES, 'k8s-node');
    const all = await limitedDevices(join(node, 'proc'), join(node, 'sys'), { include: [], exclude: [] });
    expect(all).toEqual({
      devices: [
        { name: 'nvme0n1', device: '259:0' },
        { name: 'sda', device: '8:0' },
      ],
      problems: [],
    });
    const some = await limitedDevices(join(node, 'proc'), join(node, 'sys'), {
      include: [],
      exclude: ['nvme*'],
    });
    expect(some.devices).toEqual([{ name: 'sda', device: '8:0' }]);
  });

  it('leaves out a disk whose dev file is missing or not MAJ:MIN, and says why', async () => {
    const root = trees.make({});
    cpSync(join(FIXTURES, 'old-kernel'), root, { recursive: true });
    writeFileSync(join(root, 'sys/block/sdb/dev'), 'eight:sixteen\n');
    const { devices, problems } = await limitedDevices(join(root, 'proc'), join(root, 'sys'), {
      include: [],
      exclude: [],
    });
    expect(devices.map((d) => d.name)).toEqual(['sda']);
    expect(problems).toEqual([`${join(root, 'sys/block/sdb/dev')}: "eight:sixteen" is not MAJ:MIN`]);
  });
});
