import { describe, expect, it } from 'vitest';
import { allocatableAmount, freeAmount, isFresh } from '../../../src/domain/free-capacity.js';

describe('freeAmount = max(0, allocatable - reserved - max(usage + unmeasured, pods))', () => {
  // Throughout, unmeasured is a part of pods (pods bound since the last report), as in the store.
  it.each<{
    name: string;
    allocatable: number;
    usage?: number;
    pods?: number;
    unmeasured?: number;
    reserved?: number;
    free: number;
  }>([
    { name: 'nothing at all', allocatable: 1000, free: 1000 },
    { name: 'zero allocatable', allocatable: 0, free: 0 },
    { name: 'zero allocatable, something reserved: still 0', allocatable: 0, reserved: 10, free: 0 },
    { name: 'usage only', allocatable: 1000, usage: 300, free: 700 },
    { name: 'pods only', allocatable: 1000, pods: 300, free: 700 },
    { name: 'usage above pods: the max, not the sum', allocatable: 1000, usage: 300, pods: 100, free: 700 },
    { name: 'pods above usage: the max, not the sum', allocatable: 1000, usage: 100, pods: 300, free: 700 },
    // unmeasured: on top of usage only
    {
      name: 'unmeasured adds to usage: 1000 - max(300 + 200, 400)',
      allocatable: 1000,
      usage: 300,
      pods: 400,
      unmeasured: 200,
      free: 500,
    },
    {
      name: 'unmeasured is not added to pods: 1000 - max(0 + 400, 400)',
      allocatable: 1000,
      pods: 400,
      unmeasured: 400,
      free: 600,
    },
    {
      name: 'usage + unmeasured below pods: pods count: 1000 - max(100 + 200, 500)',
      allocatable: 1000,
      usage: 100,
      pods: 500,
      unmeasured: 200,
      free: 500,
    },
    {
      name: 'usage + unmeasured equal to pods',
      allocatable: 1000,
      usage: 300,
      pods: 500,
      unmeasured: 200,
      free: 500,
    },
    // reserved: on top of both usage and pods
    { name: 'reserved only', allocatable: 1000, reserved: 450, free: 550 },
    { name: 'reserved adds to usage', allocatable: 1000, usage: 300, reserved: 200, free: 500 },
    { name: 'reserved adds to pods', allocatable: 1000, pods: 300, reserved: 200, free: 500 },
    {
      name: 'reserved adds to usage when usage is above pods',
      allocatable: 1000,
      usage: 600,
      pods: 100,
      reserved: 200,
      free: 200,
    },
    {
      name: 'reserved adds to pods when pods are above usage',
      allocatable: 1000,
      usage: 100,
      pods: 600,
      reserved: 200,
      free: 200,
    },
    {
      name: 'all parts: 1000 - 100 - max(300 + 200, 400)',
      allocatable: 1000,
      usage: 300,
      pods: 400,
      unmeasured: 200,
      reserved: 100,
      free: 400,
    },
    {
      name: 'a burst reserved on a node busy by usage alone: 1000 - 400 - max(550, 0)',
      allocatable: 1000,
      usage: 550,
      reserved: 400,
      free: 50,
    },
    // clamping
    { name: 'exactly used up', allocatable: 500, usage: 300, reserved: 200, free: 0 },
    { name: 'reserved above allocatable: clamped at 0', allocatable: 1000, reserved: 1500, free: 0 },
    {
      name: 'usage + unmeasured above allocatable: clamped at 0',
      allocatable: 1000,
      usage: 900,
      pods: 200,
      unmeasured: 200,
      free: 0,
    },
  ])('$name: $free', ({ allocatable, usage = 0, pods = 0, unmeasured = 0, reserved = 0, free }) => {
    expect(freeAmount(allocatable, usage, pods, unmeasured, reserved)).toBe(free);
  });
});

describe('allocatableAmount', () => {
  it.each([
    [50_000, 0.1, 45_000],
    [10, 0.9, 1],
    [3, 0.7, 0],
    [1_001, 0.1, 900],
    [10e9, 0.1, 9e9],
    [1e18, 0, 1e18],
    [7, 0, 7],
  ])(
    'capacity %d with reserve %d hands out %d, a whole number the scheduler can count against',
    (capacity, reserve, expected) => {
      expect(allocatableAmount(capacity, reserve)).toBe(expected);
    },
  );
});

describe('isFresh', () => {
  it.each<[string, number, number, boolean]>([
    ['received now', 1000, 1000, true],
    ['received staleAfter ago: the last fresh instant', 0, 30_000, true],
    ['received a millisecond more than staleAfter ago', 0, 30_001, false],
    ['received in the future (a clock step back): fresh', 5000, 1000, true],
    ['never received (NaN)', Number.NaN, 1000, false],
  ])('%s', (_, receivedAt, now, fresh) => {
    expect(isFresh(receivedAt, now, 30_000)).toBe(fresh);
  });
});
