import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where kubelet puts a pod's cgroup, and where the io controller's files are: the layout rules
 * as pure functions (kubelet pkg/kubelet/cm/cgroup_manager_linux.go, qos_container_manager_linux.go,
 * pod_container_manager_linux.go), plus the one probe of the cgroup mount that decides v1 or v2.
 */

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';
export type CgroupVersion = 1 | 2;
export type CgroupDriver = 'cgroupfs' | 'systemd';
/** "MAJ:MIN" of a whole disk the agent measures, e.g. "8:0" */
export type DeviceNumber = string;
export interface PodCgroupRef {
  readonly uid: string;
  readonly qosClass: QosClass;
}

export const QOS_CLASSES: readonly QosClass[] = Object.freeze(['Guaranteed', 'Burstable', 'BestEffort']);
export const CGROUP_DRIVERS: readonly CgroupDriver[] = Object.freeze(['cgroupfs', 'systemd']);

/**
 * A pod UID as kubelet names cgroups after it: API pods have a UUID
 * (`0b7f3c2e-1c4d-4e5f-8a9b-0c1d2e3f4a5b`), static pods the hex hash of their manifest. Accepted:
 * 1 to 64 letters and digits in groups joined by single dashes. Nothing else can reach a path:
 * no `/`, `.`, `_` (systemd's escape of `-`, which would make two UIDs one name), no spaces.
 */
export function isPodUid(uid: unknown): uid is string {
  return typeof uid === 'string' && uid.length <= 64 && /^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$/.test(uid);
}

/** `MAJ:MIN` as the kernel prints it (no leading zeros), with a major below 4096 and a minor below 2^20 (the kernel's dev_t split). */
export function isDeviceNumber(device: unknown): device is DeviceNumber {
  if (typeof device !== 'string') return false;
  const m = /^(0|[1-9]\d{0,3}):(0|[1-9]\d{0,6})$/.exec(device);
  return m !== null && Number(m[1]) < 4096 && Number(m[2]) < 1 << 20;
}

const ROOT_COMPONENT = /^[A-Za-z0-9_.:@-]+$/;

/**
 * kubelet's `--cgroup-root` (default `/`) as a list of name components, as kubelet's
 * ParseCgroupfsToCgroupName reads it: `/` is none, `/a/b` is `a`, `b`. Throws RangeError on a
 * component that is `.`, `..` or has characters a cgroup name cannot have here.
 */
export function parseKubeletCgroupRoot(root: string): string[] {
  if (typeof root !== 'string' || !root.startsWith('/'))
    throw new RangeError(`kubelet cgroup root must be an absolute path, got ${JSON.stringify(root)}`);
  const components = root.split('/').filter((c) => c !== '');
  for (const c of components) {
    if (c === '.' || c === '..' || !ROOT_COMPONENT.test(c))
      throw new RangeError(`kubelet cgroup root ${JSON.stringify(root)}: bad component ${JSON.stringify(c)}`);
  }
  return components;
}

/**
 * kubelet's name of a pod's cgroup (pod_container_manager_linux.go GetPodContainerName):
 * Guaranteed pods sit directly under `kubepods`, the others under `kubepods/<qos lower-cased>`.
 */
export function podCgroupName(kubeletRoot: readonly string[], uid: string, qosClass: QosClass): string[] {
  const qos = qosClass === 'Guaranteed' ? [] : [qosClass.toLowerCase()];
  return [...kubeletRoot, 'kubepods', ...qos, `pod${uid}`];
}

/** CgroupName.ToCgroupfs without the leading slash: the components joined by `/`. */
export function toCgroupfsPath(name: readonly string[]): string {
  return name.join('/');
}

/**
 * CgroupName.ToSystemd without the leading slash: each component's `-` becomes `_` (systemd reads
 * `-` as a step down), the components joined by `-` make one slice name, which systemd's
 * ExpandSlice unfolds into its ancestors:
 * `kubepods, burstable, pod12-34` → `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_34.slice`.
 */
export function toSystemdPath(name: readonly string[]): string {
  if (name.length === 0) return '';
  return expandSlice(`${name.map((part) => part.replaceAll('-', '_')).join('-')}.slice`);
}

/** systemd's (and runc's) ExpandSlice, without the leading slash: `a-b-c.slice` → `a.slice/a-b.slice/a-b-c.slice`. */
export function expandSlice(slice: string): string {
  const suffix = '.slice';
  if (!slice.endsWith(suffix) || slice.length === suffix.length || slice.includes('/'))
    throw new RangeError(`invalid slice name ${JSON.stringify(slice)}`);
  const base = slice.slice(0, -suffix.length);
  if (base === '-') return '';
  const parts: string[] = [];
  let prefix = '';
  for (const component of base.split('-')) {
    if (component === '') throw new RangeError(`invalid slice name ${JSON.stringify(slice)}`);
    parts.push(`${prefix}${component}${suffix}`);
    prefix += `${component}-`;
  }
  return parts.join('/');
}

/** The pod's cgroup path relative to a hierarchy's root, under one driver. */
export function podCgroupPath(
  kubeletRoot: readonly string[],
  driver: CgroupDriver,
  uid: string,
  qosClass: QosClass,
): string {
  const name = podCgroupName(kubeletRoot, uid, qosClass);
  return driver === 'cgroupfs' ? toCgroupfsPath(name) : toSystemdPath(name);
}

export interface PodCgroupCandidate {
  readonly driver: CgroupDriver;
  readonly qosClass: QosClass;
  readonly path: string;
}

/**
 * Where to look for a pod's cgroup, in order: the QoS class it has under cgroupfs then systemd,
 * then the other classes (a pod's class is in its status, which a watcher may see late or the
 * caller may get wrong; the UID is unique, so no other pod can own a path found this way).
 * A class that is not one of the three is treated as unknown: every class is tried.
 */
export function podCgroupCandidates(
  kubeletRoot: readonly string[],
  pod: PodCgroupRef,
): readonly PodCgroupCandidate[] {
  const first = QOS_CLASSES.includes(pod.qosClass) ? [pod.qosClass] : [];
  const order = [...first, ...QOS_CLASSES.filter((q) => q !== pod.qosClass)];
  return order.flatMap((qosClass) =>
    CGROUP_DRIVERS.map((driver) => ({
      driver,
      qosClass,
      path: podCgroupPath(kubeletRoot, driver, pod.uid, qosClass),
    })),
  );
}

/**
 * True when a relative path stays inside a `kubepods` subtree: no empty, `.` or `..` component,
 * and some component before the last is `kubepods` (cgroupfs driver) or `kubepods.slice` /
 * `<prefix>-kubepods.slice` (systemd driver). The one rule every write is checked against.
 */
export function isInsideKubepods(relative: string): boolean {
  const components = relative.split('/');
  if (components.some((c) => c === '' || c === '.' || c === '..')) return false;
  const at = components.findIndex(
    (c) => c === 'kubepods' || c === 'kubepods.slice' || c.endsWith('-kubepods.slice'),
  );
  return at >= 0 && at < components.length - 1;
}

/** The hierarchy that holds the io controller: its version and absolute directory. */
export interface IoHierarchy {
  readonly version: CgroupVersion;
  readonly dir: string;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds the io controller under a cgroup mount (`/sys/fs/cgroup`):
 * 1. `<root>/cgroup.controllers` exists: the unified hierarchy (v2) is mounted there. Used even
 *    when `io` is missing from it, so that writes fail saying so rather than silently on v1.
 * 2. A v1 hierarchy whose mount directory's name lists `blkio` (`blkio`, or a co-mount such as
 *    `blkio,cpu`) and holds `blkio.throttle.read_iops_device`: v1 (the hybrid layout of older
 *    systemd: a controller is in exactly one hierarchy, and there it is v1).
 * 3. `<root>/unified/cgroup.controllers` lists `io`: v2 in the hybrid layout's unified mount.
 * The directory is returned with symlinks resolved (`/sys/fs/cgroup/blkio` can be a link).
 * Undefined when none applies.
 */
export async function detectIoHierarchy(cgroupRoot: string): Promise<IoHierarchy | undefined> {
  if (await isFile(join(cgroupRoot, 'cgroup.controllers')))
    return { version: 2, dir: await realpath(cgroupRoot) };
  let names: string[] = [];
  try {
    names = (await readdir(cgroupRoot)).sort();
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (!name.split(',').includes('blkio')) continue;
    const dir = join(cgroupRoot, name);
    if (await isFile(join(dir, 'blkio.throttle.read_iops_device')))
      return { version: 1, dir: await realpath(dir) };
  }
  try {
    const controllers = await readFile(join(cgroupRoot, 'unified', 'cgroup.controllers'), 'utf8');
    if (controllers.split(/\s+/).includes('io'))
      return { version: 2, dir: await realpath(join(cgroupRoot, 'unified')) };
  } catch {
    // no unified mount
  }
  return undefined;
}

/** The conventional cgroup mount under a sysfs root: `<sysRoot>/fs/cgroup`. */
export function defaultCgroupRoot(sysRoot: string): string {
  return join(sysRoot, 'fs', 'cgroup');
}
