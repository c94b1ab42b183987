import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';
import { type Repeat, ReservationSweep } from '../../../src/domain/reservation-sweep.js';
import { Reservations } from '../../../src/domain/reservations.js';

const T = 1_000_000;

/** A sweep on a hand-driven timer and clock, with reservations u1 (expiring at T) and u2 (at T + 5 s). */
function setup(active = true) {
  const reservations = new Reservations(new Commitments().reserved);
  reservations.reserve('u1', 'a', { iops: 100 }, T);
  reservations.reserve('u2', 'a', { iops: 100 }, T + 5_000);
  const clock = { now: T - 1 };
  const state = { active, expired: [] as string[], ticks: [] as (() => void)[], intervals: [] as number[] };
  const repeat: Repeat = (ms, tick) => {
    state.intervals.push(ms);
    state.ticks.push(tick);
    return () => {
      state.ticks = state.ticks.filter((t) => t !== tick);
    };
  };
  const sweep = new ReservationSweep({
    reservations,
    clock: () => clock.now,
    active: () => state.active,
    onExpired: (uid) => state.expired.push(uid),
    repeat,
  });
  const tick = () => {
    for (const t of state.ticks) t();
  };
  return { reservations, clock, state, sweep, tick };
}

describe('ReservationSweep', () => {
  it('sweeps every second between start and stop, once however often it is started', () => {
    const { state, sweep } = setup();
    sweep.start();
    sweep.start();
    expect(state.intervals).toEqual([1_000]);
    expect(state.ticks).toHaveLength(1);
    sweep.stop();
    expect(state.ticks).toHaveLength(0);
    sweep.stop();
  });

  it('releases what expired by now and says which, leaving the rest', () => {
    const { reservations, clock, state, sweep, tick } = setup();
    sweep.start();
    tick();
    expect(state.expired).toEqual([]);
    clock.now = T;
    tick();
    expect(state.expired).toEqual(['u1']);
    expect(reservations.has('u1')).toBe(false);
    expect(reservations.has('u2')).toBe(true);
  });

  it('expires nothing while inactive (the pod watch is away), and catches up once active', () => {
    const { reservations, clock, state, sweep, tick } = setup(false);
    sweep.start();
    clock.now = T + 10_000;
    tick();
    expect(state.expired).toEqual([]);
    expect(reservations.size).toBe(2);
    state.active = true;
    tick();
    expect(state.expired).toEqual(['u1', 'u2']);
    expect(reservations.size).toBe(0);
  });
});
