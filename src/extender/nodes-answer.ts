import type { NodeSpans } from './node-list-spans.js';
import type { ExtenderFilterResult } from './wire-schemas.js';

/**
 * A Nodes-mode ExtenderFilterResult as bytes, with the passing Node objects copied from the request
 * body rather than serialized again: for thousands of Nodes, serializing them and then encoding the
 * answer string cost more than parsing the request did. Every other field goes through
 * JSON.stringify, in the order and spelling JSON.stringify(result) gives, so that the answer parses
 * to the same value as that would.
 */
export function nodesModeAnswer(
  body: Buffer,
  spans: NodeSpans,
  /** Indexes into spans of the Nodes to echo, in answer order. */
  passing: readonly number[],
  metadata: unknown,
  rest: Omit<ExtenderFilterResult, 'Nodes'>,
): Buffer {
  const head = Buffer.from(`{"Nodes":{"metadata":${JSON.stringify(metadata)},"items":[`);
  // The other members as JSON.stringify writes them: `{"NodeNames":...}` without its brace.
  const others: Omit<ExtenderFilterResult, 'Nodes'> = {
    NodeNames: rest.NodeNames,
    FailedNodes: rest.FailedNodes,
    FailedAndUnresolvableNodes: rest.FailedAndUnresolvableNodes,
    Error: rest.Error,
  };
  const tail = Buffer.from(`]},${JSON.stringify(others).slice(1)}`);
  const { starts, ends } = spans;
  let size = head.length + tail.length + Math.max(0, passing.length - 1);
  for (const i of passing) size += (ends[i] as number) - (starts[i] as number);
  const out = Buffer.allocUnsafe(size);
  let at = head.copy(out, 0);
  for (let k = 0; k < passing.length; k++) {
    const i = passing[k] as number;
    if (k > 0) out[at++] = 0x2c; // ,
    at += body.copy(out, at, starts[i], ends[i]);
  }
  tail.copy(out, at);
  return out;
}
