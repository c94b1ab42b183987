import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';
import { Ledger } from '../../../src/domain/ledger.js';
import { Reservations } from '../../../src/domain/reservations.js';

const T = 1_000_000;

/** Wired as the app wires it: the reservations keep the reserved part of the commitments. */
function setup() {
  const commitments = new Commitments();
  const ledger = commitments.reserved;
  const reservations = new Reservations(ledger);
  return { commitments, ledger, reservations };
}

describe('Reservations', () => {
  it('holds nothing at first', () => {
    const { ledger, reservations } = setup();
    expect(reservations.size).toBe(0);
    expect(reservations.has('u1')).toBe(false);
    expect(ledger.holders).toBe(0);
  });

  describe('reserve', () => {
    it('adds the demand to its ledger under holder <uid>, and to no other part of the commitments', () => {
      const { commitments, ledger, reservations } = setup();
      reservations.reserve('u1', 'a', { iops: 100, ingressBandwidth: 5 }, T);
      expect(commitments.on('a')).toEqual({
        pods: {},
        unmeasured: {},
        reserved: { iops: 100, ingressBandwidth: 5 },
      });
      expect(ledger.on('b')).toEqual({});
      expect(reservations.has('u1')).toBe(true);
      expect(reservations.size).toBe(1);
      // The holder id is the bare uid: releasing that id directly empties the node.
      expect(ledger.release('reservation/u1')).toBe(false);
      expect(ledger.release('u1')).toBe(true);
      expect(ledger.on('a')).toEqual({});
    });

    it('works on a bare Ledger', () => {
      const ledger = new Ledger();
      const reservations = new Reservations(ledger);
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      expect(ledger.on('a')).toEqual({ iops: 100 });
      expect(reservations.release('u1')).toBe(true);
      expect(ledger.holders).toBe(0);
    });

    it('adds to what other holders already hold in the ledger on the node', () => {
      const { ledger, reservations } = setup();
      ledger.hold('p1', 'a', { iops: 300 });
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      reservations.reserve('u2', 'a', { iops: 50, egressBandwidth: 7 }, T);
      expect(ledger.on('a')).toEqual({ iops: 450, egressBandwidth: 7 });
      expect(ledger.holders).toBe(3);
      expect(reservations.size).toBe(2);
    });

    it('does not clash with a pod holder of the same uid: the pod is in another ledger', () => {
      const { commitments, reservations } = setup();
      commitments.pods.hold('u1', 'a', { iops: 10 });
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      expect(commitments.on('a')).toEqual({ pods: { iops: 10 }, unmeasured: {}, reserved: { iops: 100 } });
    });

    it('re-reserving the same uid on another node moves it', () => {
      const { ledger, reservations } = setup();
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      reservations.reserve('u2', 'a', { iops: 5 }, T);
      reservations.reserve('u1', 'b', { iops: 100 }, T);
      expect(ledger.on('a')).toEqual({ iops: 5 });
      expect(ledger.on('b')).toEqual({ iops: 100 });
      expect(reservations.size).toBe(2);
      expect(ledger.holders).toBe(2);
    });

    it('re-reserving the same uid on the same node replaces the amount rather than adding', () => {
      const { ledger, reservations } = setup();
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      reservations.reserve('u1', 'a', { iops: 40 }, T);
      expect(ledger.on('a')).toEqual({ iops: 40 });
      expect(reservations.size).toBe(1);
    });

    it('re-reserving replaces the expiry too', () => {
      const { reservations } = setup();
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      reservations.reserve('u1', 'b', { iops: 100 }, T + 10_000);
      expect(reservations.expire(T + 5000)).toEqual([]);
      expect(reservations.has('u1')).toBe(true);
      expect(reservations.expire(T + 10_000)).toEqual(['u1']);
    });
  });

  describe('release', () => {
    it('releases the commitment and says whether there was a reservation', () => {
      const { ledger, reservations } = setup();
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      reservations.reserve('u2', 'a', { iops: 30 }, T);
      expect(reservations.release('u1')).toBe(true);
      expect(ledger.on('a')).toEqual({ iops: 30 });
      expect(reservations.has('u1')).toBe(false);
      expect(reservations.size).toBe(1);
      expect(reservations.release('u1')).toBe(false);
      expect(reservations.release('never')).toBe(false);
      expect(ledger.on('a')).toEqual({ iops: 30 });
    });

    it('leaves commitments held by anything other than the reservation alone', () => {
      const { commitments, ledger, reservations } = setup();
      commitments.pods.hold('u1', 'a', { iops: 100 });
      commitments.unmeasured.hold('u1', 'a', { iops: 100 });
      ledger.hold('other', 'a', { iops: 7 });
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      expect(reservations.release('u1')).toBe(true);
      expect(commitments.on('a')).toEqual({
        pods: { iops: 100 },
        unmeasured: { iops: 100 },
        reserved: { iops: 7 },
      });
      expect(commitments.pods.holders).toBe(1);
      expect(commitments.unmeasured.holders).toBe(1);
      expect(ledger.holders).toBe(1);
    });

    it('does not release a holder of its ledger that it never reserved', () => {
      const { ledger, reservations } = setup();
      ledger.hold('other', 'a', { iops: 7 });
      expect(reservations.release('other')).toBe(false);
      expect(ledger.on('a')).toEqual({ iops: 7 });
      expect(reservations.expire(T + 1e9)).toEqual([]);
      expect(ledger.on('a')).toEqual({ iops: 7 });
    });
  });

  describe('expire(now) releases exactly those with expiresAt <= now', () => {
    it.each<{ name: string; now: number; expired: string[]; left: string[]; iops: number }>([
      { name: 'before every expiry', now: T - 1, expired: [], left: ['early', 'exact', 'late'], iops: 111 },
      {
        name: 'at the first expiry: expiresAt == now expires',
        now: T,
        expired: ['early'],
        left: ['exact', 'late'],
        iops: 110,
      },
      {
        name: 'one ms before the second',
        now: T + 999,
        expired: ['early'],
        left: ['exact', 'late'],
        iops: 110,
      },
      {
        name: 'exactly at the second',
        now: T + 1000,
        expired: ['early', 'exact'],
        left: ['late'],
        iops: 100,
      },
      { name: 'long after all', now: T + 1e9, expired: ['early', 'exact', 'late'], left: [], iops: 0 },
    ])('$name', ({ now, expired, left, iops }) => {
      const { ledger, reservations } = setup();
      reservations.reserve('early', 'a', { iops: 1 }, T);
      reservations.reserve('exact', 'a', { iops: 10 }, T + 1000);
      reservations.reserve('late', 'a', { iops: 100 }, T + 1001);
      expect(reservations.expire(now).sort()).toEqual(expired);
      for (const uid of ['early', 'exact', 'late']) expect(reservations.has(uid)).toBe(left.includes(uid));
      expect(reservations.size).toBe(left.length);
      expect(ledger.on('a').iops ?? 0).toBe(iops);
    });

    it('returns an expired uid only once', () => {
      const { reservations } = setup();
      reservations.reserve('u1', 'a', { iops: 1 }, T);
      expect(reservations.expire(T)).toEqual(['u1']);
      expect(reservations.expire(T + 1)).toEqual([]);
    });

    it('releases across nodes', () => {
      const { ledger, reservations } = setup();
      reservations.reserve('u1', 'a', { iops: 1 }, T);
      reservations.reserve('u2', 'b', { iops: 2 }, T);
      reservations.reserve('u3', 'b', { iops: 4 }, T + 1);
      expect(reservations.expire(T).sort()).toEqual(['u1', 'u2']);
      expect(ledger.on('a')).toEqual({});
      expect(ledger.on('b')).toEqual({ iops: 4 });
    });

    it('finds nothing to expire when nothing is reserved', () => {
      const { reservations } = setup();
      expect(reservations.expire(T)).toEqual([]);
    });
  });
});
