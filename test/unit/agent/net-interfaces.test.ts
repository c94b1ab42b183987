import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  matchesPattern,
  type NameFilter,
  parseNetDev,
  readInterfaces,
  VIRTUAL_INTERFACE_PATTERNS,
} from '../../../src/agent/net-interfaces.js';
import { fileTrees } from '../../support/file-tree.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/agent/', import.meta.url));
const proc = (c: string) => join(FIXTURES, c, 'proc');
const sys = (c: string) => join(FIXTURES, c, 'sys');

const AUTO: NameFilter = { include: [], exclude: [] };

const HEADER = [
  'Inter-|   Receive                                                |  Transmit',
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
];

/** One /proc/net/dev line in the current kernel format, other counters zero. */
function devLine(name: string, rx: bigint | number, tx: bigint | number): string {
  const zeros = (n: number) => Array(n).fill('0').join(' ');
  return `${name.padStart(6)}: ${String(rx).padStart(7)} 1 ${zeros(6)} ${String(tx).padStart(8)} 1 ${zeros(6)}`;
}

const trees = fileTrees('ioplace-net-');
afterEach(() => trees.cleanup());

/** A throwaway tree: path -> file content, or null for an empty directory. Returns its root. */
const tree = (files: Record<string, string | null>): string => trees.make(files);

/** A tree with the given interfaces, each with a device, operstate up and speed 1000 unless set. */
function nics(
  entries: Record<string, { device?: boolean; speed?: string | null; operstate?: string | null }>,
): string {
  const files: Record<string, string | null> = {
    'proc/net/dev': `${[...HEADER, ...Object.keys(entries).map((n) => devLine(n, 100, 200))].join('\n')}\n`,
  };
  for (const [name, e] of Object.entries(entries)) {
    const dir = `sys/class/net/${name}`;
    files[dir] = null;
    if (e.device ?? true) files[`${dir}/device`] = '../../../0000:00:03.0\n';
    const speed = e.speed === undefined ? '1000\n' : e.speed;
    if (speed !== null) files[`${dir}/speed`] = speed;
    const operstate = e.operstate === undefined ? 'up\n' : e.operstate;
    if (operstate !== null) files[`${dir}/operstate`] = operstate;
  }
  return tree(files);
}

async function readTree(root: string, filter: NameFilter = AUTO) {
  return readInterfaces(join(root, 'proc'), join(root, 'sys'), filter);
}

describe('parseNetDev', () => {
  it('reads rx bytes (field 0) and tx bytes (field 8) after the name, skipping both headers', () => {
    const text = [
      ...HEADER,
      '    lo: 7529627   29148    0    0    0     0          0         0  7529627   29148    0    0    0     0       0          0',
      '  eth0: 283196417    8536    0    0    0     0          0         0   615369    5140    0    0    0     0       0          0',
      '',
    ].join('\n');
    expect(parseNetDev(text)).toEqual(
      new Map([
        ['lo', { rxBytes: 7529627n, txBytes: 7529627n }],
        ['eth0', { rxBytes: 283196417n, txBytes: 615369n }],
      ]),
    );
  });

  it.each([
    {
      name: 'glued to a long first counter',
      line: '  eth0:12345678901 23456789    0    0    0     0          0         0 3456789012 4567890    0    0    0     0       0          0',
      iface: 'eth0',
    },
    {
      name: 'a 15-character name',
      line: 'cali5f1e0a2b7c3: 7654321    6543    0    0    0     0          0         0  8765432    7654    0    0    0     0       0          0',
      iface: 'cali5f1e0a2b7c3',
    },
    {
      name: 'a dotted name',
      line: 'flannel.1:345678901  234567    0    0    0     0          0         0 456789012  345678    0    0    0     0       0          0',
      iface: 'flannel.1',
    },
  ])('takes everything before the first colon as the name: $name', ({ line, iface }) => {
    expect([...parseNetDev(`${HEADER.join('\n')}\n${line}\n`).keys()]).toEqual([iface]);
  });

  it('keeps 64-bit counters exact, beyond 2^53', () => {
    const max = 2n ** 64n - 1n;
    const text = `${devLine('eth0', 2n ** 53n + 1n, max)}\n`;
    expect(parseNetDev(text).get('eth0')).toEqual({
      rxBytes: 9007199254740993n,
      txBytes: 18446744073709551615n,
    });
  });

  it.each([
    {
      name: 'no colon',
      line: 'eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16',
      error: /net\/dev:1: expected 'name: counters'/,
    },
    {
      name: 'too few counters',
      line: 'eth0: 1 2 3 4 5 6 7 8 9',
      error: /net\/dev:1: expected 16 counters, got 9/,
    },
    {
      name: 'a negative counter',
      line: 'eth0: -1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16',
      error: /rx bytes: expected an unsigned integer, got '-1'/,
    },
    {
      name: 'a hex counter',
      line: 'eth0: 1 2 3 4 5 6 7 8 0x9 10 11 12 13 14 15 16',
      error: /tx bytes: expected an unsigned integer, got '0x9'/,
    },
    {
      name: 'an empty name',
      line: ': 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16',
      error: /bad interface name ''/,
    },
    {
      name: 'a path as name',
      line: '..: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16',
      error: /bad interface name '..'/,
    },
  ])('refuses a malformed line: $name', ({ line, error }) => {
    expect(() => parseNetDev(`${line}\n`)).toThrow(error);
  });
});

describe('matchesPattern', () => {
  it.each([
    { name: 'eth0', pattern: 'eth0', matches: true },
    { name: 'eth01', pattern: 'eth0', matches: false },
    { name: 'eth0', pattern: 'eth*', matches: true },
    { name: 'eth', pattern: 'eth*', matches: true },
    { name: 'et', pattern: 'eth*', matches: false },
    { name: 'anything', pattern: '*', matches: true },
    // only a trailing * is special
    { name: 'eth0', pattern: 'e*h0', matches: false },
    { name: 'e*h0', pattern: 'e*h0', matches: true },
  ])('$name ~ $pattern: $matches', ({ name, pattern, matches }) => {
    expect(matchesPattern(name, pattern)).toBe(matches);
  });
});

describe('readInterfaces on committed fixtures', () => {
  it('k8s-node: selects the physical NICs only, with speed and state', async () => {
    const got = await readInterfaces(proc('k8s-node'), sys('k8s-node'), AUTO);
    expect(got).toEqual(
      new Map([
        ['eno1', { rxBytes: 9007199254740993n, txBytes: 18446744073709551000n, speedMbps: 25000, up: true }],
        ['eno2', { rxBytes: 0n, txBytes: 0n, speedMbps: undefined, up: false }],
        ['ens1f0', { rxBytes: 123456789012n, txBytes: 23456789012n, speedMbps: 10000, up: true }],
        ['ens1f1', { rxBytes: 223456789012n, txBytes: 33456789012n, speedMbps: 10000, up: true }],
      ]),
    );
  });

  it('old-kernel: reads a name glued to its first counter; speed -1 is unknown', async () => {
    const got = await readInterfaces(proc('old-kernel'), sys('old-kernel'), AUTO);
    expect(got).toEqual(
      new Map([
        ['eth0', { rxBytes: 12345678901n, txBytes: 3456789012n, speedMbps: 1000, up: true }],
        ['eth1', { rxBytes: 1234567n, txBytes: 2345678n, speedMbps: undefined, up: false }],
      ]),
    );
  });

  it('virtio-vm: a virtio NIC is physical, up, with unknown speed; ifb and lo are not', async () => {
    const got = await readInterfaces(proc('virtio-vm'), sys('virtio-vm'), AUTO);
    expect([...got.keys()]).toEqual(['eth0']);
    expect(got.get('eth0')).toMatchObject({ speedMbps: undefined, up: true });
  });

  it.each([
    {
      name: 'include picks virtual ones too',
      filter: { include: ['lo', 'cali*'], exclude: [] },
      want: ['lo', 'cali5f1e0a2b7c3'],
    },
    { name: 'include is the whole selection', filter: { include: ['eno1'], exclude: [] }, want: ['eno1'] },
    { name: 'include glob', filter: { include: ['ens1*'], exclude: [] }, want: ['ens1f0', 'ens1f1'] },
    {
      name: 'exclude from the automatic choice',
      filter: { include: [], exclude: ['eno2'] },
      want: ['eno1', 'ens1f0', 'ens1f1'],
    },
    { name: 'exclude glob', filter: { include: [], exclude: ['ens*'] }, want: ['eno1', 'eno2'] },
    {
      name: 'exclude beats include',
      filter: { include: ['en*'], exclude: ['eno2', 'ens1f1'] },
      want: ['eno1', 'ens1f0'],
    },
    {
      name: 'an included name that does not exist',
      filter: { include: ['eth9', 'bond0'], exclude: [] },
      want: ['bond0'],
    },
    { name: 'exclude everything', filter: { include: [], exclude: ['*'] }, want: [] },
  ])('k8s-node: $name', async ({ filter, want }) => {
    const got = await readInterfaces(proc('k8s-node'), sys('k8s-node'), filter);
    expect([...got.keys()]).toEqual(want);
  });

  it('an included virtual interface reports what /sys says of it', async () => {
    const got = await readInterfaces(proc('k8s-node'), sys('k8s-node'), {
      include: ['lo', 'bond0'],
      exclude: [],
    });
    expect(got.get('lo')).toEqual({ rxBytes: 98765432n, txBytes: 98765432n, speedMbps: undefined, up: true });
    expect(got.get('bond0')).toMatchObject({ speedMbps: 20000, up: true });
  });

  it('fails when net/dev is missing (a wrong procRoot)', async () => {
    await expect(readInterfaces(sys('k8s-node'), sys('k8s-node'), AUTO)).rejects.toThrow(/ENOENT/);
  });
});

describe('readInterfaces: which interfaces are physical', () => {
  const examples = [
    'lo',
    'veth1a2b3c',
    'docker0',
    'br-0123abcd',
    'virbr0',
    'cni0',
    'flannel.1',
    'cali123',
    'cilium_host',
    'vxlan.calico',
    'tunl0',
    'tun0',
    'tap0',
    'wg0',
    'weave',
    'kube-ipvs0',
    'genev_sys_6081',
    'nodelocaldns',
    'dummy0',
    'ifb0',
    'bond0',
    'team0',
  ];

  it('every virtual pattern has an example here', () => {
    for (const p of VIRTUAL_INTERFACE_PATTERNS) expect(examples.some((e) => matchesPattern(e, p))).toBe(true);
  });

  it.each(examples)('%s is virtual by name, even with a device', async (name) => {
    const root = nics({ [name]: {}, eth0: {} });
    expect([...(await readTree(root)).keys()]).toEqual(['eth0']);
  });

  it.each(['eth0', 'eno1', 'ens3', 'enp59s0f1', 'em1', 'ib0', 'p1p1'])(
    '%s with a device is physical, without one is not',
    async (name) => {
      const root = nics({ [name]: {}, other: { device: false } });
      expect([...(await readTree(root)).keys()]).toEqual([name]);
      const bare = nics({ [name]: { device: false } });
      expect((await readTree(bare)).size).toBe(0);
    },
  );

  it('a directory as device counts (fixture trees need not hold symlinks)', async () => {
    const root = nics({ eth0: { device: false } });
    mkdirSync(join(root, 'sys/class/net/eth0/device'));
    expect([...(await readTree(root)).keys()]).toEqual(['eth0']);
  });

  it('an interface missing from /sys entirely is not physical, but can be included', async () => {
    const root = tree({ 'proc/net/dev': `${devLine('ghost0', 1, 2)}\n`, 'sys/class/net': null });
    expect((await readTree(root)).size).toBe(0);
    const got = await readTree(root, { include: ['ghost0'], exclude: [] });
    expect(got.get('ghost0')).toEqual({ rxBytes: 1n, txBytes: 2n, speedMbps: undefined, up: false });
  });
});

describe('readInterfaces: link speed and state', () => {
  it.each([
    { name: '25000', speed: '25000\n', want: 25000 },
    { name: '100 without newline', speed: '100', want: 100 },
    { name: '-1 (virtio, link down)', speed: '-1\n', want: undefined },
    { name: '0', speed: '0\n', want: undefined },
    { name: '65535 (old SPEED_UNKNOWN)', speed: '65535\n', want: undefined },
    { name: '4294967295 (-1 as u32)', speed: '4294967295\n', want: undefined },
    { name: 'empty', speed: '', want: undefined },
    { name: 'garbage', speed: 'fast\n', want: undefined },
    { name: 'missing (EINVAL stand-in)', speed: null, want: undefined },
  ])('speed $name -> $want', async ({ speed, want }) => {
    const got = await readTree(nics({ eth0: { speed } }));
    expect(got.get('eth0')?.speedMbps).toBe(want);
  });

  it('speed that cannot be read at all (a directory: EISDIR) is unknown', async () => {
    const root = nics({ eth0: { speed: null } });
    mkdirSync(join(root, 'sys/class/net/eth0/speed'));
    expect((await readTree(root)).get('eth0')?.speedMbps).toBeUndefined();
  });

  it.each([
    { operstate: 'up\n', up: true },
    { operstate: 'unknown\n', up: true },
    { operstate: 'down\n', up: false },
    { operstate: 'dormant\n', up: false },
    { operstate: 'lowerlayerdown\n', up: false },
    { operstate: 'notpresent\n', up: false },
    { operstate: 'testing\n', up: false },
    { operstate: null, up: false },
  ])('operstate $operstate -> up $up', async ({ operstate, up }) => {
    const got = await readTree(nics({ eth0: { operstate } }));
    expect(got.get('eth0')?.up).toBe(up);
  });
});
