import {
  type BandwidthLimits,
  ifbDeviceName,
  isValidIfname,
  type TbfParameters,
  tbfMatches,
  tbfParameters,
} from './bandwidth-plan.js';
import { findHostInterface, netnsOfPid, readPodLink } from './netns.js';
import { type CommandRunner, execFileRunner, isNoSuchDevice } from './tc-command.js';
import {
  type FilterPref,
  type Link,
  parseFilters,
  parseLink,
  parseQdiscs,
  type Qdisc,
  rootQdisc,
  tbfState,
} from './tc-json.js';

export { type BandwidthLimits, ifbDeviceName, type ShapedPod, shapingPlan } from './bandwidth-plan.js';
export type { CommandOutput, CommandRunner } from './tc-command.js';

/**
 * The handle of every tbf the shaper installs: 0x494f is "IO" in ASCII. A root tbf with another
 * handle is someone else's (the CNI bandwidth plugin uses 1:) and is never changed or removed.
 */
export const SHAPER_HANDLE = '494f:';
/** The priority of the shaper's redirect filter on the host veth's ingress hook (0x494f again). */
export const REDIRECT_PREF = 0x494f;

export type ShapeFailureReason = 'veth-not-found' | 'tc-failed' | 'invalid-demand';

export interface ShapeFailure {
  readonly ok: false;
  readonly reason: ShapeFailureReason;
  /** The network device the shaper was at. */
  readonly device?: string;
  readonly message: string;
}

export type ShapeResult = { readonly ok: true; readonly changed: boolean } | ShapeFailure;
export type VethLookup = { readonly ok: true; readonly device: string } | ShapeFailure;
export type LimitsReading = { readonly ok: true; readonly limits: BandwidthLimits } | ShapeFailure;

export interface BandwidthShaperOptions {
  /** The host's /proc (`/host/proc` in the agent's pod). */
  readonly procRoot: string;
  /** The host's /sys, mounted from the host's network namespace (its class/net lists the veths). */
  readonly sysRoot: string;
  /** Runs tc, ip and nsenter; execFile by default. */
  readonly run?: CommandRunner;
  /** The pod's interface whose peer is shaped; eth0 unless the CNI names it otherwise. */
  readonly podInterface?: string;
}

/** A step that cannot go on; becomes a ShapeFailure. */
class Failed extends Error {
  constructor(
    readonly reason: ShapeFailureReason,
    readonly device: string | undefined,
    message: string,
    /** The command failed because the device does not exist. */
    readonly missing = false,
  ) {
    super(message);
  }
}

/** The commands of one apply or remove, and whether any of them changed something. */
class Session {
  changed = false;
  constructor(
    private readonly run: CommandRunner,
    private readonly veth: string | undefined,
  ) {}

  /** Runs a command that only reads; a failure names `device`. */
  async read(file: string, args: readonly string[], device: string): Promise<string> {
    try {
      return (await this.run(file, args)).stdout;
    } catch (err) {
      throw this.failure(err, device);
    }
  }

  /** Runs a command that changes the kernel's state. */
  async change(file: string, args: readonly string[], device: string): Promise<void> {
    try {
      await this.run(file, args);
    } catch (err) {
      throw this.failure(err, device);
    }
    this.changed = true;
  }

  failure(err: unknown, device: string | undefined): Failed {
    if (err instanceof Failed) return err;
    const message = err instanceof Error ? err.message : String(err);
    // The veth vanishing under us is the pod's sandbox going: not a tc problem.
    const missing = isNoSuchDevice(err);
    const reason = missing && device === this.veth ? 'veth-not-found' : 'tc-failed';
    return new Failed(reason, device, message, missing);
  }
}

function isOurs(qdisc: Qdisc | undefined): boolean {
  return qdisc !== undefined && qdisc.kind === 'tbf' && qdisc.handle === SHAPER_HANDLE;
}

/** tbfMatches of a qdisc that is ours. */
function ourTbfMatches(qdisc: Qdisc | undefined, wanted: TbfParameters): boolean {
  if (qdisc === undefined || !isOurs(qdisc)) return false;
  const state = tbfState(qdisc);
  return state !== undefined && tbfMatches(state, wanted);
}

/** The rate of our tbf, bits per second; undefined when the qdisc is not ours. */
function ourRateBps(qdisc: Qdisc | undefined): number | undefined {
  if (qdisc === undefined || !isOurs(qdisc)) return undefined;
  const state = tbfState(qdisc);
  return state === undefined ? undefined : Math.round(state.rateBytes * 8);
}

/** The words of a fixed piece of a command line (no device names: those stay separate arguments). */
function words(text: string): string[] {
  return text.split(' ');
}

/** `tc qdisc replace dev <dev> root handle 494f: tbf rate <bits>bit burst <bytes> limit <bytes>` */
function tbfArgs(dev: string, p: TbfParameters): string[] {
  const tbf = `root handle ${SHAPER_HANDLE} tbf rate ${p.rateBytes * 8}bit burst ${p.burstBytes} limit ${p.limitBytes}`;
  return ['qdisc', 'replace', 'dev', dev, ...words(tbf)];
}

/** Every packet arriving from the pod (protocol all, u32 match-all) goes out of the ifb instead. */
function redirectArgs(veth: string, ifb: string): string[] {
  const filter = `ingress pref ${REDIRECT_PREF} protocol all u32 match u32 0 0 action mirred egress redirect dev`;
  return ['filter', 'add', 'dev', veth, ...words(filter), ifb];
}

function isIngressHook(q: Qdisc): boolean {
  return q.kind === 'ingress' || q.kind === 'clsact';
}

function isOurRedirect(f: FilterPref | undefined, ifb: string): boolean {
  return (
    f !== undefined &&
    f.kinds.length === 1 &&
    f.kinds[0] === 'u32' &&
    f.redirectsTo.length === 1 &&
    f.redirectsTo[0] === ifb
  );
}

function asFailure(f: Failed): ShapeFailure {
  const device = f.device === undefined ? {} : { device: f.device };
  return { ok: false, reason: f.reason, ...device, message: f.message };
}

const NO_KEY: ShapeFailure = {
  ok: false,
  reason: 'invalid-demand',
  message: 'no pod key to name the shaping by',
};

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Shapes a pod's traffic on the host side of its veth, as the CNI bandwidth plugin does
 * (containernetworking/plugins plugins/meta/bandwidth), with tc and ip from iproute2:
 *
 *  - ingress (towards the pod): a tbf as the host veth's root qdisc, handle 494f:; packets the
 *    host sends into the veth wait in it;
 *  - egress (from the pod): packets the pod sends arrive at the host veth's ingress hook, where
 *    no qdisc can delay them; a u32 match-all filter (pref 0x494f) redirects them (mirred) to the
 *    pod's ifb device, which sends them out through its own root tbf, handle 494f:, and back
 *    into the stack as if they had arrived from the veth.
 *
 * The tbf's rate, burst and limit are TbfParameters'. Each pod has an ifb named from its uid
 * (ifbDeviceName), made with the veth's MTU and removed with the pod's shaping.
 *
 * Every call reads what is in force first and changes only what differs (`changed` says whether
 * anything did), so the agent calls apply every round. Anything installed by someone else (a root
 * qdisc with a handle of its own, other filters) is left alone; a root that is not the kernel's
 * default and not ours makes the ingress direction fail rather than replace it. Calls for the same
 * key run one after the other.
 *
 * Requires CAP_NET_ADMIN in the host's network namespace, CAP_SYS_ADMIN (nsenter), and the
 * kernel's ifb, sch_tbf, sch_ingress, cls_u32 and act_mirred (modules load on first use).
 */
export class BandwidthShaper {
  readonly #procRoot: string;
  readonly #sysRoot: string;
  readonly #run: CommandRunner;
  readonly #podInterface: string;
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: BandwidthShaperOptions) {
    if (typeof options.procRoot !== 'string' || options.procRoot === '')
      throw new Error('BandwidthShaper: procRoot is required');
    if (typeof options.sysRoot !== 'string' || options.sysRoot === '')
      throw new Error('BandwidthShaper: sysRoot is required');
    const podInterface = options.podInterface ?? 'eth0';
    if (!isValidIfname(podInterface))
      throw new Error(`BandwidthShaper: bad pod interface name '${podInterface}'`);
    this.#procRoot = options.procRoot;
    this.#sysRoot = options.sysRoot;
    this.#run = options.run ?? execFileRunner();
    this.#podInterface = podInterface;
  }

  /** The network namespace file of a process of the pod: `<procRoot>/<pid>/ns/net`. */
  netnsOf(pid: number): string {
    return netnsOfPid(this.#procRoot, pid);
  }

  /**
   * The host-side veth of the network namespace at `netnsPath` (e.g. `<procRoot>/<pid>/ns/net`):
   * the peer of its eth0 (netns.ts tells how). undefined when not found: the namespace or eth0
   * is gone, eth0 is not a veth, or no interface of `<sysRoot>/class/net` is its peer. Throws
   * when the namespace cannot be entered (no CAP_SYS_ADMIN, nsenter or ip missing).
   */
  async hostVeth(netnsPath: string): Promise<string | undefined> {
    const pod = await readPodLink(this.#run, netnsPath, this.#podInterface);
    return pod === undefined ? undefined : findHostInterface(this.#sysRoot, pod);
  }

  /** hostVeth as a result that never throws: veth-not-found, or tc-failed with why. */
  async findHostVeth(netnsPath: string): Promise<VethLookup> {
    try {
      const device = await this.hostVeth(netnsPath);
      if (device !== undefined) return { ok: true, device };
      return {
        ok: false,
        reason: 'veth-not-found',
        message: `no veth peer of ${this.#podInterface} in ${netnsPath} among ${this.#sysRoot}/class/net`,
      };
    } catch (err) {
      return { ok: false, reason: 'tc-failed', message: `cannot look into ${netnsPath}: ${messageOf(err)}` };
    }
  }

  /**
   * Makes the shaping of `hostVeth` exactly `limits`: a direction left out is un-shaped (only
   * what ioplace put there is removed). `key` is the pod's uid; it names the ifb. Never throws.
   */
  apply(key: string, hostVeth: string, limits: BandwidthLimits): Promise<ShapeResult> {
    if (typeof key !== 'string' || key === '') return Promise.resolve(NO_KEY);
    const wanted: { ingress?: TbfParameters; egress?: TbfParameters } = {};
    for (const [direction, bps] of [
      ['ingress', limits.ingressBps],
      ['egress', limits.egressBps],
    ] as const) {
      if (bps === undefined) continue;
      const params = tbfParameters(bps);
      if ('invalid' in params) {
        return Promise.resolve({
          ok: false,
          reason: 'invalid-demand',
          device: hostVeth,
          message: `${direction}: ${params.invalid}`,
        });
      }
      wanted[direction] = params;
    }
    if (!isValidIfname(hostVeth)) return Promise.resolve(this.#badVeth(hostVeth));
    return this.#serialized(key, () =>
      this.#attempt(hostVeth, async (s) => {
        const vethLink = await this.#link(s, hostVeth, false);
        if (vethLink === undefined)
          throw new Failed('veth-not-found', hostVeth, `${hostVeth} does not exist`);
        const qdiscs = await this.#qdiscs(s, hostVeth);
        await this.#shapeIngress(s, hostVeth, qdiscs, wanted.ingress);
        await this.#shapeEgress(s, key, vethLink, qdiscs, wanted.egress);
      }),
    );
  }

  /**
   * What ioplace has in force on `hostVeth` and its ifb, in bits per second (tc keeps bytes per
   * second: a rate not a multiple of 8 reads back rounded down). A direction is listed only when
   * it is really shaped: for egress the redirect to the key's ifb and the ifb's tbf must both be
   * there. `{}` when the veth does not exist. Throws when tc or ip fail.
   */
  async read(key: string, hostVeth: string): Promise<BandwidthLimits> {
    const reading = await this.readLimits(key, hostVeth);
    if (reading.ok) return reading.limits;
    if (reading.reason === 'veth-not-found') return {};
    throw new Error(reading.message);
  }

  /** read as a result that never throws; veth-not-found when the veth does not exist. */
  async readLimits(key: string, hostVeth: string): Promise<LimitsReading> {
    if (!isValidIfname(hostVeth)) return this.#badVeth(hostVeth);
    const s = new Session(this.#run, hostVeth);
    try {
      const veth = await this.#link(s, hostVeth, false);
      if (veth === undefined)
        return asFailure(new Failed('veth-not-found', hostVeth, `${hostVeth} does not exist`));
      const qdiscs = await this.#qdiscs(s, hostVeth);
      const limits: { ingressBps?: number; egressBps?: number } = {};
      const ingressBps = ourRateBps(rootQdisc(qdiscs));
      if (ingressBps !== undefined) limits.ingressBps = ingressBps;
      const ifb = ifbDeviceName(key);
      const filters = qdiscs.some(isIngressHook) ? await this.#filters(s, hostVeth) : [];
      if (filters.some((f) => f.pref === REDIRECT_PREF && f.redirectsTo.includes(ifb))) {
        const ifbLink = await this.#link(s, ifb, true);
        if (ifbLink?.kind === 'ifb') {
          const egressBps = ourRateBps(rootQdisc(await this.#qdiscs(s, ifb)));
          if (egressBps !== undefined) limits.egressBps = egressBps;
        }
      }
      return { ok: true, limits };
    } catch (err) {
      return asFailure(s.failure(err, hostVeth));
    }
  }

  /**
   * Removes everything ioplace set up for `key`: the tbf on the veth's root, the redirect filter
   * (and the ingress qdisc when nothing else uses it), and the ifb device. `hostVeth` undefined
   * (or gone) when the pod's sandbox is: the ifb still goes. Never throws; a missing device is
   * not a failure.
   */
  remove(key: string, hostVeth: string | undefined): Promise<ShapeResult> {
    if (typeof key !== 'string' || key === '') return Promise.resolve(NO_KEY);
    if (hostVeth !== undefined && !isValidIfname(hostVeth)) return Promise.resolve(this.#badVeth(hostVeth));
    return this.#serialized(key, () =>
      this.#attempt(hostVeth, async (s) => {
        const vethLink = hostVeth === undefined ? undefined : await this.#link(s, hostVeth, false);
        if (vethLink !== undefined) {
          const qdiscs = await this.#qdiscs(s, vethLink.ifname);
          await this.#shapeIngress(s, vethLink.ifname, qdiscs, undefined);
          await this.#unredirect(s, vethLink.ifname, qdiscs);
        }
        await this.#deleteIfb(s, ifbDeviceName(key));
      }),
    );
  }

  #badVeth(name: string): ShapeFailure {
    return {
      ok: false,
      reason: 'veth-not-found',
      device: name,
      message: `'${name}' is not a network interface name`,
    };
  }

  async #attempt(veth: string | undefined, work: (s: Session) => Promise<void>): Promise<ShapeResult> {
    const s = new Session(this.#run, veth);
    try {
      await work(s);
      return { ok: true, changed: s.changed };
    } catch (err) {
      return asFailure(s.failure(err, veth));
    }
  }

  /** Runs `work` after every earlier call for `key` has settled. */
  #serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(key) ?? Promise.resolve();
    const result = before.then(work, work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(key, tail);
    void tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return result;
  }

  async #link(s: Session, dev: string, details: boolean): Promise<Link | undefined> {
    const args = ['-j', ...(details ? ['-d'] : []), 'link', 'show', 'dev', dev];
    try {
      return parseLink(await s.read('ip', args, dev), `ip link show dev ${dev}`);
    } catch (err) {
      if (err instanceof Failed && err.missing) return undefined;
      throw err;
    }
  }

  async #qdiscs(s: Session, dev: string): Promise<Qdisc[]> {
    return parseQdiscs(
      await s.read('tc', ['-j', 'qdisc', 'show', 'dev', dev], dev),
      `tc qdisc show dev ${dev}`,
    );
  }

  async #filters(s: Session, dev: string): Promise<FilterPref[]> {
    const stdout = await s.read('tc', ['-j', 'filter', 'show', 'dev', dev, 'ingress'], dev);
    return parseFilters(stdout, `tc filter show dev ${dev} ingress`);
  }

  /** The root tbf of the veth: ours as `wanted` says, or none of ours. */
  async #shapeIngress(
    s: Session,
    veth: string,
    qdiscs: readonly Qdisc[],
    wanted: TbfParameters | undefined,
  ): Promise<void> {
    const root = rootQdisc(qdiscs);
    if (wanted === undefined) {
      if (isOurs(root)) await s.change('tc', ['qdisc', 'del', 'dev', veth, 'root'], veth);
      return;
    }
    if (ourTbfMatches(root, wanted)) return;
    if (root !== undefined && !isOurs(root) && root.handle !== '0:') {
      throw new Failed(
        'tc-failed',
        veth,
        `root qdisc ${root.kind} ${root.handle} on ${veth} is not ioplace's (the CNI bandwidth plugin's?): left alone`,
      );
    }
    await s.change('tc', tbfArgs(veth, wanted), veth);
  }

  /** The pod's ifb with its tbf, and the redirect to it; or neither. */
  async #shapeEgress(
    s: Session,
    key: string,
    veth: Link,
    qdiscs: readonly Qdisc[],
    wanted: TbfParameters | undefined,
  ): Promise<void> {
    const ifb = ifbDeviceName(key);
    if (wanted === undefined) {
      await this.#unredirect(s, veth.ifname, qdiscs);
      await this.#deleteIfb(s, ifb);
      return;
    }
    const ifbLink = await this.#link(s, ifb, true);
    if (ifbLink !== undefined && ifbLink.kind !== 'ifb') {
      throw new Failed(
        'tc-failed',
        ifb,
        `${ifb} exists and is not an ifb device (${ifbLink.kind ?? 'unknown kind'})`,
      );
    }
    const mtu = String(veth.mtu);
    if (ifbLink === undefined)
      await s.change('ip', ['link', 'add', 'name', ifb, 'mtu', mtu, 'type', 'ifb'], ifb);
    else if (ifbLink.mtu !== veth.mtu) await s.change('ip', ['link', 'set', 'dev', ifb, 'mtu', mtu], ifb);
    if (ifbLink === undefined || !ifbLink.up) await s.change('ip', ['link', 'set', 'dev', ifb, 'up'], ifb);
    const ifbRoot = ifbLink === undefined ? undefined : rootQdisc(await this.#qdiscs(s, ifb));
    if (!ourTbfMatches(ifbRoot, wanted)) await s.change('tc', tbfArgs(ifb, wanted), ifb);

    const hook = qdiscs.find(isIngressHook);
    const filters = hook === undefined ? [] : await this.#filters(s, veth.ifname);
    const ours = filters.find((f) => f.pref === REDIRECT_PREF);
    if (isOurRedirect(ours, ifb)) return;
    if (hook === undefined)
      await s.change('tc', ['qdisc', 'add', 'dev', veth.ifname, 'ingress'], veth.ifname);
    if (ours !== undefined)
      await s.change(
        'tc',
        ['filter', 'del', 'dev', veth.ifname, 'ingress', 'pref', String(REDIRECT_PREF)],
        veth.ifname,
      );
    await s.change('tc', redirectArgs(veth.ifname, ifb), veth.ifname);
  }

  /**
   * Deletes the redirect filter; then the ingress qdisc too when it is a plain `ingress` (not a
   * clsact, which eBPF datapaths own) and no other filter is left on it.
   */
  async #unredirect(s: Session, veth: string, qdiscs: readonly Qdisc[]): Promise<void> {
    const hook = qdiscs.find(isIngressHook);
    if (hook === undefined) return;
    const filters = await this.#filters(s, veth);
    if (!filters.some((f) => f.pref === REDIRECT_PREF)) return;
    await s.change('tc', ['filter', 'del', 'dev', veth, 'ingress', 'pref', String(REDIRECT_PREF)], veth);
    if (hook.kind === 'ingress' && filters.every((f) => f.pref === REDIRECT_PREF)) {
      await s.change('tc', ['qdisc', 'del', 'dev', veth, 'ingress'], veth);
    }
  }

  /** Deletes the ifb when it exists and is an ifb (a device of another kind by that name is not ours). */
  async #deleteIfb(s: Session, ifb: string): Promise<void> {
    const link = await this.#link(s, ifb, true);
    if (link?.kind !== 'ifb') return;
    try {
      await s.change('ip', ['link', 'del', 'dev', ifb], ifb);
    } catch (err) {
      if (!(err instanceof Failed && err.missing)) throw err;
    }
  }
}
