import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatBlkioThrottleLine, parseBlkioThrottle } from '../../../../src/agent/enforce/blkio-throttle.js';
import { kernelCgroupFiles } from '../../../../src/agent/enforce/cgroup-file.js';
import { formatIoMaxLine, parseIoMax } from '../../../../src/agent/enforce/io-max.js';
import { fileTrees } from '../../../support/file-tree.js';

const trees = fileTrees('ioplace-cgroup-file-');
afterEach(() => trees.cleanup());

describe('io.max (v2)', () => {
  it('reads the IOPS keys of each device line as the kernel prints them', () => {
    const text =
      '8:0 rbps=10485760 wbps=max riops=max wiops=max\n' +
      '8:16 rbps=max wbps=max riops=100 wiops=120\n' +
      '259:0 rbps=max wbps=max riops=4294967294 wiops=max\n';
    expect([...parseIoMax(text)]).toEqual([
      ['8:0', { riops: undefined, wiops: undefined }],
      ['8:16', { riops: 100, wiops: 120 }],
      ['259:0', { riops: 4294967294, wiops: undefined }],
    ]);
  });

  it('reads an empty file (no limits) and blank lines', () => {
    expect(parseIoMax('').size).toBe(0);
    expect(parseIoMax('\n\n').size).toBe(0);
  });

  it('skips keys that are not IOPS, whatever they hold', () => {
    expect(parseIoMax('8:0 rbps=18446744073709551614 idle=100 riops=7\n').get('8:0')).toEqual({
      riops: 7,
      wiops: undefined,
    });
  });

  it.each([
    ['a bad device', 'sda riops=1\n'],
    ['a field without =', '8:0 riops\n'],
    ['a non-number', '8:0 riops=lots\n'],
    ['a negative', '8:0 riops=-1\n'],
    ['too many digits', '8:0 riops=12345678901\n'],
  ])('throws on %s, naming the line', (_, text) => {
    expect(() => parseIoMax(text, '/x/io.max')).toThrow(/^\/x\/io\.max:1: /);
  });

  it('writes one device, both IOPS keys, max for none', () => {
    expect(formatIoMaxLine('8:0', { riops: 50, wiops: 50 })).toBe('8:0 riops=50 wiops=50');
    expect(formatIoMaxLine('259:3', { riops: 51, wiops: undefined })).toBe('259:3 riops=51 wiops=max');
    expect(formatIoMaxLine('8:0', { riops: undefined, wiops: undefined })).toBe('8:0 riops=max wiops=max');
  });
});

describe('blkio.throttle.*_iops_device (v1)', () => {
  it('reads MAJ:MIN N lines', () => {
    expect([...parseBlkioThrottle('8:0 50\n259:0 4294967294\n')]).toEqual([
      ['8:0', 50],
      ['259:0', 4294967294],
    ]);
    expect(parseBlkioThrottle('').size).toBe(0);
  });

  it.each([['8:0\n'], ['8:0 50 60\n'], ['sda 50\n'], ['8:0 -5\n'], ['8:0 x\n']])('throws on %j', (text) => {
    expect(() => parseBlkioThrottle(text, 'f')).toThrow(/^f:1: expected 'MAJ:MIN N'/);
  });

  it('writes MAJ:MIN N, and 0 to remove', () => {
    expect(formatBlkioThrottleLine('8:0', 50)).toBe('8:0 50');
    expect(formatBlkioThrottleLine('8:0', undefined)).toBe('8:0 0');
  });
});

describe('kernelCgroupFiles', () => {
  it('writes the line as it is, in one write, over an existing file', async () => {
    const root = trees.make({ 'io.max': '' });
    await kernelCgroupFiles.write(join(root, 'io.max'), '8:0 riops=50 wiops=50\n');
    expect(readFileSync(join(root, 'io.max'), 'utf8')).toBe('8:0 riops=50 wiops=50\n');
    expect(await kernelCgroupFiles.read(join(root, 'io.max'))).toBe('8:0 riops=50 wiops=50\n');
  });

  it('never creates a file', async () => {
    const root = trees.make({ d: null });
    await expect(kernelCgroupFiles.write(join(root, 'd', 'io.max'), 'x')).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await expect(kernelCgroupFiles.read(join(root, 'd', 'io.max'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a symlink as the file, for writing and reading', async () => {
    const root = trees.make({ 'outside/target': 'untouched\n', pod: null });
    symlinkSync(join(root, 'outside', 'target'), join(root, 'pod', 'io.max'));
    await expect(kernelCgroupFiles.write(join(root, 'pod', 'io.max'), '8:0 riops=2')).rejects.toMatchObject({
      code: 'ELOOP',
    });
    await expect(kernelCgroupFiles.read(join(root, 'pod', 'io.max'))).rejects.toMatchObject({
      code: 'ELOOP',
    });
    expect(readFileSync(join(root, 'outside', 'target'), 'utf8')).toBe('untouched\n');
  });
});
