import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CapturedArgs, capture, captureText } from '../support/captures.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

let server: TestServer;
const SMALL_LIMIT = 64 * 1024;

beforeAll(async () => {
  server = await startTestServer({ server: { bodyLimitBytes: SMALL_LIMIT } });
  await call(`${server.url}/v1/nodes/node-c/report`, 'PUT', {
    capacity: { ingressBandwidth: 1e9, egressBandwidth: 1e9, iops: 100 },
  });
});
afterAll(async () => {
  await server.close();
});

const pod = () => capture<CapturedArgs>('filter-nodecache-true').Pod;

describe.each(['filter', 'prioritize'])('POST /scheduler/%s with a bad request', (verb) => {
  const url = () => `${server.url}/scheduler/${verb}`;

  it.each([
    ['truncated JSON', captureText('filter-malformed.json').slice(0, 200), /not valid JSON/],
    [
      'a JSON string (the captured malformed answer)',
      captureText('filter-malformed.response.json'),
      /^body must be object$/,
    ],
    ['an empty body', '', /cannot be empty/],
    ['no Pod', JSON.stringify({ NodeNames: ['node-c'] }), /^body must have required property 'Pod'$/],
    [
      'a null Pod',
      JSON.stringify({ Pod: null, NodeNames: ['node-c'] }),
      /^body must have required property 'Pod'$/,
    ],
    [
      'a Pod of the wrong type',
      JSON.stringify({ Pod: 5, NodeNames: ['node-c'] }),
      /^body\/Pod must be object$/,
    ],
    [
      'node names that are not strings',
      JSON.stringify({ Pod: {}, NodeNames: [1] }),
      /^body\/NodeNames\/0 must be string$/,
    ],
    [
      'neither Nodes nor NodeNames',
      JSON.stringify({ Pod: {}, Nodes: null, NodeNames: null }),
      /names no candidate nodes/,
    ],
    [
      'a Node without a name',
      JSON.stringify({ Pod: {}, Nodes: { items: [{ metadata: {} }] } }),
      /body\/Nodes\/items\/0\/metadata must have required property 'name'/,
    ],
    [
      'containers that are not a list',
      JSON.stringify({ Pod: { spec: { containers: {} } }, NodeNames: ['a'] }),
      /^body\/Pod\/spec\/containers must be array$/,
    ],
    [
      'a quantity of the wrong type',
      JSON.stringify({
        Pod: { spec: { containers: [{ resources: { requests: { 'ioplace.io/iops': true } } }] } },
        NodeNames: ['a'],
      }),
      /^body\/Pod\/spec\/containers\/0\/resources\/requests\/ioplace.io~1iops must be string,number$/,
    ],
    ['__proto__ poisoning', '{"Pod": {}, "NodeNames": ["a"], "__proto__": {"x": 1}}', /not valid JSON/],
  ])('refuses %s with 400 and a JSON error', async (_what, raw, message) => {
    const res = await call<{ error: string }>(url(), 'POST', undefined, { raw });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(message);
  });

  it('refuses a body over server.bodyLimitBytes with 413', async () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `node-${i}`);
    const res = await call<{ error: string }>(url(), 'POST', { Pod: pod(), NodeNames: names });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe(
      `request body is larger than the limit of ${SMALL_LIMIT} bytes (server.bodyLimitBytes)`,
    );
  });

  it('refuses a body that is not JSON with 415', async () => {
    const res = await call<{ error: string }>(url(), 'POST', undefined, {
      raw: 'Pod=x',
      contentType: 'text/plain',
    });
    expect(res.status).toBe(415);
    expect(res.body.error).toMatch(/content type/);
  });
});

describe('after junk', () => {
  it('answers an unknown route with a JSON 404', async () => {
    const res = await call(`${server.url}/scheduler/nope`, 'POST', {});
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'no route POST /scheduler/nope' });
  });

  it('still serves, with the inventory as it was', async () => {
    const res = await call<{ NodeNames: string[] }>(`${server.url}/scheduler/filter`, 'POST', {
      Pod: pod(),
      NodeNames: ['node-c'],
    });
    expect(res.status).toBe(200);
    expect(res.body.NodeNames).toEqual(['node-c']);
    const nodes = await call<{ count: number }>(`${server.url}/v1/nodes`, 'GET');
    expect(nodes.body.count).toBe(1);
  });
});
