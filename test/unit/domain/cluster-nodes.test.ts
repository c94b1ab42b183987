import { describe, expect, it } from 'vitest';
import { ClusterNodes } from '../../../src/domain/cluster-nodes.js';

describe('ClusterNodes', () => {
  describe('before the first replace', () => {
    it('answers undefined for any node: nothing is known yet', () => {
      const nodes = new ClusterNodes();
      expect(nodes.exists('a')).toBeUndefined();
      expect(nodes.size).toBe(0);
    });

    it('still answers undefined after add or remove, since the list has not synced', () => {
      const nodes = new ClusterNodes();
      nodes.add('a');
      expect(nodes.exists('a')).toBeUndefined();
      expect(nodes.exists('b')).toBeUndefined();
      nodes.remove('a');
      expect(nodes.exists('a')).toBeUndefined();
    });
  });

  describe('after a replace', () => {
    it('answers true for listed nodes and false for the rest', () => {
      const nodes = new ClusterNodes();
      expect(nodes.replace(['a', 'b'])).toEqual([]);
      expect(nodes.exists('a')).toBe(true);
      expect(nodes.exists('b')).toBe(true);
      expect(nodes.exists('c')).toBe(false);
      expect(nodes.size).toBe(2);
    });

    it('answers false everywhere after an empty list (synced, but no nodes)', () => {
      const nodes = new ClusterNodes();
      expect(nodes.replace([])).toEqual([]);
      expect(nodes.exists('a')).toBe(false);
      expect(nodes.size).toBe(0);
    });

    it('follows add and remove', () => {
      const nodes = new ClusterNodes();
      nodes.replace(['a']);
      nodes.add('b');
      expect(nodes.exists('b')).toBe(true);
      nodes.remove('a');
      expect(nodes.exists('a')).toBe(false);
      nodes.remove('never');
      expect(nodes.size).toBe(1);
    });

    it('counts a duplicated name once', () => {
      const nodes = new ClusterNodes();
      nodes.replace(['a', 'a']);
      nodes.add('a');
      expect(nodes.size).toBe(1);
    });
  });

  describe('replace returns the names that are gone', () => {
    it.each<{ name: string; before: string[]; after: string[]; gone: string[] }>([
      { name: 'nothing changed', before: ['a', 'b'], after: ['b', 'a'], gone: [] },
      { name: 'one removed', before: ['a', 'b', 'c'], after: ['a', 'c'], gone: ['b'] },
      { name: 'one added, none gone', before: ['a'], after: ['a', 'b'], gone: [] },
      { name: 'all replaced', before: ['a', 'b'], after: ['c'], gone: ['a', 'b'] },
      { name: 'all gone', before: ['a', 'b'], after: [], gone: ['a', 'b'] },
    ])('$name', ({ before, after, gone }) => {
      const nodes = new ClusterNodes();
      nodes.replace(before);
      expect(nodes.replace(after).sort()).toEqual(gone);
      for (const n of gone) expect(nodes.exists(n)).toBe(false);
      for (const n of after) expect(nodes.exists(n)).toBe(true);
      expect(nodes.size).toBe(new Set(after).size);
    });

    it('counts nodes added since the last replace, and not those removed since', () => {
      const nodes = new ClusterNodes();
      nodes.replace(['a', 'b']);
      nodes.add('c');
      nodes.remove('b');
      expect(nodes.replace(['a']).sort()).toEqual(['c']);
    });

    it('accepts any iterable, a generator included', () => {
      const nodes = new ClusterNodes();
      nodes.replace(['a', 'b']);
      function* names() {
        yield 'b';
      }
      expect(nodes.replace(names())).toEqual(['a']);
      expect(nodes.exists('b')).toBe(true);
    });
  });
});
