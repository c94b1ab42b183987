import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';
import { holdsDemand, type PodRecord, PodStore } from '../../../src/domain/pod-store.js';
import { Reservations } from '../../../src/domain/reservations.js';

const T = 1_000_000;

function pod(overrides: Partial<PodRecord> & { uid: string }): PodRecord {
  return {
    node: 'a',
    phase: 'Running',
    demand: { iops: 100 },
    priority: 0,
    startedAt: undefined,
    ...overrides,
  };
}

const NOTHING = { pods: {}, unmeasured: {}, reserved: {} };

/**
 * A store wired as the app wires it, with a fake clock. Unless `synced` is false, the initial sync
 * (the first list, here empty) is over, so every pod the test adds arrives as a watch event.
 */
function setup(options: { synced?: boolean } = {}) {
  let now = T;
  const commitments = new Commitments();
  const reservations = new Reservations(commitments.reserved);
  const store = new PodStore({ commitments, reservations, clock: () => now });
  if (options.synced !== false) store.replace([]);
  return {
    commitments,
    reservations,
    store,
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('holdsDemand', () => {
  it.each<{ name: string; node: string | undefined; phase: string; holds: boolean }>([
    { name: 'bound and running', node: 'a', phase: 'Running', holds: true },
    { name: 'bound and pending (not started yet)', node: 'a', phase: 'Pending', holds: true },
    { name: 'bound, phase unknown', node: 'a', phase: 'Unknown', holds: true },
    { name: 'not bound (node undefined)', node: undefined, phase: 'Pending', holds: false },
    { name: 'not bound (node empty string)', node: '', phase: 'Pending', holds: false },
    { name: 'Succeeded', node: 'a', phase: 'Succeeded', holds: false },
    { name: 'Failed', node: 'a', phase: 'Failed', holds: false },
  ])('$name: $holds', ({ node, phase, holds }) => {
    expect(holdsDemand(pod({ uid: 'u1', node, phase }))).toBe(holds);
  });
});

describe('PodStore', () => {
  describe('upsert', () => {
    it.each<{ name: string; node: string | undefined; phase: string; committed: number }>([
      {
        name: 'a bound, running pod holds its demand on its node',
        node: 'a',
        phase: 'Running',
        committed: 100,
      },
      { name: 'a bound, Pending pod holds its demand', node: 'a', phase: 'Pending', committed: 100 },
      { name: 'a pending pod with no node holds nothing', node: undefined, phase: 'Pending', committed: 0 },
      { name: 'a pod with an empty node name holds nothing', node: '', phase: 'Pending', committed: 0 },
      { name: 'a Succeeded pod holds nothing', node: 'a', phase: 'Succeeded', committed: 0 },
      { name: 'a Failed pod holds nothing', node: 'a', phase: 'Failed', committed: 0 },
    ])('$name, and is kept in the store', ({ node, phase, committed }) => {
      const { commitments, store } = setup();
      const record = pod({ uid: 'u1', node, phase });
      store.upsert(record);
      expect(commitments.pods.on('a').iops ?? 0).toBe(committed);
      expect(commitments.pods.holders).toBe(committed > 0 ? 1 : 0);
      // Bound after the initial sync, so not in any report yet: unmeasured too.
      expect(commitments.unmeasured.on('a').iops ?? 0).toBe(committed);
      expect(commitments.reserved.holders).toBe(0);
      expect(store.get('u1')).toEqual(record);
      expect(store.size).toBe(1);
    });

    it('does not keep a pod without demand, and it holds nothing', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'u1', demand: {} }));
      expect(store.get('u1')).toBeUndefined();
      expect(store.size).toBe(0);
      expect(commitments.on('a')).toEqual(NOTHING);
    });

    it('holds every dimension the pod asks for', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'u1', demand: { iops: 5, ingressBandwidth: 1e6, egressBandwidth: 2e6 } }));
      expect(commitments.pods.on('a')).toEqual({ iops: 5, ingressBandwidth: 1e6, egressBandwidth: 2e6 });
    });

    it('upserting the same pod again does not count it twice', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'u1' }));
      store.upsert(pod({ uid: 'u1' }));
      expect(commitments.pods.on('a')).toEqual({ iops: 100 });
      expect(store.size).toBe(1);
    });

    it('sums the pods on one node and keeps nodes apart', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'u1', node: 'a', demand: { iops: 100 } }));
      store.upsert(pod({ uid: 'u2', node: 'a', demand: { iops: 20 } }));
      store.upsert(pod({ uid: 'u3', node: 'b', demand: { iops: 3 } }));
      expect(commitments.pods.on('a')).toEqual({ iops: 120 });
      expect(commitments.pods.on('b')).toEqual({ iops: 3 });
      expect(store.size).toBe(3);
    });

    it('a pod whose demand becomes empty is dropped and releases what it held', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'u1' }));
      store.upsert(pod({ uid: 'u2', demand: { iops: 7 } }));
      store.upsert(pod({ uid: 'u1', demand: {} }));
      expect(store.get('u1')).toBeUndefined();
      expect(store.size).toBe(1);
      expect(commitments.pods.on('a')).toEqual({ iops: 7 });
    });

    it('a changed demand replaces the old one', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'u1', demand: { iops: 100, ingressBandwidth: 9 } }));
      store.upsert(pod({ uid: 'u1', demand: { iops: 30 } }));
      const total = commitments.pods.on('a');
      expect(total.iops).toBe(30);
      expect(total.ingressBandwidth ?? 0).toBe(0);
    });

    it('a pod moving node moves its commitment', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'u1', node: 'a' }));
      store.upsert(pod({ uid: 'u1', node: 'b' }));
      expect(commitments.pods.on('a')).toEqual({});
      expect(commitments.pods.on('b')).toEqual({ iops: 100 });
      expect(store.get('u1')?.node).toBe('b');
      expect(commitments.pods.holders).toBe(1);
    });

    it.each(['Succeeded', 'Failed'])(
      'a running pod that turns %s releases its commitment but stays known',
      (phase) => {
        const { commitments, store } = setup();
        store.upsert(pod({ uid: 'u1' }));
        store.upsert(pod({ uid: 'u1', phase }));
        expect(commitments.on('a')).toEqual(NOTHING);
        expect(commitments.pods.holders).toBe(0);
        expect(commitments.unmeasured.holders).toBe(0);
        expect(store.get('u1')?.phase).toBe(phase);
      },
    );
  });

  describe('upsert and reservations', () => {
    it('a pod seen on its node releases its reservation and holds its own demand: one demand, not two', () => {
      const { commitments, reservations, store } = setup();
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      expect(commitments.on('a')).toEqual({ ...NOTHING, reserved: { iops: 100 } });
      store.upsert(pod({ uid: 'u1', node: 'a' }));
      expect(reservations.has('u1')).toBe(false);
      expect(reservations.size).toBe(0);
      // The reservation becomes a bound pod that no report shows yet (unmeasured is a part of pods).
      expect(commitments.on('a')).toEqual({ pods: { iops: 100 }, unmeasured: { iops: 100 }, reserved: {} });
      expect(commitments.pods.holders).toBe(1);
      expect(commitments.reserved.holders).toBe(0);
    });

    it('a pod seen still pending (no node) keeps its reservation and adds nothing', () => {
      const { commitments, reservations, store } = setup();
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      store.upsert(pod({ uid: 'u1', node: undefined, phase: 'Pending' }));
      expect(reservations.has('u1')).toBe(true);
      expect(commitments.on('a')).toEqual({ ...NOTHING, reserved: { iops: 100 } });
      expect(store.get('u1')).toBeDefined();
    });

    it('leaves the reservations of other pods alone', () => {
      const { commitments, reservations, store } = setup();
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      reservations.reserve('u2', 'a', { iops: 10 }, T);
      store.upsert(pod({ uid: 'u1', node: 'a' }));
      expect(reservations.has('u2')).toBe(true);
      expect(commitments.on('a')).toEqual({
        pods: { iops: 100 },
        unmeasured: { iops: 100 },
        reserved: { iops: 10 },
      });
    });

    it('a pod that finished before the watch saw it drops the reservation and holds nothing', () => {
      const { commitments, reservations, store } = setup();
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      store.upsert(pod({ uid: 'u1', node: 'a', phase: 'Succeeded' }));
      expect(reservations.has('u1')).toBe(false);
      expect(commitments.on('a')).toEqual(NOTHING);
    });
  });

  describe('remove', () => {
    it('releases the pod and returns its record', () => {
      const { commitments, store } = setup();
      const record = pod({ uid: 'u1' });
      store.upsert(record);
      store.upsert(pod({ uid: 'u2', demand: { iops: 5 } }));
      expect(store.remove('u1')).toEqual(record);
      expect(store.get('u1')).toBeUndefined();
      expect(store.size).toBe(1);
      expect(commitments.pods.on('a')).toEqual({ iops: 5 });
    });

    it('returns undefined for a pod it does not know', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'u1' }));
      expect(store.remove('nope')).toBeUndefined();
      expect(commitments.pods.on('a')).toEqual({ iops: 100 });
    });

    it('releases the reservation of a deleted pod too', () => {
      const { commitments, reservations, store } = setup();
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      store.upsert(pod({ uid: 'u1', node: undefined, phase: 'Pending' }));
      store.remove('u1');
      expect(reservations.has('u1')).toBe(false);
      expect(commitments.on('a')).toEqual(NOTHING);
    });
  });

  describe('podsOn', () => {
    it('groups the pods holding demand on the nodes asked for, and only those', () => {
      const { store } = setup();
      store.upsert(pod({ uid: 'a1', node: 'a' }));
      store.upsert(pod({ uid: 'a2', node: 'a', phase: 'Pending' }));
      store.upsert(pod({ uid: 'a-done', node: 'a', phase: 'Succeeded' }));
      store.upsert(pod({ uid: 'b1', node: 'b' }));
      store.upsert(pod({ uid: 'c1', node: 'c' }));
      store.upsert(pod({ uid: 'unbound', node: undefined, phase: 'Pending' }));
      const on = store.podsOn(new Set(['a', 'b', 'empty']));
      expect(
        on
          .get('a')
          ?.map((p) => p.uid)
          .sort(),
      ).toEqual(['a1', 'a2']);
      expect(on.get('b')?.map((p) => p.uid)).toEqual(['b1']);
      expect([...on.keys()].sort()).toEqual(['a', 'b']);
      expect(store.podsOn(new Set()).size).toBe(0);
    });

    it('sees a pod where it is now, not where it was', () => {
      const { store } = setup();
      store.upsert(pod({ uid: 'u1', node: 'a' }));
      store.upsert(pod({ uid: 'u1', node: 'b' }));
      const on = store.podsOn(new Set(['a', 'b']));
      expect(on.get('a')).toBeUndefined();
      expect(on.get('b')?.map((p) => p.uid)).toEqual(['u1']);
    });
  });

  describe('replace', () => {
    it('makes the store exactly the listed pods, releasing those that vanished', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'stays', node: 'a', demand: { iops: 1 } }));
      store.upsert(pod({ uid: 'gone', node: 'a', demand: { iops: 10 } }));
      store.upsert(pod({ uid: 'gone-too', node: 'b', demand: { iops: 100 } }));
      store.replace([
        pod({ uid: 'stays', node: 'a', demand: { iops: 2 } }),
        pod({ uid: 'new', node: 'b', demand: { iops: 1000 } }),
      ]);
      expect([...store.values()].map((p) => p.uid).sort()).toEqual(['new', 'stays']);
      expect(store.size).toBe(2);
      expect(commitments.pods.on('a')).toEqual({ iops: 2 });
      expect(commitments.pods.on('b')).toEqual({ iops: 1000 });
      expect(commitments.pods.holders).toBe(2);
    });

    it('with an empty list empties the store and every commitment', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'u1', node: 'a' }));
      store.upsert(pod({ uid: 'u2', node: 'b' }));
      store.replace([]);
      expect(store.size).toBe(0);
      expect(store.unmeasuredCount).toBe(0);
      for (const ledger of [commitments.pods, commitments.unmeasured, commitments.reserved]) {
        expect(ledger.holders).toBe(0);
      }
      expect(commitments.on('a')).toEqual(NOTHING);
      expect(commitments.on('b')).toEqual(NOTHING);
    });

    it('does not keep listed pods without demand', () => {
      const { store } = setup();
      store.replace([pod({ uid: 'u1', demand: {} }), pod({ uid: 'u2' })]);
      expect(store.get('u1')).toBeUndefined();
      expect(store.size).toBe(1);
    });

    it('releases the reservation of a listed pod that is now on its node, without double counting', () => {
      const { commitments, reservations, store } = setup();
      reservations.reserve('u1', 'a', { iops: 100 }, T);
      store.replace([pod({ uid: 'u1', node: 'a' })]);
      expect(reservations.has('u1')).toBe(false);
      expect(commitments.pods.on('a')).toEqual({ iops: 100 });
      expect(commitments.reserved.on('a')).toEqual({});
    });
  });

  describe('beginRelist / endRelist: a relist applied as its pages arrive', () => {
    it('keeps what the relist showed, and removes and reports what it did not', () => {
      const { commitments, store } = setup();
      store.upsert(pod({ uid: 'stays', node: 'a', demand: { iops: 1 } }));
      store.upsert(pod({ uid: 'gone', node: 'a', demand: { iops: 10 } }));
      store.upsert(pod({ uid: 'gone-too', node: 'b', demand: { iops: 100 } }));
      store.beginRelist();
      store.upsert(pod({ uid: 'stays', node: 'a', demand: { iops: 2 } }));
      // Until the relist is complete, nothing it has not shown yet is dropped.
      expect(store.size).toBe(3);
      store.upsert(pod({ uid: 'new', node: 'b', demand: { iops: 1000 } }));
      const removed: string[] = [];
      store.endRelist((gone) => removed.push(`${gone.uid} on ${gone.node}`));
      expect(removed.sort()).toEqual(['gone on a', 'gone-too on b']);
      expect([...store.values()].map((p) => p.uid).sort()).toEqual(['new', 'stays']);
      expect(commitments.pods.on('a')).toEqual({ iops: 2 });
      expect(commitments.pods.on('b')).toEqual({ iops: 1000 });
    });

    it('forgets a relist that was started again: only the last one counts', () => {
      const { store } = setup();
      store.upsert(pod({ uid: 'u1' }));
      store.upsert(pod({ uid: 'u2' }));
      store.beginRelist();
      store.upsert(pod({ uid: 'u1' })); // then the list fails part way, and starts over
      store.beginRelist();
      store.upsert(pod({ uid: 'u2' }));
      store.endRelist();
      expect([...store.values()].map((p) => p.uid)).toEqual(['u2']);
    });

    it('ends the initial sync: pods found running after it are not assumed measured', () => {
      const { store } = setup({ synced: false });
      store.beginRelist();
      store.upsert(pod({ uid: 'found', phase: 'Running' }));
      store.endRelist();
      store.upsert(pod({ uid: 'later', phase: 'Running' }));
      expect(store.unmeasuredCount).toBe(1);
    });
  });

  describe('unmeasured: bound pods that no report can show yet', () => {
    describe('the initial sync (the first replace)', () => {
      it.each<{ name: string; node: string | undefined; phase: string; unmeasured: number }>([
        {
          name: 'a Running pod has been running a while: measured',
          node: 'a',
          phase: 'Running',
          unmeasured: 0,
        },
        { name: 'a bound Pending pod is unmeasured', node: 'a', phase: 'Pending', unmeasured: 100 },
        { name: 'a bound pod in phase Unknown is unmeasured', node: 'a', phase: 'Unknown', unmeasured: 100 },
        { name: 'an unbound pod holds nothing', node: undefined, phase: 'Pending', unmeasured: 0 },
        { name: 'a Succeeded pod holds nothing', node: 'a', phase: 'Succeeded', unmeasured: 0 },
      ])('$name', ({ node, phase, unmeasured }) => {
        const { commitments, store } = setup({ synced: false });
        store.replace([pod({ uid: 'u1', node, phase })]);
        expect(commitments.unmeasured.on('a').iops ?? 0).toBe(unmeasured);
        expect(store.unmeasuredCount).toBe(unmeasured > 0 ? 1 : 0);
      });

      it('a pod Running at the initial sync stays measured through later updates and relists', () => {
        const { commitments, store, advance } = setup({ synced: false });
        store.replace([pod({ uid: 'u1' })]);
        advance(1000);
        store.upsert(pod({ uid: 'u1' }));
        store.replace([pod({ uid: 'u1' })]);
        expect(commitments.on('a')).toEqual({ ...NOTHING, pods: { iops: 100 } });
        expect(store.unmeasuredCount).toBe(0);
      });

      it('only the first replace is the initial sync: a Running pod new in a relist is unmeasured', () => {
        const { commitments, store } = setup({ synced: false });
        store.replace([pod({ uid: 'old', demand: { iops: 1 } })]);
        store.replace([pod({ uid: 'old', demand: { iops: 1 } }), pod({ uid: 'new' })]);
        expect(commitments.on('a')).toEqual({ ...NOTHING, pods: { iops: 101 }, unmeasured: { iops: 100 } });
        expect(store.unmeasuredCount).toBe(1);
      });
    });

    it.each(['Pending', 'Running', 'Unknown'])(
      'a pod bound after the initial sync is unmeasured, in phase %s',
      (phase) => {
        const { commitments, store } = setup();
        store.upsert(pod({ uid: 'u1', phase, demand: { iops: 100, egressBandwidth: 5 } }));
        expect(commitments.on('a')).toEqual({
          pods: { iops: 100, egressBandwidth: 5 },
          unmeasured: { iops: 100, egressBandwidth: 5 },
          reserved: {},
        });
        expect(store.unmeasuredCount).toBe(1);
      },
    );

    it('a pod bound (Pending) then Running is measured by the first report received after it ran', () => {
      const { commitments, store, advance, now } = setup();
      store.upsert(pod({ uid: 'u1', node: undefined, phase: 'Pending' }));
      expect(store.unmeasuredCount).toBe(0);
      advance(100);
      store.upsert(pod({ uid: 'u1', phase: 'Pending' }));
      expect(commitments.unmeasured.on('a')).toEqual({ iops: 100 });

      // While Pending, no report can contain it, however late.
      advance(10_000);
      expect(store.measured('a', now())).toBe(0);
      expect(store.measured('a', now() + 1e9)).toBe(0);
      expect(commitments.unmeasured.on('a')).toEqual({ iops: 100 });

      advance(1000);
      const runningSince = now();
      store.upsert(pod({ uid: 'u1' }));
      // Reports received before it ran, or at the very same ms, do not contain it.
      expect(store.measured('a', runningSince - 1)).toBe(0);
      expect(store.measured('a', runningSince)).toBe(0);
      expect(commitments.unmeasured.on('a')).toEqual({ iops: 100 });

      expect(store.measured('a', runningSince + 1)).toBe(1);
      expect(commitments.on('a')).toEqual({ ...NOTHING, pods: { iops: 100 } });
      expect(store.unmeasuredCount).toBe(0);
      expect(store.measured('a', runningSince + 2)).toBe(0);
    });

    it.each<{ name: string; receivedAfterRunning: number; measured: boolean }>([
      { name: 'long before it ran', receivedAfterRunning: -60_000, measured: false },
      { name: 'one ms before it ran', receivedAfterRunning: -1, measured: false },
      { name: 'the same ms it was first seen Running', receivedAfterRunning: 0, measured: false },
      { name: 'one ms after', receivedAfterRunning: 1, measured: true },
      { name: 'long after', receivedAfterRunning: 60_000, measured: true },
    ])('a report received $name: measured=$measured', ({ receivedAfterRunning, measured }) => {
      const { commitments, store, advance, now } = setup();
      advance(120_000);
      store.upsert(pod({ uid: 'u1' }));
      expect(store.measured('a', now() + receivedAfterRunning)).toBe(measured ? 1 : 0);
      expect(commitments.unmeasured.on('a')).toEqual(measured ? {} : { iops: 100 });
      expect(commitments.pods.on('a')).toEqual({ iops: 100 });
    });

    it('counts from when the pod was first seen Running, not from later updates', () => {
      const { store, advance, now } = setup();
      store.upsert(pod({ uid: 'u1' }));
      const firstSeen = now();
      advance(30_000);
      store.upsert(pod({ uid: 'u1' }));
      expect(store.measured('a', firstSeen + 1)).toBe(1);
    });

    it('a report from another node measures nothing', () => {
      const { commitments, store, advance, now } = setup();
      store.upsert(pod({ uid: 'u1', node: 'a' }));
      advance(1000);
      expect(store.measured('b', now())).toBe(0);
      expect(commitments.unmeasured.on('a')).toEqual({ iops: 100 });
    });

    it('one report measures every pod of its node that ran before it, and says how many', () => {
      const { commitments, store, advance, now } = setup();
      store.upsert(pod({ uid: 'early', demand: { iops: 1 } }));
      advance(10);
      store.upsert(pod({ uid: 'also-early', demand: { iops: 10 } }));
      store.upsert(pod({ uid: 'other-node', node: 'b', demand: { iops: 1000 } }));
      store.upsert(pod({ uid: 'pending', phase: 'Pending', demand: { iops: 10_000 } }));
      const reportAt = now() + 1;
      advance(1);
      store.upsert(pod({ uid: 'late', demand: { iops: 100_000 } }));
      expect(store.unmeasuredCount).toBe(5);
      expect(store.measured('a', reportAt)).toBe(2);
      expect(commitments.unmeasured.on('a')).toEqual({ iops: 110_000 });
      expect(commitments.unmeasured.on('b')).toEqual({ iops: 1000 });
      expect(commitments.pods.on('a')).toEqual({ iops: 110_011 });
      expect(store.unmeasuredCount).toBe(3);
    });

    it('a measured pod updated on the same node stays measured', () => {
      const { commitments, store, advance, now } = setup();
      store.upsert(pod({ uid: 'u1' }));
      advance(1);
      store.measured('a', now());
      advance(1000);
      store.upsert(pod({ uid: 'u1' }));
      expect(commitments.on('a')).toEqual({ ...NOTHING, pods: { iops: 100 } });
      expect(store.unmeasuredCount).toBe(0);
    });

    describe('pods that stop holding release their unmeasured hold', () => {
      it.each<{ name: string; end: (store: PodStore) => void; known: boolean }>([
        { name: 'Succeeded', end: (s) => s.upsert(pod({ uid: 'u1', phase: 'Succeeded' })), known: true },
        { name: 'Failed', end: (s) => s.upsert(pod({ uid: 'u1', phase: 'Failed' })), known: true },
        { name: 'removed', end: (s) => s.remove('u1'), known: false },
        { name: 'demand became empty', end: (s) => s.upsert(pod({ uid: 'u1', demand: {} })), known: false },
        {
          name: 'gone from a relist',
          end: (s) => s.replace([pod({ uid: 'u2', phase: 'Pending', demand: { iops: 7 } })]),
          known: false,
        },
      ])('$name', ({ end, known }) => {
        const { commitments, store, advance, now } = setup();
        store.upsert(pod({ uid: 'u1', phase: 'Pending' }));
        store.upsert(pod({ uid: 'u2', phase: 'Pending', demand: { iops: 7 } }));
        advance(10);
        end(store);
        expect(commitments.on('a')).toEqual({ ...NOTHING, pods: { iops: 7 }, unmeasured: { iops: 7 } });
        expect(store.unmeasuredCount).toBe(1);
        expect(store.get('u1') !== undefined).toBe(known);
        advance(10);
        expect(store.measured('a', now())).toBe(0);
      });
    });

    describe('a pod that moves to another node is unmeasured there', () => {
      it('from measured on the old node', () => {
        const { commitments, store, advance, now } = setup({ synced: false });
        store.replace([pod({ uid: 'u1', node: 'a' })]);
        expect(commitments.unmeasured.holders).toBe(0);
        advance(1000);
        const movedAt = now();
        store.upsert(pod({ uid: 'u1', node: 'b' }));
        expect(commitments.on('a')).toEqual(NOTHING);
        expect(commitments.on('b')).toEqual({ pods: { iops: 100 }, unmeasured: { iops: 100 }, reserved: {} });
        expect(store.measured('a', movedAt + 1)).toBe(0);
        expect(store.measured('b', movedAt)).toBe(0);
        expect(store.measured('b', movedAt + 1)).toBe(1);
        expect(commitments.on('b')).toEqual({ ...NOTHING, pods: { iops: 100 } });
      });

      it('from unmeasured on the old node: it counts again from when it was seen on the new one', () => {
        const { commitments, store, advance, now } = setup();
        store.upsert(pod({ uid: 'u1', node: 'a' }));
        const ranOnA = now();
        advance(1000);
        const movedAt = now();
        store.upsert(pod({ uid: 'u1', node: 'b' }));
        expect(commitments.on('a')).toEqual(NOTHING);
        expect(commitments.unmeasured.on('b')).toEqual({ iops: 100 });
        expect(store.unmeasuredCount).toBe(1);
        // A report from b received after it ran on a but before it ran on b does not contain it.
        expect(store.measured('b', ranOnA + 1)).toBe(0);
        expect(store.measured('b', movedAt + 1)).toBe(1);
      });
    });

    it.each<{ name: string; from: number; to: number }>([
      { name: 'rises', from: 30, to: 100 },
      { name: 'falls', from: 100, to: 30 },
    ])('an unmeasured pod whose demand $name stays unmeasured by its new demand', ({ from, to }) => {
      // unmeasured is the part of pods no report shows yet, so it must follow the demand.
      const { commitments, store, advance } = setup();
      store.upsert(pod({ uid: 'u1', demand: { iops: from } }));
      advance(10);
      store.upsert(pod({ uid: 'u1', demand: { iops: to } }));
      expect(commitments.on('a')).toEqual({ pods: { iops: to }, unmeasured: { iops: to }, reserved: {} });
    });
  });
});
