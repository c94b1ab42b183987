import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultCgroupRoot,
  detectIoHierarchy,
  expandSlice,
  isDeviceNumber,
  isInsideKubepods,
  isPodUid,
  type PodCgroupRef,
  parseKubeletCgroupRoot,
  podCgroupCandidates,
  podCgroupPath,
  type QosClass,
  toSystemdPath,
} from '../../../../src/agent/enforce/cgroup-layout.js';
import { fileTrees } from '../../../support/file-tree.js';

const CGROUPS = fileURLToPath(new URL('../../../fixtures/agent/cgroups/', import.meta.url));
const UID = '2b3c4d5e-0000-4000-8000-00000000000b';
const U_ = '2b3c4d5e_0000_4000_8000_00000000000b';

const trees = fileTrees('ioplace-cgroup-layout-');
afterEach(() => trees.cleanup());

describe('isPodUid', () => {
  it.each([
    ['a UUID', UID, true],
    ['a UUID in capitals', UID.toUpperCase(), true],
    ["a static pod's hash", '6f1f3c0f6d5b4c1e8a9b0c1d2e3f4a5b', true],
    ['one character', 'a', true],
    ['64 characters', 'a'.repeat(64), true],
    ['65 characters', 'a'.repeat(65), false],
    ['empty', '', false],
    ['a slash', 'abc/def', false],
    ['dot-dot', '..', false],
    ['a traversal', '../../../etc', false],
    ['a dot', 'abc.def', false],
    ['an underscore (systemd escape)', 'abc_def', false],
    ['a leading dash', '-abc', false],
    ['a trailing dash', 'abc-', false],
    ['two dashes', 'abc--def', false],
    ['a space', 'abc def', false],
    ['a newline', 'abc\n', false],
    ['a NUL', 'abc\0', false],
  ])('%s', (_, uid, ok) => {
    expect(isPodUid(uid)).toBe(ok);
  });

  it.each([[undefined], [null], [42], [{}]])('rejects %j', (v) => {
    expect(isPodUid(v)).toBe(false);
  });
});

describe('isDeviceNumber', () => {
  it.each([
    ['8:0', true],
    ['259:12', true],
    ['0:0', true],
    ['4095:1048575', true],
    ['4096:0', false],
    ['8:1048576', false],
    ['08:0', false],
    ['8:00', false],
    ['8', false],
    ['8:', false],
    [':0', false],
    ['8:0 ', false],
    ['8:0\n', false],
    ['8:0 riops=1', false],
    ['-8:0', false],
    ['8.0', false],
    ['', false],
  ])('%j: %s', (device, ok) => {
    expect(isDeviceNumber(device)).toBe(ok);
  });
});

describe('parseKubeletCgroupRoot', () => {
  it.each([
    ['/', []],
    ['//', []],
    ['/custom', ['custom']],
    ['/a/b/', ['a', 'b']],
    ['/kube.slice', ['kube.slice']],
  ])('%s', (root, components) => {
    expect(parseKubeletCgroupRoot(root)).toEqual(components);
  });

  it.each([[''], ['custom'], ['/a/../b'], ['/a/./b'], ['/a b'], ['/a\nb']])('rejects %j', (root) => {
    expect(() => parseKubeletCgroupRoot(root)).toThrow(RangeError);
  });
});

describe('expandSlice (systemd ExpandSlice)', () => {
  it.each([
    ['a.slice', 'a.slice'],
    ['a-b-c.slice', 'a.slice/a-b.slice/a-b-c.slice'],
    ['-.slice', ''],
  ])('%s', (slice, path) => {
    expect(expandSlice(slice)).toBe(path);
  });

  it.each([['.slice'], ['a'], ['a-.slice'], ['a--b.slice'], ['a/b.slice']])('rejects %j', (slice) => {
    expect(() => expandSlice(slice)).toThrow(RangeError);
  });
});

describe('podCgroupPath: kubelet names', () => {
  it('reproduces the example of kubelet ToSystemd', () => {
    expect(toSystemdPath(['kubepods', 'burstable', 'pod1234-abcd-5678-efgh'])).toBe(
      'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_abcd_5678_efgh.slice',
    );
  });

  const table: [string, string[], 'cgroupfs' | 'systemd', QosClass, string][] = [
    ['', [], 'cgroupfs', 'Guaranteed', `kubepods/pod${UID}`],
    ['', [], 'cgroupfs', 'Burstable', `kubepods/burstable/pod${UID}`],
    ['', [], 'cgroupfs', 'BestEffort', `kubepods/besteffort/pod${UID}`],
    ['', [], 'systemd', 'Guaranteed', `kubepods.slice/kubepods-pod${U_}.slice`],
    [
      '',
      [],
      'systemd',
      'Burstable',
      `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice`,
    ],
    [
      '',
      [],
      'systemd',
      'BestEffort',
      `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${U_}.slice`,
    ],
    ['--cgroup-root=/a/b', ['a', 'b'], 'cgroupfs', 'Burstable', `a/b/kubepods/burstable/pod${UID}`],
    [
      '--cgroup-root=/custom',
      ['custom'],
      'systemd',
      'Guaranteed',
      `custom.slice/custom-kubepods.slice/custom-kubepods-pod${U_}.slice`,
    ],
    [
      '--cgroup-root=/my-root',
      ['my-root'],
      'systemd',
      'BestEffort',
      `my_root.slice/my_root-kubepods.slice/my_root-kubepods-besteffort.slice/my_root-kubepods-besteffort-pod${U_}.slice`,
    ],
  ];
  it.each(table)('%s %s %s %s', (_, root, driver, qos, path) => {
    expect(podCgroupPath(root, driver, UID, qos)).toBe(path);
    expect(isInsideKubepods(path)).toBe(true);
  });
});

describe('podCgroupCandidates', () => {
  it('tries the given class under both drivers first, then the other classes', () => {
    const order = podCgroupCandidates([], { uid: UID, qosClass: 'BestEffort' }).map(
      (c) => `${c.qosClass}/${c.driver}`,
    );
    expect(order).toEqual([
      'BestEffort/cgroupfs',
      'BestEffort/systemd',
      'Guaranteed/cgroupfs',
      'Guaranteed/systemd',
      'Burstable/cgroupfs',
      'Burstable/systemd',
    ]);
  });

  it('tries every class when the class is not one of the three', () => {
    const pod = { uid: UID, qosClass: 'Platinum' } as unknown as PodCgroupRef;
    expect(podCgroupCandidates([], pod).map((c) => c.qosClass)).toEqual([
      'Guaranteed',
      'Guaranteed',
      'Burstable',
      'Burstable',
      'BestEffort',
      'BestEffort',
    ]);
  });
});

describe('isInsideKubepods', () => {
  it.each([
    ['kubepods/podX', true],
    ['kubepods/burstable/podX/io.max', true],
    ['custom/kubepods/podX', true],
    ['kubepods.slice/kubepods-podX.slice', true],
    ['custom.slice/custom-kubepods.slice/custom-kubepods-podX.slice', true],
    ['kubepods', false],
    ['kubepods.slice', false],
    ['system.slice/containerd.service/io.max', false],
    ['io.max', false],
    ['kubepods/../system.slice/io.max', false],
    ['kubepods/./podX', false],
    ['kubepods//podX', false],
    ['/kubepods/podX', false],
    ['notkubepods/podX', false],
    ['kubepods-x.slice/podX', false],
    ['', false],
  ])('%j: %s', (path, inside) => {
    expect(isInsideKubepods(path)).toBe(inside);
  });
});

describe('detectIoHierarchy', () => {
  it.each([
    ['v2-cgroupfs', 2, ''],
    ['v2-systemd', 2, ''],
    ['v2-no-io', 2, ''],
    ['v1-cgroupfs', 1, 'blkio'],
    ['v1-systemd', 1, 'blkio'],
  ])('%s: v%d', async (name, version, sub) => {
    const root = join(CGROUPS, name);
    expect(await detectIoHierarchy(root)).toEqual({ version, dir: join(root, sub) });
  });

  it('finds blkio co-mounted with another controller', async () => {
    const root = trees.make({ 'blkio,cpu/blkio.throttle.read_iops_device': '', 'cpu,blkio': null });
    expect(await detectIoHierarchy(root)).toEqual({ version: 1, dir: join(root, 'blkio,cpu') });
  });

  it('finds io in the hybrid layout’s unified mount when blkio is not a v1 hierarchy', async () => {
    const root = trees.make({ 'unified/cgroup.controllers': 'cpu io memory\n', 'cpu/cpu.shares': '' });
    expect(await detectIoHierarchy(root)).toEqual({ version: 2, dir: join(root, 'unified') });
  });

  it('resolves a symlinked blkio mount', async () => {
    const root = trees.make({ 'blkio-real/blkio.throttle.read_iops_device': '' });
    symlinkSync(join(root, 'blkio-real'), join(root, 'blkio'));
    expect(await detectIoHierarchy(root)).toEqual({ version: 1, dir: join(root, 'blkio-real') });
  });

  it('finds nothing in an empty directory, a missing one, or a unified mount without io', async () => {
    const empty = trees.make({ x: null });
    expect(await detectIoHierarchy(join(empty, 'x'))).toBeUndefined();
    expect(await detectIoHierarchy(join(empty, 'missing'))).toBeUndefined();
    const noIo = trees.make({ 'unified/cgroup.controllers': 'hugetlb\n', 'blkio/cgroup.procs': '' });
    expect(await detectIoHierarchy(noIo)).toBeUndefined();
  });

  it('does not take a blkio directory without the throttle files for v1', async () => {
    const root = trees.make({ 'blkio/cgroup.procs': '' });
    mkdirSync(join(root, 'unified'));
    writeFileSync(join(root, 'unified', 'cgroup.controllers'), 'io\n');
    expect(await detectIoHierarchy(root)).toEqual({ version: 2, dir: join(root, 'unified') });
  });

  it('defaultCgroupRoot', () => {
    expect(defaultCgroupRoot('/host/sys')).toBe('/host/sys/fs/cgroup');
  });
});
