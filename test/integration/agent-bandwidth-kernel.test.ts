import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BandwidthShaper, ifbDeviceName } from '../../src/agent/enforce/bandwidth-shaper.js';
import { type CommandRunner, execFileRunner } from '../../src/agent/enforce/tc-command.js';

/**
 * BandwidthShaper against this machine's kernel, without touching its network: a "host" and a
 * "pod" network namespace made for the test, joined by a veth whose pod end is eth0. Every
 * command of the shaper runs inside the host namespace (its runner wraps them in nsenter), and
 * its sysRoot is a sysfs mounted from there. TCP streams between the two, made by a small Node
 * script, measure what each direction gets before shaping, with it, and after removal.
 */

const ID = `${process.pid}`;
const HOST_NS = `iopl-bwt-h-${ID}`;
const POD_NS = `iopl-bwt-p-${ID}`;
const HOST_VETH = 'vethbwt0';
const HOST_ADDR = '10.251.0.1';
const POD_ADDR = '10.251.0.2';
const POD_UID = `3f0c1f9e-bwt-${ID}`;

const INGRESS_BPS = 20_000_000;
const EGRESS_BPS = 10_000_000;
const SHAPED_SECONDS = 1;
const UNSHAPED_SECONDS = 0.3;

function sh(file: string, args: readonly string[]): string {
  return execFileSync(file, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inNs(ns: string, file: string, args: readonly string[]): string {
  return sh('nsenter', [`--net=/run/netns/${ns}`, '--', file, ...args]);
}

function tryRun(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return (e.stderr?.trim() || e.message).split('\n')[0];
  }
}

/** Why this test cannot run here, or undefined when it can. */
function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root (ip netns, tc)';
  for (const tool of ['ip', 'tc', 'nsenter']) {
    const missing = tryRun(() => sh(tool, ['-V']));
    if (missing !== undefined) return `${tool} not usable: ${missing}`;
  }
  const probe = `iopl-bwt-probe-${ID}`;
  const refused = tryRun(() => sh('ip', ['netns', 'add', probe]));
  if (refused !== undefined) return `ip netns add refused: ${refused}`;
  try {
    const noIfb = tryRun(() => inNs(probe, 'ip', ['link', 'add', 'probe0', 'type', 'ifb']));
    if (noIfb !== undefined) return `no ifb devices: ${noIfb}`;
  } finally {
    tryRun(() => sh('ip', ['netns', 'del', probe]));
  }
  return undefined;
}

const skipReason = whyNot();

/** Receives (recv) or sends (send) one TCP stream; recv prints {bytes, seconds} after `seconds`. */
const METER = `
import net from 'node:net';
const [mode, host, port, seconds] = process.argv.slice(2);
setTimeout(() => process.exit(3), 15000).unref();
if (mode === 'recv') {
  const server = net.createServer((sock) => {
    let start;
    let bytes = 0;
    sock.on('data', (chunk) => {
      if (start !== undefined) { bytes += chunk.length; return; }
      start = process.hrtime.bigint();
      setTimeout(() => {
        const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
        process.stdout.write(JSON.stringify({ bytes, seconds: elapsed }) + '\\n', () => process.exit(0));
      }, Number(seconds) * 1000);
    });
    sock.on('error', () => {});
  });
  server.listen(Number(port), host, () => process.stdout.write('listening\\n'));
} else {
  const chunk = Buffer.alloc(65536, 7);
  const sock = net.connect(Number(port), host, () => {
    const pump = () => { while (sock.write(chunk)) {} };
    sock.on('drain', pump);
    pump();
  });
  sock.on('error', () => process.exit(0));
  sock.on('close', () => process.exit(0));
}
`;

describe.skipIf(skipReason !== undefined)(
  `bandwidth shaping on this kernel${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let dir = '';
    let sysRoot = '';
    let mounted = false;
    let meter = '';
    let port = 15_201;
    const children = new Set<ChildProcess>();
    let shaper: BandwidthShaper;
    /** The shaper's commands, run in the test's host namespace. */
    const base = execFileRunner();
    const inHost: CommandRunner = (file, args) =>
      base('nsenter', [`--net=/run/netns/${HOST_NS}`, '--', file, ...args]);

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'ioplace-bwt-'));
      meter = join(dir, 'meter.mjs');
      writeFileSync(meter, METER);
      sh('ip', ['netns', 'add', HOST_NS]);
      sh('ip', ['netns', 'add', POD_NS]);
      inNs(HOST_NS, 'ip', [
        'link',
        'add',
        HOST_VETH,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        POD_NS,
      ]);
      inNs(HOST_NS, 'ip', ['addr', 'add', `${HOST_ADDR}/30`, 'dev', HOST_VETH]);
      inNs(HOST_NS, 'ip', ['link', 'set', HOST_VETH, 'up']);
      inNs(HOST_NS, 'ip', ['link', 'set', 'lo', 'up']);
      inNs(POD_NS, 'ip', ['addr', 'add', `${POD_ADDR}/30`, 'dev', 'eth0']);
      inNs(POD_NS, 'ip', ['link', 'set', 'eth0', 'up']);
      inNs(POD_NS, 'ip', ['link', 'set', 'lo', 'up']);
      // sysfs shows the network namespace of whoever mounts it: this one lists the host ns's devices.
      sysRoot = join(dir, 'sys');
      mkdirSync(sysRoot);
      inNs(HOST_NS, 'mount', ['-t', 'sysfs', 'sysfs', sysRoot]);
      mounted = true;
      shaper = new BandwidthShaper({ procRoot: '/proc', sysRoot, run: inHost });
    });

    afterAll(() => {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (mounted) tryRun(() => sh('umount', ['-l', sysRoot]));
      tryRun(() => sh('ip', ['netns', 'del', POD_NS]));
      tryRun(() => sh('ip', ['netns', 'del', HOST_NS]));
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    function start(ns: string, args: readonly string[]): ChildProcess {
      const child = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', process.execPath, meter, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      return child;
    }

    function nextLine(child: ChildProcess): Promise<string> {
      return new Promise((resolve, reject) => {
        let text = '';
        let err = '';
        const onData = (b: Buffer) => {
          text += b.toString();
          const nl = text.indexOf('\n');
          if (nl < 0) return;
          child.stdout?.off('data', onData);
          resolve(text.slice(0, nl));
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', (b: Buffer) => {
          err += b.toString();
        });
        child.once('exit', (code) => reject(new Error(`meter exited ${code}: ${err}`)));
      });
    }

    /** Bits per second of a TCP stream from `fromNs` to `toAddr` in `toNs`, over `seconds`. */
    async function stream(fromNs: string, toNs: string, toAddr: string, seconds: number): Promise<number> {
      const p = String(port++);
      const receiver = start(toNs, ['recv', toAddr, p, String(seconds)]);
      expect(await nextLine(receiver)).toBe('listening');
      const sender = start(fromNs, ['send', toAddr, p]);
      try {
        const { bytes, seconds: elapsed } = JSON.parse(await nextLine(receiver)) as {
          bytes: number;
          seconds: number;
        };
        return (bytes * 8) / elapsed;
      } finally {
        sender.kill('SIGKILL');
        receiver.kill('SIGKILL');
      }
    }

    const toPod = (s: number) => stream(HOST_NS, POD_NS, POD_ADDR, s);
    const fromPod = (s: number) => stream(POD_NS, HOST_NS, HOST_ADDR, s);
    const ifb = ifbDeviceName(POD_UID);
    const mbit = (bps: number) => `${(bps / 1e6).toFixed(1)} Mbit/s`;
    const report = (what: string, bps: number) => {
      if (process.env.IOPLACE_BW_REPORT) process.stderr.write(`${what}: ${mbit(bps)}\n`);
    };

    it('finds the host veth from the pod network namespace', async () => {
      expect(await shaper.hostVeth(`/run/netns/${POD_NS}`)).toBe(HOST_VETH);
      // The host namespace has no eth0: nothing to find, no throw.
      expect(await shaper.hostVeth(`/run/netns/${HOST_NS}`)).toBeUndefined();
      expect(await shaper.hostVeth(join(dir, 'no-such-netns'))).toBeUndefined();
      expect(await shaper.findHostVeth(`/run/netns/${POD_NS}`)).toEqual({ ok: true, device: HOST_VETH });
    });

    it('shapes each direction to about its limit, and changes nothing the second time', async () => {
      const freeIn = await toPod(UNSHAPED_SECONDS);
      const freeOut = await fromPod(UNSHAPED_SECONDS);
      report('unshaped to pod', freeIn);
      report('unshaped from pod', freeOut);

      const limits = { ingressBps: INGRESS_BPS, egressBps: EGRESS_BPS };
      expect(await shaper.apply(POD_UID, HOST_VETH, limits)).toEqual({ ok: true, changed: true });
      expect(await shaper.apply(POD_UID, HOST_VETH, limits)).toEqual({ ok: true, changed: false });
      expect(await shaper.read(POD_UID, HOST_VETH)).toEqual(limits);
      expect(JSON.parse(inNs(HOST_NS, 'ip', ['-j', '-d', 'link', 'show', 'dev', ifb]))[0]).toMatchObject({
        mtu: 1500,
        linkinfo: { info_kind: 'ifb' },
      });

      const shapedIn = await toPod(SHAPED_SECONDS);
      const shapedOut = await fromPod(SHAPED_SECONDS);
      report(`shaped to pod (limit ${mbit(INGRESS_BPS)})`, shapedIn);
      report(`shaped from pod (limit ${mbit(EGRESS_BPS)})`, shapedOut);
      expect(shapedIn, `to pod ${mbit(shapedIn)}`).toBeLessThanOrEqual(INGRESS_BPS * 1.2);
      expect(shapedIn, `to pod ${mbit(shapedIn)}`).toBeGreaterThanOrEqual(INGRESS_BPS * 0.5);
      expect(shapedOut, `from pod ${mbit(shapedOut)}`).toBeLessThanOrEqual(EGRESS_BPS * 1.2);
      // The pod's egress gets no backpressure (its packets have left its socket when the ifb's tbf
      // holds them): a full queue drops, and a TCP loss recovery can cost a good part of a second.
      expect(shapedOut, `from pod ${mbit(shapedOut)}`).toBeGreaterThanOrEqual(EGRESS_BPS * 0.4);
      expect(freeIn, `unshaped to pod ${mbit(freeIn)}`).toBeGreaterThan(INGRESS_BPS * 5);
      expect(freeOut, `unshaped from pod ${mbit(freeOut)}`).toBeGreaterThan(EGRESS_BPS * 5);
    });

    it('lifts one direction, then removes everything, and the stream runs free again', async () => {
      // Egress lifted: the redirect, the ingress qdisc and the ifb go; the ingress tbf stays.
      expect(await shaper.apply(POD_UID, HOST_VETH, { ingressBps: INGRESS_BPS })).toEqual({
        ok: true,
        changed: true,
      });
      expect(await shaper.read(POD_UID, HOST_VETH)).toEqual({ ingressBps: INGRESS_BPS });
      expect(inNs(HOST_NS, 'ip', ['-j', 'link', 'show', 'type', 'ifb']).trim()).toMatch(/^(\[\])?$/);

      expect(await shaper.remove(POD_UID, HOST_VETH)).toEqual({ ok: true, changed: true });
      expect(await shaper.remove(POD_UID, HOST_VETH)).toEqual({ ok: true, changed: false });
      expect(await shaper.read(POD_UID, HOST_VETH)).toEqual({});
      const qdiscs = JSON.parse(inNs(HOST_NS, 'tc', ['-j', 'qdisc', 'show', 'dev', HOST_VETH])) as {
        kind: string;
      }[];
      expect(qdiscs.map((q) => q.kind)).toEqual(['noqueue']);
      expect(
        JSON.parse(inNs(HOST_NS, 'tc', ['-j', 'filter', 'show', 'dev', HOST_VETH, 'ingress']) || '[]'),
      ).toEqual([]);
      expect(inNs(HOST_NS, 'ip', ['-j', 'link', 'show', 'type', 'ifb']).trim()).toMatch(/^(\[\])?$/);

      const afterIn = await toPod(UNSHAPED_SECONDS);
      report('after remove, to pod', afterIn);
      expect(afterIn, `after remove ${mbit(afterIn)}`).toBeGreaterThan(INGRESS_BPS * 5);
    });

    it('removes the ifb of a pod whose veth is gone', async () => {
      expect(await shaper.apply(POD_UID, HOST_VETH, { egressBps: EGRESS_BPS })).toEqual({
        ok: true,
        changed: true,
      });
      expect(inNs(HOST_NS, 'ip', ['-j', 'link', 'show', 'dev', ifb])).toContain(ifb);
      expect(await shaper.remove(POD_UID, undefined)).toEqual({ ok: true, changed: true });
      expect(inNs(HOST_NS, 'ip', ['-j', 'link', 'show', 'type', 'ifb']).trim()).toMatch(/^(\[\])?$/);
      // The redirect is still on the veth (its pod is not gone here): an apply without egress takes it off.
      expect(await shaper.apply(POD_UID, HOST_VETH, {})).toEqual({ ok: true, changed: true });
      expect(JSON.parse(inNs(HOST_NS, 'tc', ['-j', 'qdisc', 'show', 'dev', HOST_VETH]))).toHaveLength(1);
    });
  },
);
