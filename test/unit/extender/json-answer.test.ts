import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  hostPriorityListBytes,
  hostPriorityListJson,
  jsonBytes,
  jsonString,
} from '../../../src/extender/json-answer.js';

const AWKWARD = [
  '',
  'a"b',
  'back\\slash',
  'tab\there',
  'nul\u0000',
  '\u2028',
  'é',
  '日本',
  '😀',
  '\ud800',
  'x\udfff',
];

describe('jsonString', () => {
  it.each(AWKWARD.concat(['ip-10-20-0-4.eu-west-1.compute.internal']))(
    'writes %j as JSON.stringify does',
    (s) => {
      expect(jsonString(s)).toBe(JSON.stringify(s));
    },
  );

  it('agrees with JSON.stringify on any string', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => jsonString(s) === JSON.stringify(s)));
  });
});

describe('hostPriorityListJson', () => {
  it('writes exactly what JSON.stringify writes for the list of {Host, Score}', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ unit: 'binary' }), fc.integer({ min: 0, max: 10 }))),
        (pairs) => {
          const hosts = pairs.map(([h]) => h);
          const scores = pairs.map(([, s]) => s);
          const expected = JSON.stringify(pairs.map(([Host, Score]) => ({ Host, Score })));
          return hostPriorityListJson(hosts, scores) === expected;
        },
      ),
    );
  });

  it('writes an empty list as []', () => {
    expect(hostPriorityListJson([], [])).toBe('[]');
  });
});

describe('hostPriorityListBytes', () => {
  const hostName = fc.oneof(
    fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,60}$/),
    fc.string({ unit: 'binary' }),
    fc.constantFrom(...AWKWARD),
  );

  it('writes the UTF-8 bytes of what JSON.stringify writes, plain ASCII names or not', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(hostName, fc.integer({ min: 0, max: 10 })), { maxLength: 40 }),
        (pairs) => {
          const bytes = hostPriorityListBytes(
            pairs.map(([h]) => h),
            pairs.map(([, s]) => s),
          );
          const expected = Buffer.from(
            JSON.stringify(pairs.map(([Host, Score]) => ({ Host, Score }))),
            'utf8',
          );
          return bytes.equals(expected);
        },
      ),
    );
  });

  it('writes an empty list as []', () => {
    expect(hostPriorityListBytes([], []).toString()).toBe('[]');
  });
});

describe('jsonBytes', () => {
  it('encodes as UTF-8, multi-byte characters included', () => {
    for (const s of AWKWARD) expect(jsonBytes(JSON.stringify(s)).toString('utf8')).toBe(JSON.stringify(s));
    expect(jsonBytes('"é😀"')).toEqual(Buffer.from('"é😀"', 'utf8'));
  });
});
