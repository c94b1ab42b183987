import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeListSpans } from '../../../src/extender/node-list-spans.js';
import { nodesModeAnswer } from '../../../src/extender/nodes-answer.js';
import type { ExtenderFilterResult } from '../../../src/extender/wire-schemas.js';
import { capture } from '../../support/captures.js';
import { docOf, nodeName, render, style } from '../../support/extender-args-text.js';

type Rest = Omit<ExtenderFilterResult, 'Nodes'>;

const reasons = fc.dictionary(nodeName, fc.string({ unit: 'binary', maxLength: 20 }), { maxKeys: 3 });
const rest: fc.Arbitrary<Rest> = fc.record({
  NodeNames: fc.option(fc.array(nodeName, { maxLength: 4 }), { nil: null }),
  FailedNodes: reasons,
  FailedAndUnresolvableNodes: reasons,
  Error: fc.constant(''),
});

describe('nodesModeAnswer', () => {
  it('is the JSON of the answer with the passing Nodes, in the order and spelling JSON.stringify writes', () => {
    const args = capture('filter-nodecache-false') as { Nodes: { items: unknown[] } };
    const items = args.Nodes.items;
    fc.assert(
      fc.property(
        style,
        fc.subarray(
          items.map((_, i) => i),
          { minLength: 0 },
        ),
        fc.oneof(fc.constant({}), fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 })),
        rest,
        (how, passing, metadata, others) => {
          const body = Buffer.from(render(docOf(args), how));
          const spans = nodeListSpans(body.toString('latin1'));
          expect(spans).toBeDefined();
          if (spans === undefined) return;
          const answer = nodesModeAnswer(body, spans, passing, metadata, others);
          const expected: ExtenderFilterResult = {
            Nodes: { metadata, items: passing.map((i) => items[i]) },
            ...others,
          };
          // Same value, and the same keys in the same order.
          expect(JSON.stringify(JSON.parse(answer.toString('utf8')))).toBe(JSON.stringify(expected));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes an empty list when no Node passes', () => {
    const body = Buffer.from('{"Nodes":{"items":[{"metadata":{"name":"a"}}]}}');
    const spans = nodeListSpans(body.toString('latin1'));
    if (spans === undefined) throw new Error('no spans');
    const others: Rest = {
      NodeNames: null,
      FailedNodes: { a: 'no' },
      FailedAndUnresolvableNodes: {},
      Error: '',
    };
    expect(nodesModeAnswer(body, spans, [], {}, others).toString()).toBe(
      '{"Nodes":{"metadata":{},"items":[]},"NodeNames":null,"FailedNodes":{"a":"no"},"FailedAndUnresolvableNodes":{},"Error":""}',
    );
  });

  it('copies a Node as it was written, white space and escapes included', () => {
    const node = '{ "metadata" : {"name":"a\\u0062"},\n"x":"\\u00e9" }';
    const body = Buffer.from(`{"Nodes":{"items":[${node}]}}`);
    const spans = nodeListSpans(body.toString('latin1'));
    if (spans === undefined) throw new Error('no spans');
    const others: Rest = { NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' };
    expect(nodesModeAnswer(body, spans, [0, 0], { k: 'é' }, others).toString()).toBe(
      `{"Nodes":{"metadata":{"k":"é"},"items":[${node},${node}]},"NodeNames":null,"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""}`,
    );
  });
});
