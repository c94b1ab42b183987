import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IopsLimiter } from '../../src/agent/enforce/iops-limits.js';

/**
 * The IOPS limiter against this machine's kernel: a loop device over a temporary file, a fake
 * pod cgroup laid out as kubelet lays it out (under a `--cgroup-root` of our own, so a real
 * kubelet's `kubepods` is never touched), a container cgroup below it, and dd doing direct 4 KiB
 * I/O from inside the container cgroup. The limits must hold the measured rate; without them the
 * same dd must be far faster. Skipped, saying why, when not root, without losetup or dd, or
 * without the io controller (v1 blkio, or v2 with io enabled at the root).
 *
 * IOPLACE_KERNEL_FIGURES=1 prints the measured rates.
 */

const CGROUP_ROOT = '/sys/fs/cgroup';
const DEMAND = 100; // split even: 50 reads/s and 50 writes/s
const PER_DIRECTION = DEMAND / 2;
const TOLERANCE = 1.3;
const WINDOW_MS = 2000;

function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

function commonSkip(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (cgroup writes and losetup need root)';
  if (!has('losetup', ['--version'])) return 'no losetup';
  if (!existsSync('/dev/loop-control')) return 'no /dev/loop-control (loop module not loaded)';
  if (!has('dd', ['--version'])) return 'no dd';
  return undefined;
}

function v1Skip(): string | undefined {
  return (
    commonSkip() ??
    (existsSync(join(CGROUP_ROOT, 'blkio', 'blkio.throttle.read_iops_device'))
      ? undefined
      : `no cgroup v1 blkio hierarchy at ${CGROUP_ROOT}/blkio`)
  );
}

/** The cgroup2 mount whose root has io in cgroup.subtree_control, so cgroups below get io.max. */
function v2Mount(): string | undefined {
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type !== 'cgroup2' || !mountPoint) continue;
    try {
      const control = readFileSync(join(mountPoint, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
      if (control.includes('io')) return mountPoint;
    } catch {
      // not readable
    }
  }
  return undefined;
}

function v2Skip(): string | undefined {
  const common = commonSkip();
  if (common) return common;
  if (v2Mount() === undefined) {
    const unified = existsSync(join(CGROUP_ROOT, 'unified', 'cgroup.controllers'))
      ? ` (${CGROUP_ROOT}/unified lists: ${readFileSync(join(CGROUP_ROOT, 'unified', 'cgroup.controllers'), 'utf8').trim() || 'nothing'})`
      : '';
    return `no cgroup v2 mount with the io controller enabled at its root${unified}; io is bound to v1 blkio here`;
  }
  return undefined;
}

interface DdRate {
  readonly records: number;
  readonly seconds: number;
  readonly perSecond: number;
}

const children = new Set<ChildProcess>();

/**
 * Runs `dd args` inside `cgroupDir` (the shell joins the cgroup, then execs dd, so every I/O of
 * dd is in it). After `budgetMs`, if still running, dd is asked for its figures (SIGUSR1) and
 * killed. Answers dd's own count of records and its own elapsed time.
 */
async function ddIn(cgroupDir: string, args: string[], budgetMs: number): Promise<DdRate> {
  const child = spawn('sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec dd "$@"', cgroupDir, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const finished = await Promise.race([closed.then(() => true), sleep(budgetMs).then(() => false)]);
  if (!finished) {
    child.kill('SIGUSR1');
    for (let i = 0; i < 100 && !/copied, [\d.]+ s/.test(stderr); i++) await sleep(20);
    child.kill('SIGKILL');
    await closed;
  }
  children.delete(child);
  const records = [...stderr.matchAll(/(\d+)\+(\d+) records (?:in|out)/g)].map(
    (m) => Number(m[1]) + Number(m[2]),
  );
  const seconds = [...stderr.matchAll(/copied, ([\d.]+) s/g)].map((m) => Number(m[1]));
  const n = records.at(-1);
  const s = seconds.at(-1);
  if (n === undefined || s === undefined || s <= 0)
    throw new Error(`dd said: ${stderr.trim() || '(nothing)'}`);
  return { records: n, seconds: s, perSecond: n / s };
}

function report(label: string, rate: DdRate): void {
  if (process.env.IOPLACE_KERNEL_FIGURES)
    console.log(`${label}: ${rate.records} in ${rate.seconds.toFixed(3)} s = ${rate.perSecond.toFixed(1)}/s`);
}

/** A loop device over a 64 MiB temporary file, and its removal. */
function loopDevice(): { device: string; majMin: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ioplace-loop-'));
  const file = join(dir, 'disk.img');
  const fd = openSync(file, 'w');
  ftruncateSync(fd, 64 * 1024 * 1024);
  closeSync(fd);
  const attached = spawnSync('losetup', ['-f', '--show', file], { encoding: 'utf8' });
  if (attached.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`losetup: ${attached.stderr.trim()}`);
  }
  const device = attached.stdout.trim();
  const majMin = readFileSync(`/sys/block/${basename(device)}/dev`, 'utf8').trim();
  return {
    device,
    majMin,
    remove() {
      spawnSync('losetup', ['-d', device], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Makes `dirs` (parents first) and returns their removal, deepest first, retried while busy. */
function cgroupDirs(dirs: string[], beforeEach?: (dir: string) => void): () => Promise<void> {
  const made: string[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) {
      mkdirSync(dir);
      made.push(dir);
    }
    beforeEach?.(dir);
  }
  return async () => {
    for (const dir of made.reverse()) {
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(dir);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
          if (attempt >= 50) throw err;
          await sleep(50);
        }
      }
    }
  };
}

async function killChildren(): Promise<void> {
  for (const child of children) {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null)
      await new Promise((resolve) => child.once('close', resolve));
  }
  children.clear();
}

interface KernelLayout {
  /** What the agent would get as cgroupRoot. */
  readonly cgroupRoot: string;
  /** The fake kubelet's --cgroup-root, a directory of our own. */
  readonly kubeletCgroupRoot: string;
  /** The container cgroup dd runs in, below the pod's. */
  readonly container: string;
  /** Writes one apply or clear makes: v2 one io.max line; v1 two files in the pod and container cgroups. */
  readonly writes: number;
  remove(): Promise<void>;
}

/**
 * The cases, for one io hierarchy: the limiter finds the pod cgroup; the container's dd is
 * measured without a limit, with it (reads and writes at once), after a re-apply, and after clear.
 */
function kernelCases(title: string, skip: string | undefined, layout: (uid: string) => KernelLayout) {
  describe.skipIf(skip !== undefined)(`${title}${skip ? ` (skipped: ${skip})` : ''}`, () => {
    const uid = randomUUID();
    const pod = { uid, qosClass: 'Burstable' as const };
    let loop: ReturnType<typeof loopDevice> | undefined;
    let cgroups: KernelLayout | undefined;
    let limiter: IopsLimiter;
    const make = () =>
      new IopsLimiter({
        cgroupRoot: given().cgroupRoot,
        split: 'even',
        kubeletCgroupRoot: given().kubeletCgroupRoot,
      });
    const given = () => {
      if (!cgroups || !loop) throw new Error('setup failed');
      return { ...cgroups, device: loop.device, majMin: loop.majMin };
    };
    const reader = (count: number) => [
      `if=${given().device}`,
      'of=/dev/null',
      'bs=4k',
      'iflag=direct',
      `count=${count}`,
    ];
    const writer = () => [
      'if=/dev/zero',
      `of=${given().device}`,
      'bs=4k',
      'oflag=direct',
      'seek=8192',
      'count=100000',
    ];

    beforeAll(() => {
      loop = loopDevice();
      cgroups = layout(uid);
      limiter = make();
    });

    afterAll(async () => {
      const problems: unknown[] = [];
      for (const step of [killChildren, async () => cgroups?.remove(), async () => loop?.remove()]) {
        try {
          await step();
        } catch (err) {
          problems.push(err);
        }
      }
      if (problems.length > 0) throw problems[0];
    });

    it('finds the pod cgroup kubelet would have made', async () => {
      const dir = await limiter.findPodCgroup(pod);
      expect(dir).toBeDefined();
      expect(given().container.startsWith(`${dir}/`)).toBe(true);
    });

    it('without a limit, a direct 4 KiB reader in the container does far more than the limit', async () => {
      const rate = await ddIn(given().container, reader(8192), 1000);
      report(`${title}: unlimited reads`, rate);
      expect(rate.perSecond).toBeGreaterThan(10 * PER_DIRECTION);
    });

    it(`applies ${DEMAND} IOPS (even: ${PER_DIRECTION} reads/s and ${PER_DIRECTION} writes/s), and the kernel holds both`, async () => {
      expect(await limiter.apply(pod, DEMAND, [given().majMin])).toMatchObject({
        ok: true,
        written: given().writes,
      });
      expect((await limiter.read(pod))?.limits).toEqual({
        [given().majMin]: { readIops: PER_DIRECTION, writeIops: PER_DIRECTION },
      });
      const [reads, writes] = await Promise.all([
        ddIn(given().container, reader(100000), WINDOW_MS),
        ddIn(given().container, writer(), WINDOW_MS),
      ]);
      report(`${title}: limited reads (riops=${PER_DIRECTION})`, reads);
      report(`${title}: limited writes (wiops=${PER_DIRECTION})`, writes);
      expect(reads.perSecond).toBeLessThanOrEqual(TOLERANCE * PER_DIRECTION);
      expect(writes.perSecond).toBeLessThanOrEqual(TOLERANCE * PER_DIRECTION);
      expect(reads.perSecond + writes.perSecond).toBeLessThanOrEqual(TOLERANCE * DEMAND);
      // a limit, not a stop: the pod still gets about what it was placed with
      expect(reads.perSecond).toBeGreaterThan(0.5 * PER_DIRECTION);
      expect(writes.perSecond).toBeGreaterThan(0.5 * PER_DIRECTION);
    });

    it('re-applying, also from a new limiter (an agent restart), writes nothing', async () => {
      expect(await limiter.apply(pod, DEMAND, [given().majMin])).toMatchObject({ ok: true, written: 0 });
      expect(await make().apply(pod, DEMAND, [given().majMin])).toMatchObject({ ok: true, written: 0 });
    });

    it('reports the kernel refusing a device that does not exist, naming the file', async () => {
      const result = await limiter.apply(pod, DEMAND, ['4095:1048575', given().majMin]);
      expect(result).toMatchObject({ ok: false, reason: 'write-failed' });
      const dir = String(await limiter.findPodCgroup(pod));
      expect(!result.ok && result.path?.startsWith(`${dir}/`)).toBe(true);
    });

    it('clear lifts the limits: the reader is fast again', async () => {
      expect(await limiter.clear(pod, [given().majMin])).toMatchObject({ ok: true, written: given().writes });
      expect((await limiter.read(pod))?.limits).toEqual({});
      const rate = await ddIn(given().container, reader(8192), 1000);
      report(`${title}: reads after clear`, rate);
      expect(rate.perSecond).toBeGreaterThan(10 * PER_DIRECTION);
    });
  });
}

const CONTAINER_ID = 'f'.repeat(64);

kernelCases('cgroup v1 blkio, cgroupfs driver', v1Skip(), (uid) => {
  const prefix = `ioplace-test-${process.pid}-${Date.now()}`;
  const blkio = join(CGROUP_ROOT, 'blkio');
  const dirs = [prefix, 'kubepods', 'burstable', `pod${uid}`, CONTAINER_ID].map((_, i, all) =>
    join(blkio, ...all.slice(0, i + 1)),
  );
  const remove = cgroupDirs(dirs);
  return {
    cgroupRoot: CGROUP_ROOT,
    kubeletCgroupRoot: `/${prefix}`,
    container: dirs.at(-1) ?? '',
    writes: 4,
    remove,
  };
});

kernelCases('cgroup v2 io.max, systemd driver', v2Skip(), (uid) => {
  const mount = v2Mount() ?? '';
  const prefix = `ioplace_test_${process.pid}_${Date.now()}`;
  const slices = [
    `${prefix}.slice`,
    `${prefix}-kubepods.slice`,
    `${prefix}-kubepods-burstable.slice`,
    `${prefix}-kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice`,
  ];
  const dirs = [...slices, `cri-containerd-${CONTAINER_ID}.scope`].map((_, i, all) =>
    join(mount, ...all.slice(0, i + 1)),
  );
  // v2: a controller reaches a cgroup only if its parent enables it; the leaf holds the processes
  const remove = cgroupDirs(dirs, (dir) => {
    if (dir !== dirs.at(-1)) writeFileSync(join(dir, 'cgroup.subtree_control'), '+io');
  });
  return {
    cgroupRoot: mount,
    kubeletCgroupRoot: `/${prefix}`,
    container: dirs.at(-1) ?? '',
    writes: 1,
    remove,
  };
});
