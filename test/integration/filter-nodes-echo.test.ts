/**
 * A Nodes-mode filter answers with the passing Node objects copied from the request's bytes. The
 * answer must parse to exactly what serializing the parsed request gave before: the reference below
 * builds that from the request and the answer's own verdicts (a node passes unless it is in
 * FailedNodes or FailedAndUnresolvableNodes).
 */

import fc from 'fast-check';
import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalizeKeys } from '../../src/extender/go-json-keys.js';
import { nodeListSpans } from '../../src/extender/node-list-spans.js';
import { canonicalizeExtenderArgs, nodesKeptAsSent } from '../../src/extender/parsed-body.js';
import {
  type ExtenderArgs,
  ExtenderArgsKeys,
  type ExtenderFilterResult,
} from '../../src/extender/wire-schemas.js';
import { type CapturedArgs, capture, captureText } from '../support/captures.js';
import { docOf, extenderArgsDoc, render, style } from '../support/extender-args-text.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const G = 1e9;
const M = 1e6;
const BOM = '\ufeff';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  const reports: Record<string, unknown> = {
    'node-c': { capacity: { ingressBandwidth: G, egressBandwidth: G, iops: 50_000 } },
    'node-d': {
      capacity: { ingressBandwidth: G, egressBandwidth: G, iops: 50_000 },
      usage: { ingressBandwidth: 880 * M },
    },
    'node-a': { capacity: { ingressBandwidth: 100 * M, egressBandwidth: 100 * M } },
    'node-b': { capacity: { ingressBandwidth: 10 * G, egressBandwidth: 10 * G, iops: 1e6 } },
  };
  for (const [node, body] of Object.entries(reports)) {
    const res = await fetch(`${server.url}/v1/nodes/${node}/report`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
  }
});
afterAll(async () => {
  await server.close();
});

async function filter(body: string | Buffer, contentType = 'application/json') {
  const res = await fetch(`${server.url}/scheduler/filter`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') };
}

/** What the answer was before the echo, for the request `text`, given the answer's verdicts. */
function reference(text: string, answer: ExtenderFilterResult): ExtenderFilterResult {
  const args = canonicalizeKeys(
    JSON.parse(text.startsWith(BOM) ? text.slice(1) : text),
    ExtenderArgsKeys,
  ) as ExtenderArgs;
  const rejected = new Set([
    ...Object.keys(answer.FailedNodes),
    ...Object.keys(answer.FailedAndUnresolvableNodes),
  ]);
  const passes = (name: string) => !rejected.has(name);
  return {
    Nodes:
      args.Nodes === undefined
        ? null
        : {
            metadata: args.Nodes.metadata ?? {},
            items: (args.Nodes.items ?? []).filter((n) => passes(n.metadata.name)),
          },
    NodeNames: args.NodeNames === undefined ? null : args.NodeNames.filter(passes),
    FailedNodes: answer.FailedNodes,
    FailedAndUnresolvableNodes: answer.FailedAndUnresolvableNodes,
    Error: '',
  };
}

/**
 * The passing Nodes as written in the request, when the server should echo them by copying: the
 * request's Nodes keep Go's spelling. Otherwise undefined.
 */
async function echoedNodes(text: string, answer: ExtenderFilterResult): Promise<string[] | undefined> {
  const request = { body: JSON.parse(text.startsWith(BOM) ? text.slice(1) : text) } as FastifyRequest;
  await canonicalizeExtenderArgs()(request);
  if (!nodesKeptAsSent(request)) return undefined;
  const bytes = Buffer.from(text);
  const spans = nodeListSpans(bytes.toString('latin1'));
  if (spans === undefined) return undefined;
  const rejected = new Set([
    ...Object.keys(answer.FailedNodes),
    ...Object.keys(answer.FailedAndUnresolvableNodes),
  ]);
  return spans.starts
    .map((start, i) => bytes.subarray(start, spans.ends[i]).toString())
    .filter((node) => !rejected.has((JSON.parse(node) as CapturedArgs['Pod']).metadata.name));
}

/** The answer to `text` is the reference answer: same value, same keys in the same order. */
async function expectReferenceAnswer(text: string | Buffer, requestText?: string) {
  const res = await filter(text);
  expect(res.status, res.text).toBe(200);
  expect(res.contentType).toBe('application/json; charset=utf-8');
  const answer = JSON.parse(res.text) as ExtenderFilterResult;
  const expected = reference(requestText ?? String(text), answer);
  expect(JSON.stringify(answer)).toBe(JSON.stringify(expected));
  return { answer, text: res.text };
}

describe('filter in Nodes mode echoes the passing Nodes as sent', () => {
  it.each([
    'filter-nodecache-false',
    'prioritize-nodecache-false',
    'filter-preemptor-after-preemption-nodecache-false',
  ])('answers the captured %s as serializing it did', async (name) => {
    const { answer } = await expectReferenceAnswer(captureText(`${name}.json`));
    expect(answer.Nodes?.items.length).toBeGreaterThan(0);
  });

  it('copies the passing Nodes byte for byte, white space and escapes included', async () => {
    const args = capture<CapturedArgs>('filter-nodecache-false');
    const text = render(docOf(args), { spaces: ['', '\n  ', ' '], escapeEvery: 5 });
    const { answer, text: answerText } = await expectReferenceAnswer(text);
    const passing = ((answer.Nodes?.items ?? []) as CapturedArgs['Pod'][]).map((n) => n.metadata.name);
    expect(passing).toEqual(['node-b', 'node-c']);
    // The echoed Nodes are the request's text, not a new serialization of it.
    const spans = nodeListSpans(text);
    if (spans === undefined) throw new Error('no spans');
    const written = (name: string) => {
      const i = args.Nodes?.items.findIndex((n) => n.metadata.name === name) ?? -1;
      return text.slice(spans.starts[i], spans.ends[i]);
    };
    expect(written('node-b')).toMatch(/\n {2}/);
    expect(answerText).toContain(`"items":[${written('node-b')},${written('node-c')}]`);
  });

  it('answers any ExtenderArgs, however written, as serializing it did', async () => {
    const counts = { withNodes: 0, echoed: 0 };
    const pod = capture('filter-nodecache-false').Pod;
    await fc.assert(
      fc.asyncProperty(extenderArgsDoc(pod, true), style, fc.boolean(), async (doc, how, bom) => {
        const text = `${bom ? BOM : ''}${render(doc, how)}`;
        const res = await filter(text);
        if (res.status === 400) {
          // Only a request that names no node at all is refused.
          expect(JSON.parse(res.text)).toEqual({ error: expect.stringMatching(/names no candidate nodes/) });
          return;
        }
        expect(res.status, res.text).toBe(200);
        const answer = JSON.parse(res.text) as ExtenderFilterResult;
        expect(JSON.stringify(answer)).toBe(JSON.stringify(reference(text, answer)));
        const echoed = await echoedNodes(text, answer);
        if (echoed !== undefined) {
          expect(res.text).toContain(`"items":[${echoed.join(',')}]`);
          counts.echoed++;
        }
        if (answer.Nodes !== null) counts.withNodes++;
      }),
      { numRuns: 400 },
    );
    // Many answers go the fast way; the others have a Node with respelled keys.
    expect(counts.echoed).toBeGreaterThan(counts.withNodes / 5);
  });

  it.each([
    [
      'a Node named __proto__',
      '{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"__proto__"}},{"metadata":{"name":"node-c"}}]}}',
    ],
    [
      'Nodes and NodeNames both',
      '{"Pod":{},"NodeNames":["node-e","node-c"],"Nodes":{"items":[{"metadata":{"name":"node-c"}},{"metadata":{"name":"node-a"}}]}}',
    ],
    [
      'a Node with Metadata, which is respelled',
      '{"Pod":{},"Nodes":{"items":[{"Metadata":{"name":"node-c"},"x":1}]}}',
    ],
    ['a name in capitals', '{"Pod":{},"Nodes":{"items":[{"metadata":{"NAME":"node-c","name":"x"}}]}}'],
    [
      'lower-case keys everywhere',
      '{"pod":{},"nodes":{"ITEMS":[{"metadata":{"name":"node-c"}}],"metadata":{"resourceVersion":"1"}}}',
    ],
    [
      'unicode in a Node',
      '{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"node-c","annotations":{"note":"節点 é 🚀 \\u2028"}}}]}}',
    ],
    [
      'a Node nested deeper than the scan sees',
      `{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"node-c"},"x":${'['.repeat(100)}${']'.repeat(100)}}]}}`,
    ],
  ])('answers %s as serializing it did', async (_what, text) => {
    await expectReferenceAnswer(text);
  });

  it('answers a body with a byte-order mark, and one sent with a charset', async () => {
    const text = captureText('filter-nodecache-false.json');
    await expectReferenceAnswer(`${BOM}${text}`);
    const res = await filter(text, 'application/json; charset=utf-8');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual(JSON.parse((await filter(text)).text));
  });

  it('answers a Node with bytes that are not UTF-8 as JSON.parse read them', async () => {
    const head = Buffer.from('{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"node-c"},"x":"');
    const body = Buffer.concat([head, Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('"}]}}')]);
    const { answer } = await expectReferenceAnswer(body, body.toString('utf8'));
    expect(answer.Nodes?.items[0]).toEqual({ metadata: { name: 'node-c' }, x: '\ufffd\ufffd(' });
  });

  it('refuses prototype keys anywhere in the body, as Fastify does', async () => {
    for (const text of [
      '{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"node-c"},"__proto__":{"x":1}}]}}',
      '{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"node-c"},"constructor":{"prototype":{}}}]}}',
      '{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"node-c","\\u005f_proto__":1}}]}}',
    ]) {
      const res = await filter(text);
      expect(res.status, text).toBe(400);
      expect(JSON.parse(res.text)).toEqual({
        error: "Body is not valid JSON but content-type is set to 'application/json'",
      });
    }
    // A constructor without a prototype is just a key, and is echoed as such. (Serializing the
    // parsed Node wrote it as "Object": the key rewrite looks field names up in a plain object,
    // where "constructor" is found on its prototype.)
    const node = '{"metadata":{"name":"node-c"},"constructor":{"x":1}}';
    const res = await filter(`{"Pod":{},"Nodes":{"items":[${node}]}}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain(`"items":[${node}]`);
  });
});
