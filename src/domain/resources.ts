/**
 * The three resources ioplace places by. Every layer (agent reports, inventory, demand, scoring,
 * config) uses these names and units so that no conversion happens between layers.
 *  - ingressBandwidth, egressBandwidth: bits per second
 *  - iops: operations per second
 */
export const DIMENSIONS = ['ingressBandwidth', 'egressBandwidth', 'iops'] as const;

export type Dimension = (typeof DIMENSIONS)[number];

/** Per-dimension amounts; a missing dimension means "not measured" or "not asked for". */
export type Amounts = { [D in Dimension]?: number };

/** The extended resource names a pod uses to ask for each dimension. */
export const EXTENDED_RESOURCE: Readonly<Record<Dimension, string>> = {
  ingressBandwidth: 'ioplace.io/ingress-bandwidth',
  egressBandwidth: 'ioplace.io/egress-bandwidth',
  iops: 'ioplace.io/iops',
};

/** The CNI bandwidth plugin's annotations, read when no extended resource gives the demand. */
export const BANDWIDTH_ANNOTATION: Readonly<Partial<Record<Dimension, string>>> = {
  ingressBandwidth: 'kubernetes.io/ingress-bandwidth',
  egressBandwidth: 'kubernetes.io/egress-bandwidth',
};

/**
 * The largest amount ioplace accepts anywhere: 1e18 (an exabit per second, or 10^18 IOPS), about
 * a million times what any NIC or disk does. Anything above is a typo or an attack.
 */
export const MAX_AMOUNT = 1e18;

export function isEmpty(amounts: Amounts): boolean {
  for (const d of DIMENSIONS) if (amounts[d] !== undefined) return false;
  return true;
}

export function addAmounts(target: Amounts, add: Amounts, sign = 1): void {
  for (const d of DIMENSIONS) {
    const v = add[d];
    if (v !== undefined) target[d] = (target[d] ?? 0) + sign * v;
  }
}

/** a + b, dimension by dimension; returns one of its arguments when the other is empty. */
export function sumAmounts(a: Amounts, b: Amounts): Amounts {
  if (isEmpty(b)) return a;
  if (isEmpty(a)) return b;
  const out: Amounts = { ...a };
  addAmounts(out, b);
  return out;
}
