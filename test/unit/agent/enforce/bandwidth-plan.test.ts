import { describe, expect, it } from 'vitest';
import {
  ifbDeviceName,
  isValidIfname,
  MAX_RATE_BPS,
  MIN_BURST_BYTES,
  MIN_RATE_BPS,
  shapingPlan,
  type TbfParameters,
  tbfMatches,
  tbfParameters,
} from '../../../../src/agent/enforce/bandwidth-plan.js';
import type { TbfState } from '../../../../src/agent/enforce/tc-json.js';

describe('tbfParameters', () => {
  it.each([
    // bps, rateBytes, burstBytes, limitBytes
    [MIN_RATE_BPS, 1_000, 65_536, 65_561],
    [1_000_000, 125_000, 65_536, 68_661],
    [10_000_000, 1_250_000, 65_536, 96_786],
    [20_000_000, 2_500_000, 65_536, 128_036],
    // From 52.4 Mbit/s on, 10 ms of traffic is more than 64 KiB.
    [100_000_000, 12_500_000, 125_000, 437_500],
    [10_000_000_000, 1_250_000_000, 12_500_000, 43_750_000],
    // Not a multiple of 8: tc keeps bytes per second, rounded down.
    [10_000_007, 1_250_000, 65_536, 96_786],
  ])('%d bit/s -> rate %d B/s, burst %d B, limit %d B', (bps, rateBytes, burstBytes, limitBytes) => {
    expect(tbfParameters(bps)).toEqual({ rateBytes, burstBytes, limitBytes });
  });

  it('takes rates up to about 981 Gbit/s, where the limit reaches 32 bits', () => {
    const max = tbfParameters(MAX_RATE_BPS) as TbfParameters;
    expect(max.limitBytes).toBeLessThanOrEqual(0xffff_ffff);
    expect(MAX_RATE_BPS / 1e9).toBeCloseTo(981.7, 1);
    expect(tbfParameters(Math.round(MAX_RATE_BPS * 1.0001))).toHaveProperty('invalid');
  });

  it.each([
    [0, /positive/],
    [-1, /positive/],
    [-20_000_000, /positive/],
    [Number.NaN, /not a rate/],
    [Number.POSITIVE_INFINITY, /not a rate/],
    [1.5e6 + 0.5, /whole number/],
    [MIN_RATE_BPS - 1, /below the smallest/],
    [1e18, /above what tbf shapes/],
    [Number.MAX_SAFE_INTEGER, /above what tbf shapes/],
  ])('%d bit/s is invalid', (bps, why) => {
    const p = tbfParameters(bps);
    expect(p).toHaveProperty('invalid');
    expect((p as { invalid: string }).invalid).toMatch(why);
  });

  it('never makes a burst below 64 KiB', () => {
    for (const bps of [MIN_RATE_BPS, 123_457, 52_000_000])
      expect((tbfParameters(bps) as TbfParameters).burstBytes).toBe(MIN_BURST_BYTES);
  });
});

describe('tbfMatches', () => {
  const wanted = tbfParameters(20_000_000) as TbfParameters;
  const state = (s: Partial<TbfState>): TbfState => ({
    rateBytes: 2_500_000,
    burstBytes: 65_535,
    latencyUs: 25_000,
    exact: true,
    ...s,
  });

  it.each([
    ['as tc prints it back (burst 65535)', state({}), true],
    ['no latency printed', state({ latencyUs: undefined }), true],
    ['latency a tick off', state({ latencyUs: 25_001 }), true],
    ['another rate', state({ rateBytes: 2_500_001 }), false],
    ['another burst', state({ burstBytes: 17_776 }), false],
    ['another limit (latency 51 ms)', state({ latencyUs: 51_198 }), false],
    ['old tc: rate rounded in a string', state({ rateBytes: 2_499_000, exact: false }), true],
    ['old tc: burst "64Kb"', state({ burstBytes: 65_536, exact: false }), true],
    ['old tc: a rate 1% off', state({ rateBytes: 2_475_000, exact: false }), false],
  ])('%s: %s', (_what, s, expected) => {
    expect(tbfMatches(s, wanted)).toBe(expected);
  });

  it('allows the kernel rounding of a large burst (1125000000 reads back as 1124887500)', () => {
    const big = tbfParameters(900_000_000_000) as TbfParameters;
    expect(big.burstBytes).toBe(1_125_000_000);
    const back = { rateBytes: 112_500_000_000, burstBytes: 1_124_887_500, latencyUs: 25_001, exact: true };
    expect(tbfMatches(back, big)).toBe(true);
  });
});

describe('ifbDeviceName', () => {
  it('is iopl and 11 hex digits of the key hash: 15 characters, the same every time', () => {
    const name = ifbDeviceName('6f1c2a3e-0d4b-4f5a-9c7e-2b8d1e0f3a41');
    expect(name).toBe('iopl3042299cb04');
    expect(name).toHaveLength(15);
    expect(ifbDeviceName('6f1c2a3e-0d4b-4f5a-9c7e-2b8d1e0f3a41')).toBe(name);
    expect(isValidIfname(name)).toBe(true);
  });

  it('differs between pods', () => {
    const names = new Set(Array.from({ length: 1000 }, (_, i) => ifbDeviceName(`pod-${i}`)));
    expect(names.size).toBe(1000);
  });
});

describe('isValidIfname', () => {
  it.each([
    ['eth0', true],
    ['vethbwt0', true],
    ['cali1234567890a', true],
    ['veth@if3', true],
    ['', false],
    ['.', false],
    ['..', false],
    ['a/b', false],
    ['a:b', false],
    ['a b', false],
    ['-dev', false],
    ['sixteen-chars-xx', false],
  ])('%j -> %s', (name, valid) => {
    expect(isValidIfname(name)).toBe(valid);
  });
});

describe('shapingPlan', () => {
  const both = { ingressBps: 20e6, egressBps: 10e6 };
  const cni = (dir: 'ingress' | 'egress') => ({ [`kubernetes.io/${dir}-bandwidth`]: '10M' });

  it.each([
    ['a pod asking for both', {}, both, both],
    ['a pod asking for nothing', {}, {}, {}],
    ['a direction asked at 0 asks for nothing', {}, { ingressBps: 0, egressBps: 10e6 }, { egressBps: 10e6 }],
    ['ingress is the CNI plugin’s', { annotations: cni('ingress') }, both, { egressBps: 10e6 }],
    ['egress is the CNI plugin’s', { annotations: cni('egress') }, both, { ingressBps: 20e6 }],
    [
      'a CNI direction not asked changes nothing',
      { annotations: cni('egress') },
      { ingressBps: 20e6 },
      { ingressBps: 20e6 },
    ],
    ['hostNetwork false', { hostNetwork: false }, both, both],
    ['absurd values pass through (apply answers invalid-demand)', {}, { ingressBps: -5 }, { ingressBps: -5 }],
  ])('%s', (_what, pod, demand, plan) => {
    expect(shapingPlan(pod, demand)).toEqual(plan);
  });

  it('skips a hostNetwork pod', () => {
    expect(shapingPlan({ hostNetwork: true }, both)).toEqual({ skip: expect.stringMatching(/hostNetwork/) });
  });

  it('skips a pod whose every asked direction is the CNI plugin’s, naming the annotations', () => {
    const annotations = { ...cni('ingress'), ...cni('egress') };
    expect(shapingPlan({ annotations }, both)).toEqual({
      skip: 'shaped by the CNI bandwidth plugin (kubernetes.io/ingress-bandwidth, kubernetes.io/egress-bandwidth)',
    });
    expect(shapingPlan({ annotations: cni('ingress') }, { ingressBps: 5e6 })).toEqual({
      skip: 'shaped by the CNI bandwidth plugin (kubernetes.io/ingress-bandwidth)',
    });
  });
});
