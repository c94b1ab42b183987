import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceCounters } from '../../../src/agent/block-devices.js';
import { counterDelta, type MeasureOptions, measure } from '../../../src/agent/measurement.js';
import type { InterfaceCounters } from '../../../src/agent/net-interfaces.js';
import { type CounterSample, type SampleSources, takeSample } from '../../../src/agent/sample.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/agent/', import.meta.url));

const TWO_32 = 2n ** 32n;

type Nic = Partial<InterfaceCounters>;

function nic(n: Nic = {}): InterfaceCounters {
  return { rxBytes: 0n, txBytes: 0n, speedMbps: 10_000, up: true, ...n };
}

function sample(
  at: number,
  interfaces: Record<string, Nic> = {},
  devices: Record<string, bigint> = {},
): CounterSample {
  return {
    at,
    interfaces: new Map(Object.entries(interfaces).map(([k, v]) => [k, nic(v)])),
    devices: new Map(Object.entries(devices).map(([k, ios]): [string, DeviceCounters] => [k, { ios }])),
  };
}

describe('counterDelta', () => {
  it.each([
    { name: 'advanced', previous: 100n, current: 350n, delta: 250n, kind: 'normal' },
    { name: 'unchanged', previous: 100n, current: 100n, delta: 0n, kind: 'normal' },
    { name: 'from zero', previous: 0n, current: 7n, delta: 7n, kind: 'normal' },
    {
      name: 'above 2^53',
      previous: 2n ** 60n + 1n,
      current: 2n ** 60n + 1001n,
      delta: 1000n,
      kind: 'normal',
    },
    { name: '32-bit wrap', previous: TWO_32 - 100n, current: 50n, delta: 150n, kind: 'wrapped' },
    { name: '32-bit wrap to zero', previous: TWO_32 - 1n, current: 0n, delta: 1n, kind: 'wrapped' },
    { name: 'backwards from 2^32: reset', previous: TWO_32, current: 10n, delta: 10n, kind: 'reset' },
    { name: '64-bit backwards: reset', previous: 2n ** 40n, current: 500n, delta: 500n, kind: 'reset' },
    { name: 'near 2^64 backwards: reset', previous: 2n ** 64n - 1n, current: 0n, delta: 0n, kind: 'reset' },
  ])('$name: delta $delta ($kind)', ({ previous, current, delta, kind }) => {
    expect(counterDelta(previous, current)).toEqual({ delta, kind });
  });
});

type CapacityCase = {
  name: string;
  nics: Record<string, Nic>;
  options: MeasureOptions;
  bandwidth: number | undefined;
  notes: string[];
};

describe('measure: capacity', () => {
  it.each<CapacityCase>([
    {
      name: 'one 10G link',
      nics: { eth0: {} },
      options: {},
      bandwidth: 10e9,
      notes: [],
    },
    {
      name: 'links add up (bond slaves)',
      nics: { eno1: { speedMbps: 25_000 }, ens1f0: {}, ens1f1: {} },
      options: {},
      bandwidth: 45e9,
      notes: [],
    },
    {
      name: 'a link going down drops out',
      nics: { eth0: { speedMbps: 25_000 }, eth1: { up: false } },
      options: {},
      bandwidth: 25e9,
      notes: ['eth1: link down, not counted in capacity'],
    },
    {
      name: 'an up link of unknown speed adds nothing; the fallback is not used',
      nics: { eth0: { speedMbps: 1000 }, eth1: { speedMbps: undefined } },
      options: { networkCapacityBps: 5e9 },
      bandwidth: 1e9,
      notes: ['eth1: link speed unknown'],
    },
    {
      name: 'no up link knows its speed: the fallback',
      nics: { eth0: { speedMbps: undefined } },
      options: { networkCapacityBps: 5e9 },
      bandwidth: 5e9,
      notes: [
        'eth0: link speed unknown',
        'network capacity 5Gbit/s from the configured fallback: no up interface reports its link speed',
      ],
    },
    {
      name: 'no up link knows its speed, no fallback: unknown',
      nics: { eth0: { speedMbps: undefined } },
      options: {},
      bandwidth: undefined,
      notes: [
        'eth0: link speed unknown',
        'network capacity unknown: no up interface reports its link speed and no fallback is configured',
      ],
    },
    {
      name: 'every link down: unknown, even with a fallback',
      nics: { eth0: { up: false } },
      options: { networkCapacityBps: 5e9 },
      bandwidth: undefined,
      notes: [
        'eth0: link down, not counted in capacity',
        'network capacity unknown: no selected interface is up',
      ],
    },
    {
      name: 'no interface at all: unknown',
      nics: {},
      options: { networkCapacityBps: 5e9 },
      bandwidth: undefined,
      notes: ['network capacity unknown: no network interface selected'],
    },
  ])('$name', ({ nics, options, bandwidth, notes }) => {
    const m = measure(undefined, sample(0, nics, { sda: 0n }), { iopsCapacity: 1000, ...options });
    expect(m.capacity).toEqual(
      bandwidth === undefined
        ? { iops: 1000 }
        : { ingressBandwidth: bandwidth, egressBandwidth: bandwidth, iops: 1000 },
    );
    expect(m.notes).toEqual([...notes, 'first sample: usage needs a previous one']);
  });

  it('iops capacity is the option, or left out with a note', () => {
    expect(measure(undefined, sample(0, {}, { sda: 0n }), { iopsCapacity: 0 }).capacity).toEqual({ iops: 0 });
    const m = measure(undefined, sample(0, { eth0: {} }, { sda: 0n }), {});
    expect(m.capacity).toEqual({ ingressBandwidth: 10e9, egressBandwidth: 10e9 });
    expect(m.notes).toContain('iops capacity unknown: not configured (it cannot be measured passively)');
  });

  it.each([
    { name: 'negative bandwidth', options: { networkCapacityBps: -1 } },
    { name: 'NaN bandwidth', options: { networkCapacityBps: Number.NaN } },
    { name: 'infinite iops', options: { iopsCapacity: Number.POSITIVE_INFINITY } },
    { name: 'iops above MAX_AMOUNT', options: { iopsCapacity: 1e19 } },
  ])('refuses $name', ({ options }) => {
    expect(() => measure(undefined, sample(0), options)).toThrow(RangeError);
  });
});

describe('measure: usage', () => {
  const OPTIONS = { iopsCapacity: 10_000 };

  it('bits per second each way and IOPS over the elapsed time', () => {
    const before = sample(1_000, { eth0: { rxBytes: 1000n, txBytes: 2000n } }, { sda: 100n, sdb: 5n });
    const after = sample(
      11_000,
      { eth0: { rxBytes: 1000n + 1_250_000_000n, txBytes: 2000n + 125_000_000n } },
      { sda: 100n + 15_000n, sdb: 5n + 5_000n },
    );
    const m = measure(before, after, OPTIONS);
    expect(m.usage).toEqual({ ingressBandwidth: 1e9, egressBandwidth: 1e8, iops: 2000 });
    expect(m.interfaces).toEqual(['eth0']);
    expect(m.devices).toEqual(['sda', 'sdb']);
    expect(m.notes).toEqual([]);
  });

  it('sums interfaces and devices, and reports names sorted', () => {
    const before = sample(0, { eth1: {}, eth0: {} }, { sdb: 0n, sda: 0n });
    const after = sample(2_000, { eth1: { rxBytes: 100n }, eth0: { rxBytes: 150n } }, { sdb: 3n, sda: 4n });
    const m = measure(before, after, OPTIONS);
    expect(m.usage).toEqual({ ingressBandwidth: 1000, egressBandwidth: 0, iops: 4 }); // 7 / 2 = 3.5 -> 4
    expect(m.interfaces).toEqual(['eth0', 'eth1']);
    expect(m.devices).toEqual(['sda', 'sdb']);
  });

  it('rounds to integers', () => {
    const m = measure(
      sample(0, { eth0: {} }, { sda: 0n }),
      sample(3_000, { eth0: { rxBytes: 1n } }, { sda: 1n }),
    );
    expect(m.usage).toEqual({ ingressBandwidth: 3, egressBandwidth: 0, iops: 0 }); // 8/3, 0, 1/3
  });

  it('an idle host measures zero, not nothing', () => {
    const s = { eth0: { rxBytes: 5n, txBytes: 5n } };
    const m = measure(sample(0, s, { sda: 9n }), sample(1_000, s, { sda: 9n }), OPTIONS);
    expect(m.usage).toEqual({ ingressBandwidth: 0, egressBandwidth: 0, iops: 0 });
  });

  it('first interval: no previous sample, no usage', () => {
    const m = measure(undefined, sample(5_000, { eth0: { rxBytes: 10n } }, { sda: 10n }), OPTIONS);
    expect(m.usage).toEqual({});
    expect(m.capacity).toEqual({ ingressBandwidth: 10e9, egressBandwidth: 10e9, iops: 10_000 });
    expect(m.interfaces).toEqual(['eth0']);
    expect(m.devices).toEqual(['sda']);
    expect(m.notes).toEqual(['first sample: usage needs a previous one']);
  });

  it.each([
    { name: 'same instant', elapsed: 0 },
    { name: 'clock went back', elapsed: -500 },
  ])('$name: no usage', ({ elapsed }) => {
    const m = measure(
      sample(10_000, { eth0: {} }),
      sample(10_000 + elapsed, { eth0: { rxBytes: 10n } }),
      OPTIONS,
    );
    expect(m.usage).toEqual({});
    expect(m.notes).toEqual([
      'no block device selected',
      `no time elapsed since the previous sample (${elapsed} ms): usage not computed`,
    ]);
  });

  it('a 32-bit counter that wrapped counts across the wrap', () => {
    const before = sample(0, { eth0: { rxBytes: TWO_32 - 1000n, txBytes: 10n } }, { sda: TWO_32 - 1n });
    const after = sample(1_000, { eth0: { rxBytes: 24n, txBytes: 20n } }, { sda: 99n });
    const m = measure(before, after, OPTIONS);
    expect(m.usage).toEqual({ ingressBandwidth: 1024 * 8, egressBandwidth: 80, iops: 100 });
    expect(m.notes).toEqual(['eth0: rx counter wrapped at 32 bits', 'sda: counter wrapped at 32 bits']);
  });

  it('a 64-bit counter going backwards was reset: counts what it counted since', () => {
    const before = sample(
      0,
      { eth0: { rxBytes: 2n ** 40n, txBytes: 2n ** 40n } },
      { sdb: 2n ** 33n, sda: 0n },
    );
    const after = sample(1_000, { eth0: { rxBytes: 100n, txBytes: 2n ** 40n + 10n } }, { sdb: 7n, sda: 1n });
    const m = measure(before, after, OPTIONS);
    expect(m.usage).toEqual({ ingressBandwidth: 800, egressBandwidth: 80, iops: 8 });
    expect(m.notes).toEqual([
      'eth0: rx counter reset, counting from zero',
      'sdb: counter reset, counting from zero',
    ]);
  });

  it('a hot-plugged device is left out until it has a previous value', () => {
    const before = sample(0, { eth0: {} }, { sda: 0n });
    const after = sample(1_000, { eth0: {} }, { sda: 10n, sdb: 2n ** 40n });
    const m = measure(before, after, OPTIONS);
    expect(m.usage.iops).toBe(10);
    expect(m.devices).toEqual(['sda', 'sdb']);
    expect(m.notes).toEqual(['sdb: new since the previous sample, measured from the next one']);
    const next = measure(after, sample(2_000, { eth0: {} }, { sda: 10n, sdb: 2n ** 40n + 5n }), OPTIONS);
    expect(next.usage.iops).toBe(5);
    expect(next.notes).toEqual([]);
  });

  it('a vanished interface is left out of usage, capacity and the list', () => {
    const before = sample(0, { eth0: {}, eth1: { rxBytes: 2n ** 40n } }, { sda: 0n });
    const after = sample(1_000, { eth0: { rxBytes: 1n } }, { sda: 0n });
    const m = measure(before, after, OPTIONS);
    expect(m.usage).toEqual({ ingressBandwidth: 8, egressBandwidth: 0, iops: 0 });
    expect(m.capacity.ingressBandwidth).toBe(10e9);
    expect(m.interfaces).toEqual(['eth0']);
    expect(m.notes).toEqual(['eth1: gone since the previous sample, left out']);
  });

  it('with no interface in both samples, bandwidth usage is left out, not zero', () => {
    const m = measure(
      sample(0, { eth0: {} }, { sda: 0n }),
      sample(1_000, { eth1: {} }, { sda: 3n }),
      OPTIONS,
    );
    expect(m.usage).toEqual({ iops: 3 });
    expect(m.notes).toEqual([
      'eth1: new since the previous sample, measured from the next one',
      'eth0: gone since the previous sample, left out',
    ]);
  });

  it('keeps bigint precision above 2^53 (a double would be off by up to 256 bytes here)', () => {
    const base = 2n ** 60n;
    const before = sample(0, { eth0: { rxBytes: base + 1n, txBytes: base } }, { nvme0n1: base + 3n });
    const after = sample(
      1_000,
      { eth0: { rxBytes: base + 1001n, txBytes: base + 1n } },
      { nvme0n1: base + 10n },
    );
    expect(Number(base + 1001n) - Number(base + 1n)).toBe(1024); // what doubles would make of it
    expect(measure(before, after, OPTIONS).usage).toEqual({
      ingressBandwidth: 8000,
      egressBandwidth: 8,
      iops: 7,
    });
  });
});

describe('takeSample then measure, on a copy of the k8s-node fixture', () => {
  let root: string | undefined;
  afterEach(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
    root = undefined;
  });

  /** Adds `by` to the one counter in `file` whose decimal text is `from`. */
  function bump(file: string, from: bigint, by: bigint) {
    const text = readFileSync(file, 'utf8');
    const pattern = new RegExp(`(?<=[\\s:])${from}(?=\\s)`, 'g');
    expect(text.match(pattern)?.length).toBe(1);
    writeFileSync(file, text.replace(pattern, String(from + by)));
  }

  it('measures 1 Gbit/s in, 100 Mbit/s out and 200 IOPS over 10 s on 45 Gbit/s of links', async () => {
    root = mkdtempSync(join(tmpdir(), 'ioplace-sample-'));
    cpSync(join(FIXTURES, 'k8s-node'), root, { recursive: true });
    const sources: SampleSources = {
      procRoot: join(root, 'proc'),
      sysRoot: join(root, 'sys'),
      interfaces: { include: [], exclude: [] },
      devices: { include: [], exclude: [] },
    };
    const first = await takeSample(sources, 1_000);
    expect(first.at).toBe(1_000);
    expect([...first.interfaces.keys()]).toEqual(['eno1', 'eno2', 'ens1f0', 'ens1f1']);
    expect([...first.devices.keys()]).toEqual(['sda', 'nvme0n1']);

    const dev = join(root, 'proc/net/dev');
    bump(dev, 9007199254740993n, 750_000_000n); // eno1 rx
    bump(dev, 223456789012n, 500_000_000n); // ens1f1 rx
    bump(dev, 23456789012n, 125_000_000n); // ens1f0 tx
    bump(dev, 5678901234n, 999_999n); // cni0 rx: not selected, not counted
    const stats = join(root, 'proc/diskstats');
    bump(stats, 4123456n, 200n); // sda reads
    bump(stats, 9876543n, 300n); // sda writes
    bump(stats, 3456n, 10_000n); // zram0 reads: not selected, not counted
    writeFileSync(join(root, 'sys/class/net/ens1f1/operstate'), 'down\n');

    const second = await takeSample(sources, 11_000);
    const m = measure(first, second, { iopsCapacity: 50_000 });
    expect(m).toEqual({
      capacity: { ingressBandwidth: 35e9, egressBandwidth: 35e9, iops: 50_000 },
      usage: { ingressBandwidth: 1e9, egressBandwidth: 1e8, iops: 50 },
      interfaces: ['eno1', 'eno2', 'ens1f0', 'ens1f1'],
      devices: ['nvme0n1', 'sda'],
      notes: ['eno2: link down, not counted in capacity', 'ens1f1: link down, not counted in capacity'],
    });
  });
});
