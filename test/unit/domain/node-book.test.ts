import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Commitments } from '../../../src/domain/commitments.js';
import { Inventory } from '../../../src/domain/inventory.js';
import { NodeBook, type NodeState } from '../../../src/domain/node-book.js';
import { NodeFigures } from '../../../src/domain/node-figures.js';

function setUp() {
  const book = new NodeBook();
  const inventory = new Inventory({ maxNodes: 10, book });
  const commitments = new Commitments(book);
  return { book, inventory, commitments };
}

/** The node's figures as the scheduling path reads them (read them before the next call). */
function figuresOf(state: NodeState | undefined, reserveFraction: number) {
  return new NodeFigures().load(state, 0, { staleAfterMs: Number.POSITIVE_INFINITY, reserveFraction });
}

describe('NodeBook', () => {
  it('files reports and commitments of one node in one state', () => {
    const { book, inventory, commitments } = setUp();
    inventory.record('a', { capacity: { iops: 1000 }, usage: { iops: 100 } }, 0);
    commitments.pods.hold('pod-1', 'a', { iops: 300 });
    commitments.reserved.hold('pod-2', 'a', { iops: 50 });
    const state = book.get('a');
    expect(state?.report?.capacity).toEqual({ iops: 1000 });
    expect(state?.pods).toEqual({ iops: 300 });
    expect(state?.reserved).toEqual({ iops: 50 });
    // 1000 x 0.9 - 50 - max(100 + 0, 300)
    expect(figuresOf(state, 0.1).free.iops).toBeCloseTo(550);
    expect(figuresOf(state, 0.1).allocatable.iops).toBeCloseTo(900);
    expect(figuresOf(state, 0.1).free.ingressBandwidth).toBeUndefined();
  });

  it('derives free capacity again after every kind of change, and for another reserve fraction', () => {
    const { book, inventory, commitments } = setUp();
    inventory.record('a', { capacity: { iops: 1000 }, usage: { iops: 0 } }, 0);
    const state = book.get('a');
    expect(figuresOf(state, 0).free.iops).toBe(1000);
    commitments.reserved.hold('pod-1', 'a', { iops: 200 });
    expect(figuresOf(state, 0).free.iops).toBe(800);
    commitments.unmeasured.hold('pod-2', 'a', { iops: 100 });
    expect(figuresOf(state, 0).free.iops).toBe(700);
    inventory.record('a', { capacity: { iops: 2000 }, usage: { iops: 500 } }, 1);
    expect(figuresOf(state, 0).free.iops).toBe(1200);
    expect(figuresOf(state, 0.5).free.iops).toBe(200);
    commitments.reserved.release('pod-1');
    expect(figuresOf(state, 0.5).free.iops).toBe(400);
  });

  it('forgets a node once it has neither a report nor commitments', () => {
    const { book, inventory, commitments } = setUp();
    inventory.record('a', { capacity: { iops: 1000 }, usage: {} }, 0);
    commitments.pods.hold('pod-1', 'a', { iops: 1 });
    inventory.forget('a');
    expect(book.get('a')?.report).toBeUndefined();
    expect(book.size).toBe(1);
    commitments.pods.release('pod-1');
    expect(book.get('a')).toBeUndefined();
    expect(book.size).toBe(0);
  });

  it('keeps commitments of a node that has no report yet', () => {
    const { book, commitments } = setUp();
    commitments.pods.hold('pod-1', 'b', { iops: 5 });
    expect(book.get('b')?.pods).toEqual({ iops: 5 });
    expect(figuresOf(book.get('b'), 0).free.iops).toBeUndefined();
  });
});

describe('NodeBook rows', () => {
  it('keeps every node its own figures as the book grows, and as nodes go and others come', () => {
    const { book, inventory } = setUp();
    const many = new Inventory({ maxNodes: 1000, book });
    for (let i = 0; i < 300; i++) many.record(`n-${i}`, { capacity: { iops: 1000 + i }, usage: {} }, i);
    for (let i = 0; i < 300; i++) expect(figuresOf(book.get(`n-${i}`), 0).free.iops).toBe(1000 + i);
    many.forget('n-7');
    inventory.record('newcomer', { capacity: { ingressBandwidth: 5 }, usage: {} }, 0);
    // Nothing of the node that went shows in the newcomer's figures, nor in its neighbours'.
    expect(figuresOf(book.get('newcomer'), 0).free).toEqual({ ingressBandwidth: 5 });
    expect(figuresOf(book.get('newcomer'), 0).allocatable).toEqual({ ingressBandwidth: 5 });
    expect(figuresOf(book.get('n-6'), 0).free.iops).toBe(1006);
    expect(figuresOf(book.get('n-8'), 0).free.iops).toBe(1008);
  });

  it('does not grow as nodes come and go, however long the churn', () => {
    const { book } = setUp();
    const inventory = new Inventory({ maxNodes: 1000, book });
    const round = (r: number) => {
      for (let i = 0; i < 100; i++)
        inventory.record(`r${r}-${i}`, { capacity: { iops: r + i }, usage: {} }, 0);
    };
    round(0);
    const held = book.figures.length;
    for (let r = 1; r <= 20; r++) {
      for (let i = 0; i < 100; i++) inventory.forget(`r${r - 1}-${i}`);
      round(r);
    }
    expect(book.figures.length).toBe(held);
    expect(book.size).toBe(100);
    for (let i = 0; i < 100; i++) expect(figuresOf(book.get(`r20-${i}`), 0).free.iops).toBe(20 + i);
  });

  it('keys the book by its own copy of a name, which does not keep the text it was cut from alive', () => {
    // Names arrive as slices of a request URL or of a watch event's text, and a slice keeps its
    // whole source alive. Seen from outside: once the caller lets go of a 32 MiB text, the memory
    // comes back, though the book still holds a name cut from it.
    const { book, inventory } = setUp();
    const before = heapUsedAfterGc();
    (() => {
      const text = `${'x'.repeat(32 * 2 ** 20)}/v1/nodes/ip-10-0-0-1.ec2.internal/report`;
      const name = text.slice(text.indexOf('/v1/nodes/') + '/v1/nodes/'.length, text.indexOf('/report'));
      inventory.record(name, { capacity: {}, usage: {} }, 0);
      expect(book.get('ip-10-0-0-1.ec2.internal')?.node).toBe(name);
      expect(inventory.get(name)?.node).toBe('ip-10-0-0-1.ec2.internal');
    })();
    expect(heapUsedAfterGc() - before).toBeLessThan(8 * 2 ** 20);
    expect(book.get('ip-10-0-0-1.ec2.internal')?.node).toBe('ip-10-0-0-1.ec2.internal');
  });
});

/** V8's heap in use after full garbage collections. */
function heapUsedAfterGc(): number {
  // RegExp.input, a legacy global, holds the last string a regular expression matched (here the
  // name, through the book's check that it is one-byte) until the next match anywhere.
  /^$/.test('');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
