import fc from 'fast-check';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { arrayOf, canonicalizeKeys, shapeOf } from '../../../src/extender/go-json-keys.js';
import { canonicalizeExtenderArgs, nodesKeptAsSent } from '../../../src/extender/parsed-body.js';
import {
  ExtenderArgsKeys,
  ExtenderArgsKeysAboveNodes,
  NodeKeys,
} from '../../../src/extender/wire-schemas.js';
import { capture } from '../../support/captures.js';
import { extenderArgsDoc, render } from '../../support/extender-args-text.js';

async function run(text: string): Promise<{ body: unknown; kept: boolean }> {
  const request = { body: JSON.parse(text) } as FastifyRequest;
  await canonicalizeExtenderArgs()(request);
  return { body: request.body, kept: nodesKeptAsSent(request) };
}

/** Whether the key rewrite of the Nodes leaves every Node and its metadata as parsed. */
function rewriteKeepsNodes(text: string): boolean {
  const body = canonicalizeKeys(JSON.parse(text), ExtenderArgsKeysAboveNodes) as {
    Nodes?: { items?: unknown };
  };
  const items = body.Nodes?.items;
  if (!Array.isArray(items)) return false;
  const before = items.map((n) => [n, (n as { metadata?: unknown } | null)?.metadata]);
  canonicalizeKeys(items, arrayOf(NodeKeys));
  return items.every(
    (n, i) => n === before[i]?.[0] && (n as { metadata?: unknown } | null)?.metadata === before[i]?.[1],
  );
}

describe('canonicalizeExtenderArgs', () => {
  it('rewrites a body as canonicalizeKeys with ExtenderArgsKeys does, and knows when the Nodes were left alone', async () => {
    const pod = capture('filter-nodecache-false').Pod;
    await fc.assert(
      fc.asyncProperty(extenderArgsDoc(pod), async (doc) => {
        const text = render(doc);
        const { body, kept } = await run(text);
        const expected = canonicalizeKeys(JSON.parse(text), ExtenderArgsKeys);
        expect(JSON.stringify(body)).toBe(JSON.stringify(expected));
        expect(body).toEqual(expected);
        expect(kept).toBe(rewriteKeepsNodes(text));
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['the captured NodeList', JSON.stringify(capture('filter-nodecache-false')), true],
    ['a Node with Metadata', '{"Nodes":{"items":[{"Metadata":{"name":"a"}}]}}', false],
    [
      'a Node with metadata twice',
      '{"Nodes":{"items":[{"metadata":{"name":"a"},"METADATA":{"name":"b"}}]}}',
      false,
    ],
    ['a name in capitals', '{"Nodes":{"items":[{"metadata":{"NAME":"a"}}]}}', false],
    ['a null name', '{"Nodes":{"items":[{"metadata":{"name":null}}]}}', false],
    ['a null metadata', '{"Nodes":{"items":[{"metadata":null}]}}', false],
    [
      'keys that only look alike',
      '{"Nodes":{"items":[{"metadata":{"name":"a","names":1,"Nam":2},"metadatas":1}]}}',
      true,
    ],
    ['no Nodes', '{"NodeNames":["a"]}', false],
  ])('tells %s', async (_what, text, kept) => {
    expect((await run(text)).kept).toBe(kept);
  });
});

describe('canonicalizeKeys', () => {
  it('leaves keys that name Object.prototype members alone, as data', () => {
    const shape = shapeOf({ Pod: null });
    const body = { constructor: { x: 1 }, toString: 'a', pod: {} };
    expect(canonicalizeKeys(body, shape)).toEqual({ constructor: { x: 1 }, toString: 'a', Pod: {} });
  });
});
