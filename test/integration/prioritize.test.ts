import { afterEach, describe, expect, it } from 'vitest';
import { type CapturedArgs, capture } from '../support/captures.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

type HostPriorityList = { Host: string; Score: number }[];

const G = 1e9;
const M = 1e6;
let server: TestServer;

afterEach(async () => {
  await server.close();
});

async function seed(): Promise<void> {
  const nodes: [string, number][] = [
    ['node-a', 100 * M], // the pod's 100M ingress fills it
    ['node-b', 0],
    ['node-c', 300 * M],
    ['node-d', 600 * M],
  ];
  for (const [node, used] of nodes) {
    const res = await call(`${server.url}/v1/nodes/${node}/report`, 'PUT', {
      capacity: { ingressBandwidth: G, egressBandwidth: G },
      usage: { ingressBandwidth: used },
    });
    expect(res.status).toBe(200);
  }
}

function prioritize(body: unknown) {
  return call<HostPriorityList>(`${server.url}/scheduler/prioritize`, 'POST', body);
}

describe('prioritize', () => {
  it('spreads: the emptiest node after placement scores highest; unknown nodes score 0', async () => {
    server = await startTestServer({ scoring: { reserveFraction: 0 } });
    await seed();
    const args = capture<CapturedArgs>('prioritize-lowercase-response-keys'); // ingress 100M; a..e
    const res = await prioritize(args);
    expect(res.status).toBe(200);
    // spread: round(10 * (free - 100M) / 1G): a 800M -> 8, b 900M -> 9, c 600M -> 6, d 300M -> 3
    expect(res.body).toEqual([
      { Host: 'node-a', Score: 8 },
      { Host: 'node-b', Score: 9 },
      { Host: 'node-c', Score: 6 },
      { Host: 'node-d', Score: 3 },
      { Host: 'node-e', Score: 0 },
    ]);
  });

  it('packs: the fullest node that still fits scores highest', async () => {
    server = await startTestServer({ scoring: { strategy: 'pack', reserveFraction: 0 } });
    await seed();
    const res = await prioritize(capture('prioritize-lowercase-response-keys'));
    expect(res.body.map((e) => e.Score)).toEqual([2, 1, 4, 7, 0]);
  });

  it('answers every node of a Nodes-mode request once, in order, with integers 0..10', async () => {
    server = await startTestServer();
    await seed();
    const args = capture<CapturedArgs>('prioritize-nodecache-false');
    const res = await prioritize(args);
    expect(res.body.map((e) => e.Host)).toEqual(args.Nodes?.items.map((n) => n.metadata.name));
    for (const { Score } of res.body) {
      expect(Number.isInteger(Score)).toBe(true);
      expect(Score).toBeGreaterThanOrEqual(0);
      expect(Score).toBeLessThanOrEqual(10);
    }
  });

  it('scores a pod with no demand 0 everywhere unless scoreAllPods is on', async () => {
    server = await startTestServer({ scoring: { reserveFraction: 0 } });
    await seed();
    const args = capture<CapturedArgs>('filter-nodecache-true-plainpod');
    let res = await prioritize(args);
    expect(res.body.every((e) => e.Score === 0)).toBe(true);
    await server.close();

    server = await startTestServer({
      scoring: { reserveFraction: 0, scoreAllPods: true, weights: { egressBandwidth: 0 } },
    });
    await seed();
    res = await prioritize(args);
    // by ingress free share alone: a 900M, b 1G, c 700M, d 400M, e unknown
    expect(res.body.map((e) => e.Score)).toEqual([9, 10, 7, 4, 0]);
  });

  it('answers NodeNames-mode captures with the Go field names Host and Score', async () => {
    server = await startTestServer();
    await seed();
    const res = await prioritize(capture('prioritize-nodecache-true'));
    expect(res.text).toMatch(/^\[\{"Host":"node-d","Score":\d+\}/);
  });
});
