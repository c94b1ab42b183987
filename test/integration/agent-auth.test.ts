import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type ClusterHarness, node, startCluster } from '../support/cluster-harness.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

const dir = mkdtempSync(join(tmpdir(), 'ioplace-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const REPORT = { capacity: { iops: 1000 } };
const NODE_NAME = 'authentication.kubernetes.io/node-name';

async function put(url: string, nodeName: string, token?: string) {
  const res = await fetch(`${url}/v1/nodes/${nodeName}/report`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(REPORT),
  });
  return {
    status: res.status,
    body: (await res.json()) as { error?: string },
    challenge: res.headers.get('www-authenticate'),
  };
}

describe('agent authentication with a static tokens file', () => {
  let server: TestServer;
  afterEach(async () => {
    await server?.close();
  });

  async function start(): Promise<void> {
    const file = join(dir, 'tokens');
    writeFileSync(file, '# agents\nnode-a-token-0123456789 node-a\n\noperator-token-0123456789 *\n');
    server = await startTestServer({ auth: { agents: 'file', agentTokensFile: file } });
  }

  it('answers 401 without a token or with an unknown one, 403 for another node, 200 for its own', async () => {
    await start();
    const none = await put(server.url, 'node-a');
    expect(none).toMatchObject({
      status: 401,
      body: { error: 'a bearer token is required' },
      challenge: 'Bearer',
    });
    expect((await put(server.url, 'node-a', 'not-a-known-token-at-all')).status).toBe(401);
    const other = await put(server.url, 'node-b', 'node-a-token-0123456789');
    expect(other).toMatchObject({
      status: 403,
      body: { error: 'static token may not report for node node-b' },
    });
    expect((await put(server.url, 'node-a', 'node-a-token-0123456789')).status).toBe(200);
    expect((await put(server.url, 'node-b', 'operator-token-0123456789')).status).toBe(200);
    // A refused report changed nothing.
    const nodes = await call<{ nodes: { node: string }[] }>(`${server.url}/v1/nodes`, 'GET');
    expect(nodes.body.nodes.map((n) => n.node)).toEqual(['node-a', 'node-b']);
  });

  it('guards DELETE the same way', async () => {
    await start();
    await put(server.url, 'node-a', 'node-a-token-0123456789');
    expect((await call(`${server.url}/v1/nodes/node-a`, 'DELETE')).status).toBe(401);
    const res = await fetch(`${server.url}/v1/nodes/node-a`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer operator-token-0123456789' },
    });
    expect(res.status).toBe(204);
  });

  it.each([
    ['a line with one field', 'lonely\n', /tokens:1: expected "TOKEN NODE", got 1 fields/],
    ['a short token', 'short node-a\n', /tokens:1: token too short/],
  ])('refuses to start with %s in the file', async (_what, text, message) => {
    const file = join(dir, 'tokens');
    writeFileSync(file, text);
    await expect(startTestServer({ auth: { agents: 'file', agentTokensFile: file } })).rejects.toThrow(
      message,
    );
  });
});

describe('agent authentication with TokenReview', () => {
  let h: ClusterHarness;
  afterEach(async () => {
    await h?.close();
  });

  async function start(config: Record<string, unknown> = {}): Promise<void> {
    h = await startCluster({ auth: { agents: 'tokenreview', ...config } }, (api) => {
      api.addNode(node('node-a'));
      api.addNode(node('node-b'));
      api.tokens.set('agent-on-a', {
        username: 'system:serviceaccount:ioplace-system:ioplace-agent',
        extra: { [NODE_NAME]: ['node-a'] },
        audiences: ['ioplace'],
      });
      api.tokens.set('agent-wrong-audience', {
        username: 'system:serviceaccount:ioplace-system:ioplace-agent',
        extra: { [NODE_NAME]: ['node-a'] },
      });
      api.tokens.set('unbound-agent', {
        username: 'system:serviceaccount:ioplace-system:ioplace-agent',
        audiences: ['ioplace'],
      });
      api.tokens.set('someone-else', {
        username: 'system:serviceaccount:default:builder',
        extra: { [NODE_NAME]: ['node-a'] },
        audiences: ['ioplace'],
      });
    });
  }

  it('takes a report only from the agent bound to a pod on that very node', async () => {
    await start();
    const url = h.server.url;
    expect((await put(url, 'node-a', 'agent-on-a')).status).toBe(200);
    expect(await put(url, 'node-b', 'agent-on-a')).toMatchObject({
      status: 403,
      body: { error: 'system:serviceaccount:ioplace-system:ioplace-agent may not report for node node-b' },
    });
    expect((await put(url, 'node-a', 'agent-wrong-audience')).body.error).toBe(
      'token refused: token audiences is invalid',
    );
    expect((await put(url, 'node-a', 'unbound-agent')).body.error).toMatch(/not bound to a pod on a node/);
    expect((await put(url, 'node-a', 'someone-else')).body.error).toBe(
      'token refused: system:serviceaccount:default:builder is not an agent',
    );
    expect((await put(url, 'node-a', 'forged')).status).toBe(401);
  });

  it('caches reviews, and keeps known agents through an API server outage', async () => {
    await start();
    const url = h.server.url;
    await put(url, 'node-a', 'agent-on-a');
    await put(url, 'node-a', 'agent-on-a');
    expect(h.api.reviewedTokens.filter((t) => t === 'agent-on-a')).toHaveLength(1);
    await h.api.stop();
    h.server.clock.now += 120_000; // past the cache: the API server cannot be asked
    expect((await put(url, 'node-a', 'agent-on-a')).status).toBe(200);
    const unknown = await put(url, 'node-a', 'never-seen');
    expect(unknown.status).toBe(503);
    expect(unknown.body.error).toMatch(/^cannot verify the token now/);
    await h.api.restart();
  });
});

describe('report rate limit', () => {
  it('answers 429 with Retry-After past the burst, and takes reports again as time passes', async () => {
    const server = await startTestServer({ inventory: { reportsPerSecond: 0.5, reportBurst: 2 } });
    try {
      expect((await put(server.url, 'node-a')).status).toBe(200);
      expect((await put(server.url, 'node-a')).status).toBe(200);
      const res = await fetch(`${server.url}/v1/nodes/node-a/report`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(REPORT),
      });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('2');
      expect((await put(server.url, 'node-b')).status).toBe(200); // other nodes are not affected
      server.clock.now += 2_000;
      expect((await put(server.url, 'node-a')).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('readiness after a restart', () => {
  it('waits for fresh reports from enough of the cluster nodes, or for the warm-up', async () => {
    const h2 = await startCluster({ readiness: { minInventoryCoverage: 0.5, warmupSeconds: 60 } }, (api) => {
      for (const n of ['n1', 'n2', 'n3', 'n4']) api.addNode(node(n));
    });
    try {
      const ready = async () => (await call(`${h2.server.url}/readyz`, 'GET')).status;
      expect(await ready()).toBe(503);
      await put(h2.server.url, 'n1');
      expect(await ready()).toBe(503);
      await put(h2.server.url, 'n2');
      expect(await ready()).toBe(200);
    } finally {
      await h2.close();
    }
    const h3 = await startCluster({ readiness: { minInventoryCoverage: 1, warmupSeconds: 60 } }, (api) =>
      api.addNode(node('n1')),
    );
    try {
      expect((await call(`${h3.server.url}/readyz`, 'GET')).status).toBe(503);
      h3.server.clock.now += 60_000;
      expect((await call(`${h3.server.url}/readyz`, 'GET')).status).toBe(200);
    } finally {
      await h3.close();
    }
  });
});
