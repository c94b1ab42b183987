import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';
import { DemandPlan } from '../../../src/domain/demand-plan.js';
import { Inventory } from '../../../src/domain/inventory.js';
import { NodeBook } from '../../../src/domain/node-book.js';
import { NodeFigures } from '../../../src/domain/node-figures.js';
import type { PlacementSettings } from '../../../src/domain/placement-settings.js';
import type { Amounts } from '../../../src/domain/resources.js';
import { scoreValue } from '../../../src/domain/scoring.js';

const SETTINGS: PlacementSettings = {
  staleAfterMs: 60_000,
  reserveFraction: 0.1,
  unknownNodes: 'reject',
  strategy: 'spread',
  weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 2 },
  scoreAllPods: false,
};

function row(capacity: Amounts, usage: Amounts = {}) {
  const book = new NodeBook();
  new Inventory({ maxNodes: 1, book }).record('n', { capacity, usage }, 0);
  new Commitments(book);
  const state = book.get('n');
  if (state === undefined) throw new Error('no state');
  return { figures: state.derived(SETTINGS.reserveFraction), at: state.row, state };
}

describe('DemandPlan.fitsRow', () => {
  it.each<[string, Amounts, Amounts, boolean]>([
    // A capacity of 1000 leaves 900 allocatable with the reserve of 0.1.
    ['room in every demanded dimension', { iops: 800 }, { iops: 1000 }, true],
    ['exactly the free capacity', { iops: 900 }, { iops: 1000 }, true],
    ['short in one dimension', { iops: 901 }, { iops: 1000 }, false],
    ['a demanded dimension the node does not report', { ingressBandwidth: 1 }, { iops: 1000 }, false],
    ['no demand at all', {}, {}, true],
  ])('%s', (_, demand, capacity, fits) => {
    const { figures, at } = row(capacity);
    expect(new DemandPlan(demand, SETTINGS).fitsRow(figures, at)).toBe(fits);
  });
});

describe('DemandPlan.scoreRow', () => {
  it.each<[string, Amounts, Amounts, Amounts]>([
    ['one dimension', { iops: 100 }, { iops: 1000 }, { iops: 300 }],
    ['weighted dimensions', { iops: 100, ingressBandwidth: 5e6 }, { iops: 1000, ingressBandwidth: 1e9 }, {}],
    ['a dimension the node does not report', { egressBandwidth: 1 }, { iops: 1000 }, {}],
    ['more than is free', { iops: 5000 }, { iops: 1000 }, { iops: 999 }],
  ])('scores %s as scoreValue does, in both strategies', (_, demand, capacity, usage) => {
    const { figures, at, state } = row(capacity, usage);
    for (const strategy of ['spread', 'pack'] as const) {
      const settings = { ...SETTINGS, strategy };
      const view = new NodeFigures().load(state, 0, settings);
      expect(new DemandPlan(demand, settings).scoreRow(figures, at)).toBe(
        scoreValue(demand, true, view, settings),
      );
    }
  });

  it('leaves out dimensions weighted 0', () => {
    const { figures, at } = row({ iops: 1000, ingressBandwidth: 1000 }, { ingressBandwidth: 1000 });
    const settings = { ...SETTINGS, weights: { ingressBandwidth: 0, egressBandwidth: 1, iops: 1 } };
    // iops: (900 - 100) / 900 of the allocatable is left: 8.9 -> 9; ingress would pull it down.
    expect(new DemandPlan({ iops: 100, ingressBandwidth: 100 }, settings).scoreRow(figures, at)).toBe(9);
  });
});
