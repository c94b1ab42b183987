import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readBlockDevices, sysfsBlockName, VIRTUAL_DEVICE_PATTERNS } from '../../src/agent/block-devices.js';
import { measure } from '../../src/agent/measurement.js';
import {
  matchesAny,
  parseNetDev,
  readInterfaces,
  VIRTUAL_INTERFACE_PATTERNS,
} from '../../src/agent/net-interfaces.js';
import { type SampleSources, takeSample } from '../../src/agent/sample.js';

/**
 * The agent against this machine's own /proc and /sys. Nothing is assumed about which NICs or
 * disks exist (CI runners, containers and laptops differ); only the shape and the invariants.
 */
const HOST: SampleSources = {
  procRoot: '/proc',
  sysRoot: '/sys',
  interfaces: { include: [], exclude: [] },
  devices: { include: [], exclude: [] },
};

const hasHostFiles =
  existsSync('/proc/net/dev') && existsSync('/proc/diskstats') && existsSync('/sys/class/net');

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

describe.runIf(hasHostFiles)('the agent on this host', () => {
  it('takes two samples and measures them', async () => {
    const first = await takeSample(HOST, Date.now());
    await sleep(250);
    const second = await takeSample(HOST, Date.now());

    for (const s of [first, second]) {
      expect(s.interfaces.has('lo')).toBe(false);
      for (const [name, nic] of s.interfaces) {
        expect(matchesAny(name, VIRTUAL_INTERFACE_PATTERNS), name).toBe(false);
        expect(exists(`/sys/class/net/${name}/device`), name).toBe(true);
        expect(nic.rxBytes >= 0n && nic.txBytes >= 0n).toBe(true);
        if (nic.speedMbps !== undefined)
          expect(Number.isInteger(nic.speedMbps) && nic.speedMbps > 0).toBe(true);
      }
      for (const [name, disk] of s.devices) {
        const dir = `/sys/block/${sysfsBlockName(name)}`;
        expect(exists(dir), `${name} is whole`).toBe(true);
        expect(exists(`${dir}/device`), `${name} is physical`).toBe(true);
        expect(matchesAny(name, VIRTUAL_DEVICE_PATTERNS), name).toBe(false);
        expect(disk.ios >= 0n).toBe(true);
      }
    }

    const m = measure(first, second, { networkCapacityBps: 1e9, iopsCapacity: 1000 });
    expect(m.interfaces).toEqual([...second.interfaces.keys()].sort());
    expect(m.devices).toEqual([...second.devices.keys()].sort());
    for (const value of Object.values(m.usage)) {
      expect(Number.isInteger(value), String(value)).toBe(true);
      expect(value).toBeGreaterThanOrEqual(0);
    }
    for (const value of Object.values(m.capacity)) {
      expect(Number.isFinite(value) && value >= 0).toBe(true);
    }
    if ([...second.interfaces.keys()].some((n) => first.interfaces.has(n))) {
      expect(m.usage.ingressBandwidth).toBeDefined();
      expect(m.usage.egressBandwidth).toBeDefined();
    }
    if ([...second.devices.keys()].some((n) => first.devices.has(n))) expect(m.usage.iops).toBeDefined();
    if ([...second.interfaces.values()].some((n) => n.up))
      expect(m.capacity.ingressBandwidth).toBeGreaterThan(0);
    expect(m.capacity.iops).toBe(1000);
  });

  it('selects every NIC that has a device and a non-virtual name', async () => {
    const got = await readInterfaces('/proc', '/sys', HOST.interfaces);
    // /proc/net/dev shows the reader's network namespace, /sys/class/net the one sysfs was mounted
    // in; on a host (or a hostNetwork pod) they agree, so compare over the names in both
    const inProc = parseNetDev(readFileSync('/proc/net/dev', 'utf8'));
    const expected = readdirSync('/sys/class/net').filter(
      (n) =>
        inProc.has(n) && !matchesAny(n, VIRTUAL_INTERFACE_PATTERNS) && exists(`/sys/class/net/${n}/device`),
    );
    expect([...got.keys()].sort()).toEqual(expected.sort());
  });

  it.runIf(exists('/sys/class/net/lo'))(
    'lo can be included; its speed (EINVAL on read) is unknown',
    async () => {
      const got = await readInterfaces('/proc', '/sys', { include: ['lo'], exclude: [] });
      expect([...got.keys()]).toEqual(['lo']);
      expect(got.get('lo')?.speedMbps).toBeUndefined();
    },
  );

  it('include of every block device reads the whole of /proc/diskstats', async () => {
    const all = await readBlockDevices('/proc', '/sys', { include: ['*'], exclude: [] });
    const auto = await readBlockDevices('/proc', '/sys', HOST.devices);
    for (const name of auto.keys()) expect(all.has(name), name).toBe(true);
  });
});
