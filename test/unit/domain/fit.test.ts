import { describe, expect, it } from 'vitest';
import { FitPlan, fitVerdict, invalidDemandVerdict, MESSAGE_PREFIX } from '../../../src/domain/fit.js';
import type { Committed } from '../../../src/domain/free-capacity.js';
import { assessNode, type NodeAssessment } from '../../../src/domain/node-assessment.js';
import type { NodeEntry } from '../../../src/domain/node-book.js';
import type { Amounts } from '../../../src/domain/resources.js';
import { bookRow } from './book-row.js';

const NOW = 1_000_000;
const STALE_AFTER_MS = 30_000;
const REJECT = { unknownNodes: 'reject' } as const;
const ALLOW = { unknownNodes: 'allow' } as const;

const NONE: Committed = { pods: {}, unmeasured: {}, reserved: {} };

/**
 * A fresh node with no reserve by default, so allocatable = capacity and, with only bound pods
 * promised, free = capacity - max(usage, pods).
 */
function node(
  capacity: Amounts,
  usage: Amounts = {},
  pods: Amounts = {},
  reserveFraction = 0,
  parts: Partial<Committed> = {},
): NodeAssessment {
  const entry: NodeEntry = { node: 'n1', capacity, usage, receivedAt: NOW };
  return assessNode('n1', entry, { ...NONE, pods, ...parts }, NOW, {
    staleAfterMs: STALE_AFTER_MS,
    reserveFraction,
  });
}

const unknownNode = assessNode('n1', undefined, NONE, NOW, {
  staleAfterMs: STALE_AFTER_MS,
  reserveFraction: 0,
});
const staleNode = assessNode(
  'n1',
  { node: 'n1', capacity: { iops: 1e6 }, usage: {}, receivedAt: NOW - STALE_AFTER_MS - 1 },
  NONE,
  NOW,
  { staleAfterMs: STALE_AFTER_MS, reserveFraction: 0 },
);

describe('fitVerdict', () => {
  it('MESSAGE_PREFIX is ioplace', () => {
    expect(MESSAGE_PREFIX).toBe('ioplace');
  });

  describe('fits', () => {
    it.each<{ name: string; demand: Amounts; node: NodeAssessment }>([
      { name: 'plenty free', demand: { iops: 100 }, node: node({ iops: 1000 }) },
      {
        name: 'demand exactly equal to free',
        demand: { iops: 1500 },
        node: node({ iops: 50_000 }, { iops: 48_500 }),
      },
      {
        name: 'every dimension asked for fits',
        demand: { ingressBandwidth: 10, egressBandwidth: 20, iops: 30 },
        node: node({ ingressBandwidth: 10, egressBandwidth: 20, iops: 30 }),
      },
      { name: 'no demand at all', demand: {}, node: node({}) },
      {
        name: 'a dimension the pod does not ask for may be full or unmeasured',
        demand: { iops: 10 },
        node: node({ iops: 10, ingressBandwidth: 100 }, { ingressBandwidth: 100 }),
      },
    ])('$name', ({ demand, node }) => {
      expect(fitVerdict(demand, node, REJECT)).toEqual({ fits: true });
      expect(fitVerdict(demand, node, ALLOW)).toEqual({ fits: true });
    });
  });

  describe('insufficient: short now, but preemption may help (resolvable)', () => {
    it('says what is needed, what is free and what is allocatable', () => {
      // capacity 50k, usage 48.5k: free 1.5k, allocatable 50k >= 2k
      expect(fitVerdict({ iops: 2000 }, node({ iops: 50_000 }, { iops: 48_500 }), REJECT)).toEqual({
        fits: false,
        reason: 'insufficient',
        unresolvable: false,
        message: 'ioplace: not enough iops: needs 2k, 1.5k free of 50k allocatable',
      });
    });

    it('counts commitments as well as usage', () => {
      expect(
        fitVerdict({ iops: 2000 }, node({ iops: 50_000 }, { iops: 100 }, { iops: 49_000 }), REJECT),
      ).toEqual({
        fits: false,
        reason: 'insufficient',
        unresolvable: false,
        message: 'ioplace: not enough iops: needs 2k, 1k free of 50k allocatable',
      });
    });

    it.each<{ name: string; parts: Partial<Committed> }>([
      // 50k - 3k - max(46k, 0) = 1k
      { name: 'bind reservations on top of measured usage', parts: { reserved: { iops: 3000 } } },
      // 50k - max(46k + 3k, 3k) = 1k
      {
        name: 'unmeasured pods on top of measured usage',
        parts: { pods: { iops: 3000 }, unmeasured: { iops: 3000 } },
      },
    ])('counts $name', ({ parts }) => {
      expect(
        fitVerdict({ iops: 2000 }, node({ iops: 50_000 }, { iops: 46_000 }, {}, 0, parts), REJECT),
      ).toEqual({
        fits: false,
        reason: 'insufficient',
        unresolvable: false,
        message: 'ioplace: not enough iops: needs 2k, 1k free of 50k allocatable',
      });
      expect(
        fitVerdict({ iops: 1000 }, node({ iops: 50_000 }, { iops: 46_000 }, {}, 0, parts), REJECT),
      ).toEqual({
        fits: true,
      });
    });

    it('shows demand rounded up and free and allocatable rounded down', () => {
      // free = 1,999,999 - 1,000,000 = 999,999 < need 1,000,001 <= allocatable 1,999,999
      const verdict = fitVerdict(
        { ingressBandwidth: 1_000_001 },
        node({ ingressBandwidth: 1_999_999 }, { ingressBandwidth: 1_000_000 }),
        REJECT,
      );
      expect(verdict).toMatchObject({ reason: 'insufficient', unresolvable: false });
      expect(verdict.fits ? '' : verdict.message).toBe(
        'ioplace: not enough ingressBandwidth: needs 1.001M, 999.999k free of 1.999M allocatable',
      );
    });

    it('lists every short dimension in order, separated by "; "', () => {
      const verdict = fitVerdict(
        { ingressBandwidth: 600, egressBandwidth: 10, iops: 2000 },
        node(
          { ingressBandwidth: 1000, egressBandwidth: 1000, iops: 3000 },
          { ingressBandwidth: 500, iops: 2000 },
        ),
        REJECT,
      );
      expect(verdict).toEqual({
        fits: false,
        reason: 'insufficient',
        unresolvable: false,
        message:
          'ioplace: not enough ingressBandwidth: needs 600, 500 free of 1k allocatable; iops: needs 2k, 1k free of 3k allocatable',
      });
    });

    it('is insufficient, not exceedsCapacity, when demand equals allocatable', () => {
      // allocatable = 1000 x 0.5 = 500 = demand; free = 500 - 100 = 400
      const verdict = fitVerdict({ iops: 500 }, node({ iops: 1000 }, { iops: 100 }, {}, 0.5), REJECT);
      expect(verdict).toEqual({
        fits: false,
        reason: 'insufficient',
        unresolvable: false,
        message: 'ioplace: not enough iops: needs 500, 400 free of 500 allocatable',
      });
    });
  });

  describe('exceedsCapacity: more than the node can ever hand out (unresolvable)', () => {
    it('rejects demand above allocatable even on an idle node', () => {
      // allocatable = 1000 x 0.5 = 500 < 501
      expect(fitVerdict({ iops: 501 }, node({ iops: 1000 }, {}, {}, 0.5), REJECT)).toEqual({
        fits: false,
        reason: 'exceedsCapacity',
        unresolvable: true,
        message: 'ioplace: not enough iops: needs 501, 500 free of 500 allocatable',
      });
    });

    it('wins over insufficient when one dimension can never fit', () => {
      const verdict = fitVerdict(
        { ingressBandwidth: 600, iops: 5000 },
        node({ ingressBandwidth: 1000, iops: 3000 }, { ingressBandwidth: 500 }),
        REJECT,
      );
      expect(verdict).toEqual({
        fits: false,
        reason: 'exceedsCapacity',
        unresolvable: true,
        message:
          'ioplace: not enough ingressBandwidth: needs 600, 500 free of 1k allocatable; iops: needs 5k, 3k free of 3k allocatable',
      });
    });

    it('is not softened by unknownNodes allow', () => {
      expect(fitVerdict({ iops: 2000 }, node({ iops: 1000 }), ALLOW)).toMatchObject({
        fits: false,
        reason: 'exceedsCapacity',
        unresolvable: true,
      });
      expect(fitVerdict({ iops: 900 }, node({ iops: 1000 }, { iops: 500 }), ALLOW)).toMatchObject({
        fits: false,
        reason: 'insufficient',
        unresolvable: false,
      });
    });
  });

  describe('nodes without fresh, complete knowledge', () => {
    const unmeasured = node({ ingressBandwidth: 1000 });

    it.each([
      {
        name: 'unknown node',
        node: unknownNode,
        reason: 'unknown',
        message: 'ioplace: no report from this node',
      },
      {
        name: 'stale node',
        node: staleNode,
        reason: 'stale',
        message: 'ioplace: report from this node is stale',
      },
      {
        name: 'node that does not measure an asked dimension',
        node: unmeasured,
        reason: 'unmeasured',
        message: 'ioplace: node does not report iops',
      },
    ])('$name is rejected as unresolvable by default', ({ node, reason, message }) => {
      expect(fitVerdict({ iops: 1 }, node, REJECT)).toEqual({
        fits: false,
        reason,
        unresolvable: true,
        message,
      });
    });

    it.each([
      { name: 'unknown node', node: unknownNode },
      { name: 'stale node', node: staleNode },
      { name: 'node that does not measure an asked dimension', node: unmeasured },
    ])('$name passes when unknownNodes is allow', ({ node }) => {
      expect(fitVerdict({ iops: 1 }, node, ALLOW)).toEqual({ fits: true });
    });

    it('rejects an unknown node even for an empty demand (Placement handles pods without demand)', () => {
      expect(fitVerdict({}, unknownNode, REJECT)).toMatchObject({ fits: false, reason: 'unknown' });
    });

    it('names the first unmeasured dimension in dimension order', () => {
      expect(fitVerdict({ egressBandwidth: 1, iops: 1 }, unmeasured, REJECT)).toMatchObject({
        reason: 'unmeasured',
        message: 'ioplace: node does not report egressBandwidth',
      });
    });

    it('reports a short measured dimension before an unmeasured one', () => {
      expect(
        fitVerdict(
          { ingressBandwidth: 900, iops: 1 },
          node({ ingressBandwidth: 1000 }, { ingressBandwidth: 500 }),
          REJECT,
        ),
      ).toEqual({
        fits: false,
        reason: 'insufficient',
        unresolvable: false,
        message: 'ioplace: not enough ingressBandwidth: needs 900, 500 free of 1k allocatable',
      });
    });

    it('stale is judged before capacity', () => {
      expect(fitVerdict({ iops: 1e12 }, staleNode, REJECT)).toMatchObject({ reason: 'stale' });
    });
  });
});

describe('invalidDemandVerdict', () => {
  it('is unresolvable and quotes the problem', () => {
    expect(invalidDemandVerdict('container "app" ioplace.io/iops "-5" is negative')).toEqual({
      fits: false,
      reason: 'invalidDemand',
      unresolvable: true,
      message: 'ioplace: invalid demand: container "app" ioplace.io/iops "-5" is negative',
    });
  });
});

describe('FitPlan.fitsRow (the row form of fitVerdict)', () => {
  it.each<[string, Amounts, Amounts, boolean]>([
    // A capacity of 1000 leaves 900 allocatable with the reserve of 0.1.
    ['room in every demanded dimension', { iops: 800 }, { iops: 1000 }, true],
    ['exactly the free capacity', { iops: 900 }, { iops: 1000 }, true],
    ['short in one dimension', { iops: 901 }, { iops: 1000 }, false],
    ['a demanded dimension the node does not report', { ingressBandwidth: 1 }, { iops: 1000 }, false],
    ['no demand at all', {}, {}, true],
  ])('%s', (_, demand, capacity, fits) => {
    const { figures, row } = bookRow(capacity, {}, { reserveFraction: 0.1 });
    expect(new FitPlan(demand).fitsRow(figures, row)).toBe(fits);
  });
});
