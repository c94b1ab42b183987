import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalizeKeys } from '../../../src/extender/go-json-keys.js';
import { nodeListSpans } from '../../../src/extender/node-list-spans.js';
import { ExtenderArgsKeysAboveNodes } from '../../../src/extender/wire-schemas.js';
import { capture, captureText } from '../../support/captures.js';
import { docOf, extenderArgsDoc, render, style } from '../../support/extender-args-text.js';

const BOM = '\ufeff';

/** The Nodes.items the route gets, as JSON.parse and the key rewrite above the Nodes leave them. */
function parsedItems(text: string): unknown[] | 'no NodeList' | 'not a list' {
  const body = canonicalizeKeys(
    JSON.parse(text.startsWith(BOM) ? text.slice(1) : text),
    ExtenderArgsKeysAboveNodes,
  );
  const nodes = (body as { Nodes?: unknown }).Nodes;
  if (nodes === null || typeof nodes !== 'object' || Array.isArray(nodes)) return 'no NodeList';
  const items = (nodes as { items?: unknown }).items;
  if (items === undefined) return [];
  return Array.isArray(items) ? items : 'not a list';
}

/** What the spans of the body say the items are. */
function itemsBySpans(text: string): unknown[] | undefined {
  const bytes = Buffer.from(text, 'utf8');
  const spans = nodeListSpans(bytes.toString('latin1'));
  if (spans === undefined) return undefined;
  expect(spans.ends.length).toBe(spans.starts.length);
  return spans.starts.map((start, i) => JSON.parse(bytes.subarray(start, spans.ends[i]).toString('utf8')));
}

function expectSameItems(text: string): void {
  const expected = parsedItems(text);
  const actual = itemsBySpans(text);
  if (typeof expected === 'string') expect(actual, expected).toBeUndefined();
  else expect(actual).toEqual(expected);
}

describe('nodeListSpans', () => {
  it.each([
    'filter-nodecache-false',
    'prioritize-nodecache-false',
    'filter-preemptor-after-preemption-nodecache-false',
  ])('finds every Node of the captured %s', (name) => {
    const text = captureText(`${name}.json`);
    const items = itemsBySpans(text);
    expect(items).toEqual((capture(name) as { Nodes: { items: unknown[] } }).Nodes.items);
    expect(items?.length).toBeGreaterThan(0);
  });

  it('gives no spans to a request in NodeNames mode', () => {
    expect(nodeListSpans(captureText('filter-nodecache-true.json'))).toBeUndefined();
    expect(nodeListSpans('{"Pod":{},"Nodes":null,"NodeNames":["a"]}')).toBeUndefined();
    expect(nodeListSpans('{"Pod":{},"NodeNames":["a"]}')).toBeUndefined();
  });

  it.each([
    ['no items', '{"Pod":{},"Nodes":{"metadata":{}}}', []],
    ['null items', '{"Pod":{},"Nodes":{"items":null}}', []],
    ['an empty list', '{"Pod":{},"Nodes":{"items":[ ]}}', []],
    [
      'white space everywhere',
      ' \r\n{ "Nodes" :\t{ "items" : [ {"metadata":{"name":"a"}} ,\n{ } ] } } ',
      [{ metadata: { name: 'a' } }, {}],
    ],
    ['lower-case keys', '{"nodes":{"ITEMS":[{"metadata":{"name":"a"}}]}}', [{ metadata: { name: 'a' } }]],
    ['escaped keys', '{"N\\u006fdes":{"\\u0069tems":[{"x":1}]}}', [{ x: 1 }]],
    ['keys with a long s, which Go folds with s', '{"Nodeſ":{"item\\u017f":[{"x":1}]}}', [{ x: 1 }]],
    ['a byte-order mark', `${BOM}{"Nodes":{"items":[{"x":1}]}}`, [{ x: 1 }]],
    [
      'brackets, quotes and backslashes in strings',
      String.raw`{"Nodes":{"items":[{"a":"}],{\"[","b":"\\","c":["\\\"]"]},{"d":"\\\\"}]}}`,
      [{ a: '}],{"[', b: '\\', c: ['\\"]'] }, { d: '\\\\' }],
    ],
    [
      'unicode',
      '{"Nodes":{"items":[{"名":"節点 🚀"},{"é":"\\ud83d\\ude80"}]}}',
      [{ 名: '節点 🚀' }, { é: '🚀' }],
    ],
    [
      'the last of two Nodes of one spelling',
      '{"Nodes":{"items":[{"first":1}]},"Nodes":{"items":[{"second":2}]}}',
      [{ second: 2 }],
    ],
    [
      'the first-seen spelling written last, as the rewrite of a parsed object reads it',
      '{"nodes":{"items":[{"a":1}]},"Nodes":{"items":[{"b":2}]},"nodes":{"items":[{"c":3}]}}',
      [{ b: 2 }],
    ],
    ['a later null, which removes the list', '{"Nodes":{"items":[{"a":1}]},"nodes":null}', 'none'],
    ['an earlier null', '{"nodes":null,"Nodes":{"items":[{"a":1}]}}', [{ a: 1 }]],
    ['a null items after a list', '{"Nodes":{"items":[{"a":1}],"Items":null}}', []],
    [
      'numbers and literals',
      '{"Nodes":{"items":[{"n":-1.5e+3,"t":true,"f":false,"z":null},[1,2]]}}',
      [{ n: -1500, t: true, f: false, z: null }, [1, 2]],
    ],
  ])('reads %s as JSON.parse does', (_what, text, expected) => {
    if (expected === 'none') {
      expect(nodeListSpans(Buffer.from(text).toString('latin1'))).toBeUndefined();
    } else {
      expect(itemsBySpans(text)).toEqual(expected);
    }
    expectSameItems(text);
  });

  it('gives up on a Node nested deeper than it sees through, and on Nodes of another type', () => {
    const deep = `{"Nodes":{"items":[{"x":${'['.repeat(5000)}${']'.repeat(5000)}}]}}`;
    expect(nodeListSpans(deep)).toBeUndefined();
    expect(nodeListSpans('{"Nodes":[]}')).toBeUndefined();
    expect(nodeListSpans('{"Nodes":{"items":{}}}')).toBeUndefined();
    expect(nodeListSpans('[]')).toBeUndefined();
  });

  it('gives up, without throwing, on a Node too wide for the regular expression', () => {
    // Millions of members overflow irregexp's backtracking stack (about 2 million here).
    const text = `{"Nodes":{"items":[{"a":[${'"a",'.repeat(4e6)}"a"]}]}}`;
    expect(nodeListSpans(text)).toBeUndefined();
  });

  it('sees through a Node as deep as a real one, and a long one', () => {
    const nested = `{"Nodes":{"items":[{"x":${'[{"a":'.repeat(8)}1${'}]'.repeat(8)}}]}}`;
    expectSameItems(nested);
    const long = JSON.stringify({
      Nodes: { items: [{ a: 'x'.repeat(1 << 20), b: Array.from({ length: 1e5 }, (_, i) => i) }] },
    });
    expectSameItems(long);
  });

  it('reads any ExtenderArgs, however written, as JSON.parse and the key rewrite do', () => {
    const pod = capture('filter-nodecache-false').Pod;
    fc.assert(
      fc.property(extenderArgsDoc(pod), style, fc.boolean(), (doc, how, bom) => {
        expectSameItems(`${bom ? BOM : ''}${render(doc, how)}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads the captured NodeList written with odd white space and escaped keys', () => {
    const args = capture('filter-nodecache-false');
    fc.assert(
      fc.property(style, (how) => {
        const text = render(docOf(args), how);
        expect(itemsBySpans(text)).toEqual((args as { Nodes: { items: unknown[] } }).Nodes.items);
      }),
      { numRuns: 200 },
    );
  });
});
