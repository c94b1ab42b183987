import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ListSplitter, MalformedListError } from '../../../src/cluster/list-splitter.js';

/** Feeds `text` in chunks of `size` bytes; returns the items and the other top-level fields. */
function split(text: string | Buffer, size = Number.POSITIVE_INFINITY) {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const items: unknown[] = [];
  const splitter = new ListSplitter((item) => items.push(item));
  const step = Math.min(size, bytes.length || 1);
  for (let at = 0; at < bytes.length; at += step) splitter.write(bytes.subarray(at, at + step));
  splitter.end();
  return { items, fields: splitter.fields };
}

const POD_LIST = {
  kind: 'PodList',
  apiVersion: 'v1',
  metadata: { resourceVersion: '1234', continue: 'eyJydiI6MTIzNH0' },
  items: [
    {
      metadata: {
        name: 'a',
        namespace: 'team-1',
        uid: 'u-1',
        annotations: {
          note: 'quotes " and \\ and braces { [ ] } inside',
          'kubernetes.io/egress-bandwidth': '10M',
        },
      },
      spec: {
        nodeName: 'n1',
        containers: [{ name: 'app', resources: { requests: { 'ioplace.io/iops': '2k' } } }],
      },
      status: { phase: 'Running' },
    },
    { metadata: { name: 'ünïcödé-€-𝄞', uid: 'u-2' }, spec: {}, status: { phase: 'Pending' } },
    { metadata: { name: 'empty', uid: 'u-3' }, spec: { containers: [] } },
  ],
};

describe('ListSplitter', () => {
  it('hands out each item parsed and keeps the other top-level fields, at every chunk size', () => {
    const text = JSON.stringify(POD_LIST);
    for (const size of [1, 2, 3, 7, 64, 1000, text.length]) {
      const { items, fields } = split(text, size);
      expect(items).toEqual(POD_LIST.items);
      expect(fields).toEqual({ kind: 'PodList', apiVersion: 'v1', metadata: POD_LIST.metadata });
    }
  });

  it('reads indented JSON, fields in any order, and items of any JSON type', () => {
    const text = JSON.stringify(
      {
        items: [{ a: [1, { b: '}' }] }, [1, 2], 'x', 3.5e2, true, null, {}],
        metadata: { resourceVersion: '7' },
      },
      null,
      2,
    );
    for (const size of [1, 5, text.length]) {
      const { items, fields } = split(`\r\n\t ${text} \n`, size);
      expect(items).toEqual([{ a: [1, { b: '}' }] }, [1, 2], 'x', 350, true, null, {}]);
      expect(fields).toEqual({ metadata: { resourceVersion: '7' } });
    }
  });

  it('takes an empty list, a null items field, and scalar top-level fields', () => {
    expect(split('{"kind":"NodeList","items":[],"metadata":{}}').items).toEqual([]);
    expect(split('{"items":null,"n":-1.5e3,"t":true,"s":"\\"]"}', 1)).toEqual({
      items: [],
      fields: { items: null, n: -1500, t: true, s: '"]' },
    });
  });

  it('keeps a field named "items" inside an item or in metadata as data, not as the list', () => {
    const text = JSON.stringify({ metadata: { items: [1] }, items: [{ items: [2, 3] }] });
    expect(split(text, 3)).toEqual({ items: [{ items: [2, 3] }], fields: { metadata: { items: [1] } } });
  });

  it('keeps a top-level field named __proto__ as data', () => {
    const { fields } = split('{"__proto__":{"polluted":true},"items":[]}');
    expect(Object.keys(fields)).toEqual(['__proto__']);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('agrees with JSON.parse on generated lists, split anywhere', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 8 }),
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
        fc.integer({ min: 1, max: 50 }),
        (items, extra, size) => {
          const { items: _ignored, ...others } = extra;
          const list = { ...others, items };
          const { items: got, fields } = split(JSON.stringify(list), size);
          // Round-tripped, as JSON.parse would give them (-0 becomes 0 and so on).
          expect(got).toEqual(JSON.parse(JSON.stringify(items)));
          expect(fields).toEqual(JSON.parse(JSON.stringify(others)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([
    ['a truncated list', '{"items":[{"a":1},{"b"', 'incomplete'],
    ['a list cut inside a scalar', '{"n":12', 'ends inside a value'],
    ['no JSON object', '[1,2]', 'not a JSON object'],
    ['a bare scalar', '42', 'not a JSON object'],
    ['data after the end', '{"items":[]} {}', 'after the end'],
    ['too many closing brackets', '{"items":[]}}', 'after the end'],
    ['an invalid item', '{"items":[{"a":01}]}', 'invalid JSON'],
    ['a missing colon', '{"kind" "PodList","items":[]}', 'unexpected "\\""'],
    ['a missing comma between fields', '{"a":1 "items":[]}', 'unexpected'],
    ['a missing comma between items', '{"items":[{} {}]}', 'unexpected "{"'],
    ['a trailing comma', '{"items":[{},]}', 'unexpected "]"'],
    ['a field without a value', '{"items":[],"a":}', 'unexpected "}"'],
    ['a key that is not a string', '{items:[]}', 'unexpected "i"'],
    ['mismatched brackets', '{"items":[{}}}', 'unexpected "}"'],
    ['nothing at all', '', 'incomplete'],
  ])('refuses %s', (_name, text, message) => {
    expect(() => split(text)).toThrow(MalformedListError);
    expect(() => split(text, 1)).toThrow(message);
  });

  it('lets an error of onItem through, as it is', () => {
    const splitter = new ListSplitter(() => {
      throw new RangeError('boom');
    });
    expect(() => splitter.write(Buffer.from('{"items":[{}]}'))).toThrow(RangeError);
  });
});
