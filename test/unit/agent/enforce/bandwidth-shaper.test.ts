import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BandwidthShaper, ifbDeviceName } from '../../../../src/agent/enforce/bandwidth-shaper.js';
import { CommandError, type CommandRunner } from '../../../../src/agent/enforce/tc-command.js';
import { fileTrees } from '../../../support/file-tree.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/agent/tc/${name}`, import.meta.url), 'utf8');

const UID = '6f1c2a3e-0d4b-4f5a-9c7e-2b8d1e0f3a41';
const VETH = 'vethbwt0';
const IFB = 'iopl3042299cb04';

/** The shaper's reads, as it spells them. */
const READ = {
  veth: `ip -j link show dev ${VETH}`,
  vethQdiscs: `tc -j qdisc show dev ${VETH}`,
  vethFilters: `tc -j filter show dev ${VETH} ingress`,
  ifb: `ip -j -d link show dev ${IFB}`,
  ifbQdiscs: `tc -j qdisc show dev ${IFB}`,
};

const missingLink = (dev: string) => ({ fail: `Device "${dev}" does not exist.` });

type Answer = string | { fail: string };

/**
 * A runner that answers reads (commands with -j) from `reads`, by the command line; any other
 * command is a write and succeeds unless `fails` has it. It records every call.
 */
function scripted(reads: Record<string, Answer>, fails: Record<string, string> = {}) {
  const calls: string[][] = [];
  const run: CommandRunner = async (file, args) => {
    calls.push([file, ...args]);
    const line = [file, ...args].join(' ');
    const isRead = args.includes('-j');
    const answer: Answer | undefined = isRead
      ? reads[line]
      : line in fails
        ? { fail: fails[line] as string }
        : '';
    if (answer === undefined) throw new Error(`unexpected read: ${line}`);
    if (typeof answer === 'string') return { stdout: answer, stderr: '' };
    throw new CommandError(file, args, 1, answer.fail);
  };
  const lines = () => calls.map((c) => c.join(' '));
  return { run, calls, lines, writes: () => lines().filter((l) => !l.includes(' -j ')) };
}

/** The state after apply(20 Mbit/s in, 10 Mbit/s out), as captured. */
const SHAPED: Record<string, Answer> = {
  [READ.veth]: fixture('veth-link.json'),
  [READ.vethQdiscs]: fixture('veth-qdiscs-shaped.json'),
  [READ.vethFilters]: fixture('veth-filters-redirect.json'),
  [READ.ifb]: fixture('ifb-link.json'),
  [READ.ifbQdiscs]: fixture('ifb-qdiscs-shaped.json'),
};

/** A veth as the CNI plugin leaves it: nothing of ours, no ifb. */
const FRESH: Record<string, Answer> = {
  [READ.veth]: fixture('veth-link.json'),
  [READ.vethQdiscs]: fixture('veth-qdiscs-default.json'),
  [READ.ifb]: missingLink(IFB),
};

const shaperWith = (run: CommandRunner) => new BandwidthShaper({ procRoot: '/proc', sysRoot: '/sys', run });
const LIMITS = { ingressBps: 20_000_000, egressBps: 10_000_000 };

const TBF_VETH_20M = `tc qdisc replace dev ${VETH} root handle 494f: tbf rate 20000000bit burst 65536 limit 128036`;
const TBF_IFB_10M = `tc qdisc replace dev ${IFB} root handle 494f: tbf rate 10000000bit burst 65536 limit 96786`;
const REDIRECT = `tc filter add dev ${VETH} ingress pref 18767 protocol all u32 match u32 0 0 action mirred egress redirect dev ${IFB}`;
const UNREDIRECT = `tc filter del dev ${VETH} ingress pref 18767`;

describe('BandwidthShaper.apply', () => {
  it('shapes a fresh veth: tbf on its root, an ifb with the veth MTU and its tbf, the redirect', async () => {
    const k = scripted(FRESH);
    expect(await shaperWith(k.run).apply(UID, VETH, LIMITS)).toEqual({ ok: true, changed: true });
    expect(ifbDeviceName(UID)).toBe(IFB);
    expect(k.calls).toEqual([
      ['ip', '-j', 'link', 'show', 'dev', VETH],
      ['tc', '-j', 'qdisc', 'show', 'dev', VETH],
      [
        'tc',
        'qdisc',
        'replace',
        'dev',
        VETH,
        'root',
        'handle',
        '494f:',
        'tbf',
        'rate',
        '20000000bit',
        'burst',
        '65536',
        'limit',
        '128036',
      ],
      ['ip', '-j', '-d', 'link', 'show', 'dev', IFB],
      ['ip', 'link', 'add', 'name', IFB, 'mtu', '1500', 'type', 'ifb'],
      ['ip', 'link', 'set', 'dev', IFB, 'up'],
      [
        'tc',
        'qdisc',
        'replace',
        'dev',
        IFB,
        'root',
        'handle',
        '494f:',
        'tbf',
        'rate',
        '10000000bit',
        'burst',
        '65536',
        'limit',
        '96786',
      ],
      ['tc', 'qdisc', 'add', 'dev', VETH, 'ingress'],
      [
        'tc',
        'filter',
        'add',
        'dev',
        VETH,
        'ingress',
        'pref',
        '18767',
        'protocol',
        'all',
        'u32',
        'match',
        'u32',
        '0',
        '0',
        'action',
        'mirred',
        'egress',
        'redirect',
        'dev',
        IFB,
      ],
    ]);
  });

  it('changes nothing when what is in force is what is asked (tc reads the burst back as 65535)', async () => {
    const k = scripted(SHAPED);
    expect(await shaperWith(k.run).apply(UID, VETH, LIMITS)).toEqual({ ok: true, changed: false });
    expect(k.lines()).toEqual([READ.veth, READ.vethQdiscs, READ.ifb, READ.ifbQdiscs, READ.vethFilters]);
  });

  it('replaces only the tbf whose rate changed', async () => {
    const k = scripted(SHAPED);
    expect(await shaperWith(k.run).apply(UID, VETH, { ...LIMITS, ingressBps: 30_000_000 })).toEqual({
      ok: true,
      changed: true,
    });
    expect(k.writes()).toEqual([
      `tc qdisc replace dev ${VETH} root handle 494f: tbf rate 30000000bit burst 65536 limit 159286`,
    ]);

    const e = scripted(SHAPED);
    expect(await shaperWith(e.run).apply(UID, VETH, { ...LIMITS, egressBps: 5_000_000 })).toEqual({
      ok: true,
      changed: true,
    });
    expect(e.writes()).toEqual([
      `tc qdisc replace dev ${IFB} root handle 494f: tbf rate 5000000bit burst 65536 limit 81161`,
    ]);
  });

  it('un-shapes a direction left out: egress takes the redirect, the empty ingress qdisc and the ifb with it', async () => {
    const k = scripted(SHAPED);
    expect(await shaperWith(k.run).apply(UID, VETH, { ingressBps: 20_000_000 })).toEqual({
      ok: true,
      changed: true,
    });
    expect(k.writes()).toEqual([UNREDIRECT, `tc qdisc del dev ${VETH} ingress`, `ip link del dev ${IFB}`]);
  });

  it('un-shapes everything for {}', async () => {
    const k = scripted(SHAPED);
    expect(await shaperWith(k.run).apply(UID, VETH, {})).toEqual({ ok: true, changed: true });
    expect(k.writes()).toEqual([
      `tc qdisc del dev ${VETH} root`,
      UNREDIRECT,
      `tc qdisc del dev ${VETH} ingress`,
      `ip link del dev ${IFB}`,
    ]);
    const fresh = scripted(FRESH);
    expect(await shaperWith(fresh.run).apply(UID, VETH, {})).toEqual({ ok: true, changed: false });
  });

  it('leaves another filter on the ingress hook, and the hook with it', async () => {
    const k = scripted({ ...SHAPED, [READ.vethFilters]: fixture('veth-filters-cni-and-ours.json') });
    expect(await shaperWith(k.run).apply(UID, VETH, { ingressBps: 20_000_000 })).toEqual({
      ok: true,
      changed: true,
    });
    expect(k.writes()).toEqual([UNREDIRECT, `ip link del dev ${IFB}`]);
  });

  it('never replaces a root qdisc that is someone else’s (the CNI plugin’s htb)', async () => {
    const cni = {
      ...FRESH,
      [READ.vethQdiscs]: fixture('veth-qdiscs-cni-htb-clsact.json'),
      [READ.vethFilters]: '[]',
    };
    const k = scripted(cni);
    const result = await shaperWith(k.run).apply(UID, VETH, { ingressBps: 20_000_000 });
    expect(result).toEqual({
      ok: false,
      reason: 'tc-failed',
      device: VETH,
      message: `root qdisc htb 1: on ${VETH} is not ioplace's (the CNI bandwidth plugin's?): left alone`,
    });
    expect(k.writes()).toEqual([]);
  });

  it('shapes egress beside the CNI plugin’s ingress shaping, on an existing clsact hook', async () => {
    const cni = {
      ...FRESH,
      [READ.vethQdiscs]: fixture('veth-qdiscs-cni-htb-clsact.json'),
      [READ.vethFilters]: '[]',
    };
    const k = scripted(cni);
    expect(await shaperWith(k.run).apply(UID, VETH, { egressBps: 10_000_000 })).toEqual({
      ok: true,
      changed: true,
    });
    expect(k.writes()).toEqual([
      `ip link add name ${IFB} mtu 1500 type ifb`,
      `ip link set dev ${IFB} up`,
      TBF_IFB_10M,
      REDIRECT,
    ]);
    // …and lifting it leaves the clsact (eBPF datapaths own those).
    const lifted = scripted({
      ...cni,
      [READ.vethFilters]: fixture('veth-filters-redirect.json'),
      [READ.ifb]: fixture('ifb-link.json'),
    });
    expect(await shaperWith(lifted.run).apply(UID, VETH, {})).toEqual({ ok: true, changed: true });
    expect(lifted.writes()).toEqual([UNREDIRECT, `ip link del dev ${IFB}`]);
  });

  it('puts back a redirect that points elsewhere', async () => {
    const elsewhere = fixture('veth-filters-redirect.json').replaceAll(IFB, 'ioplffffffffff0');
    const k = scripted({ ...SHAPED, [READ.vethFilters]: elsewhere });
    expect(await shaperWith(k.run).apply(UID, VETH, LIMITS)).toEqual({ ok: true, changed: true });
    expect(k.writes()).toEqual([UNREDIRECT, REDIRECT]);
  });

  it('fixes the ifb’s MTU and brings it up', async () => {
    const jumbo = fixture('veth-link.json').replace('"mtu":1500', '"mtu":9000');
    const down = fixture('ifb-link.json').replace('"UP",', '');
    const k = scripted({ ...SHAPED, [READ.veth]: jumbo, [READ.ifb]: down });
    expect(await shaperWith(k.run).apply(UID, VETH, LIMITS)).toEqual({ ok: true, changed: true });
    expect(k.writes()).toEqual([`ip link set dev ${IFB} mtu 9000`, `ip link set dev ${IFB} up`]);
  });

  it('refuses an ifb name held by a device of another kind', async () => {
    const dummy = fixture('ifb-link.json').replace('"info_kind":"ifb"', '"info_kind":"dummy"');
    const k = scripted({ ...FRESH, [READ.ifb]: dummy });
    expect(await shaperWith(k.run).apply(UID, VETH, LIMITS)).toEqual({
      ok: false,
      reason: 'tc-failed',
      device: IFB,
      message: `${IFB} exists and is not an ifb device (dummy)`,
    });
    expect(k.writes()).toEqual([TBF_VETH_20M]);
  });

  it.each([
    [{ ingressBps: 0 }, /ingress: 0 bit\/s: a rate must be positive/],
    [{ egressBps: -1 }, /egress: -1 bit\/s/],
    [{ ingressBps: Number.NaN }, /ingress: NaN is not a rate/],
    [{ egressBps: Number.POSITIVE_INFINITY }, /not a rate/],
    [{ ingressBps: 1e6 + 0.5 }, /whole number/],
    [{ ingressBps: 1e18 }, /above what tbf shapes/],
    [{ ingressBps: 20e6, egressBps: 100 }, /egress: 100 bit\/s is below/],
  ])('answers invalid-demand for %j without running anything', async (limits, message) => {
    const k = scripted(FRESH);
    const result = await shaperWith(k.run).apply(UID, VETH, limits);
    expect(result).toMatchObject({ ok: false, reason: 'invalid-demand', device: VETH });
    expect(result.ok ? '' : result.message).toMatch(message);
    expect(k.calls).toEqual([]);
  });

  it('answers invalid-demand for an empty key', async () => {
    const k = scripted(FRESH);
    expect(await shaperWith(k.run).apply('', VETH, LIMITS)).toMatchObject({
      ok: false,
      reason: 'invalid-demand',
    });
    expect(k.calls).toEqual([]);
  });

  it('answers veth-not-found for a veth that is gone, or a name no interface can have', async () => {
    const k = scripted({ [READ.veth]: missingLink(VETH) });
    expect(await shaperWith(k.run).apply(UID, VETH, LIMITS)).toEqual({
      ok: false,
      reason: 'veth-not-found',
      device: VETH,
      message: `${VETH} does not exist`,
    });
    expect(k.writes()).toEqual([]);
    for (const bad of ['', 'a/b', '-x', 'x'.repeat(16)]) {
      const b = scripted({});
      expect(await shaperWith(b.run).apply(UID, bad, LIMITS)).toMatchObject({
        ok: false,
        reason: 'veth-not-found',
      });
      expect(b.calls).toEqual([]);
    }
  });

  it('answers veth-not-found when the veth goes in the middle', async () => {
    const k = scripted(FRESH, { [TBF_VETH_20M]: `Cannot find device "${VETH}"` });
    expect(await shaperWith(k.run).apply(UID, VETH, LIMITS)).toMatchObject({
      ok: false,
      reason: 'veth-not-found',
      device: VETH,
    });
  });

  it('answers tc-failed with the device and what tc said, and stops there', async () => {
    const k = scripted(FRESH, { [TBF_IFB_10M]: 'Error: Specified qdisc kind is unknown.' });
    const result = await shaperWith(k.run).apply(UID, VETH, LIMITS);
    expect(result).toEqual({
      ok: false,
      reason: 'tc-failed',
      device: IFB,
      message: `${TBF_IFB_10M}: Error: Specified qdisc kind is unknown.`,
    });
    expect(k.writes().at(-1)).toBe(TBF_IFB_10M);
  });

  it('answers tc-failed when tc is not installed or prints something else than JSON', async () => {
    const missing = await shaperWith(async (file, args) => {
      throw new CommandError(file, args, 'ENOENT', `${file}: not found (is it installed?)`);
    }).apply(UID, VETH, LIMITS);
    expect(missing).toMatchObject({
      ok: false,
      reason: 'tc-failed',
      device: VETH,
      message: expect.stringMatching(/not found/),
    });
    const k = scripted({ ...FRESH, [READ.vethQdiscs]: 'qdisc noqueue 0: root refcnt 2\n' });
    expect(await shaperWith(k.run).apply(UID, VETH, LIMITS)).toMatchObject({
      ok: false,
      reason: 'tc-failed',
      device: VETH,
    });
  });

  it('runs the calls for one key one after the other', async () => {
    const log: string[] = [];
    const k = scripted(FRESH);
    const slow: CommandRunner = async (file, args) => {
      log.push(args.join(' '));
      await new Promise((r) => setTimeout(r, 1));
      return k.run(file, args);
    };
    const shaper = shaperWith(slow);
    const [a, b] = await Promise.all([shaper.apply(UID, VETH, LIMITS), shaper.remove(UID, undefined)]);
    expect(a).toEqual({ ok: true, changed: true });
    expect(b.ok).toBe(true);
    // apply's nine commands first, then remove's read of the ifb (which the script says is absent).
    expect(log).toHaveLength(10);
    expect(log[8]).toMatch(/^filter add/);
    expect(log[9]).toBe(`-j -d link show dev ${IFB}`);
  });
});

describe('BandwidthShaper.read', () => {
  it('reads what is in force, in bits per second', async () => {
    expect(await shaperWith(scripted(SHAPED).run).read(UID, VETH)).toEqual(LIMITS);
    expect(await shaperWith(scripted(SHAPED).run).readLimits(UID, VETH)).toEqual({
      ok: true,
      limits: LIMITS,
    });
  });

  it('reads nothing of a fresh veth, and nothing of egress without its ifb', async () => {
    expect(await shaperWith(scripted({ ...FRESH }).run).read(UID, VETH)).toEqual({});
    const noIfb = scripted({ ...SHAPED, [READ.ifb]: missingLink(IFB) });
    expect(await shaperWith(noIfb.run).read(UID, VETH)).toEqual({ ingressBps: 20_000_000 });
  });

  it('reads nothing of another pod’s ifb, nor of a tbf that is not ours', async () => {
    expect(await shaperWith(scripted(SHAPED).run).read('another-pod', VETH)).toEqual({
      ingressBps: 20_000_000,
    });
    const cni = scripted({
      ...FRESH,
      [READ.vethQdiscs]: fixture('veth-qdiscs-cni-htb-clsact.json'),
      [READ.vethFilters]: '[]',
    });
    expect(await shaperWith(cni.run).read(UID, VETH)).toEqual({});
  });

  it('reads {} of a veth that is gone; readLimits says veth-not-found', async () => {
    const gone = { [READ.veth]: missingLink(VETH) };
    expect(await shaperWith(scripted(gone).run).read(UID, VETH)).toEqual({});
    expect(await shaperWith(scripted(gone).run).readLimits(UID, VETH)).toMatchObject({
      ok: false,
      reason: 'veth-not-found',
    });
  });

  it('throws when tc fails (readLimits answers tc-failed)', async () => {
    const broken = { ...SHAPED, [READ.vethQdiscs]: { fail: 'RTNETLINK answers: Operation not permitted' } };
    await expect(shaperWith(scripted(broken).run).read(UID, VETH)).rejects.toThrow(/Operation not permitted/);
    expect(await shaperWith(scripted(broken).run).readLimits(UID, VETH)).toMatchObject({
      ok: false,
      reason: 'tc-failed',
      device: VETH,
    });
  });
});

describe('BandwidthShaper.remove', () => {
  it('removes the root tbf, the redirect, the ingress qdisc and the ifb', async () => {
    const k = scripted(SHAPED);
    expect(await shaperWith(k.run).remove(UID, VETH)).toEqual({ ok: true, changed: true });
    expect(k.writes()).toEqual([
      `tc qdisc del dev ${VETH} root`,
      UNREDIRECT,
      `tc qdisc del dev ${VETH} ingress`,
      `ip link del dev ${IFB}`,
    ]);
  });

  it('removes the ifb alone when the veth is gone or not known', async () => {
    for (const veth of [undefined, VETH]) {
      const k = scripted({ [READ.veth]: missingLink(VETH), [READ.ifb]: fixture('ifb-link.json') });
      expect(await shaperWith(k.run).remove(UID, veth)).toEqual({ ok: true, changed: true });
      expect(k.writes()).toEqual([`ip link del dev ${IFB}`]);
    }
  });

  it('changes nothing when nothing is there, and takes an ifb that vanished meanwhile', async () => {
    const k = scripted(FRESH);
    expect(await shaperWith(k.run).remove(UID, VETH)).toEqual({ ok: true, changed: false });
    const raced = scripted(
      { [READ.ifb]: fixture('ifb-link.json') },
      { [`ip link del dev ${IFB}`]: 'Cannot find device "x"' },
    );
    expect(await shaperWith(raced.run).remove(UID, undefined)).toEqual({ ok: true, changed: false });
  });

  it('answers tc-failed when a delete fails', async () => {
    const k = scripted(SHAPED, {
      [`tc qdisc del dev ${VETH} root`]: 'RTNETLINK answers: Operation not permitted',
    });
    expect(await shaperWith(k.run).remove(UID, VETH)).toMatchObject({
      ok: false,
      reason: 'tc-failed',
      device: VETH,
    });
  });
});

describe('BandwidthShaper.hostVeth', () => {
  const trees = fileTrees('ioplace-shaper-');
  afterEach(() => trees.cleanup());

  it('finds the peer of the pod’s eth0 under sysRoot', async () => {
    const sysRoot = trees.make({
      'class/net/lo/ifindex': '1\n',
      'class/net/lo/iflink': '1\n',
      [`class/net/${VETH}/ifindex`]: '2\n',
      [`class/net/${VETH}/iflink`]: '2\n',
    });
    const k = scripted({
      'nsenter --net=/proc/42/ns/net -- ip -j link show dev eth0': fixture('pod-eth0-link.json'),
    });
    const shaper = new BandwidthShaper({ procRoot: '/proc', sysRoot, run: k.run });
    expect(await shaper.hostVeth(shaper.netnsOf(42))).toBe(VETH);
    expect(await shaper.findHostVeth('/proc/42/ns/net')).toEqual({ ok: true, device: VETH });
  });

  it('answers undefined (veth-not-found) when not found, and tc-failed when the namespace cannot be entered', async () => {
    const sysRoot = trees.make({ 'class/net/lo/ifindex': '1\n' });
    const gone = scripted({
      'nsenter --net=/proc/42/ns/net -- ip -j link show dev eth0': fixture('pod-eth0-link.json'),
    });
    const shaper = new BandwidthShaper({ procRoot: '/proc', sysRoot, run: gone.run });
    expect(await shaper.hostVeth('/proc/42/ns/net')).toBeUndefined();
    expect(await shaper.findHostVeth('/proc/42/ns/net')).toMatchObject({
      ok: false,
      reason: 'veth-not-found',
    });

    const eperm = "nsenter: reassociate to namespace 'ns/net' failed: Operation not permitted";
    const denied = scripted({ 'nsenter --net=/proc/42/ns/net -- ip -j link show dev eth0': { fail: eperm } });
    const s2 = new BandwidthShaper({ procRoot: '/proc', sysRoot, run: denied.run });
    await expect(s2.hostVeth('/proc/42/ns/net')).rejects.toThrow(/Operation not permitted/);
    expect(await s2.findHostVeth('/proc/42/ns/net')).toMatchObject({ ok: false, reason: 'tc-failed' });
  });
});

describe('new BandwidthShaper', () => {
  it('rejects missing roots and a bad pod interface name', () => {
    expect(() => new BandwidthShaper({ procRoot: '', sysRoot: '/sys' })).toThrow(/procRoot/);
    expect(() => new BandwidthShaper({ procRoot: '/proc', sysRoot: '' })).toThrow(/sysRoot/);
    expect(() => new BandwidthShaper({ procRoot: '/proc', sysRoot: '/sys', podInterface: 'a/b' })).toThrow(
      /pod interface/,
    );
  });
});
