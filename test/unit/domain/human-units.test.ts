import { describe, expect, it } from 'vitest';
import { formatAmount } from '../../../src/domain/human-units.js';

describe('formatAmount', () => {
  describe('uses a decimal SI prefix', () => {
    it.each([
      { value: 0, text: '0' },
      { value: 1, text: '1' },
      { value: 999, text: '999' },
      { value: 1000, text: '1k' },
      { value: 1500, text: '1.5k' },
      { value: 2000, text: '2k' },
      { value: 50_000, text: '50k' },
      { value: 999_000, text: '999k' },
      { value: 1_000_000, text: '1M' },
      { value: 2_500_000, text: '2.5M' },
      { value: 1e9, text: '1G' },
      { value: 1e12, text: '1T' },
      { value: 1e15, text: '1P' },
      { value: 1e18, text: '1E' },
      // E is the largest prefix: bigger amounts stay in E.
      { value: 1e21, text: '1000E' },
    ])('$value -> $text', ({ value, text }) => {
      expect(formatAmount(value, 'down')).toBe(text);
      expect(formatAmount(value, 'up')).toBe(text);
    });
  });

  describe('keeps at most three decimals, rounding in the direction asked', () => {
    it.each([
      { value: 1234, up: '1.234k', down: '1.234k' },
      { value: 1234.5, up: '1.235k', down: '1.234k' },
      { value: 1000.1, up: '1.001k', down: '1k' },
      { value: 1999.9, up: '2k', down: '1.999k' },
      { value: 1_000_001, up: '1.001M', down: '1M' },
      { value: 1_234_567, up: '1.235M', down: '1.234M' },
      { value: 999_999, up: '999.999k', down: '999.999k' },
      { value: 0.0001, up: '0.001', down: '0' },
      { value: 1.5, up: '1.5', down: '1.5' },
      // 1.1 * 1000 is 1100.0000000000002 in floating point: that must not round up to 1.101k.
      { value: 1100, up: '1.1k', down: '1.1k' },
      { value: 2_300_000, up: '2.3M', down: '2.3M' },
    ])('$value: up $up, down $down', ({ value, up, down }) => {
      expect(formatAmount(value, 'up')).toBe(up);
      expect(formatAmount(value, 'down')).toBe(down);
    });

    it('rounds down by default', () => {
      expect(formatAmount(1234.5)).toBe('1.234k');
      expect(formatAmount(1_234_567)).toBe('1.234M');
    });
  });

  describe('negative amounts', () => {
    it.each([
      { value: -1500, up: '-1.5k', down: '-1.5k' },
      { value: -2000, up: '-2k', down: '-2k' },
      // "up" means towards the larger number: -1.234k is larger than -1.2345k.
      { value: -1234.5, up: '-1.234k', down: '-1.235k' },
      { value: -1_000_001, up: '-1M', down: '-1.001M' },
    ])('$value: up $up, down $down', ({ value, up, down }) => {
      expect(formatAmount(value, 'up')).toBe(up);
      expect(formatAmount(value, 'down')).toBe(down);
    });
  });

  it('never shows a demand smaller, nor free capacity larger, than it is', () => {
    const prefixes: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9 };
    const read = (text: string): number => {
      const match = /^(-?[\d.]+)([kMG]?)$/.exec(text);
      if (match === null) throw new Error(`unexpected format ${text}`);
      return Number(match[1]) * (prefixes[match[2] ?? ''] ?? Number.NaN);
    };
    for (const value of [1, 999, 1001, 12_345, 999_999, 1_234_567, 987_654_321, 5_555_555_555]) {
      for (const signed of [value, -value]) {
        // The tolerance only absorbs the floating-point error of read(), far below a rounding step.
        const slack = Math.abs(signed) * 1e-12;
        expect(read(formatAmount(signed, 'up')), `${signed} up`).toBeGreaterThanOrEqual(signed - slack);
        expect(read(formatAmount(signed, 'down')), `${signed} down`).toBeLessThanOrEqual(signed + slack);
      }
    }
  });

  it.each([
    { value: Number.POSITIVE_INFINITY, text: 'Infinity' },
    { value: Number.NEGATIVE_INFINITY, text: '-Infinity' },
    { value: Number.NaN, text: 'NaN' },
  ])('passes $text through unchanged', ({ value, text }) => {
    expect(formatAmount(value)).toBe(text);
  });
});
