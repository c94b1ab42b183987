import { describe, expect, it } from 'vitest';
import { canonicalizeKeys, fieldOf, shapeOf } from '../../../src/extender/go-json-keys.js';
import { ExtenderArgsKeys } from '../../../src/extender/wire-schemas.js';

describe('fieldOf', () => {
  it.each([
    ['Nodes', 'Nodes'],
    ['nodes', 'Nodes'],
    ['NODES', 'Nodes'],
    ['nOdEs', 'Nodes'],
    // Go folds the long s with s, and the Kelvin sign with k (Unicode simple folding).
    ['Nodeſ', 'Nodes'],
    ['NODEſ', 'Nodes'],
    ['nodenameſ', 'NodeNames'],
    // İ lower-cases to i and a combining dot, and folds with nothing in Go.
    ['İtems', undefined],
    ['Node', undefined],
    ['Nodess', undefined],
    ['constructor', undefined],
    ['__proto__', undefined],
  ])('reads %s as the field %s', (key, field) => {
    expect(fieldOf(ExtenderArgsKeys, key)).toBe(field);
  });

  it('matches the Kelvin sign to k', () => {
    expect(fieldOf(shapeOf({ kind: null }), '\u212aind')).toBe('kind');
    expect(fieldOf(shapeOf({ kind: null }), '\u212aINd')).toBe('kind');
  });
});

describe('canonicalizeKeys', () => {
  it('lets the last member that sets a field count, and null leave it absent', () => {
    const shape = shapeOf({ Pod: null, Nodes: null });
    expect(canonicalizeKeys({ pod: 1, POD: 2, x: 3 }, shape)).toEqual({ Pod: 2, x: 3 });
    expect(canonicalizeKeys({ Pod: 1, pod: null }, shape)).toEqual({});
    expect(canonicalizeKeys({ pod: null, Pod: 1 }, shape)).toEqual({ Pod: 1 });
    expect(canonicalizeKeys({ nodeſ: [1] }, shape)).toEqual({ Nodes: [1] });
  });
});
