import { describe, expect, it } from 'vitest';
import { Ledger } from '../../../src/domain/ledger.js';

describe('Ledger', () => {
  it('holds nothing at first', () => {
    const ledger = new Ledger();
    expect(ledger.holders).toBe(0);
    expect(ledger.on('a')).toEqual({});
  });

  it('totals what every holder holds on a node, per dimension', () => {
    const ledger = new Ledger();
    ledger.hold('pod-1', 'a', { iops: 100, ingressBandwidth: 1000 });
    ledger.hold('pod-2', 'a', { iops: 50, egressBandwidth: 7 });
    ledger.hold('pod-3', 'b', { iops: 1 });
    expect(ledger.on('a')).toEqual({ iops: 150, ingressBandwidth: 1000, egressBandwidth: 7 });
    expect(ledger.on('b')).toEqual({ iops: 1 });
    expect(ledger.on('c')).toEqual({});
    expect(ledger.holders).toBe(3);
  });

  it('copies the amounts, so later changes to the input do not leak in', () => {
    const ledger = new Ledger();
    const amounts = { iops: 100 };
    ledger.hold('pod-1', 'a', amounts);
    amounts.iops = 999;
    expect(ledger.on('a')).toEqual({ iops: 100 });
  });

  describe('release', () => {
    it('subtracts what the holder held and says whether it held anything', () => {
      const ledger = new Ledger();
      ledger.hold('pod-1', 'a', { iops: 100 });
      ledger.hold('pod-2', 'a', { iops: 30 });
      expect(ledger.release('pod-1')).toBe(true);
      expect(ledger.on('a')).toEqual({ iops: 30 });
      expect(ledger.holders).toBe(1);
      expect(ledger.release('pod-1')).toBe(false);
      expect(ledger.release('never-held')).toBe(false);
      expect(ledger.on('a')).toEqual({ iops: 30 });
    });

    it('leaves nothing on a node once its last holder is released', () => {
      const ledger = new Ledger();
      ledger.hold('pod-1', 'a', { iops: 100, egressBandwidth: 5 });
      ledger.release('pod-1');
      expect(ledger.on('a')).toEqual({});
      expect(ledger.holders).toBe(0);
    });

    it('keeps the dimensions other holders still hold', () => {
      const ledger = new Ledger();
      ledger.hold('pod-1', 'a', { iops: 100, ingressBandwidth: 10 });
      ledger.hold('pod-2', 'a', { iops: 20 });
      ledger.release('pod-1');
      const total = ledger.on('a');
      expect(total.iops).toBe(20);
      expect(total.ingressBandwidth ?? 0).toBe(0);
    });
  });

  describe('hold replaces what a holder held before', () => {
    it('on the same node', () => {
      const ledger = new Ledger();
      ledger.hold('pod-1', 'a', { iops: 100, ingressBandwidth: 10 });
      ledger.hold('pod-2', 'a', { iops: 5 });
      ledger.hold('pod-1', 'a', { iops: 40 });
      const total = ledger.on('a');
      expect(total.iops).toBe(45);
      expect(total.ingressBandwidth ?? 0).toBe(0);
      expect(ledger.holders).toBe(2);
    });

    it('moving the holder to another node', () => {
      const ledger = new Ledger();
      ledger.hold('res-1', 'a', { iops: 100 });
      ledger.hold('pod-2', 'a', { iops: 5 });
      ledger.hold('res-1', 'b', { iops: 100 });
      expect(ledger.on('a')).toEqual({ iops: 5 });
      expect(ledger.on('b')).toEqual({ iops: 100 });
      expect(ledger.holders).toBe(2);
    });

    it('moving the only holder leaves the old node empty', () => {
      const ledger = new Ledger();
      ledger.hold('pod-1', 'a', { egressBandwidth: 9 });
      ledger.hold('pod-1', 'b', { egressBandwidth: 9 });
      expect(ledger.on('a')).toEqual({});
      expect(ledger.on('b')).toEqual({ egressBandwidth: 9 });
      expect(ledger.release('pod-1')).toBe(true);
      expect(ledger.on('b')).toEqual({});
    });
  });

  it('keeps totals exact over many holds and releases', () => {
    const ledger = new Ledger();
    for (let i = 0; i < 100; i++) ledger.hold(`pod-${i}`, i % 2 === 0 ? 'even' : 'odd', { iops: i });
    // even: 0 + 2 + ... + 98 = 2450; odd: 1 + 3 + ... + 99 = 2500
    expect(ledger.on('even')).toEqual({ iops: 2450 });
    expect(ledger.on('odd')).toEqual({ iops: 2500 });
    for (let i = 0; i < 100; i += 4) ledger.release(`pod-${i}`);
    // released 0, 4, ..., 96 from even: sum = 4 * (0 + 1 + ... + 24) = 1200
    expect(ledger.on('even')).toEqual({ iops: 1250 });
    expect(ledger.holders).toBe(75);
  });
});
