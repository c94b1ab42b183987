/**
 * The soak's leak check (bench/soak/verdict.ts): a rising RSS or heap is flagged, a flat or noisy
 * one is not, and each threshold is a strict "above": growth at the limit passes, just over fails.
 */
import { describe, expect, it } from 'vitest';
import { fitLine, leakVerdict, median, type Sample } from '../../../bench/soak/verdict.js';

const MIB = 1024 * 1024;

/** One sample a second over `seconds`, `bytes(t)` each. */
function series(seconds: number, bytes: (t: number) => number): Sample[] {
  return Array.from({ length: seconds + 1 }, (_, t) => ({ t, bytes: bytes(t) }));
}

/** Heap readings at t = 0, 10, 20, ... (the forced-GC readings), in MiB. */
function readings(mib: readonly number[]): Sample[] {
  return mib.map((m, i) => ({ t: i * 10, bytes: m * MIB }));
}

/** Deterministic noise in [-1, 1]. */
function noise(i: number): number {
  return Math.sin(i * 12.9898) * 0.999;
}

const flatRss = series(60, (t) => 300 * MIB * (1 + 0.05 * noise(t)));
const flatHeap = readings([68, 67.4, 67.5, 68.1, 67.2, 67.9]);

describe('leakVerdict: RSS over the second half', () => {
  it.each([
    ['rising steadily (+100% over the phase)', true, series(60, (t) => 200 * MIB * (1 + t / 60))],
    ['flat with 5% noise', false, flatRss],
    ['falling', false, series(60, (t) => 300 * MIB * (1 - t / 200))],
    // A process fills its working set first: growth in the first half only is not judged.
    [
      'growing in the first half, flat after',
      false,
      series(60, (t) => Math.min(t, 25) * 8 * MIB + 100 * MIB),
    ],
  ])('%s: flagged %s', (_what, flagged, rss) => {
    const v = leakVerdict({ durationSeconds: 60, rss, heapAfterGc: flatHeap });
    expect(v.rssSecondHalf.conclusive).toBe(true);
    expect(v.rssSecondHalf.flagged).toBe(flagged);
    expect(v.leak).toBe(flagged);
  });

  /** Mid-run (t = 30 +- 3) at 100 MiB, the end (t >= 54) at `end` MiB. */
  const step = (end: number) => series(60, (t) => (t >= 54 ? end : 100) * MIB);

  it.each([
    [119, false],
    [120, false], // exactly +20%: the limit itself passes
    [120.1, true],
  ])('flags growth above the default limit (0.2) only: 100 -> %s MiB flagged %s', (end, flagged) => {
    const v = leakVerdict({ durationSeconds: 60, rss: step(end), heapAfterGc: flatHeap });
    expect(v.rssSecondHalf.midBytes).toBe(100 * MIB);
    expect(v.rssSecondHalf.endBytes).toBe(end * MIB);
    expect(v.rssSecondHalf.flagged).toBe(flagged);
    expect(v.leak).toBe(flagged);
  });

  it('takes its limit from rssGrowthLimit', () => {
    const input = { durationSeconds: 60, rss: step(106), heapAfterGc: flatHeap };
    expect(leakVerdict({ ...input, rssGrowthLimit: 0.05 }).rssSecondHalf.flagged).toBe(true);
    expect(leakVerdict({ ...input, rssGrowthLimit: 0.06 }).rssSecondHalf.flagged).toBe(false);
  });

  it('uses the medians near the midpoint and near the end, so one spike flags nothing', () => {
    const rss = series(60, (t) => (t === 58 ? 900 : 100) * MIB);
    const v = leakVerdict({ durationSeconds: 60, rss, heapAfterGc: flatHeap });
    expect(v.rssSecondHalf.endBytes).toBe(100 * MIB);
    expect(v.rssSecondHalf.flagged).toBe(false);
  });

  it.each([
    ['no samples', []],
    ['none near the end', series(40, () => 100 * MIB)],
    ['none near the midpoint', [...series(20, () => 100 * MIB), ...series(60, () => 500 * MIB).slice(40)]],
  ])('is inconclusive, and never flagged, with %s', (_what, rss) => {
    const v = leakVerdict({ durationSeconds: 60, rss, heapAfterGc: flatHeap });
    expect(v.rssSecondHalf).toMatchObject({ conclusive: false, flagged: false });
    expect(v.leak).toBe(false);
  });
});

describe('leakVerdict: heap after a forced full GC', () => {
  it.each([
    ['every step up, +5% a step', true, [60, 63, 66, 69, 72, 75]],
    ['a leak of 2 MiB a reading', true, [68, 70, 72, 74, 76, 78, 80, 82, 84, 86]],
    ['flat with noise', false, [68, 67.4, 67.5, 68.1, 67.2, 67.9]],
    ['every step up but +3% in all', false, [68, 68.4, 68.8, 69.2, 69.6, 70]],
    ['+33% in one jump, the other steps down', false, [60, 59, 80, 79, 78, 80]],
    ['falling', false, [80, 78, 76, 74, 72]],
  ])('%s: flagged %s', (_what, flagged, mib) => {
    const v = leakVerdict({ durationSeconds: 60, rss: flatRss, heapAfterGc: readings(mib) });
    expect(v.heapAfterGc.conclusive).toBe(true);
    expect(v.heapAfterGc.points).toBe(mib.length);
    expect(v.heapAfterGc.flagged).toBe(flagged);
    expect(v.leak).toBe(flagged);
  });

  it.each([
    // 4 steps: at least 3 up are needed (ceil(0.75 x 4)).
    ['3 of 4 steps up', true, [60, 66, 64, 70, 76]],
    ['2 of 4 steps up', false, [60, 70, 68, 66, 80]],
    // 8 steps: 6 up are needed.
    ['6 of 8 steps up', true, [60, 62, 64, 63, 66, 68, 67, 70, 72]],
    ['5 of 8 steps up', false, [60, 62, 61, 64, 63, 66, 65, 70, 72]],
  ])('rising means at least 3 of every 4 steps up: %s, flagged %s', (_what, flagged, mib) => {
    const v = leakVerdict({ durationSeconds: 90, rss: flatRss, heapAfterGc: readings(mib) });
    expect(v.heapAfterGc.fittedGrowth).toBeGreaterThan(0.1);
    expect(v.heapAfterGc.flagged).toBe(flagged);
  });

  it.each([
    [2.5, false], // the fitted line grows by exactly 10%: the limit itself passes
    [2.6, true],
  ])(
    'flags a fitted growth above the default limit (0.1) only: +%s MiB a reading from 100 MiB flagged %s',
    (perStep, flagged) => {
      const mib = [0, 1, 2, 3, 4].map((i) => 100 + perStep * i);
      const v = leakVerdict({ durationSeconds: 40, rss: flatRss, heapAfterGc: readings(mib) });
      expect(v.heapAfterGc.stepsUp).toBe(4);
      expect(v.heapAfterGc.fittedGrowth).toBeCloseTo((perStep * 4) / 100, 12);
      expect(v.heapAfterGc.flagged).toBe(flagged);
    },
  );

  it('takes its limit from heapRiseLimit', () => {
    const input = {
      durationSeconds: 60,
      rss: flatRss,
      heapAfterGc: readings([68, 68.4, 68.8, 69.2, 69.6, 70]),
    };
    expect(leakVerdict({ ...input, heapRiseLimit: 0.02 }).heapAfterGc.flagged).toBe(true);
    expect(leakVerdict({ ...input }).heapAfterGc.flagged).toBe(false);
  });

  it.each([0, 1, 4])('is inconclusive, and never flagged, with %i readings (5 are needed)', (n) => {
    const mib = [60, 90, 120, 150].slice(0, n);
    const v = leakVerdict({ durationSeconds: 60, rss: flatRss, heapAfterGc: readings(mib) });
    expect(v.heapAfterGc).toMatchObject({ conclusive: false, flagged: false, points: n });
    expect(v.leak).toBe(false);
  });
});

describe('leakVerdict: either signal is a leak', () => {
  it('flags a leak when only the heap rises, and when only RSS does', () => {
    const rising = series(60, (t) => 200 * MIB * (1 + t / 60));
    const heapRising = readings([60, 63, 66, 69, 72, 75]);
    expect(leakVerdict({ durationSeconds: 60, rss: flatRss, heapAfterGc: heapRising }).leak).toBe(true);
    expect(leakVerdict({ durationSeconds: 60, rss: rising, heapAfterGc: flatHeap }).leak).toBe(true);
    expect(leakVerdict({ durationSeconds: 60, rss: flatRss, heapAfterGc: flatHeap }).leak).toBe(false);
  });
});

describe('median and fitLine', () => {
  it.each([
    [[], Number.NaN],
    [[3], 3],
    [[5, 1, 3], 3],
    [[4, 1, 3, 2], 2.5],
  ])('median of %j is %s', (values, expected) => {
    expect(median(values)).toBe(expected);
  });

  it('fits the least-squares line, and a flat one when every sample has the same time', () => {
    expect(
      fitLine([
        { t: 0, bytes: 1 },
        { t: 1, bytes: 3 },
        { t: 2, bytes: 5 },
      ]),
    ).toEqual({ intercept: 1, slope: 2 });
    expect(
      fitLine([
        { t: 5, bytes: 1 },
        { t: 5, bytes: 3 },
      ]),
    ).toEqual({ intercept: 2, slope: 0 });
  });
});
