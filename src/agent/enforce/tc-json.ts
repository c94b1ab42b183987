/**
 * Readers of what iproute2 prints with `-j` (JSON): `tc -j qdisc show`, `tc -j filter show` and
 * `ip -j link show`. Only the fields the shaper needs are read; anything else is ignored, so a
 * newer iproute2 that prints more still parses. Output that is not the expected JSON throws: it
 * means a wrong program or a broken pipe, not a state to act on.
 *
 * Sizes and rates: current iproute2 (6.1 here) prints them as numbers (bytes, bytes per second,
 * microseconds); the first versions with JSON output printed tc's human strings ("10Mbit",
 * "64Kb", "25.0ms"), which are read too (rounded, as tc rounded them).
 */

export interface Qdisc {
  readonly kind: string;
  /** `major:` in hex, as tc prints it: "494f:", "ffff:", "0:" for a qdisc the kernel attached. */
  readonly handle: string;
  readonly root: boolean;
  readonly parent: string | undefined;
  readonly options: Readonly<Record<string, unknown>>;
}

/** A tbf's parameters as tc reports them. */
export interface TbfState {
  readonly rateBytes: number;
  readonly burstBytes: number;
  /** How long a packet may wait (limit minus burst, at the rate), µs; undefined when not printed. */
  readonly latencyUs: number | undefined;
  /** Read from numbers (current iproute2), not from tc's rounded strings. */
  readonly exact: boolean;
}

/** The filters of one priority (`pref`) of a hook: tc prints one entry per node of a u32 tree. */
export interface FilterPref {
  readonly pref: number;
  /** Classifier kinds seen at this pref (u32, matchall, bpf, …). */
  readonly kinds: readonly string[];
  /** Devices a `mirred … redirect` action of this pref sends packets to. */
  readonly redirectsTo: readonly string[];
}

export interface Link {
  readonly ifindex: number;
  readonly ifname: string;
  /** The peer's ifindex for a veth (`link_index`; in the peer's namespace); undefined otherwise. */
  readonly linkIndex: number | undefined;
  /** `link_netnsid` is printed: the link's other end (its iflink) is in another namespace. */
  readonly linkInOtherNs: boolean;
  readonly mtu: number;
  /** Administratively up (the UP flag). */
  readonly up: boolean;
  /** `linkinfo.info_kind` (veth, ifb, …) when listed with `-d`; undefined otherwise. */
  readonly kind: string | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function jsonArray(stdout: string, where: string): Record<string, unknown>[] {
  // tc prints nothing at all for some empty listings on old versions: that is an empty list.
  if (stdout.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    throw new Error(`${where}: not JSON: ${stdout.trim().slice(0, 80)}`);
  }
  if (!Array.isArray(value) || !value.every(isObject))
    throw new Error(`${where}: expected a JSON array of objects`);
  return value;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function nonNegative(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Parses `tc -j qdisc show dev <dev>`. */
export function parseQdiscs(stdout: string, where = 'tc qdisc show'): Qdisc[] {
  return jsonArray(stdout, where).map((entry, i) => {
    const kind = str(entry.kind);
    const handle = str(entry.handle);
    if (kind === undefined || handle === undefined)
      throw new Error(`${where}: entry ${i} has no kind or handle`);
    return {
      kind,
      handle,
      root: entry.root === true,
      parent: str(entry.parent),
      options: isObject(entry.options) ? entry.options : {},
    };
  });
}

/** The root qdisc of a listing (a device always has one once up: noqueue, pfifo_fast, mq, …). */
export function rootQdisc(qdiscs: readonly Qdisc[]): Qdisc | undefined {
  return qdiscs.find((q) => q.root);
}

/** A tbf's rate, burst and latency, or undefined for any other kind or unreadable options. */
export function tbfState(qdisc: Qdisc): TbfState | undefined {
  if (qdisc.kind !== 'tbf') return undefined;
  const rateBytes = readRateBytes(qdisc.options.rate);
  const burstBytes = readSizeBytes(qdisc.options.burst);
  if (rateBytes === undefined || burstBytes === undefined) return undefined;
  const exact = typeof qdisc.options.rate === 'number' && typeof qdisc.options.burst === 'number';
  return { rateBytes, burstBytes, latencyUs: readTimeUs(qdisc.options.lat), exact };
}

/** bytes/s from a number, or from tc's "%.0f{,K,M,G,T}[i]bit" string (bits, 1000s or 1024s). */
export function readRateBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return nonNegative(value);
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)([KMGT]?)(i?)bit$/.exec(value) : null;
  if (m === null) return undefined;
  const base = m[3] === 'i' ? 1024 : 1000;
  const power = ['', 'K', 'M', 'G', 'T'].indexOf(m[2] ?? '');
  return (Number(m[1]) * base ** power) / 8;
}

/** bytes from a number, or from tc's size string: "1500b", "64Kb", "1.5Mb", "2Gb" (1024s). */
export function readSizeBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return nonNegative(value);
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)([KMG]?)b$/.exec(value) : null;
  if (m === null) return undefined;
  const power = ['', 'K', 'M', 'G'].indexOf(m[2] ?? '');
  return Math.round(Number(m[1]) * 1024 ** power);
}

/** µs from a number, or from tc's time string: "25.0ms", "1.0s", "800us". */
export function readTimeUs(value: unknown): number | undefined {
  if (typeof value === 'number') return nonNegative(value);
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)(s|ms|us)$/.exec(value) : null;
  if (m === null) return undefined;
  const scale = m[2] === 's' ? 1e6 : m[2] === 'ms' ? 1e3 : 1;
  return Number(m[1]) * scale;
}

/**
 * Parses `tc -j filter show dev <dev> ingress` into one FilterPref per priority, in the order
 * listed. A u32 filter shows as three entries of the same pref (the filter, its hash table, its
 * key); the actions are on the key's entry.
 */
export function parseFilters(stdout: string, where = 'tc filter show'): FilterPref[] {
  const byPref = new Map<number, { kinds: Set<string>; redirectsTo: Set<string> }>();
  for (const [i, entry] of jsonArray(stdout, where).entries()) {
    const pref = entry.pref;
    if (typeof pref !== 'number' || !Number.isInteger(pref))
      throw new Error(`${where}: entry ${i} has no pref`);
    let slot = byPref.get(pref);
    if (slot === undefined) {
      slot = { kinds: new Set(), redirectsTo: new Set() };
      byPref.set(pref, slot);
    }
    const kind = str(entry.kind);
    if (kind !== undefined) slot.kinds.add(kind);
    const actions = isObject(entry.options) ? entry.options.actions : undefined;
    if (!Array.isArray(actions)) continue;
    for (const action of actions) {
      if (!isObject(action) || action.kind !== 'mirred' || action.mirred_action !== 'redirect') continue;
      const to = str(action.to_dev);
      if (to !== undefined) slot.redirectsTo.add(to);
    }
  }
  return [...byPref].map(([pref, s]) => ({ pref, kinds: [...s.kinds], redirectsTo: [...s.redirectsTo] }));
}

/** Parses `ip -j [-d] link show dev <dev>`: exactly one link. */
export function parseLink(stdout: string, where = 'ip link show'): Link {
  const entries = jsonArray(stdout, where);
  const entry = entries[0];
  if (entries.length !== 1 || entry === undefined)
    throw new Error(`${where}: expected one link, got ${entries.length}`);
  const ifindex = entry.ifindex;
  const ifname = str(entry.ifname);
  const mtu = entry.mtu;
  if (typeof ifindex !== 'number' || !Number.isInteger(ifindex) || ifindex <= 0 || ifname === undefined) {
    throw new Error(`${where}: link without ifindex or ifname`);
  }
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu <= 0)
    throw new Error(`${where}: link without mtu`);
  const linkIndex = entry.link_index;
  const flags = Array.isArray(entry.flags) ? entry.flags : [];
  const info = isObject(entry.linkinfo) ? entry.linkinfo : {};
  return {
    ifindex,
    ifname,
    linkIndex:
      typeof linkIndex === 'number' && Number.isInteger(linkIndex) && linkIndex > 0 ? linkIndex : undefined,
    linkInOtherNs: typeof entry.link_netnsid === 'number',
    mtu,
    up: flags.includes('UP'),
    kind: str(info.info_kind),
  };
}
