import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';
import { Ledger } from '../../../src/domain/ledger.js';

describe('Commitments', () => {
  it('has three separate ledgers', () => {
    const commitments = new Commitments();
    for (const ledger of [commitments.pods, commitments.unmeasured, commitments.reserved]) {
      expect(ledger).toBeInstanceOf(Ledger);
    }
    expect(commitments.pods).not.toBe(commitments.unmeasured);
    expect(commitments.pods).not.toBe(commitments.reserved);
    expect(commitments.unmeasured).not.toBe(commitments.reserved);
  });

  it('promises nothing at first, on any node', () => {
    const commitments = new Commitments();
    expect(commitments.on('a')).toEqual({ pods: {}, unmeasured: {}, reserved: {} });
  });

  it.each<{ part: 'pods' | 'unmeasured' | 'reserved' }>([
    { part: 'pods' },
    { part: 'unmeasured' },
    { part: 'reserved' },
  ])('what is held in $part shows in that part of on() only', ({ part }) => {
    const commitments = new Commitments();
    commitments[part].hold('u1', 'a', { iops: 100, egressBandwidth: 5 });
    expect(commitments.on('a')).toEqual({
      pods: {},
      unmeasured: {},
      reserved: {},
      [part]: { iops: 100, egressBandwidth: 5 },
    });
    expect(commitments.on('b')).toEqual({ pods: {}, unmeasured: {}, reserved: {} });
  });

  it('on() gives each part independently, even when the same uid is held in all three', () => {
    const commitments = new Commitments();
    commitments.pods.hold('u1', 'a', { iops: 300 });
    commitments.pods.hold('u2', 'a', { iops: 50 });
    commitments.unmeasured.hold('u1', 'a', { iops: 300 });
    commitments.reserved.hold('u1', 'a', { ingressBandwidth: 7 });
    commitments.reserved.hold('u3', 'b', { iops: 1 });
    expect(commitments.on('a')).toEqual({
      pods: { iops: 350 },
      unmeasured: { iops: 300 },
      reserved: { ingressBandwidth: 7 },
    });
    expect(commitments.on('b')).toEqual({ pods: {}, unmeasured: {}, reserved: { iops: 1 } });

    // Releasing a uid from one ledger leaves the other two alone.
    expect(commitments.unmeasured.release('u1')).toBe(true);
    expect(commitments.on('a')).toEqual({
      pods: { iops: 350 },
      unmeasured: {},
      reserved: { ingressBandwidth: 7 },
    });
    expect(commitments.pods.holders).toBe(2);
    expect(commitments.reserved.holders).toBe(2);
  });
});
