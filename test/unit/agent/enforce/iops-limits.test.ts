import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { PodCgroupRef, QosClass } from '../../../../src/agent/enforce/cgroup-layout.js';
import {
  type IopsApplyResult,
  IopsLimiter,
  type IopsLimiterOptions,
  KERNEL_MAX_IOPS,
  splitIops,
} from '../../../../src/agent/enforce/iops-limits.js';
import { type FakeKernel, fakeKernel } from './fake-kernel.js';

const CGROUPS = fileURLToPath(new URL('../../../fixtures/agent/cgroups/', import.meta.url));

const UIDS: Record<QosClass, string> = {
  Guaranteed: '1a2b3c4d-0000-4000-8000-00000000000a',
  Burstable: '2b3c4d5e-0000-4000-8000-00000000000b',
  BestEffort: '3c4d5e6f-0000-4000-8000-00000000000e',
};
const pod = (qosClass: QosClass): PodCgroupRef => ({ uid: UIDS[qosClass], qosClass });
const us = (uid: string) => uid.replaceAll('-', '_');
const SANDBOX = 'a'.repeat(64);
const APP = `${'b'.repeat(63)}c`;

let copies: string[] = [];
afterEach(() => {
  for (const c of copies) rmSync(c, { recursive: true, force: true });
  copies = [];
});

/** A writable copy of a fixture case; returns the copy's cgroup root. */
function copyOf(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ioplace-cgroups-'));
  copies.push(dir);
  cpSync(join(CGROUPS, name), join(dir, name), { recursive: true });
  return join(dir, name);
}

function setup(name: string, options: Partial<IopsLimiterOptions> = {}) {
  const root = copyOf(name);
  const kernel = fakeKernel();
  const limiter = new IopsLimiter({ cgroupRoot: root, split: 'even', files: kernel, ...options });
  return {
    root,
    kernel,
    limiter,
    again: () => new IopsLimiter({ cgroupRoot: root, files: kernel, ...options }),
  };
}

const text = (path: string) => readFileSync(path, 'utf8');

function ok(result: IopsApplyResult): { cgroup: string; written: number } {
  if (!result.ok) throw new Error(`expected ok, got ${result.reason}: ${result.message}`);
  return result;
}

describe('splitIops', () => {
  it.each([
    ['even', 100, 2, 50, 50],
    ['even', 101, 2, 51, 50],
    ['even', 2, 1, 1, 1],
    ['even', 1, 1, 1, 1],
    ['even', 1, 2, 2, 2],
    ['even', 3, 2, 2, 2],
    ['even', 5, 2, 3, 2],
    ['even', 2 ** 32, 2, 2 ** 31, 2 ** 31],
    ['even', 2 ** 53, 2, KERNEL_MAX_IOPS, KERNEL_MAX_IOPS],
    ['each', 100, 2, 100, 100],
    ['each', 1, 2, 2, 2],
    ['each', 1, 1, 1, 1],
    ['each', 2 ** 32 - 1, 1, KERNEL_MAX_IOPS, KERNEL_MAX_IOPS],
  ] as const)('%s %d on v%d: %d reads, %d writes', (split, n, version, r, w) => {
    expect(splitIops(n, split, version)).toEqual({ ok: true, readIops: r, writeIops: w });
  });

  it('even never lets the sum exceed the demand once both sides are above the minimum', () => {
    for (let n = 4; n < 2000; n++) {
      const s = splitIops(n, 'even', 2);
      if (!s.ok) throw new Error(s.problem);
      expect(s.readIops + s.writeIops).toBe(n);
      expect(s.readIops - s.writeIops).toBeLessThanOrEqual(1);
    }
  });

  it.each([
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [Number.NEGATIVE_INFINITY],
    [-1],
    [0],
    [-0],
    [0.5],
    [100.25],
    [2 ** 53 + 2],
    [Number.MAX_VALUE],
    ['100' as unknown as number],
    [undefined as unknown as number],
  ])('refuses %s', (n) => {
    expect(splitIops(n, 'even', 2)).toMatchObject({ ok: false });
    expect(splitIops(n, 'each', 1)).toMatchObject({ ok: false });
  });
});

describe('IopsLimiter: where each pod is', () => {
  const cases: [string, QosClass, string][] = [
    ['v2-cgroupfs', 'Guaranteed', `kubepods/pod${UIDS.Guaranteed}`],
    ['v2-cgroupfs', 'Burstable', `kubepods/burstable/pod${UIDS.Burstable}`],
    ['v2-cgroupfs', 'BestEffort', `kubepods/besteffort/pod${UIDS.BestEffort}`],
    ['v2-systemd', 'Guaranteed', `kubepods.slice/kubepods-pod${us(UIDS.Guaranteed)}.slice`],
    [
      'v2-systemd',
      'Burstable',
      `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${us(UIDS.Burstable)}.slice`,
    ],
    [
      'v2-systemd',
      'BestEffort',
      `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${us(UIDS.BestEffort)}.slice`,
    ],
    ['v1-cgroupfs', 'Guaranteed', `blkio/kubepods/pod${UIDS.Guaranteed}`],
    ['v1-cgroupfs', 'Burstable', `blkio/kubepods/burstable/pod${UIDS.Burstable}`],
    ['v1-cgroupfs', 'BestEffort', `blkio/kubepods/besteffort/pod${UIDS.BestEffort}`],
    ['v1-systemd', 'Guaranteed', `blkio/kubepods.slice/kubepods-pod${us(UIDS.Guaranteed)}.slice`],
    [
      'v1-systemd',
      'Burstable',
      `blkio/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${us(UIDS.Burstable)}.slice`,
    ],
    [
      'v1-systemd',
      'BestEffort',
      `blkio/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${us(UIDS.BestEffort)}.slice`,
    ],
  ];

  it.each(cases)('%s %s: %s', async (name, qos, path) => {
    const { root, limiter } = setup(name);
    expect(await limiter.findPodCgroup(pod(qos))).toBe(join(root, path));
    // a wrong class, or none the limiter knows, still finds it (the UID is unique)
    const other: QosClass = qos === 'Burstable' ? 'Guaranteed' : 'Burstable';
    expect(await limiter.findPodCgroup({ uid: UIDS[qos], qosClass: other })).toBe(join(root, path));
    const unknown = { uid: UIDS[qos], qosClass: undefined } as unknown as PodCgroupRef;
    expect(await limiter.findPodCgroup(unknown)).toBe(join(root, path));
  });

  it('finds pods under kubelet --cgroup-root, under either driver, and only with it', async () => {
    const { root, limiter } = setup('v2-cgroup-root', { kubeletCgroupRoot: '/custom' });
    expect(await limiter.findPodCgroup(pod('Burstable'))).toBe(
      join(root, `custom/kubepods/burstable/pod${UIDS.Burstable}`),
    );
    expect(await limiter.findPodCgroup(pod('BestEffort'))).toBe(
      join(
        root,
        `custom.slice/custom-kubepods.slice/custom-kubepods-besteffort.slice/custom-kubepods-besteffort-pod${us(UIDS.BestEffort)}.slice`,
      ),
    );
    const plain = new IopsLimiter({ cgroupRoot: root, split: 'even' });
    expect(await plain.findPodCgroup(pod('Burstable'))).toBeUndefined();
  });

  it('answers undefined for an unknown pod and for a UID that is not one', async () => {
    const { limiter } = setup('v2-cgroupfs');
    expect(
      await limiter.findPodCgroup({ uid: 'ffffffff-0000-4000-8000-000000000000', qosClass: 'Burstable' }),
    ).toBe(undefined);
    for (const uid of ['../../..', 'pod/../x', '', 'a_b', 'x\n'])
      expect(await limiter.findPodCgroup({ uid, qosClass: 'Burstable' })).toBeUndefined();
  });
});

describe('IopsLimiter on cgroup v2', () => {
  it.each(['v2-cgroupfs', 'v2-systemd'])('%s: applies, reads, re-applies for free, clears', async (name) => {
    const { kernel, limiter, again } = setup(name);
    const p = pod('BestEffort');
    const cgroup = await limiter.findPodCgroup(p);
    if (!cgroup) throw new Error('no cgroup');

    expect(await limiter.apply(p, 100, ['8:0'])).toEqual({ ok: true, cgroup, written: 1 });
    expect(kernel.writes).toEqual([{ path: join(cgroup, 'io.max'), line: '8:0 riops=50 wiops=50\n' }]);
    expect(text(join(cgroup, 'io.max'))).toBe('8:0 rbps=max wbps=max riops=50 wiops=50\n');
    expect(await limiter.read(p)).toEqual({ cgroup, limits: { '8:0': { readIops: 50, writeIops: 50 } } });

    // every round re-applies: nothing new is written
    expect(ok(await limiter.apply(p, 100, ['8:0'])).written).toBe(0);
    // a restarted agent reads what is in force and writes nothing new either
    expect(ok(await again().apply(p, 100, ['8:0'])).written).toBe(0);
    expect(kernel.writes).toHaveLength(1);

    // a new demand is one write
    expect(ok(await limiter.apply(p, 301, ['8:0'])).written).toBe(1);
    expect(text(join(cgroup, 'io.max'))).toBe('8:0 rbps=max wbps=max riops=151 wiops=150\n');

    expect(ok(await limiter.clear(p, ['8:0'])).written).toBe(1);
    expect(kernel.writes.at(-1)?.line).toBe('8:0 riops=max wiops=max\n');
    expect(text(join(cgroup, 'io.max'))).toBe('');
    expect(await limiter.read(p)).toEqual({ cgroup, limits: {} });
    expect(ok(await limiter.clear(p, ['8:0'])).written).toBe(0);
  });

  it('leaves byte limits and other devices as they are', async () => {
    const { root, limiter } = setup('v2-cgroupfs');
    const file = join(root, `kubepods/burstable/pod${UIDS.Burstable}/io.max`);
    expect(ok(await limiter.apply(pod('Burstable'), 100, ['8:0', '8:16'])).written).toBe(2);
    expect(text(file)).toBe(
      '8:0 rbps=10485760 wbps=max riops=50 wiops=50\n8:16 rbps=max wbps=max riops=50 wiops=50\n',
    );
    expect(ok(await limiter.clear(pod('Burstable'), ['8:0'])).written).toBe(1);
    expect(text(file)).toBe(
      '8:0 rbps=10485760 wbps=max riops=max wiops=max\n8:16 rbps=max wbps=max riops=50 wiops=50\n',
    );
  });

  it('reads the limits already in force, and changes them only where they differ', async () => {
    const { root, kernel, limiter } = setup('v2-systemd');
    const p = pod('Burstable');
    expect((await limiter.read(p))?.limits).toEqual({ '259:0': { readIops: 300, writeIops: 300 } });
    expect(ok(await limiter.apply(p, 600, ['259:0', '8:0'])).written).toBe(1);
    expect(kernel.writes.map((w) => w.line)).toEqual(['8:0 riops=300 wiops=300\n']);
    expect(text(join(root, 'system.slice/containerd.service/io.max'))).toBe(
      '8:0 rbps=max wbps=max riops=1000 wiops=max\n',
    );
  });

  it('split each gives both directions the whole demand', async () => {
    const { limiter } = setup('v2-cgroupfs', { split: 'each' });
    ok(await limiter.apply(pod('Guaranteed'), 100, ['8:0']));
    expect((await limiter.read(pod('Guaranteed')))?.limits).toEqual({
      '8:0': { readIops: 100, writeIops: 100 },
    });
  });

  it('writes only the pod cgroup (v2 is hierarchical: it holds the containers too)', async () => {
    const { kernel, limiter } = setup('v2-cgroupfs');
    ok(await limiter.apply(pod('Guaranteed'), 100, ['8:0']));
    expect(kernel.writes.map((w) => w.path)).toEqual([
      join(await limiter.findPodCgroup(pod('Guaranteed')).then(String), 'io.max'),
    ]);
  });

  it('clamps to what the kernel takes: at least 2, at most UINT_MAX - 1', async () => {
    const { kernel, limiter } = setup('v2-cgroupfs');
    ok(await limiter.apply(pod('Guaranteed'), 1, ['8:0']));
    expect(kernel.writes.at(-1)?.line).toBe('8:0 riops=2 wiops=2\n');
    ok(await limiter.apply(pod('Guaranteed'), 2 ** 50, ['8:0']));
    expect(kernel.writes.at(-1)?.line).toBe('8:0 riops=4294967294 wiops=4294967294\n');
    expect(ok(await limiter.apply(pod('Guaranteed'), 2 ** 50, ['8:0'])).written).toBe(0);
    expect(kernel.refused).toEqual([]);
  });

  it('a pod whose cgroup is absent, then appears, then is deleted', async () => {
    const { root, limiter } = setup('v2-cgroupfs');
    const p: PodCgroupRef = { uid: 'c0ffee00-1111-4222-8333-444455556666', qosClass: 'Burstable' };
    const absent = await limiter.apply(p, 100, ['8:0']);
    expect(absent).toMatchObject({ ok: false, reason: 'cgroup-not-found' });
    expect(await limiter.read(p)).toBeUndefined();

    const dir = join(root, `kubepods/burstable/pod${p.uid}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'io.max'), '');
    expect(await limiter.apply(p, 100, ['8:0'])).toEqual({ ok: true, cgroup: dir, written: 1 });

    rmSync(dir, { recursive: true });
    expect(await limiter.apply(p, 100, ['8:0'])).toMatchObject({ ok: false, reason: 'cgroup-not-found' });
    expect(await limiter.clear(p, ['8:0'])).toMatchObject({ ok: false, reason: 'cgroup-not-found' });
    expect(await limiter.read(p)).toBeUndefined();
  });

  it('says so when the io controller is not enabled (no io.max)', async () => {
    const { root, kernel, limiter } = setup('v2-no-io');
    const result = await limiter.apply(pod('Burstable'), 100, ['8:0']);
    expect(result).toMatchObject({
      ok: false,
      reason: 'write-failed',
      path: join(root, `kubepods/burstable/pod${UIDS.Burstable}/io.max`),
    });
    expect(!result.ok && result.message).toMatch(/io controller is not enabled/);
    expect(kernel.writes).toEqual([]);
    const reading = await limiter.read(pod('Burstable'));
    expect(reading?.limits).toEqual({});
    expect(reading?.problem).toMatch(/io controller is not enabled/);
  });

  it('reports a device the kernel refuses, with the path, and still writes the others', async () => {
    const { kernel, limiter } = setup('v2-cgroupfs');
    const result = await limiter.apply(pod('Guaranteed'), 100, ['253:7', '8:0']);
    const cgroup = await limiter.findPodCgroup(pod('Guaranteed'));
    expect(result).toEqual({
      ok: false,
      reason: 'write-failed',
      path: join(String(cgroup), 'io.max'),
      message: "ENODEV writing '253:7 riops=50 wiops=50': no such block device",
    });
    expect(kernel.writes.map((w) => w.line)).toEqual(['8:0 riops=50 wiops=50\n']);
  });

  it('reports a permission problem without throwing', async () => {
    const { kernel, limiter } = setup('v2-cgroupfs');
    kernel.failWrites(() => true, 'EACCES');
    const result = await limiter.apply(pod('Guaranteed'), 100, ['8:0', '8:16']);
    expect(result).toMatchObject({ ok: false, reason: 'write-failed' });
    expect(!result.ok && result.message).toMatch(
      /^EACCES writing .*permission denied.*\(and 1 more failures\)$/,
    );
  });
});

describe('IopsLimiter on cgroup v1 (flat: the containers are limited one by one)', () => {
  it('v1-cgroupfs: writes the pod cgroup and each container cgroup, both files', async () => {
    const { kernel, limiter, again } = setup('v1-cgroupfs');
    const p = pod('Guaranteed');
    const cgroup = String(await limiter.findPodCgroup(p));
    expect(await limiter.apply(p, 100, ['8:0'])).toEqual({ ok: true, cgroup, written: 6 });
    for (const dir of [cgroup, join(cgroup, SANDBOX), join(cgroup, APP)]) {
      expect(text(join(dir, 'blkio.throttle.read_iops_device'))).toBe('8:0 50\n');
      expect(text(join(dir, 'blkio.throttle.write_iops_device'))).toBe('8:0 50\n');
    }
    expect(kernel.writes.slice(0, 2)).toEqual([
      { path: join(cgroup, 'blkio.throttle.read_iops_device'), line: '8:0 50\n' },
      { path: join(cgroup, 'blkio.throttle.write_iops_device'), line: '8:0 50\n' },
    ]);
    expect(await limiter.read(p)).toEqual({
      cgroup,
      limits: { '8:0': { readIops: 50, writeIops: 50 } },
      containers: {
        [SANDBOX]: { '8:0': { readIops: 50, writeIops: 50 } },
        [APP]: { '8:0': { readIops: 50, writeIops: 50 } },
      },
    });
    expect(ok(await limiter.apply(p, 100, ['8:0'])).written).toBe(0);
    expect(ok(await again().apply(p, 100, ['8:0'])).written).toBe(0);

    expect(ok(await limiter.clear(p, ['8:0'])).written).toBe(6);
    expect(kernel.writes.at(-1)?.line).toBe('8:0 0\n');
    for (const dir of [cgroup, join(cgroup, SANDBOX), join(cgroup, APP)])
      expect(text(join(dir, 'blkio.throttle.read_iops_device'))).toBe('');
    expect(ok(await limiter.clear(p, ['8:0'])).written).toBe(0);
  });

  it('v1-systemd: the docker-<id>.scope containers are limited too', async () => {
    const { limiter } = setup('v1-systemd');
    const p = pod('Burstable');
    expect(ok(await limiter.apply(p, 40, ['8:0'])).written).toBe(6);
    const reading = await limiter.read(p);
    expect(Object.keys(reading?.containers ?? {})).toEqual([
      `docker-${SANDBOX}.scope`,
      `docker-${APP}.scope`,
    ]);
    expect(reading?.containers?.[`docker-${APP}.scope`]).toEqual({ '8:0': { readIops: 20, writeIops: 20 } });
  });

  it('a container started later is limited at the next call, one that ended is no failure', async () => {
    const { limiter } = setup('v1-cgroupfs');
    const p = pod('BestEffort');
    const cgroup = String(await limiter.findPodCgroup(p));
    expect(ok(await limiter.apply(p, 100, ['8:0'])).written).toBe(2);
    const late = join(cgroup, 'cafe'.repeat(16));
    mkdirSync(late);
    for (const f of ['blkio.throttle.read_iops_device', 'blkio.throttle.write_iops_device'])
      writeFileSync(join(late, f), '');
    expect(ok(await limiter.apply(p, 100, ['8:0'])).written).toBe(2);
    expect(text(join(late, 'blkio.throttle.write_iops_device'))).toBe('8:0 50\n');
    // a container cgroup whose files are gone (removed between the listing and the read): the
    // pod's two files change, the container is skipped
    rmSync(join(late, 'blkio.throttle.read_iops_device'));
    rmSync(join(late, 'blkio.throttle.write_iops_device'));
    expect(ok(await limiter.apply(p, 120, ['8:0'])).written).toBe(2);
    expect(text(join(cgroup, 'blkio.throttle.read_iops_device'))).toBe('8:0 60\n');
    expect(await limiter.read(p)).toEqual({
      cgroup,
      limits: { '8:0': { readIops: 60, writeIops: 60 } },
      containers: {},
    });
  });

  it("leaves someone else's limit on another device alone, and the system slice", async () => {
    const { root, limiter } = setup('v1-systemd');
    ok(await limiter.apply(pod('Guaranteed'), 100, ['8:0']));
    ok(await limiter.apply(pod('Burstable'), 100, ['8:0']));
    expect(text(join(root, 'blkio/system.slice/docker.service/blkio.throttle.read_iops_device'))).toBe(
      '8:0 2000\n',
    );
    const { root: r2, limiter: l2 } = setup('v1-cgroupfs');
    ok(await l2.apply(pod('Burstable'), 100, ['8:0']));
    const dir = join(r2, `blkio/kubepods/burstable/pod${UIDS.Burstable}`);
    expect(text(join(dir, 'blkio.throttle.read_iops_device'))).toBe('8:16 500\n8:0 50\n');
    expect(text(join(dir, APP, 'blkio.throttle.read_iops_device'))).toBe('8:16 500\n8:0 50\n');
    expect((await l2.read(pod('Burstable')))?.limits).toEqual({
      '8:16': { readIops: 500 },
      '8:0': { readIops: 50, writeIops: 50 },
    });
  });

  it('clamps to at least 1 and below UINT_MAX (v1 would truncate 2^32 + 5 to 5)', async () => {
    const { kernel, limiter } = setup('v1-cgroupfs');
    ok(await limiter.apply(pod('BestEffort'), 1, ['8:0']));
    expect(kernel.writes.at(-1)?.line).toBe('8:0 1\n');
    ok(await limiter.apply(pod('BestEffort'), 2 ** 33 + 10, ['8:0']));
    expect(kernel.writes.at(-1)?.line).toBe('8:0 4294967294\n');
    expect((await limiter.read(pod('BestEffort')))?.limits).toEqual({
      '8:0': { readIops: 4294967294, writeIops: 4294967294 },
    });
  });
});

describe('IopsLimiter refuses what it must not do', () => {
  it.each([[Number.NaN], [-5], [0], [1.5], [2 ** 53 + 2], [Number.POSITIVE_INFINITY]])(
    'demand %s: invalid-demand, nothing written',
    async (iops) => {
      const { kernel, limiter } = setup('v2-cgroupfs');
      expect(await limiter.apply(pod('Burstable'), iops, ['8:0'])).toMatchObject({
        ok: false,
        reason: 'invalid-demand',
      });
      expect(kernel.writes).toEqual([]);
    },
  );

  it.each([['8:0/../../x'], ['8:0 riops=max'], ['sda'], ['']])(
    'device %j: invalid-demand, nothing written',
    async (device) => {
      const { kernel, limiter } = setup('v2-cgroupfs');
      expect(await limiter.apply(pod('Burstable'), 100, ['8:0', device])).toMatchObject({
        ok: false,
        reason: 'invalid-demand',
      });
      expect(await limiter.clear(pod('Burstable'), [device])).toMatchObject({ reason: 'invalid-demand' });
      expect(kernel.writes).toEqual([]);
    },
  );

  it.each([['../../../system.slice'], ['x/../../y'], ['a_b'], ['']])(
    'uid %j: invalid-demand, nothing written',
    async (uid) => {
      const { kernel, limiter } = setup('v2-cgroupfs');
      expect(await limiter.apply({ uid, qosClass: 'Burstable' }, 100, ['8:0'])).toMatchObject({
        ok: false,
        reason: 'invalid-demand',
      });
      expect(await limiter.read({ uid, qosClass: 'Burstable' })).toBeUndefined();
      expect(kernel.writes).toEqual([]);
    },
  );

  it('never follows a symlinked directory out of the kubepods subtree', async () => {
    const { root, kernel, limiter } = setup('v2-cgroupfs');
    const outside = join(root, 'system.slice');
    const uid = 'dead0000-1111-4222-8333-444455556666';
    mkdirSync(join(outside, `pod${uid}`), { recursive: true });
    writeFileSync(join(outside, `pod${uid}`, 'io.max'), '');
    rmSync(join(root, 'kubepods/besteffort'), { recursive: true });
    symlinkSync(outside, join(root, 'kubepods/besteffort'));
    const p: PodCgroupRef = { uid, qosClass: 'BestEffort' };
    expect(await limiter.findPodCgroup(p)).toBeUndefined();
    const result = await limiter.apply(p, 100, ['8:0']);
    expect(result).toMatchObject({ ok: false, reason: 'cgroup-not-found' });
    expect(!result.ok && result.message).toMatch(/symlink/);
    expect(kernel.writes).toEqual([]);
    expect(text(join(outside, `pod${uid}`, 'io.max'))).toBe('');
  });

  it('never writes through a symlinked io.max (the real file access refuses it)', async () => {
    const root = copyOf('v2-cgroupfs');
    const target = join(root, 'outside-target');
    writeFileSync(target, 'untouched\n');
    const file = join(root, `kubepods/pod${UIDS.Guaranteed}/io.max`);
    rmSync(file);
    symlinkSync(target, file);
    const limiter = new IopsLimiter({ cgroupRoot: root, split: 'even' });
    const result = await limiter.apply(pod('Guaranteed'), 100, ['8:0']);
    expect(result).toMatchObject({ ok: false, reason: 'write-failed', path: file });
    expect(!result.ok && result.message).toMatch(/ELOOP/);
    expect(text(target)).toBe('untouched\n');
  });

  it('answers cgroup-not-found when there is no io hierarchy at all', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ioplace-cgroups-'));
    copies.push(empty);
    const limiter = new IopsLimiter({ cgroupRoot: empty, split: 'even' });
    const result = await limiter.apply(pod('Burstable'), 100, ['8:0']);
    expect(result).toMatchObject({ ok: false, reason: 'cgroup-not-found' });
    expect(!result.ok && result.message).toMatch(/no io controller/);
    expect(await limiter.findPodCgroup(pod('Burstable'))).toBeUndefined();
  });

  it('a malformed file is a failure with its path, not an exception', async () => {
    const { root, limiter } = setup('v2-cgroupfs');
    const file = join(root, `kubepods/pod${UIDS.Guaranteed}/io.max`);
    writeFileSync(file, 'garbage here\n');
    expect(await limiter.apply(pod('Guaranteed'), 100, ['8:0'])).toMatchObject({
      ok: false,
      reason: 'write-failed',
      path: file,
    });
    expect((await limiter.read(pod('Guaranteed')))?.problem).toMatch(/bad device 'garbage'/);
  });

  it('validates its options at construction', () => {
    expect(() => new IopsLimiter({ cgroupRoot: 'sys/fs/cgroup', split: 'even' })).toThrow(TypeError);
    expect(() => new IopsLimiter({ cgroupRoot: '/sys/fs/cgroup', split: 'half' as 'even' })).toThrow(
      RangeError,
    );
    expect(
      () => new IopsLimiter({ cgroupRoot: '/sys/fs/cgroup', split: 'even', kubeletCgroupRoot: '/../x' }),
    ).toThrow(RangeError);
    expect(() => new IopsLimiter({ cgroupRoot: '/sys/fs/cgroup' } as IopsLimiterOptions)).not.toThrow();
  });
});

describe('fake kernel (the stand-in these tests rely on)', () => {
  let kernel: FakeKernel;
  it('refuses what the kernel refuses', async () => {
    kernel = fakeKernel();
    const root = copyOf('v2-cgroupfs');
    const file = join(root, `kubepods/pod${UIDS.Guaranteed}/io.max`);
    await expect(kernel.write(file, '8:0 riops=0\n')).rejects.toMatchObject({ code: 'ERANGE' });
    await expect(kernel.write(file, '8:0 riops=1\n')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(kernel.write(file, '9:9 riops=5\n')).rejects.toMatchObject({ code: 'ENODEV' });
    await kernel.write(file, '8:0 riops=99999999999\n');
    expect(text(file)).toBe('');
  });
});
