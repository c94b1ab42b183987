import { describe, expect, it } from 'vitest';
import { Inventory, InventoryFullError } from '../../../src/domain/inventory.js';
import type { NodeReport } from '../../../src/domain/node-book.js';

const REPORT: NodeReport = { capacity: { iops: 50_000, ingressBandwidth: 1e10 }, usage: { iops: 1000 } };

describe('Inventory', () => {
  describe('constructor', () => {
    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses maxNodes %s', (maxNodes) => {
      expect(() => new Inventory({ maxNodes })).toThrow(RangeError);
      expect(() => new Inventory({ maxNodes })).toThrow(
        `maxNodes must be a positive integer, got ${maxNodes}`,
      );
    });

    it('starts empty', () => {
      const inventory = new Inventory({ maxNodes: 1 });
      expect(inventory.size).toBe(0);
      expect([...inventory.entries()]).toEqual([]);
      expect(inventory.get('a')).toBeUndefined();
    });
  });

  describe('record', () => {
    it('stores and returns the entry with its receive time', () => {
      const inventory = new Inventory({ maxNodes: 10 });
      const entry = inventory.record('a', REPORT, 1234);
      expect(entry).toEqual({ node: 'a', capacity: REPORT.capacity, usage: REPORT.usage, receivedAt: 1234 });
      expect(inventory.get('a')).toEqual(entry);
      expect(inventory.size).toBe(1);
    });

    it('freezes the entry and copies the report, so later changes to the input do not leak in', () => {
      const inventory = new Inventory({ maxNodes: 10 });
      const capacity = { iops: 100 };
      const usage = { iops: 10 };
      const entry = inventory.record('a', { capacity, usage }, 1);
      capacity.iops = 999;
      usage.iops = 999;
      expect(inventory.get('a')?.capacity).toEqual({ iops: 100 });
      expect(inventory.get('a')?.usage).toEqual({ iops: 10 });
      expect(Object.isFrozen(entry)).toBe(true);
      expect(Object.isFrozen(entry.capacity)).toBe(true);
      expect(Object.isFrozen(entry.usage)).toBe(true);
    });

    it('replaces the previous report whole: a dimension no longer reported disappears', () => {
      const inventory = new Inventory({ maxNodes: 10 });
      inventory.record('a', { capacity: { iops: 100, egressBandwidth: 1e9 }, usage: { iops: 50 } }, 1);
      inventory.record('a', { capacity: { iops: 200 }, usage: {} }, 2);
      expect(inventory.get('a')).toEqual({ node: 'a', capacity: { iops: 200 }, usage: {}, receivedAt: 2 });
      expect(inventory.get('a')?.capacity.egressBandwidth).toBeUndefined();
      expect(inventory.size).toBe(1);
    });

    it('keeps nodes apart', () => {
      const inventory = new Inventory({ maxNodes: 10 });
      inventory.record('a', { capacity: { iops: 1 }, usage: {} }, 1);
      inventory.record('b', { capacity: { iops: 2 }, usage: {} }, 2);
      expect(inventory.get('a')?.capacity.iops).toBe(1);
      expect(inventory.get('b')?.capacity.iops).toBe(2);
      expect([...inventory.entries()].map((e) => e.node)).toEqual(['a', 'b']);
    });
  });

  describe('maxNodes', () => {
    function full(): Inventory {
      const inventory = new Inventory({ maxNodes: 2 });
      inventory.record('a', REPORT, 1);
      inventory.record('b', REPORT, 1);
      return inventory;
    }

    it('refuses a new node beyond the limit and stores nothing', () => {
      const inventory = full();
      let thrown: unknown;
      try {
        inventory.record('c', REPORT, 2);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(InventoryFullError);
      expect(thrown).toBeInstanceOf(Error);
      expect((thrown as InventoryFullError).maxNodes).toBe(2);
      expect((thrown as InventoryFullError).message).toBe(
        'the inventory already holds its maximum of 2 nodes',
      );
      expect(inventory.get('c')).toBeUndefined();
      expect(inventory.size).toBe(2);
    });

    it('still updates a node it already holds', () => {
      const inventory = full();
      const entry = inventory.record('b', { capacity: { iops: 7 }, usage: {} }, 3);
      expect(entry.receivedAt).toBe(3);
      expect(inventory.get('b')?.capacity).toEqual({ iops: 7 });
      expect(inventory.size).toBe(2);
    });

    it('takes a new node again once one is forgotten', () => {
      const inventory = full();
      expect(inventory.forget('a')).toBe(true);
      inventory.record('c', REPORT, 4);
      expect(inventory.get('c')?.receivedAt).toBe(4);
      expect(inventory.size).toBe(2);
      expect(() => inventory.record('d', REPORT, 5)).toThrow(InventoryFullError);
    });

    it('allows exactly one node with maxNodes 1', () => {
      const inventory = new Inventory({ maxNodes: 1 });
      inventory.record('only', REPORT, 1);
      expect(() => inventory.record('other', REPORT, 1)).toThrow(InventoryFullError);
      expect(() => inventory.record('only', REPORT, 2)).not.toThrow();
    });
  });

  describe('forget', () => {
    it('removes a node and says whether it was there', () => {
      const inventory = new Inventory({ maxNodes: 10 });
      inventory.record('a', REPORT, 1);
      expect(inventory.forget('a')).toBe(true);
      expect(inventory.get('a')).toBeUndefined();
      expect(inventory.size).toBe(0);
      expect(inventory.forget('a')).toBe(false);
      expect(inventory.forget('never-seen')).toBe(false);
    });
  });
});
