import { describe, expect, it } from 'vitest';
import type { Committed } from '../../../src/domain/free-capacity.js';
import { assessNode, type NodeAssessment } from '../../../src/domain/node-assessment.js';
import type { NodeEntry } from '../../../src/domain/node-book.js';
import { NodeFigures } from '../../../src/domain/node-figures.js';
import type { PlacementSettings } from '../../../src/domain/placement-settings.js';
import type { Amounts } from '../../../src/domain/resources.js';
import { MAX_SCORE, ScorePlan, scoreNode, scoreValue } from '../../../src/domain/scoring.js';
import { bookRow } from './book-row.js';

const NOW = 1_000_000;
const STALE_AFTER_MS = 30_000;

const NONE: Committed = { pods: {}, unmeasured: {}, reserved: {} };

type ScoreSettings = Pick<PlacementSettings, 'strategy' | 'weights' | 'scoreAllPods'>;

function settings(overrides: Partial<ScoreSettings> = {}): ScoreSettings {
  return {
    strategy: 'spread',
    weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 1 },
    scoreAllPods: false,
    ...overrides,
  };
}

/** A fresh node with no reserve: allocatable = capacity, free = capacity - usage. */
function node(capacity: Amounts, usage: Amounts = {}, receivedAt = NOW): NodeAssessment {
  const entry: NodeEntry = { node: 'n1', capacity, usage, receivedAt };
  return assessNode('n1', entry, NONE, NOW, { staleAfterMs: STALE_AFTER_MS, reserveFraction: 0 });
}

describe('scoreNode', () => {
  it('MAX_SCORE is kube-scheduler MaxExtenderPriority, 10', () => {
    expect(MAX_SCORE).toBe(10);
  });

  describe('one dimension: spread s = frac, pack s = 1 - frac, frac = clamp((free - demand) / allocatable)', () => {
    it.each([
      // capacity 1000, usage 200: free 800
      { name: 'after 700 of 1000', demand: 100, usage: 200, spread: 7, pack: 3, frac: 0.7 },
      { name: 'after 500 of 1000', demand: 300, usage: 200, spread: 5, pack: 5, frac: 0.5 },
      { name: 'idle node, tiny demand', demand: 1, usage: 0, spread: 10, pack: 0, frac: 0.999 },
      { name: 'exact fit leaves 0', demand: 800, usage: 200, spread: 0, pack: 10, frac: 0 },
      // 10 x 0.25 = 2.5 rounds to 3; 10 x 0.75 = 7.5 rounds to 8
      { name: 'half-way scores round up', demand: 750, usage: 0, spread: 3, pack: 8, frac: 0.25 },
      { name: 'after 40 of 1000 rounds down', demand: 760, usage: 200, spread: 0, pack: 10, frac: 0.04 },
      { name: 'after 60 of 1000 rounds up', demand: 740, usage: 200, spread: 1, pack: 9, frac: 0.06 },
    ])('$name: spread $spread, pack $pack', ({ demand, usage, spread, pack, frac }) => {
      const n = node({ iops: 1000 }, { iops: usage });
      const s = scoreNode({ iops: demand }, true, n, settings({ strategy: 'spread' }));
      const p = scoreNode({ iops: demand }, true, n, settings({ strategy: 'pack' }));
      expect(s.score).toBe(spread);
      expect(p.score).toBe(pack);
      expect(s.dimensions.iops).toBeCloseTo(frac, 12);
      expect(p.dimensions.iops).toBeCloseTo(1 - frac, 12);
    });

    it('a pod that does not fit scores 0 with either strategy', () => {
      const n = node({ iops: 1000 }, { iops: 900 });
      expect(scoreNode({ iops: 200 }, true, n, settings({ strategy: 'spread' }))).toEqual({
        score: 0,
        dimensions: { iops: 0 },
      });
      expect(scoreNode({ iops: 200 }, true, n, settings({ strategy: 'pack' }))).toEqual({
        score: 0,
        dimensions: { iops: 0 },
      });
    });

    it('divides by allocatable, not capacity', () => {
      // capacity 1000, reserve 0.5: allocatable 500, free 500; after = 500 - 100 = 400; frac = 0.8
      const entry: NodeEntry = { node: 'n1', capacity: { iops: 1000 }, usage: {}, receivedAt: NOW };
      const n = assessNode('n1', entry, NONE, NOW, { staleAfterMs: STALE_AFTER_MS, reserveFraction: 0.5 });
      expect(scoreNode({ iops: 100 }, true, n, settings())).toEqual({ score: 8, dimensions: { iops: 0.8 } });
    });

    it.each<{ name: string; parts: Committed; score: number }>([
      // allocatable 1000, pods 600 (above usage 100): free 400; after 300; frac 0.3
      { name: 'bound pods', parts: { ...NONE, pods: { iops: 600 } }, score: 3 },
      // 1000 - 300 reserved - usage 100: free 600; after 500; frac 0.5
      { name: 'bind reservations, on top of usage', parts: { ...NONE, reserved: { iops: 300 } }, score: 5 },
      // 1000 - max(100 + 200 unmeasured, 200): free 700; after 600; frac 0.6
      {
        name: 'unmeasured pods, on top of usage',
        parts: { ...NONE, pods: { iops: 200 }, unmeasured: { iops: 200 } },
        score: 6,
      },
    ])('uses free after commitments: $name -> $score', ({ parts, score }) => {
      const entry: NodeEntry = {
        node: 'n1',
        capacity: { iops: 1000 },
        usage: { iops: 100 },
        receivedAt: NOW,
      };
      const n = assessNode('n1', entry, parts, NOW, {
        staleAfterMs: STALE_AFTER_MS,
        reserveFraction: 0,
      });
      expect(scoreNode({ iops: 100 }, true, n, settings()).score).toBe(score);
    });
  });

  describe('weights: score = round(10 x sum(w x s) / sum(w))', () => {
    // ingress: free 1000, demand 100, after 900: frac 0.9; iops: free 200, demand 100, after 100: frac 0.1
    const n = node({ ingressBandwidth: 1000, iops: 1000 }, { iops: 800 });
    const demand = { ingressBandwidth: 100, iops: 100 };

    it.each([
      // spread (1 x 0.9 + 1 x 0.1) / 2 = 0.5; pack (0.1 + 0.9) / 2 = 0.5
      { name: 'equal weights', ingress: 1, iops: 1, spread: 5, pack: 5 },
      // spread (3 x 0.9 + 0.1) / 4 = 0.7; pack (3 x 0.1 + 0.9) / 4 = 0.3
      { name: 'ingress weighted 3', ingress: 3, iops: 1, spread: 7, pack: 3 },
      // spread (0.9 + 3 x 0.1) / 4 = 0.3; pack (0.1 + 3 x 0.9) / 4 = 0.7
      { name: 'iops weighted 3', ingress: 1, iops: 3, spread: 3, pack: 7 },
      // only the scale of weights matters: same as equal weights
      { name: 'large equal weights', ingress: 1000, iops: 1000, spread: 5, pack: 5 },
      // zero weight drops the dimension: spread 0.9, pack 0.1
      { name: 'iops weight 0', ingress: 1, iops: 0, spread: 9, pack: 1 },
      { name: 'ingress weight 0', ingress: 0, iops: 1, spread: 1, pack: 9 },
      { name: 'all asked dimensions weight 0', ingress: 0, iops: 0, spread: 0, pack: 0 },
    ])('$name: spread $spread, pack $pack', ({ ingress, iops, spread, pack }) => {
      const weights = { ingressBandwidth: ingress, egressBandwidth: 1, iops };
      expect(scoreNode(demand, true, n, settings({ strategy: 'spread', weights })).score).toBe(spread);
      expect(scoreNode(demand, true, n, settings({ strategy: 'pack', weights })).score).toBe(pack);
    });

    it('leaves zero-weight dimensions out of the breakdown', () => {
      const weights = { ingressBandwidth: 1, egressBandwidth: 1, iops: 0 };
      expect(scoreNode(demand, true, n, settings({ weights }))).toEqual({
        score: 9,
        dimensions: { ingressBandwidth: 0.9 },
      });
    });

    it('scores only the dimensions the pod asks for', () => {
      // egress is measured and idle but not asked for: it must not raise the spread score
      const withEgress = node({ ingressBandwidth: 1000, egressBandwidth: 1000, iops: 1000 }, { iops: 800 });
      expect(scoreNode({ iops: 100 }, true, withEgress, settings())).toEqual({
        score: 1,
        dimensions: { iops: 0.1 },
      });
    });

    it('gives 0 to an asked dimension the node does not measure', () => {
      // ingress: free 1000, demand 200, frac 0.8; iops unmeasured: s = 0
      // spread (0.8 + 0) / 2 = 0.4 -> 4; pack (0.2 + 0) / 2 = 0.1 -> 1
      const ingressOnly = node({ ingressBandwidth: 1000 });
      const asks = { ingressBandwidth: 200, iops: 100 };
      expect(scoreNode(asks, true, ingressOnly, settings())).toEqual({
        score: 4,
        dimensions: { ingressBandwidth: 0.8, iops: 0 },
      });
      expect(scoreNode(asks, true, ingressOnly, settings({ strategy: 'pack' }))).toEqual({
        score: 1,
        dimensions: { ingressBandwidth: expect.closeTo(0.2, 12), iops: 0 },
      });
    });

    it('gives 0 to a dimension with zero capacity', () => {
      expect(scoreNode({ iops: 0 }, true, node({ iops: 0 }), settings())).toEqual({
        score: 0,
        dimensions: { iops: 0 },
      });
    });
  });

  describe('neutral where ioplace knows nothing', () => {
    it.each([
      {
        name: 'unknown node',
        n: assessNode('n1', undefined, NONE, NOW, { staleAfterMs: STALE_AFTER_MS, reserveFraction: 0 }),
      },
      { name: 'stale node', n: node({ iops: 1000 }, {}, NOW - STALE_AFTER_MS - 1) },
    ])('$name scores 0, whatever the strategy and scoreAllPods', ({ n }) => {
      for (const strategy of ['spread', 'pack'] as const) {
        for (const scoreAllPods of [false, true]) {
          expect(scoreNode({ iops: 100 }, true, n, settings({ strategy, scoreAllPods }))).toEqual({
            score: 0,
            dimensions: {},
          });
          expect(scoreNode({}, false, n, settings({ strategy, scoreAllPods })).score).toBe(0);
        }
      }
    });

    it('a node reported exactly staleAfter ago still scores', () => {
      const n = node({ iops: 1000 }, {}, NOW - STALE_AFTER_MS);
      expect(scoreNode({ iops: 100 }, true, n, settings()).score).toBe(9);
    });

    it('a pod without demand scores 0 unless scoreAllPods is on', () => {
      const n = node({ iops: 1000 }, { iops: 200 });
      expect(scoreNode({}, false, n, settings())).toEqual({ score: 0, dimensions: {} });
      expect(scoreNode({}, false, n, settings({ strategy: 'pack' }))).toEqual({ score: 0, dimensions: {} });
    });
  });

  describe('scoreAllPods: a pod without demand is scored on every weighted dimension the node measures', () => {
    // ingress: free 1000/1000 = 1; egress: not measured, left out; iops: free 200/1000 = 0.2
    const n = node({ ingressBandwidth: 1000, iops: 1000 }, { iops: 800 });

    it('spread: (1 + 0.2) / 2 = 0.6 -> 6', () => {
      expect(scoreNode({}, false, n, settings({ scoreAllPods: true }))).toEqual({
        score: 6,
        dimensions: { ingressBandwidth: 1, iops: 0.2 },
      });
    });

    it('pack: (0 + 0.8) / 2 = 0.4 -> 4', () => {
      expect(scoreNode({}, false, n, settings({ scoreAllPods: true, strategy: 'pack' }))).toEqual({
        score: 4,
        dimensions: { ingressBandwidth: 0, iops: 0.8 },
      });
    });

    it('skips zero-weight dimensions: spread 0.2 -> 2 with ingress weighted 0', () => {
      const weights = { ingressBandwidth: 0, egressBandwidth: 1, iops: 1 };
      expect(scoreNode({}, false, n, settings({ scoreAllPods: true, weights }))).toEqual({
        score: 2,
        dimensions: { iops: 0.2 },
      });
    });

    it('weights the measured dimensions: spread (3 x 1 + 1 x 0.2) / 4 = 0.8 -> 8', () => {
      const weights = { ingressBandwidth: 3, egressBandwidth: 1000, iops: 1 };
      expect(scoreNode({}, false, n, settings({ scoreAllPods: true, weights })).score).toBe(8);
    });

    it.each([
      {
        name: 'every weight is 0',
        capacity: { iops: 1000 },
        weights: { ingressBandwidth: 0, egressBandwidth: 0, iops: 0 },
      },
      {
        name: 'the node measures nothing',
        capacity: {},
        weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 1 },
      },
      {
        name: 'the node measures only zero-weight dimensions',
        capacity: { iops: 1000 },
        weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 0 },
      },
    ])('scores 0 when $name', ({ capacity, weights }) => {
      expect(scoreNode({}, false, node(capacity), settings({ scoreAllPods: true, weights }))).toEqual({
        score: 0,
        dimensions: {},
      });
    });

    it('does not change how a pod with demand is scored', () => {
      expect(scoreNode({ iops: 100 }, true, n, settings({ scoreAllPods: true }))).toEqual(
        scoreNode({ iops: 100 }, true, n, settings({ scoreAllPods: false })),
      );
    });
  });

  it('always gives an integer in 0..10', () => {
    const seen = new Set<number>();
    const weightSets = [
      { ingressBandwidth: 1, egressBandwidth: 1, iops: 1 },
      { ingressBandwidth: 1000, egressBandwidth: 0, iops: 0.001 },
      { ingressBandwidth: 0, egressBandwidth: 0, iops: 0 },
      { ingressBandwidth: 3, egressBandwidth: 7, iops: 0.5 },
    ];
    for (const capacity of [0, 1, 999, 1000, 1e18]) {
      for (const used of [0, 0.3, 1, 2]) {
        const n = node(
          { ingressBandwidth: capacity, egressBandwidth: capacity, iops: capacity },
          { ingressBandwidth: capacity * used, iops: capacity * (1 - Math.min(used, 1)) },
        );
        for (const need of [0, 1, 500, 1e18, 5e18]) {
          for (const demand of [
            { iops: need },
            { ingressBandwidth: need, egressBandwidth: need, iops: need },
          ]) {
            for (const strategy of ['spread', 'pack'] as const) {
              for (const weights of weightSets) {
                for (const [d, has] of [
                  [demand, true],
                  [{}, false],
                ] as const) {
                  const { score } = scoreNode(d, has, n, settings({ strategy, weights, scoreAllPods: true }));
                  expect(Number.isInteger(score), `${score}`).toBe(true);
                  expect(score).toBeGreaterThanOrEqual(0);
                  expect(score).toBeLessThanOrEqual(MAX_SCORE);
                  seen.add(score);
                }
              }
            }
          }
        }
      }
    }
    // The sweep must reach both ends, or it proves little.
    expect(seen.has(0)).toBe(true);
    expect(seen.has(MAX_SCORE)).toBe(true);
  });
});

describe('ScorePlan.scoreRow (the row form of scoreValue)', () => {
  const SETTINGS: PlacementSettings = {
    staleAfterMs: 60_000,
    reserveFraction: 0.1,
    unknownNodes: 'reject',
    strategy: 'spread',
    weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 2 },
    scoreAllPods: false,
  };

  it.each<[string, Amounts, Amounts, Amounts]>([
    ['one dimension', { iops: 100 }, { iops: 1000 }, { iops: 300 }],
    ['weighted dimensions', { iops: 100, ingressBandwidth: 5e6 }, { iops: 1000, ingressBandwidth: 1e9 }, {}],
    ['a dimension the node does not report', { egressBandwidth: 1 }, { iops: 1000 }, {}],
    ['more than is free', { iops: 5000 }, { iops: 1000 }, { iops: 999 }],
  ])('scores %s as scoreValue does, in both strategies', (_, demand, capacity, usage) => {
    const { figures, row, state } = bookRow(capacity, usage, SETTINGS);
    for (const strategy of ['spread', 'pack'] as const) {
      const settings = { ...SETTINGS, strategy };
      const view = new NodeFigures().load(state, 0, settings);
      expect(new ScorePlan(demand, settings).scoreRow(figures, row)).toBe(
        scoreValue(demand, true, view, settings),
      );
    }
  });

  it('leaves out dimensions weighted 0', () => {
    const { figures, row } = bookRow(
      { iops: 1000, ingressBandwidth: 1000 },
      { ingressBandwidth: 1000 },
      SETTINGS,
    );
    const settings = { ...SETTINGS, weights: { ingressBandwidth: 0, egressBandwidth: 1, iops: 1 } };
    // iops: (900 - 100) / 900 of the allocatable is left: 8.9 -> 9; ingress would pull it down.
    expect(new ScorePlan({ iops: 100, ingressBandwidth: 100 }, settings).scoreRow(figures, row)).toBe(9);
  });
});
