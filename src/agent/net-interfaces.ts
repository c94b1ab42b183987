import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Which names to measure, from the agent's config. `include`, when not empty, is the whole
 * selection (the automatic choice is off); `exclude` is always removed. A pattern ending in `*`
 * matches every name that starts with what comes before it; any other pattern matches one name.
 */
export interface NameFilter {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

/** Does `name` match `pattern` (exact, or a prefix when the pattern ends in `*`)? */
export function matchesPattern(name: string, pattern: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

export function matchesAny(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => matchesPattern(name, p));
}

/**
 * Applies `filter` to one name: `include` (when not empty) replaces `automatic`, the agent's own
 * judgement of the name; `exclude` always wins.
 */
export function selectedBy(
  filter: NameFilter,
  name: string,
  automatic: () => Promise<boolean>,
): Promise<boolean> {
  if (matchesAny(name, filter.exclude)) return Promise.resolve(false);
  if (filter.include.length > 0) return Promise.resolve(matchesAny(name, filter.include));
  return automatic();
}

/** Does `path` exist? A dangling symlink exists; only a missing entry does not. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR')) return false;
    throw err;
  }
}

function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Matches unsigned decimal integers only: BigInt() alone would also take '', ' 1' and '0x1'. */
const UNSIGNED = /^\d+$/;

export function parseCounter(text: string, where: string): bigint {
  if (!UNSIGNED.test(text)) throw new Error(`${where}: expected an unsigned integer, got '${text}'`);
  return BigInt(text);
}

/** Interface (and disk) names the kernel can print but that must never become a path segment. */
export function isSafeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/');
}

export interface InterfaceCounters {
  /** Bytes received since the counter started (driver load, or last wrap of a 32-bit counter). */
  readonly rxBytes: bigint;
  readonly txBytes: bigint;
  /** Link speed in Mb/s; undefined when the kernel does not know it (link down, most virtual NICs). */
  readonly speedMbps: number | undefined;
  /** operstate is `up`, or `unknown` (which the kernel says to treat as usable). */
  readonly up: boolean;
}

/** The byte counters of every interface in `/proc/net/dev`, by name, in file order. */
export type NetDevCounters = Map<string, { rxBytes: bigint; txBytes: bigint }>;

/**
 * Parses the text of `/proc/net/dev`:
 * ```
 * Inter-|   Receive                                                |  Transmit
 *  face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs ...
 *     lo: 7529627   29148    0    0    0     0          0         0  7529627   29148    0 ...
 *   eth0:283196417    8536    0    0    0     0          0         0   615369    5140    0 ...
 * ```
 * The kernel prints `%6s:%8llu`, so a name is glued to a first number of 8 digits or more; names
 * cannot contain ':' (dev_valid_name), so everything before the first ':' is the name.
 * Receive bytes are field 0 after the colon, transmit bytes field 8; the kernel prints 16 fields.
 * Throws on anything else: a malformed file means a wrong procRoot, not a quirk to skip.
 */
export function parseNetDev(text: string, source = 'net/dev'): NetDevCounters {
  const counters: NetDevCounters = new Map();
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '' || line.includes('|')) continue; // blank, or one of the two headers
    const where = `${source}:${index + 1}`;
    const colon = line.indexOf(':');
    if (colon < 0) throw new Error(`${where}: expected 'name: counters', got '${line.trim()}'`);
    const name = line.slice(0, colon).trim();
    if (!isSafeName(name)) throw new Error(`${where}: bad interface name '${name}'`);
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (fields.length < 16) throw new Error(`${where}: expected 16 counters, got ${fields.length}`);
    counters.set(name, {
      rxBytes: parseCounter(fields[0] ?? '', `${where} rx bytes`),
      txBytes: parseCounter(fields[8] ?? '', `${where} tx bytes`),
    });
  }
  return counters;
}

/**
 * Names of interfaces that are never a host's own uplink: loopback, container and bridge plumbing,
 * overlays and tunnels, and bond/team masters (their physical slaves are counted instead, so a
 * bond's capacity is the sum of its links and its traffic is not counted twice).
 */
export const VIRTUAL_INTERFACE_PATTERNS: readonly string[] = Object.freeze([
  'lo',
  'veth*',
  'docker*',
  'br-*',
  'virbr*',
  'cni*',
  'flannel*',
  'cali*',
  'cilium*',
  'vxlan*',
  'tunl*',
  'tun*',
  'tap*',
  'wg*',
  'weave*',
  'kube-*',
  'genev*',
  'nodelocaldns',
  'dummy*',
  'ifb*',
  'bond*',
  'team*',
]);

/**
 * An interface is physical when the kernel links it to a device (`class/net/<if>/device`, a
 * symlink into the bus it sits on; virtual interfaces have none) and its name is not one of
 * VIRTUAL_INTERFACE_PATTERNS (a guard for drivers that attach a device to a virtual interface).
 */
export async function isPhysicalInterface(sysRoot: string, name: string): Promise<boolean> {
  if (matchesAny(name, VIRTUAL_INTERFACE_PATTERNS)) return false;
  return pathExists(join(sysRoot, 'class/net', name, 'device'));
}

/**
 * Sentinels drivers print for an unknown speed: SPEED_UNKNOWN (-1), and the same value seen
 * through an unsigned 16- or 32-bit field by old drivers (65535, 4294967295).
 */
const UNKNOWN_SPEEDS = new Set([65_535, 4_294_967_295]);

/**
 * `class/net/<if>/speed` in Mb/s, or undefined when unknown: the file says -1 (virtio and most
 * virtual NICs), reading it fails (EINVAL while the link is down, or for loopback), or it is
 * missing or not a positive integer.
 */
export async function readLinkSpeed(sysRoot: string, name: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(join(sysRoot, 'class/net', name, 'speed'), 'utf8');
  } catch {
    return undefined;
  }
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return undefined; // -1, empty, garbage
  const speed = Number(trimmed);
  return speed > 0 && !UNKNOWN_SPEEDS.has(speed) ? speed : undefined;
}

/**
 * `class/net/<if>/operstate` (RFC 2863: up, down, unknown, dormant, lowerlayerdown, notpresent,
 * testing), or undefined when it cannot be read.
 */
export async function readOperState(sysRoot: string, name: string): Promise<string | undefined> {
  try {
    return (await readFile(join(sysRoot, 'class/net', name, 'operstate'), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * `up`, and also `unknown`: the kernel's operstates.rst says an interface in that state "must be
 * considered for user data", since not every driver sets an operational state.
 */
export function isOperational(operstate: string | undefined): boolean {
  return operstate === 'up' || operstate === 'unknown';
}

/**
 * Reads `<procRoot>/net/dev` and returns the interfaces `filter` selects (see NameFilter; with
 * no include, the physical ones per isPhysicalInterface), with their byte counters, link speed
 * and state from `<sysRoot>/class/net/<if>/`. Map order is the order of `/proc/net/dev`.
 */
export async function readInterfaces(
  procRoot: string,
  sysRoot: string,
  filter: NameFilter,
): Promise<Map<string, InterfaceCounters>> {
  const path = join(procRoot, 'net/dev');
  const counters = parseNetDev(await readFile(path, 'utf8'), path);
  const read = await Promise.all(
    [...counters].map(async ([name, c]) => {
      if (!(await selectedBy(filter, name, () => isPhysicalInterface(sysRoot, name)))) return undefined;
      const [speedMbps, operstate] = await Promise.all([
        readLinkSpeed(sysRoot, name),
        readOperState(sysRoot, name),
      ]);
      const entry: InterfaceCounters = { ...c, speedMbps, up: isOperational(operstate) };
      return [name, entry] as const;
    }),
  );
  const selected = new Map<string, InterfaceCounters>();
  for (const pair of read) if (pair !== undefined) selected.set(pair[0], pair[1]);
  return selected;
}
