import { describe, expect, it } from 'vitest';
import type { Committed } from '../../../src/domain/free-capacity.js';
import { assessNode, type NodeAssessment } from '../../../src/domain/node-assessment.js';
import { RejectionMemory } from '../../../src/domain/rejection-memory.js';
import type { Amounts } from '../../../src/domain/resources.js';

const T = 1_000_000;
const TTL_MS = 60_000;
const STALE_AFTER_MS = 30_000;

const NONE: Committed = { pods: {}, unmeasured: {}, reserved: {} };

/** A node assessed at `now` whose free capacity equals `capacity` (nothing used), reported `age` ms ago. */
function node(name: string, capacity: Amounts, now: number, age = 0): NodeAssessment {
  return assessNode(name, { node: name, capacity, usage: {}, receivedAt: now - age }, NONE, now, {
    staleAfterMs: STALE_AFTER_MS,
    reserveFraction: 0,
  });
}

function memory(perNode = 10) {
  return new RejectionMemory({ ttlMs: TTL_MS, perNode });
}

describe('RejectionMemory', () => {
  it('knows no node at first, and nothing fits', () => {
    const m = memory();
    expect(m.nodes).toBe(0);
    expect(m.takeFitting(node('a', { iops: 1e9 }, T), T)).toBe(false);
  });

  describe('takeFitting', () => {
    it('is true once when a remembered demand now fits, then false', () => {
      const m = memory();
      m.note('a', { iops: 200 }, T);
      expect(m.nodes).toBe(1);
      expect(m.takeFitting(node('a', { iops: 199 }, T + 1), T + 1)).toBe(false);
      expect(m.nodes).toBe(1);
      expect(m.takeFitting(node('a', { iops: 200 }, T + 2), T + 2)).toBe(true);
      expect(m.takeFitting(node('a', { iops: 200 }, T + 3), T + 3)).toBe(false);
      expect(m.nodes).toBe(0);
    });

    it('forgets only the demands that fit; the others keep waiting', () => {
      const m = memory();
      m.note('a', { iops: 200 }, T);
      m.note('a', { iops: 500 }, T);
      expect(m.takeFitting(node('a', { iops: 300 }, T), T)).toBe(true);
      expect(m.nodes).toBe(1);
      expect(m.takeFitting(node('a', { iops: 300 }, T), T)).toBe(false);
      expect(m.takeFitting(node('a', { iops: 500 }, T), T)).toBe(true);
      expect(m.nodes).toBe(0);
    });

    it('needs every dimension of a demand to fit, and an unmeasured one never fits', () => {
      const m = memory();
      m.note('a', { iops: 100, ingressBandwidth: 100 }, T);
      expect(m.takeFitting(node('a', { iops: 1000, ingressBandwidth: 99 }, T), T)).toBe(false);
      expect(m.takeFitting(node('a', { iops: 1000 }, T), T)).toBe(false);
      expect(m.takeFitting(node('a', { iops: 100, ingressBandwidth: 100 }, T), T)).toBe(true);
    });

    it('keeps nodes apart', () => {
      const m = memory();
      m.note('a', { iops: 100 }, T);
      expect(m.takeFitting(node('b', { iops: 1e9 }, T), T)).toBe(false);
      expect(m.nodes).toBe(1);
      expect(m.takeFitting(node('a', { iops: 100 }, T), T)).toBe(true);
    });

    it('is false while the node is stale, and keeps the demand for when it is fresh again', () => {
      const m = memory();
      m.note('a', { iops: 100 }, T);
      expect(m.takeFitting(node('a', { iops: 1e9 }, T + 10, STALE_AFTER_MS + 1), T + 10)).toBe(false);
      expect(m.nodes).toBe(1);
      expect(m.takeFitting(node('a', { iops: 1e9 }, T + 20), T + 20)).toBe(true);
    });

    it('is false for a node that has no report at all', () => {
      const m = memory();
      m.note('a', { iops: 100 }, T);
      const unknown = assessNode('a', undefined, NONE, T, {
        staleAfterMs: STALE_AFTER_MS,
        reserveFraction: 0,
      });
      expect(m.takeFitting(unknown, T)).toBe(false);
      expect(m.nodes).toBe(1);
    });
  });

  describe('ttl', () => {
    it.each<{ name: string; age: number; fits: boolean }>([
      { name: 'noted just now', age: 0, fits: true },
      { name: 'exactly ttl old: still remembered', age: TTL_MS, fits: true },
      { name: 'one ms older than ttl: ignored', age: TTL_MS + 1, fits: false },
    ])('$name -> $fits', ({ age, fits }) => {
      const m = memory();
      m.note('a', { iops: 100 }, T);
      expect(m.takeFitting(node('a', { iops: 100 }, T + age), T + age)).toBe(fits);
    });

    it('drops entries older than ttl even when nothing fits', () => {
      const m = memory();
      m.note('a', { iops: 100 }, T);
      expect(m.takeFitting(node('a', { iops: 0 }, T + TTL_MS + 1), T + TTL_MS + 1)).toBe(false);
      expect(m.nodes).toBe(0);
    });

    it('drops entries older than ttl while the node is stale, too', () => {
      const m = memory();
      m.note('a', { iops: 100 }, T);
      m.note('a', { iops: 200 }, T + 1000);
      const now = T + TTL_MS + 1;
      expect(m.takeFitting(node('a', { iops: 1e9 }, now, STALE_AFTER_MS + 1), now)).toBe(false);
      expect(m.nodes).toBe(1);
      // Only the younger one is left: a node with room for 100 but not 200 has no news.
      expect(m.takeFitting(node('a', { iops: 150 }, now), now)).toBe(false);
      expect(m.takeFitting(node('a', { iops: 200 }, now), now)).toBe(true);
    });

    it('keeps a younger entry when an older one on the same node expires', () => {
      const m = memory();
      m.note('a', { iops: 100 }, T);
      m.note('a', { iops: 300 }, T + 10_000);
      const now = T + TTL_MS + 1;
      // Room for 100 is no news any more: that rejection is too old.
      expect(m.takeFitting(node('a', { iops: 100 }, now), now)).toBe(false);
      expect(m.nodes).toBe(1);
      expect(m.takeFitting(node('a', { iops: 300 }, now), now)).toBe(true);
    });
  });

  describe('note', () => {
    it('deduplicates identical demands and refreshes their time', () => {
      const m = memory();
      m.note('a', { iops: 100 }, T);
      m.note('a', { iops: 100 }, T + 30_000);
      // Remembered from the second note: 61 s after the first is only 31 s after the second.
      const now = T + TTL_MS + 1000;
      expect(m.takeFitting(node('a', { iops: 100 }, now), now)).toBe(true);
      // One entry, not two: taken once, nothing left.
      expect(m.takeFitting(node('a', { iops: 100 }, now), now)).toBe(false);
      expect(m.nodes).toBe(0);
    });

    it('identical demands take one slot: they do not push other demands out', () => {
      const m = memory(2);
      m.note('a', { iops: 100 }, T);
      m.note('a', { iops: 900 }, T);
      m.note('a', { iops: 900 }, T);
      m.note('a', { iops: 900 }, T);
      expect(m.takeFitting(node('a', { iops: 100 }, T), T)).toBe(true);
    });

    it('tells demands apart by every dimension', () => {
      const m = memory(2);
      m.note('a', { iops: 100 }, T);
      m.note('a', { iops: 100, ingressBandwidth: 1e9 }, T);
      // Both are kept: room for iops alone reports the first...
      expect(m.takeFitting(node('a', { iops: 100 }, T), T)).toBe(true);
      // ...and the second still waits for ingress.
      expect(m.nodes).toBe(1);
      expect(m.takeFitting(node('a', { iops: 100, ingressBandwidth: 1e9 }, T), T)).toBe(true);
    });

    it.each([1, 2, 3])('remembers at most perNode=%i demands per node, dropping the oldest', (perNode) => {
      const m = memory(perNode);
      // demands 100, 200, ..., (perNode + 1) x 100: the first one noted must be dropped
      for (let i = 1; i <= perNode + 1; i++) m.note('a', { iops: i * 100 }, T + i);
      expect(m.takeFitting(node('a', { iops: 199 }, T + 10), T + 10)).toBe(false);
      for (let i = 2; i <= perNode + 1; i++) {
        expect(m.takeFitting(node('a', { iops: i * 100 }, T + 10), T + 10)).toBe(true);
      }
      expect(m.nodes).toBe(0);
    });

    it('the cap is per node', () => {
      const m = memory(1);
      m.note('a', { iops: 100 }, T);
      m.note('b', { iops: 200 }, T);
      expect(m.nodes).toBe(2);
      expect(m.takeFitting(node('a', { iops: 100 }, T), T)).toBe(true);
      expect(m.takeFitting(node('b', { iops: 200 }, T), T)).toBe(true);
    });

    it('when full, drops the demand noted longest ago, not one just noted again', () => {
      const m = memory(2);
      m.note('a', { iops: 100 }, T);
      m.note('a', { iops: 500 }, T + 1);
      m.note('a', { iops: 100 }, T + 2); // turned away again: now the most recent
      m.note('a', { iops: 900 }, T + 3); // full: 500 (noted at T + 1) is the oldest
      expect(m.takeFitting(node('a', { iops: 100 }, T + 4), T + 4)).toBe(true);
      // 500 was dropped: room for it is no news; 900 is still waiting.
      expect(m.takeFitting(node('a', { iops: 899 }, T + 4), T + 4)).toBe(false);
      expect(m.nodes).toBe(1);
      expect(m.takeFitting(node('a', { iops: 900 }, T + 4), T + 4)).toBe(true);
      expect(m.nodes).toBe(0);
    });
  });

  describe('forget', () => {
    it('drops everything remembered about the node, and only that node', () => {
      const m = memory();
      m.note('a', { iops: 100 }, T);
      m.note('b', { iops: 100 }, T);
      m.forget('a');
      expect(m.nodes).toBe(1);
      expect(m.takeFitting(node('a', { iops: 100 }, T), T)).toBe(false);
      expect(m.takeFitting(node('b', { iops: 100 }, T), T)).toBe(true);
    });

    it('is harmless for a node it never heard of', () => {
      const m = memory();
      m.forget('nope');
      expect(m.nodes).toBe(0);
    });
  });
});
