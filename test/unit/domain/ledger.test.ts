import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';

describe('Commitments', () => {
  it('holds nothing at first', () => {
    const commitments = new Commitments();
    expect(commitments.holders).toBe(0);
    expect(commitments.on('a')).toEqual({});
  });

  it('totals what every holder holds on a node, per dimension', () => {
    const commitments = new Commitments();
    commitments.hold('pod-1', 'a', { iops: 100, ingressBandwidth: 1000 });
    commitments.hold('pod-2', 'a', { iops: 50, egressBandwidth: 7 });
    commitments.hold('pod-3', 'b', { iops: 1 });
    expect(commitments.on('a')).toEqual({ iops: 150, ingressBandwidth: 1000, egressBandwidth: 7 });
    expect(commitments.on('b')).toEqual({ iops: 1 });
    expect(commitments.on('c')).toEqual({});
    expect(commitments.holders).toBe(3);
  });

  it('copies the amounts, so later changes to the input do not leak in', () => {
    const commitments = new Commitments();
    const amounts = { iops: 100 };
    commitments.hold('pod-1', 'a', amounts);
    amounts.iops = 999;
    expect(commitments.on('a')).toEqual({ iops: 100 });
  });

  describe('release', () => {
    it('subtracts what the holder held and says whether it held anything', () => {
      const commitments = new Commitments();
      commitments.hold('pod-1', 'a', { iops: 100 });
      commitments.hold('pod-2', 'a', { iops: 30 });
      expect(commitments.release('pod-1')).toBe(true);
      expect(commitments.on('a')).toEqual({ iops: 30 });
      expect(commitments.holders).toBe(1);
      expect(commitments.release('pod-1')).toBe(false);
      expect(commitments.release('never-held')).toBe(false);
      expect(commitments.on('a')).toEqual({ iops: 30 });
    });

    it('leaves nothing on a node once its last holder is released', () => {
      const commitments = new Commitments();
      commitments.hold('pod-1', 'a', { iops: 100, egressBandwidth: 5 });
      commitments.release('pod-1');
      expect(commitments.on('a')).toEqual({});
      expect(commitments.holders).toBe(0);
    });

    it('keeps the dimensions other holders still hold', () => {
      const commitments = new Commitments();
      commitments.hold('pod-1', 'a', { iops: 100, ingressBandwidth: 10 });
      commitments.hold('pod-2', 'a', { iops: 20 });
      commitments.release('pod-1');
      const total = commitments.on('a');
      expect(total.iops).toBe(20);
      expect(total.ingressBandwidth ?? 0).toBe(0);
    });
  });

  describe('hold replaces what a holder held before', () => {
    it('on the same node', () => {
      const commitments = new Commitments();
      commitments.hold('pod-1', 'a', { iops: 100, ingressBandwidth: 10 });
      commitments.hold('pod-2', 'a', { iops: 5 });
      commitments.hold('pod-1', 'a', { iops: 40 });
      const total = commitments.on('a');
      expect(total.iops).toBe(45);
      expect(total.ingressBandwidth ?? 0).toBe(0);
      expect(commitments.holders).toBe(2);
    });

    it('moving the holder to another node', () => {
      const commitments = new Commitments();
      commitments.hold('res-1', 'a', { iops: 100 });
      commitments.hold('pod-2', 'a', { iops: 5 });
      commitments.hold('res-1', 'b', { iops: 100 });
      expect(commitments.on('a')).toEqual({ iops: 5 });
      expect(commitments.on('b')).toEqual({ iops: 100 });
      expect(commitments.holders).toBe(2);
    });

    it('moving the only holder leaves the old node empty', () => {
      const commitments = new Commitments();
      commitments.hold('pod-1', 'a', { egressBandwidth: 9 });
      commitments.hold('pod-1', 'b', { egressBandwidth: 9 });
      expect(commitments.on('a')).toEqual({});
      expect(commitments.on('b')).toEqual({ egressBandwidth: 9 });
      expect(commitments.release('pod-1')).toBe(true);
      expect(commitments.on('b')).toEqual({});
    });
  });

  it('keeps totals exact over many holds and releases', () => {
    const commitments = new Commitments();
    for (let i = 0; i < 100; i++) commitments.hold(`pod-${i}`, i % 2 === 0 ? 'even' : 'odd', { iops: i });
    // even: 0 + 2 + ... + 98 = 2450; odd: 1 + 3 + ... + 99 = 2500
    expect(commitments.on('even')).toEqual({ iops: 2450 });
    expect(commitments.on('odd')).toEqual({ iops: 2500 });
    for (let i = 0; i < 100; i += 4) commitments.release(`pod-${i}`);
    // released 0, 4, ..., 96 from even: sum = 4 * (0 + 1 + ... + 24) = 1200
    expect(commitments.on('even')).toEqual({ iops: 1250 });
    expect(commitments.holders).toBe(75);
  });
});
