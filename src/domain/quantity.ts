import { MAX_AMOUNT } from './resources.js';

export type QuantityResult = { ok: true; value: number } | { ok: false; problem: string };

const SUFFIX_MULTIPLIER: Readonly<Record<string, number>> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

// The grammar of k8s.io/apimachinery/pkg/api/resource.Quantity: a signed decimal number followed
// by a binary-SI suffix, a decimal-SI suffix or a decimal exponent, with no white space.
const QUANTITY = /^([+-]?)(\d+\.?\d*|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d{1,4}))?$/;

/**
 * Parses a Kubernetes quantity ("500M", "1Gi", "2k", "1500", "1e3") into a whole number of base
 * units. Fractions round up, as Quantity.Value() does, so "1500m" IOPS is 2. Negative, malformed
 * and absurdly large values are refused with a short problem statement.
 */
export function parseQuantity(input: string | number): QuantityResult {
  const text = typeof input === 'number' ? String(input) : input;
  if (text.length === 0) return { ok: false, problem: 'is empty' };
  if (text.length > 64) return { ok: false, problem: 'is not a quantity' };
  const match = QUANTITY.exec(text);
  if (match === null) return { ok: false, problem: 'is not a quantity' };
  const [, sign, digits = '', suffix, exponent] = match;
  const number = Number(digits);
  // Zero is zero whatever its exponent ("0e400" would otherwise be 0 x Infinity).
  if (number === 0) return { ok: true, value: 0 };
  if (sign === '-') return { ok: false, problem: 'is negative' };
  const multiplier = exponent !== undefined ? 10 ** Number(exponent) : (SUFFIX_MULTIPLIER[suffix ?? ''] ?? 1);
  const magnitude = number * multiplier;
  if (!Number.isFinite(magnitude) || magnitude > MAX_AMOUNT) return { ok: false, problem: 'is too large' };
  if (Number.isInteger(magnitude) && magnitude > 0) return { ok: true, value: magnitude };
  // A fraction rounds up, after rounding away binary noise such as 0.1 * 3; a positive amount
  // too small for a double ("1e-400") is still more than nothing.
  return { ok: true, value: Math.max(1, Math.ceil(Number(magnitude.toPrecision(15)))) };
}
