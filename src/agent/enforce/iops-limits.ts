import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import {
  BLKIO_READ_IOPS_FILE,
  BLKIO_WRITE_IOPS_FILE,
  formatBlkioThrottleLine,
  parseBlkioThrottle,
} from './blkio-throttle.js';
import { type CgroupFileAccess, kernelCgroupFiles } from './cgroup-file.js';
import {
  type CgroupVersion,
  type DeviceNumber,
  detectIoHierarchy,
  type IoHierarchy,
  isDeviceNumber,
  isInsideKubepods,
  isPodUid,
  type PodCgroupRef,
  parseKubeletCgroupRoot,
  podCgroupCandidates,
} from './cgroup-layout.js';
import { formatIoMaxLine, type IopsPairLimit, parseIoMax } from './io-max.js';

export type { CgroupVersion, DeviceNumber, PodCgroupRef, QosClass } from './cgroup-layout.js';

/**
 * How a pod's demand of N IOPS (reads plus writes per second, the unit ioplace places by) becomes
 * the kernel's two separate limits:
 * - `even` (default): reads get ceil(N/2), writes floor(N/2). Their sum is exactly N, so whatever
 *   the pod's mix, it never takes more than it was placed with and its neighbours keep theirs. The
 *   price: a pod that only reads (or only writes) gets about half its demand.
 * - `each`: reads and writes get N each. A pod that only reads or only writes gets all of N; one
 *   that does both can reach 2N, taken from its neighbours' share when the disk is full.
 */
export type IopsSplit = 'even' | 'each';

export type IopsApplyResult =
  | {
      readonly ok: true;
      readonly cgroup: string;
      /** Writes made (one per device per file); 0 when everything was already in force. */
      readonly written: number;
    }
  | {
      readonly ok: false;
      /**
       * `cgroup-not-found`: no pod cgroup yet (or any more), or no io controller under cgroupRoot.
       * `write-failed`: the kernel refused a write or a file could not be read (`path` names it).
       * `invalid-demand`: the IOPS figure, a device number or the pod UID cannot be used; nothing
       * was written and retrying the same call will not help.
       */
      readonly reason: 'cgroup-not-found' | 'write-failed' | 'invalid-demand';
      readonly path?: string;
      readonly message: string;
    };

export interface IopsLimitsInForce {
  readonly cgroup: string;
  /** Per device; a direction without a limit is absent. */
  readonly limits: Record<DeviceNumber, { readIops?: number; writeIops?: number }>;
  /**
   * cgroup v1 only: the limits of each cgroup below the pod's (its containers), by path relative
   * to the pod's cgroup. v1 throttling is flat, so these are the limits that hold the containers.
   */
  readonly containers?: Record<string, Record<DeviceNumber, { readIops?: number; writeIops?: number }>>;
  /** Why limits could not be read (e.g. no io.max: the io controller is not enabled there). */
  readonly problem?: string;
}

export interface IopsLimiterOptions {
  /** Where the cgroup filesystem is mounted: `<sys-root>/fs/cgroup` (defaultCgroupRoot). */
  readonly cgroupRoot: string;
  /** Default `even`. */
  readonly split?: IopsSplit;
  /** kubelet's `--cgroup-root` (`cgroupRoot` in its config file); default `/`. */
  readonly kubeletCgroupRoot?: string;
  /** The file reader and writer; the kernel's by default (tests pass a fake kernel). */
  readonly files?: CgroupFileAccess;
}

/** The largest IOPS limit the kernel stores: UINT_MAX itself means no limit. */
export const KERNEL_MAX_IOPS = 2 ** 32 - 2;
/** The smallest: v1 takes 1; v2 took 1 only before 5.10 and again from 6.10, so 2 everywhere. */
export const KERNEL_MIN_IOPS: Readonly<Record<CgroupVersion, number>> = Object.freeze({ 1: 1, 2: 2 });
/** Demands above this are not a real figure (and not exact as a double). */
export const MAX_IOPS_DEMAND = 2 ** 53;

export type IopsSplitResult =
  | { readonly ok: true; readonly readIops: number; readonly writeIops: number }
  | { readonly ok: false; readonly problem: string };

/**
 * The read and write limits for a demand of `iops` (see IopsSplit), each clamped to
 * [KERNEL_MIN_IOPS[version], KERNEL_MAX_IOPS]. A demand must be a whole number from 1 to 2^53:
 * 0 cannot be enforced (0 means "no limit" to v1 and is refused by v2; `clear` removes a limit),
 * and NaN, infinities, negatives and fractions are refused, never rounded into a limit.
 * With `even`, a demand below twice the minimum ends at the minimum in each direction (v2: N = 1
 * to 3 gives 2 and 2).
 */
export function splitIops(iops: number, split: IopsSplit, version: CgroupVersion): IopsSplitResult {
  if (typeof iops !== 'number' || !Number.isInteger(iops))
    return { ok: false, problem: `IOPS demand must be a whole number, got ${String(iops)}` };
  if (iops < 1)
    return {
      ok: false,
      problem: `IOPS demand must be at least 1, got ${iops} (use clear to remove a limit)`,
    };
  if (iops > MAX_IOPS_DEMAND)
    return { ok: false, problem: `IOPS demand ${iops} is above 2^53: not a real figure` };
  const clamp = (n: number) => Math.min(KERNEL_MAX_IOPS, Math.max(KERNEL_MIN_IOPS[version], n));
  if (split === 'each') return { ok: true, readIops: clamp(iops), writeIops: clamp(iops) };
  return { ok: true, readIops: clamp(Math.ceil(iops / 2)), writeIops: clamp(Math.floor(iops / 2)) };
}

const IO_MAX_FILE = 'io.max';
/** Depth of cgroups below a pod's that v1 limits reach (containers are one level down). */
const V1_MAX_DEPTH = 3;
const CHILD_NAME = /^[A-Za-z0-9_:@-][A-Za-z0-9_.:@-]*$/;

type Located =
  | { readonly ok: true; readonly dir: string; readonly hierarchy: IoHierarchy }
  | { readonly ok: false; readonly reason: 'cgroup-not-found' | 'invalid-demand'; readonly message: string };

interface Failure {
  readonly path: string;
  readonly message: string;
}

/** A limit per device: the wanted value, or undefined for none. */
type Wanted = { readonly riops: number | undefined; readonly wiops: number | undefined };

function errorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

const WRITE_ERRORS: Record<string, string> = {
  ENODEV: 'no such block device',
  EINVAL: 'the kernel refused the line (a partition, or a value it does not take)',
  ERANGE: 'value out of range',
  ENOENT: 'the file is gone (the cgroup was removed)',
  EACCES: 'permission denied (the agent needs root and a writable cgroup mount)',
  EROFS: 'the cgroup filesystem is mounted read-only',
  ELOOP: 'refusing a symlink',
};

function describeWrite(err: unknown, line: string): string {
  const code = errorCode(err);
  const why = (code && WRITE_ERRORS[code]) ?? (err as Error).message?.split('\n')[0] ?? String(err);
  return `${code ?? 'error'} writing '${line}': ${why}`;
}

function describeRead(err: unknown, file: string): string {
  const code = errorCode(err);
  if (code === 'ENOENT' && file.endsWith(IO_MAX_FILE))
    return `no ${IO_MAX_FILE}: the io controller is not enabled for this cgroup (its parent's cgroup.subtree_control lacks io)`;
  if (code === 'ENOENT')
    return `no ${file.split(sep).pop()}: the cgroup was removed or blkio is not mounted here`;
  return `${code ?? 'error'} reading: ${(err as Error).message?.split('\n')[0] ?? String(err)}`;
}

function toRecord(
  entries: Iterable<[DeviceNumber, Wanted]>,
): Record<DeviceNumber, { readIops?: number; writeIops?: number }> {
  const out: Record<DeviceNumber, { readIops?: number; writeIops?: number }> = {};
  for (const [device, { riops, wiops }] of entries) {
    if (riops === undefined && wiops === undefined) continue;
    out[device] = {
      ...(riops === undefined ? {} : { readIops: riops }),
      ...(wiops === undefined ? {} : { writeIops: wiops }),
    };
  }
  return out;
}

/**
 * Detects v1/v2 from the cgroup root, finds pod cgroups (both drivers, all QoS classes), writes
 * and reads limits.
 *
 * - v2: one `io.max` line per device in the pod's cgroup; v2 limits are hierarchical, so it holds
 *   every container of the pod together.
 * - v1: `blkio.throttle.{read,write}_iops_device` in the pod's cgroup and in every cgroup below it
 *   (the containers'), because v1 throttling is flat: a limit binds only the processes directly
 *   in that cgroup. Each container then gets the pod's limits, so on v1 a pod whose containers
 *   both do I/O can exceed them; a container started since the last call is covered by the next.
 *
 * Every call reads what is in force first and writes only what differs, so calling apply every
 * round, or after a restart, costs reads and writes nothing new. Nothing outside a `kubepods`
 * subtree of the io hierarchy is ever written: the pod path is built from a validated UID, must
 * resolve to itself (no symlinks), and each write is checked again against the subtree.
 */
export class IopsLimiter {
  readonly #cgroupRoot: string;
  readonly #split: IopsSplit;
  readonly #kubeletRoot: readonly string[];
  readonly #files: CgroupFileAccess;
  #hierarchy: IoHierarchy | undefined;

  constructor(options: IopsLimiterOptions) {
    if (typeof options?.cgroupRoot !== 'string' || !isAbsolute(options.cgroupRoot))
      throw new TypeError(`cgroupRoot must be an absolute path, got ${JSON.stringify(options?.cgroupRoot)}`);
    const split = options.split ?? 'even';
    if (split !== 'even' && split !== 'each')
      throw new RangeError(`split must be 'even' or 'each', got ${JSON.stringify(split)}`);
    this.#cgroupRoot = options.cgroupRoot;
    this.#split = split;
    this.#kubeletRoot = Object.freeze(parseKubeletCgroupRoot(options.kubeletCgroupRoot ?? '/'));
    this.#files = options.files ?? kernelCgroupFiles;
  }

  /** The io hierarchy found under cgroupRoot (detected on first use, kept once found). */
  async hierarchy(): Promise<IoHierarchy | undefined> {
    this.#hierarchy ??= await detectIoHierarchy(this.#cgroupRoot);
    return this.#hierarchy;
  }

  /** Absolute path of the pod's cgroup directory (on v1: in the blkio hierarchy), or undefined when it does not exist (yet). */
  async findPodCgroup(pod: PodCgroupRef): Promise<string | undefined> {
    const found = await this.#locate(pod);
    return found.ok ? found.dir : undefined;
  }

  /** Writes the pod's limit for every device. Never throws: failures are returned with the path and a short reason. */
  async apply(pod: PodCgroupRef, iops: number, devices: readonly DeviceNumber[]): Promise<IopsApplyResult> {
    try {
      const badDevice = this.#badDevice(devices);
      if (badDevice) return badDevice;
      const found = await this.#locate(pod);
      if (!found.ok) return { ok: false, reason: found.reason, message: found.message };
      const limits = splitIops(iops, this.#split, found.hierarchy.version);
      if (!limits.ok) return { ok: false, reason: 'invalid-demand', message: limits.problem };
      return await this.#enforce(found, devices, { riops: limits.readIops, wiops: limits.writeIops });
    } catch (err) {
      return { ok: false, reason: 'write-failed', message: `unexpected: ${(err as Error).message}` };
    }
  }

  /** Removes the IOPS limits of these devices (pod lost its demand). Byte limits are left alone. */
  async clear(pod: PodCgroupRef, devices: readonly DeviceNumber[]): Promise<IopsApplyResult> {
    try {
      const badDevice = this.#badDevice(devices);
      if (badDevice) return badDevice;
      const found = await this.#locate(pod);
      if (!found.ok) return { ok: false, reason: found.reason, message: found.message };
      return await this.#enforce(found, devices, { riops: undefined, wiops: undefined });
    } catch (err) {
      return { ok: false, reason: 'write-failed', message: `unexpected: ${(err as Error).message}` };
    }
  }

  /** The IOPS limits in force in the pod's cgroup, per device (for `ioplace-agent limits --print`). */
  async read(pod: PodCgroupRef): Promise<IopsLimitsInForce | undefined> {
    const found = await this.#locate(pod).catch(() => undefined);
    if (!found?.ok) return undefined;
    const { dir, hierarchy } = found;
    try {
      if (hierarchy.version === 2) return { cgroup: dir, limits: toRecord(await this.#readV2(dir)) };
      const containers: Record<string, Record<DeviceNumber, { readIops?: number; writeIops?: number }>> = {};
      for (const child of await this.#descendants(dir)) {
        try {
          containers[relative(dir, child)] = toRecord(await this.#readV1(child));
        } catch (err) {
          if (errorCode(err) !== 'ENOENT') throw err; // a container that ended meanwhile
        }
      }
      return { cgroup: dir, limits: toRecord(await this.#readV1(dir)), containers };
    } catch (err) {
      return { cgroup: dir, limits: {}, problem: (err as Error).message };
    }
  }

  #badDevice(devices: readonly DeviceNumber[]): IopsApplyResult | undefined {
    if (!Array.isArray(devices))
      return { ok: false, reason: 'invalid-demand', message: 'devices must be a list of MAJ:MIN' };
    const bad = devices.find((d) => !isDeviceNumber(d));
    if (bad === undefined) return undefined;
    return {
      ok: false,
      reason: 'invalid-demand',
      message: `not a device number (MAJ:MIN): ${JSON.stringify(bad)}`,
    };
  }

  async #locate(pod: PodCgroupRef): Promise<Located> {
    if (!isPodUid(pod?.uid))
      return { ok: false, reason: 'invalid-demand', message: `not a pod UID: ${JSON.stringify(pod?.uid)}` };
    const hierarchy = await this.hierarchy();
    if (!hierarchy)
      return {
        ok: false,
        reason: 'cgroup-not-found',
        message: `no io controller under ${this.#cgroupRoot} (neither cgroup v2 nor a v1 blkio hierarchy)`,
      };
    for (const candidate of podCgroupCandidates(this.#kubeletRoot, pod)) {
      if (!isInsideKubepods(candidate.path)) continue;
      const dir = join(hierarchy.dir, candidate.path);
      let real: string;
      try {
        real = await realpath(dir);
      } catch {
        continue;
      }
      if (real !== dir)
        return {
          ok: false,
          reason: 'cgroup-not-found',
          message: `${dir} resolves to ${real}: refusing a cgroup path through a symlink`,
        };
      if ((await stat(dir)).isDirectory()) return { ok: true, dir, hierarchy };
    }
    return {
      ok: false,
      reason: 'cgroup-not-found',
      message: `no cgroup for pod ${pod.uid} under ${hierarchy.dir} (cgroupfs and systemd names, every QoS class)`,
    };
  }

  async #enforce(
    found: Extract<Located, { ok: true }>,
    devices: readonly DeviceNumber[],
    want: Wanted,
  ): Promise<IopsApplyResult> {
    const unique = [...new Set(devices)];
    const failures: Failure[] = [];
    let written = 0;
    const note = (outcome: { written: number; failures: Failure[] }) => {
      written += outcome.written;
      failures.push(...outcome.failures);
    };
    if (found.hierarchy.version === 2) {
      note(await this.#enforceV2(found.hierarchy, found.dir, unique, want));
    } else {
      let targets: string[] = [found.dir];
      try {
        targets = [found.dir, ...(await this.#descendants(found.dir))];
      } catch (err) {
        failures.push({ path: found.dir, message: describeRead(err, found.dir) });
      }
      for (const dir of targets)
        note(await this.#enforceV1(found.hierarchy, dir, unique, want, dir !== found.dir));
    }
    const [first] = failures;
    if (first === undefined) return { ok: true, cgroup: found.dir, written };
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more failures)` : '';
    return { ok: false, reason: 'write-failed', path: first.path, message: `${first.message}${more}` };
  }

  async #enforceV2(hierarchy: IoHierarchy, dir: string, devices: readonly DeviceNumber[], want: Wanted) {
    const file = join(dir, IO_MAX_FILE);
    const failures: Failure[] = [];
    let written = 0;
    let current: Map<DeviceNumber, IopsPairLimit>;
    try {
      current = parseIoMax(await this.#files.read(file), file);
    } catch (err) {
      return { written, failures: [{ path: file, message: describeRead(err, file) }] };
    }
    for (const device of devices) {
      const have = current.get(device);
      if (have?.riops === want.riops && have?.wiops === want.wiops) continue;
      if (!have && want.riops === undefined && want.wiops === undefined) continue;
      const line = formatIoMaxLine(device, want);
      const failure = await this.#write(hierarchy, file, line);
      if (failure) failures.push(failure);
      else written++;
    }
    return { written, failures };
  }

  /** `container`: a cgroup below the pod's, which may vanish at any time (a container that ended). */
  async #enforceV1(
    hierarchy: IoHierarchy,
    dir: string,
    devices: readonly DeviceNumber[],
    want: Wanted,
    container: boolean,
  ) {
    const failures: Failure[] = [];
    let written = 0;
    for (const [name, value] of [
      [BLKIO_READ_IOPS_FILE, want.riops],
      [BLKIO_WRITE_IOPS_FILE, want.wiops],
    ] as const) {
      const file = join(dir, name);
      let current: Map<DeviceNumber, number>;
      try {
        current = parseBlkioThrottle(await this.#files.read(file), file);
      } catch (err) {
        if (container && errorCode(err) === 'ENOENT') break;
        failures.push({ path: file, message: describeRead(err, file) });
        continue;
      }
      for (const device of devices) {
        if (current.get(device) === value) continue;
        const failure = await this.#write(hierarchy, file, formatBlkioThrottleLine(device, value));
        if (failure) failures.push(failure);
        else written++;
      }
    }
    return { written, failures };
  }

  /** The one place a write happens: re-checks that the file is inside a kubepods subtree. */
  async #write(hierarchy: IoHierarchy, file: string, line: string): Promise<Failure | undefined> {
    const rel = relative(hierarchy.dir, file);
    if (isAbsolute(rel) || rel.startsWith('..') || !isInsideKubepods(rel))
      return { path: file, message: `refusing to write outside a kubepods subtree of ${hierarchy.dir}` };
    try {
      await this.#files.write(file, `${line}\n`);
      return undefined;
    } catch (err) {
      return { path: file, message: describeWrite(err, line) };
    }
  }

  /** Throws an Error whose message says what could not be read and why. */
  async #readFile(file: string): Promise<string> {
    try {
      return await this.#files.read(file);
    } catch (err) {
      throw Object.assign(new Error(`${file}: ${describeRead(err, file)}`), { code: errorCode(err) });
    }
  }

  async #readV2(dir: string): Promise<Map<DeviceNumber, Wanted>> {
    const file = join(dir, IO_MAX_FILE);
    return parseIoMax(await this.#readFile(file), file);
  }

  async #readV1(dir: string): Promise<Map<DeviceNumber, Wanted>> {
    const [reads, writes] = await Promise.all(
      [BLKIO_READ_IOPS_FILE, BLKIO_WRITE_IOPS_FILE].map(async (name) => {
        const file = join(dir, name);
        return parseBlkioThrottle(await this.#readFile(file), file);
      }),
    );
    const out = new Map<DeviceNumber, Wanted>();
    for (const device of new Set([...(reads?.keys() ?? []), ...(writes?.keys() ?? [])])) {
      out.set(device, { riops: reads?.get(device), wiops: writes?.get(device) });
    }
    return out;
  }

  /** The cgroups below a v1 pod cgroup (its containers), directories only, never through a symlink. */
  async #descendants(dir: string, depth = 1): Promise<string[]> {
    if (depth > V1_MAX_DEPTH) return [];
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (depth > 1 && errorCode(err) === 'ENOENT') return []; // a container cgroup removed meanwhile
      throw err;
    }
    const out: string[] = [];
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!entry.isDirectory() || !CHILD_NAME.test(entry.name)) continue;
      const child = join(dir, entry.name);
      out.push(child, ...(await this.#descendants(child, depth + 1)));
    }
    return out;
  }
}
