import { describe, expect, it } from 'vitest';
import type { Committed } from '../../../src/domain/free-capacity.js';
import { assessNode, type NodeAssessment } from '../../../src/domain/node-assessment.js';
import type { NodeEntry } from '../../../src/domain/node-book.js';
import { evictionMakesRoom } from '../../../src/domain/preemption.js';
import type { Amounts } from '../../../src/domain/resources.js';

const NOW = 1_000_000;
const STALE_AFTER_MS = 30_000;
const REJECT = { unknownNodes: 'reject' } as const;
const ALLOW = { unknownNodes: 'allow' } as const;

const NONE: Committed = { pods: {}, unmeasured: {}, reserved: {} };

function node(
  capacity: Amounts,
  usage: Amounts = {},
  parts: Partial<Committed> = {},
  reserveFraction = 0,
  receivedAt = NOW,
): NodeAssessment {
  const entry: NodeEntry = { node: 'n1', capacity, usage, receivedAt };
  return assessNode('n1', entry, { ...NONE, ...parts }, NOW, {
    staleAfterMs: STALE_AFTER_MS,
    reserveFraction,
  });
}

const iops = (amount: number | undefined): Amounts => (amount === undefined ? {} : { iops: amount });

describe('evictionMakesRoom', () => {
  describe("free'_d = max(0, allocatable_d - reserved_d - max(usage_d + unmeasured_d - freed_d, pods_d - freed_d)), each clamped at 0", () => {
    it.each<{
      name: string;
      capacity: number;
      reserve?: number;
      usage?: number;
      pods?: number;
      unmeasured?: number;
      reserved?: number;
      freed?: number;
      need: number;
      helps: boolean;
    }>([
      { name: 'idle node, demand equal to capacity', capacity: 1000, need: 1000, helps: true },
      { name: 'idle node, demand above capacity', capacity: 1000, need: 1001, helps: false },
      { name: 'busy node, nothing freed', capacity: 1000, usage: 900, need: 200, helps: false },
      {
        name: 'usage less freed leaves exactly enough',
        capacity: 1000,
        usage: 900,
        freed: 100,
        need: 200,
        helps: true,
      },
      { name: 'usage less freed one short', capacity: 1000, usage: 900, freed: 99, need: 200, helps: false },
      {
        name: 'pods less freed leaves exactly enough',
        capacity: 1000,
        pods: 900,
        freed: 100,
        need: 200,
        helps: true,
      },
      {
        name: 'pods less freed one short',
        capacity: 1000,
        pods: 900,
        freed: 99,
        need: 200,
        helps: false,
      },
      {
        name: 'usage above pods: the larger after eviction counts (fits)',
        capacity: 1000,
        usage: 900,
        pods: 500,
        freed: 400,
        need: 500,
        helps: true,
      },
      {
        name: 'usage above pods: the larger after eviction counts (short)',
        capacity: 1000,
        usage: 900,
        pods: 500,
        freed: 400,
        need: 501,
        helps: false,
      },
      {
        name: 'pods above usage; usage less freed clamps at 0 (fits)',
        capacity: 1000,
        usage: 300,
        pods: 900,
        freed: 400,
        need: 500,
        helps: true,
      },
      {
        name: 'pods above usage; usage less freed clamps at 0 (short)',
        capacity: 1000,
        usage: 300,
        pods: 900,
        freed: 400,
        need: 501,
        helps: false,
      },
      {
        name: 'freed above usage and pods: the node counts as empty, not emptier',
        capacity: 1000,
        usage: 100,
        pods: 200,
        freed: 10_000,
        need: 1000,
        helps: true,
      },
      {
        name: 'freed above usage and pods: never more than allocatable',
        capacity: 1000,
        usage: 100,
        pods: 200,
        freed: 10_000,
        need: 1001,
        helps: false,
      },
      {
        name: 'allocatable = capacity x (1 - reserve): exactly enough',
        capacity: 1000,
        reserve: 0.5,
        usage: 400,
        freed: 100,
        need: 200,
        helps: true,
      },
      {
        name: 'allocatable = capacity x (1 - reserve): one short',
        capacity: 1000,
        reserve: 0.5,
        usage: 400,
        freed: 100,
        need: 201,
        helps: false,
      },
      {
        name: 'reserve: an idle node cannot give more than allocatable',
        capacity: 1000,
        reserve: 0.25,
        freed: 1000,
        need: 751,
        helps: false,
      },
      {
        name: 'usage still above allocatable after eviction: free clamped at 0',
        capacity: 1000,
        reserve: 0.25,
        usage: 1000,
        freed: 100,
        need: 1,
        helps: false,
      },
      { name: 'zero capacity', capacity: 0, freed: 100, need: 1, helps: false },
      // Unmeasured pods count on top of usage, and evicting them takes them off it.
      {
        name: 'unmeasured on top of usage, nothing freed: 1000 - max(500 + 300, 600) = 200',
        capacity: 1000,
        usage: 500,
        pods: 600,
        unmeasured: 300,
        need: 200,
        helps: true,
      },
      {
        name: 'unmeasured on top of usage, nothing freed: one short',
        capacity: 1000,
        usage: 500,
        pods: 600,
        unmeasured: 300,
        need: 201,
        helps: false,
      },
      {
        name: 'usage + unmeasured less freed: 1000 - max(500 + 300 - 300, 600 - 300) = 500',
        capacity: 1000,
        usage: 500,
        pods: 600,
        unmeasured: 300,
        freed: 300,
        need: 500,
        helps: true,
      },
      {
        name: 'usage + unmeasured less freed: one short',
        capacity: 1000,
        usage: 500,
        pods: 600,
        unmeasured: 300,
        freed: 300,
        need: 501,
        helps: false,
      },
      {
        name: 'unmeasured is not added to pods: 1000 - max(0 + 400 - 100, 400 - 100) = 700',
        capacity: 1000,
        pods: 400,
        unmeasured: 400,
        freed: 100,
        need: 700,
        helps: true,
      },
      // Reservations belong to pods not bound yet: eviction never frees them.
      {
        name: 'reserved on top of usage is not freed: 1000 - 100 - (900 - 300) = 300',
        capacity: 1000,
        usage: 900,
        reserved: 100,
        freed: 300,
        need: 300,
        helps: true,
      },
      {
        name: 'reserved on top of usage is not freed: one short',
        capacity: 1000,
        usage: 900,
        reserved: 100,
        freed: 300,
        need: 301,
        helps: false,
      },
      {
        name: 'reserved on top of pods is not freed, even when every pod goes',
        capacity: 1000,
        pods: 900,
        reserved: 100,
        freed: 10_000,
        need: 901,
        helps: false,
      },
      {
        name: 'reserved on top of pods: every pod gone leaves allocatable - reserved',
        capacity: 1000,
        pods: 900,
        reserved: 100,
        freed: 10_000,
        need: 900,
        helps: true,
      },
      {
        name: 'all parts: 1000 - 50 - max(400 + 200 - 150, 700 - 150) = 400',
        capacity: 1000,
        usage: 400,
        pods: 700,
        unmeasured: 200,
        reserved: 50,
        freed: 150,
        need: 400,
        helps: true,
      },
      {
        name: 'all parts: one short',
        capacity: 1000,
        usage: 400,
        pods: 700,
        unmeasured: 200,
        reserved: 50,
        freed: 150,
        need: 401,
        helps: false,
      },
    ])('$name: $helps', ({ capacity, reserve, usage, pods, unmeasured, reserved, freed, need, helps }) => {
      const n = node(
        { iops: capacity },
        iops(usage),
        { pods: iops(pods), unmeasured: iops(unmeasured), reserved: iops(reserved) },
        reserve ?? 0,
      );
      const released: Amounts = freed === undefined ? {} : { iops: freed };
      expect(evictionMakesRoom({ iops: need }, n, released, REJECT)).toBe(helps);
      // A fresh node with the dimension measured answers the same whatever unknownNodes says.
      expect(evictionMakesRoom({ iops: need }, n, released, ALLOW)).toBe(helps);
    });
  });

  describe('dimensions', () => {
    it('requires every dimension asked for to fit', () => {
      // iops: 1000 - (900 - 100) = 200 free'; ingress: 1000 - 950 = 50 free', nothing freed there
      const n = node({ iops: 1000, ingressBandwidth: 1000 }, { iops: 900, ingressBandwidth: 950 });
      const freed = { iops: 100 };
      expect(evictionMakesRoom({ iops: 200 }, n, freed, REJECT)).toBe(true);
      expect(evictionMakesRoom({ iops: 200, ingressBandwidth: 50 }, n, freed, REJECT)).toBe(true);
      expect(evictionMakesRoom({ iops: 200, ingressBandwidth: 51 }, n, freed, REJECT)).toBe(false);
      expect(evictionMakesRoom({ iops: 201, ingressBandwidth: 50 }, n, freed, REJECT)).toBe(false);
    });

    it('ignores a dimension not asked for, however full or unmeasured', () => {
      // ingress is full with nothing freed; egress is not measured at all
      const n = node(
        { iops: 1000, ingressBandwidth: 1000 },
        { ingressBandwidth: 1000 },
        { pods: { egressBandwidth: 5 }, reserved: { ingressBandwidth: 10 } },
      );
      expect(evictionMakesRoom({ iops: 1000 }, n, {}, REJECT)).toBe(true);
    });

    it('frees only in the dimension the victims held', () => {
      // freeing ingress does not help a pod short of iops
      const n = node({ iops: 1000, ingressBandwidth: 1000 }, { iops: 1000, ingressBandwidth: 1000 });
      expect(evictionMakesRoom({ iops: 1 }, n, { ingressBandwidth: 1000 }, REJECT)).toBe(false);
      expect(evictionMakesRoom({ ingressBandwidth: 1000 }, n, { ingressBandwidth: 1000 }, REJECT)).toBe(true);
    });

    it.each<{ name: string; settings: typeof REJECT | typeof ALLOW; helps: boolean }>([
      { name: 'reject', settings: REJECT, helps: false },
      { name: 'allow', settings: ALLOW, helps: true },
    ])('an unmeasured dimension asked for: unknownNodes=$name -> $helps', ({ settings, helps }) => {
      const n = node({ iops: 1000 });
      expect(evictionMakesRoom({ egressBandwidth: 1 }, n, { egressBandwidth: 1 }, settings)).toBe(helps);
      expect(evictionMakesRoom({ iops: 10, egressBandwidth: 1 }, n, {}, settings)).toBe(helps);
    });

    it('allow skips only the unmeasured dimension: a measured one that is short still fails', () => {
      const n = node({ iops: 1000 }, { iops: 1000 });
      expect(evictionMakesRoom({ iops: 1, egressBandwidth: 1 }, n, {}, ALLOW)).toBe(false);
      expect(evictionMakesRoom({ iops: 1, egressBandwidth: 1 }, n, { iops: 1 }, ALLOW)).toBe(true);
    });

    it('a demand asking for nothing is always helped on a fresh node', () => {
      expect(evictionMakesRoom({}, node({ iops: 0 }, { iops: 10 }), {}, REJECT)).toBe(true);
    });
  });

  describe('nodes without a fresh report', () => {
    const unknownNode = assessNode('n1', undefined, NONE, NOW, {
      staleAfterMs: STALE_AFTER_MS,
      reserveFraction: 0,
    });
    // Plenty of room by its (stale) figures, so only freshness can make it fail.
    const staleNode = node({ iops: 1e6 }, {}, {}, 0, NOW - STALE_AFTER_MS - 1);
    const justFresh = node({ iops: 1e6 }, {}, {}, 0, NOW - STALE_AFTER_MS);

    it.each<{ name: string; n: NodeAssessment; settings: typeof REJECT | typeof ALLOW; helps: boolean }>([
      { name: 'unknown, reject', n: unknownNode, settings: REJECT, helps: false },
      { name: 'unknown, allow', n: unknownNode, settings: ALLOW, helps: true },
      { name: 'stale, reject', n: staleNode, settings: REJECT, helps: false },
      { name: 'stale, allow', n: staleNode, settings: ALLOW, helps: true },
      { name: 'exactly staleAfter old is still fresh, reject', n: justFresh, settings: REJECT, helps: true },
    ])('$name -> $helps', ({ n, settings, helps }) => {
      expect(evictionMakesRoom({ iops: 10 }, n, { iops: 10 }, settings)).toBe(helps);
    });

    it('allow lets a stale node through without looking at its figures', () => {
      const fullAndStale = node({ iops: 10 }, { iops: 10 }, {}, 0, NOW - STALE_AFTER_MS - 1);
      expect(evictionMakesRoom({ iops: 1e6 }, fullAndStale, {}, ALLOW)).toBe(true);
    });
  });
});
