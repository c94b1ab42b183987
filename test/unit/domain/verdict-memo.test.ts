import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';
import type { FitVerdict } from '../../../src/domain/fit.js';
import { Inventory } from '../../../src/domain/inventory.js';
import { NodeBook } from '../../../src/domain/node-book.js';
import { VerdictMemo } from '../../../src/domain/verdict-memo.js';

const REJECTED: FitVerdict = { fits: false, reason: 'insufficient', unresolvable: false, message: 'no' };

function setUp() {
  const book = new NodeBook();
  const inventory = new Inventory({ maxNodes: 10, book });
  const commitments = new Commitments(book);
  return { book, inventory, commitments, memo: new VerdictMemo() };
}

describe('VerdictMemo', () => {
  it('recalls a verdict only for the same question while the node stays unchanged', () => {
    const { book, inventory, commitments, memo } = setUp();
    inventory.record('a', { capacity: { iops: 1000 }, usage: {} }, 0);
    const state = book.acquire('a');
    expect(memo.recall(state, 'q')).toBeUndefined();
    memo.remember(state, 'q', REJECTED);
    expect(memo.recall(state, 'q')).toBe(REJECTED);
    expect(memo.recall(state, 'other')).toBeUndefined();
    commitments.pods.hold('pod-1', 'a', { iops: 1 });
    expect(memo.recall(state, 'q')).toBeUndefined();
    memo.remember(state, 'q', REJECTED);
    inventory.record('a', { capacity: { iops: 1000 }, usage: {} }, 1);
    expect(memo.recall(state, 'q')).toBeUndefined();
  });

  it('keeps one verdict a node, each node its own', () => {
    const { book, inventory, memo } = setUp();
    inventory.record('a', { capacity: { iops: 1000 }, usage: {} }, 0);
    inventory.record('b', { capacity: { iops: 1000 }, usage: {} }, 0);
    const other: FitVerdict = { ...REJECTED, message: 'other' };
    memo.remember(book.acquire('b'), 'q', other);
    memo.remember(book.acquire('a'), 'q', REJECTED);
    expect(memo.recall(book.acquire('a'), 'q')).toBe(REJECTED);
    expect(memo.recall(book.acquire('b'), 'q')).toBe(other);
  });

  it('recalls nothing for a node that came after the one it was remembered for', () => {
    const { book, inventory, memo } = setUp();
    inventory.record('a', { capacity: { iops: 1000 }, usage: {} }, 0);
    memo.remember(book.acquire('a'), 'q', REJECTED);
    inventory.forget('a');
    inventory.record('b', { capacity: { iops: 1000 }, usage: {} }, 0);
    expect(memo.recall(book.acquire('b'), 'q')).toBeUndefined();
    inventory.record('a', { capacity: { iops: 1000 }, usage: {} }, 0);
    expect(memo.recall(book.acquire('a'), 'q')).toBeUndefined();
  });
});
