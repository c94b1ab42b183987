import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseFilters,
  parseLink,
  parseQdiscs,
  readRateBytes,
  readSizeBytes,
  readTimeUs,
  rootQdisc,
  tbfState,
} from '../../../../src/agent/enforce/tc-json.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/agent/tc/${name}`, import.meta.url), 'utf8');

describe('parseQdiscs (captured from iproute2 6.1)', () => {
  it('reads the kernel default of a veth: noqueue, handle 0:', () => {
    const qdiscs = parseQdiscs(fixture('veth-qdiscs-default.json'));
    expect(qdiscs).toEqual([{ kind: 'noqueue', handle: '0:', root: true, parent: undefined, options: {} }]);
    expect(tbfState(qdiscs[0] as never)).toBeUndefined();
  });

  it('reads a shaped veth: the root tbf and the ingress qdisc', () => {
    const qdiscs = parseQdiscs(fixture('veth-qdiscs-shaped.json'));
    expect(qdiscs.map((q) => [q.kind, q.handle, q.root, q.parent])).toEqual([
      ['tbf', '494f:', true, undefined],
      ['ingress', 'ffff:', false, 'ffff:fff1'],
    ]);
    const root = rootQdisc(qdiscs);
    expect(root?.kind).toBe('tbf');
    expect(tbfState(root as never)).toEqual({
      rateBytes: 2_500_000,
      burstBytes: 65_535,
      latencyUs: 25_000,
      exact: true,
    });
  });

  it('reads the ifb tbf', () => {
    const root = rootQdisc(parseQdiscs(fixture('ifb-qdiscs-shaped.json')));
    expect(tbfState(root as never)).toEqual({
      rateBytes: 1_250_000,
      burstBytes: 65_535,
      latencyUs: 25_000,
      exact: true,
    });
  });

  it('reads someone else’s htb and a clsact', () => {
    const qdiscs = parseQdiscs(fixture('veth-qdiscs-cni-htb-clsact.json'));
    expect(qdiscs.map((q) => `${q.kind} ${q.handle}`)).toEqual(['htb 1:', 'clsact ffff:']);
  });

  it('reads the strings of the first iproute2 versions with JSON output (rounded)', () => {
    const old =
      '[{"kind":"tbf","handle":"494f:","root":true,"options":{"rate":"20Mbit","burst":"64Kb","lat":"25.0ms"}}]';
    expect(tbfState(parseQdiscs(old)[0] as never)).toEqual({
      rateBytes: 2_500_000,
      burstBytes: 65_536,
      latencyUs: 25_000,
      exact: false,
    });
  });

  it('takes empty output as no qdiscs, and throws on anything not a JSON array of objects', () => {
    expect(parseQdiscs('')).toEqual([]);
    expect(() => parseQdiscs('qdisc noqueue 0: root refcnt 2')).toThrow(/not JSON/);
    expect(() => parseQdiscs('{"kind":"tbf"}')).toThrow(/array/);
    expect(() => parseQdiscs('[1]')).toThrow(/array/);
    expect(() => parseQdiscs('[{"handle":"1:"}]')).toThrow(/no kind/);
  });

  it('gives no tbf state for unreadable options', () => {
    const q = parseQdiscs(
      '[{"kind":"tbf","handle":"494f:","root":true,"options":{"rate":"fast","burst":1}}]',
    );
    expect(tbfState(q[0] as never)).toBeUndefined();
  });
});

describe("tc's human units", () => {
  it.each([
    ['20Mbit', 2_500_000],
    ['12345Kbit', 1_543_125],
    ['800bit', 100],
    ['1Gbit', 125_000_000],
    ['1Mibit', 131_072],
    [2_500_000, 2_500_000],
    ['20 Mbit', undefined],
    ['20MB', undefined],
    [-1, undefined],
  ])('rate %j -> %s B/s', (text, bytes) => {
    expect(readRateBytes(text)).toBe(bytes);
  });

  it.each([
    ['64Kb', 65_536],
    ['17776b', 17_776],
    ['1.5Mb', 1_572_864],
    [65_535, 65_535],
    ['64KB', undefined],
  ])('size %j -> %s B', (text, bytes) => {
    expect(readSizeBytes(text)).toBe(bytes);
  });

  it.each([
    ['25.0ms', 25_000],
    ['1.0s', 1_000_000],
    ['800us', 800],
    [25_000, 25_000],
    ['25 ms', undefined],
  ])('time %j -> %s µs', (text, us) => {
    expect(readTimeUs(text)).toBe(us);
  });
});

describe('parseFilters (captured)', () => {
  it('gathers the three entries of a u32 filter under its pref, with the redirect target', () => {
    expect(parseFilters(fixture('veth-filters-redirect.json'))).toEqual([
      { pref: 18_767, kinds: ['u32'], redirectsTo: ['iopl3042299cb04'] },
    ]);
  });

  it('keeps other prefs apart', () => {
    expect(parseFilters(fixture('veth-filters-cni-and-ours.json'))).toEqual([
      { pref: 1, kinds: ['u32'], redirectsTo: ['bwp0123456789a'] },
      { pref: 18_767, kinds: ['u32'], redirectsTo: ['iopl3042299cb04'] },
    ]);
  });

  it('reads an empty listing, and ignores actions that are not redirects', () => {
    expect(parseFilters('[]')).toEqual([]);
    const mirror =
      '[{"pref":5,"kind":"matchall","options":{"actions":[{"kind":"mirred","mirred_action":"mirror","to_dev":"x"}]}}]';
    expect(parseFilters(mirror)).toEqual([{ pref: 5, kinds: ['matchall'], redirectsTo: [] }]);
    expect(() => parseFilters('[{"kind":"u32"}]')).toThrow(/pref/);
  });
});

describe('parseLink (captured)', () => {
  it('reads the host veth', () => {
    expect(parseLink(fixture('veth-link.json'))).toEqual({
      ifindex: 2,
      ifname: 'vethbwt0',
      linkIndex: 2,
      linkInOtherNs: true,
      mtu: 1500,
      up: true,
      kind: undefined,
    });
  });

  it('reads the ifb with its kind (-d)', () => {
    expect(parseLink(fixture('ifb-link.json'))).toMatchObject({
      ifname: 'iopl3042299cb04',
      mtu: 1500,
      up: true,
      kind: 'ifb',
    });
  });

  it('reads a link that is down and has no peer', () => {
    const lo = '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536}]';
    expect(parseLink(lo)).toEqual({
      ifindex: 1,
      ifname: 'lo',
      linkIndex: undefined,
      linkInOtherNs: false,
      mtu: 65_536,
      up: false,
      kind: undefined,
    });
  });

  it('throws unless there is exactly one well-formed link', () => {
    expect(() => parseLink('[]')).toThrow(/one link/);
    expect(() =>
      parseLink(
        `[${fixture('veth-link.json').trim().slice(1, -1)},${fixture('veth-link.json').trim().slice(1, -1)}]`,
      ),
    ).toThrow(/one link/);
    expect(() => parseLink('[{"ifname":"x","mtu":1500}]')).toThrow(/ifindex/);
    expect(() => parseLink('[{"ifindex":3,"ifname":"x"}]')).toThrow(/mtu/);
  });
});
