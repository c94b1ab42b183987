const PREFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'] as const;

/**
 * Formats an amount with a decimal SI prefix and at most three decimals, the way people read
 * bandwidth and IOPS: 1500 -> "1.5k", 50000 -> "50k", 1e9 -> "1G". `round` decides which way the
 * last decimal goes, so that a demand is never shown smaller, nor free capacity larger, than it is.
 */
export function formatAmount(value: number, round: 'up' | 'down' = 'down'): string {
  if (!Number.isFinite(value)) return String(value);
  const sign = value < 0 ? '-' : '';
  let magnitude = Math.abs(value);
  let index = 0;
  while (magnitude >= 1000 && index < PREFIXES.length - 1) {
    magnitude /= 1000;
    index++;
  }
  const towardsLarger = (round === 'up') !== (sign === '-');
  const scaled = Number((magnitude * 1000).toPrecision(15));
  let rounded = (towardsLarger ? Math.ceil(scaled) : Math.floor(scaled)) / 1000;
  if (rounded >= 1000 && index < PREFIXES.length - 1) {
    // Rounding up carried into the next prefix: 999.9999M is shown as 1G, not 1000M.
    rounded /= 1000;
    index++;
  }
  return `${sign}${rounded}${PREFIXES[index]}`;
}
