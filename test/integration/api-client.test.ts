import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiStatusError } from '../../src/cluster/api-client.js';
import { apiErrorMessage } from '../../src/cluster/api-errors.js';
import { node, pod } from '../support/cluster-harness.js';
import { FakeApiServer, TEST_TOKEN } from '../support/fake-apiserver.js';

const TLS = new URL('../fixtures/tls/', import.meta.url);
const base64 = (name: string) => readFileSync(new URL(name, TLS)).toString('base64');

let api: FakeApiServer | undefined;
let client: ApiClient | undefined;
let raw: Server | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await api?.close();
  api = undefined;
  raw?.closeAllConnections();
  await new Promise((resolve) => raw?.close(resolve) ?? resolve(undefined));
  raw = undefined;
});

async function start(options: { tls?: boolean; bindingLatencyMs?: number } = {}) {
  const server = await FakeApiServer.start(options);
  api = server;
  server.addNode(node('n1'));
  const created = server.addPod(pod('web', { iops: '1k' }));
  const c = new ApiClient(server.kubeConfig(), { timeoutMs: 5000 });
  client = c;
  return { server, client: c, uid: created.metadata?.uid ?? '' };
}

/** The calls ioplace makes: a pod read, a binding, a node annotation, a token review. */
async function everyKindOfCall(c: ApiClient, uid: string): Promise<void> {
  const read = await c.request<{ metadata: { uid: string } }>({
    method: 'GET',
    path: '/api/v1/namespaces/default/pods/web',
  });
  expect(read.metadata.uid).toBe(uid);
  await c.request({
    method: 'POST',
    path: '/api/v1/namespaces/default/pods/web/binding',
    body: {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'web', namespace: 'default', uid },
      target: { apiVersion: 'v1', kind: 'Node', name: 'n1' },
    },
  });
  await c.request({
    method: 'PATCH',
    path: '/api/v1/nodes/n1',
    contentType: 'application/merge-patch+json',
    body: { metadata: { annotations: { 'ioplace.io/nudge': 'now' } } },
  });
  const review = await c.request<{ status: { authenticated: boolean } }>({
    method: 'POST',
    path: '/apis/authentication.k8s.io/v1/tokenreviews',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'nobody' } },
  });
  expect(review.status.authenticated).toBe(false);
}

describe('ApiClient', () => {
  it.each([
    ['http', false],
    ['https', true],
  ])('sends a sequence of calls over one kept connection (%s)', async (_, tls) => {
    const { server, client: c, uid } = await start({ tls });
    for (let round = 0; round < 3; round++) {
      if (round > 0) server.updatePod('default', 'web', (p) => delete p.spec?.nodeName);
      await everyKindOfCall(c, uid);
    }
    expect(server.bindings).toHaveLength(3);
    expect(server.patches.map((p) => p.contentType)).toEqual(Array(3).fill('application/merge-patch+json'));
    expect(server.requests.every((r) => r.authorization === `Bearer ${TEST_TOKEN}`)).toBe(true);
    expect(server.connections).toBe(1);
  });

  it('opens no more connections than maxSockets for calls in flight at once, and reuses them', async () => {
    const server = await FakeApiServer.start({ bindingLatencyMs: 20 });
    api = server;
    const c = new ApiClient(server.kubeConfig(), { timeoutMs: 5000, maxSockets: 3 });
    client = c;
    const uids = Array.from({ length: 12 }, (_, i) => server.addPod(pod(`p${i}`)).metadata?.uid);
    server.addNode(node('n1'));
    await Promise.all(
      uids.map((uid, i) =>
        c.request({
          method: 'POST',
          path: `/api/v1/namespaces/default/pods/p${i}/binding`,
          body: { metadata: { name: `p${i}`, uid }, target: { kind: 'Node', name: 'n1' } },
        }),
      ),
    );
    expect(server.bindings).toHaveLength(12);
    expect(server.connections).toBe(3);
  });

  it('rejects an answer other than 2xx with an ApiStatusError carrying the Status', async () => {
    const { server, client: c } = await start();
    const err = (await c
      .request({ method: 'GET', path: '/api/v1/namespaces/default/pods/gone' })
      .catch((e: unknown) => e)) as ApiStatusError;
    expect(err).toBeInstanceOf(ApiStatusError);
    expect(err.code).toBe(404);
    expect(err.statusCode).toBe(404);
    expect(err.body).toMatchObject({ kind: 'Status', reason: 'NotFound' });
    expect(apiErrorMessage(err)).toBe('pods "gone" not found (HTTP 404)');

    server.failNext('POST', /binding$/, 500);
    const failed = await c
      .request({ method: 'POST', path: '/api/v1/namespaces/default/pods/web/binding', body: {} })
      .catch((e) => e);
    expect(apiErrorMessage(failed)).toBe('injected failure (HTTP 500) (HTTP 500)');
    // An error answer read to its end leaves the connection usable.
    expect(server.connections).toBe(1);
  });

  it('gives up a call after its timeout, with a message that says which call', async () => {
    const { server, client: c, uid } = await start({ bindingLatencyMs: 300 });
    const body = { metadata: { name: 'web', uid }, target: { kind: 'Node', name: 'n1' } };
    const path = '/api/v1/namespaces/default/pods/web/binding';
    const started = Date.now();
    const err = await c.request({ method: 'POST', path, body, timeoutMs: 50 }).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(300);
    expect(apiErrorMessage(err)).toBe(`POST ${path}: no answer within 50 ms`);
    // The client's own default applies without timeoutMs.
    const quick = new ApiClient(server.kubeConfig(), { timeoutMs: 40 });
    try {
      expect(apiErrorMessage(await quick.request({ method: 'POST', path, body }).catch((e) => e))).toMatch(
        /no answer within 40 ms$/,
      );
    } finally {
      quick.close();
    }
  });

  it('stops a call when its signal aborts, and says a network failure plainly', async () => {
    const { server, client: c } = await start({ bindingLatencyMs: 1000 });
    const controller = new AbortController();
    const pending = c
      .request({
        method: 'POST',
        path: '/api/v1/namespaces/default/pods/web/binding',
        body: {},
        signal: controller.signal,
      })
      .catch((e) => e);
    controller.abort();
    expect(((await pending) as Error).name).toBe('AbortError');

    await server.stop();
    const err = await c.request({ method: 'GET', path: '/api/v1/nodes/n1' }).catch((e) => e);
    expect(apiErrorMessage(err)).toMatch(/^GET \/api\/v1\/nodes\/n1: connect ECONNREFUSED/);
  });

  it('takes credentials on every call, but opens a new pool only for new TLS material', async () => {
    const server = await FakeApiServer.start({ tls: true });
    api = server;
    server.addNode(node('n1'));
    const kc = server.kubeConfig();
    const c = new ApiClient(kc, { timeoutMs: 5000 });
    client = c;
    const get = () => c.request({ method: 'GET', path: '/api/v1/nodes/n1' });
    await get();
    // A new token (a rotated token file, an exec plugin's refresh) travels on the same connection.
    const user = kc.getCurrentUser() as { token?: string };
    user.token = 'rotated';
    await get();
    expect(server.requests.map((r) => r.authorization)).toEqual(['Bearer test-token', 'Bearer rotated']);
    expect(server.connections).toBe(1);
    // A new client certificate is a new TLS identity: a connection of its own.
    Object.assign(kc.getCurrentUser() as object, {
      certData: base64('scheduler.crt'),
      keyData: base64('scheduler.key'),
    });
    await get();
    await get();
    expect(server.connections).toBe(2);
  });

  it('sends a call again on a fresh connection when the kept one was closed under it', async () => {
    // The server drops the second request that arrives on a connection, without an answer, as
    // a server closing an idle connection does when a request crosses the close on the wire.
    let served = 0;
    let connections = 0;
    raw = createServer((req, res) => {
      const count = ((req.socket as { served?: number }).served ?? 0) + 1;
      (req.socket as { served?: number }).served = count;
      if (count === 2) {
        req.socket.destroy();
        return;
      }
      served++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ served }));
    });
    raw.on('connection', () => connections++);
    const s = raw;
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'c', server: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, skipTLSVerify: true },
      ],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const c = new ApiClient(kc, { timeoutMs: 5000 });
    client = c;
    expect(await c.request({ method: 'GET', path: '/x' })).toEqual({ served: 1 });
    expect(await c.request({ method: 'GET', path: '/x' })).toEqual({ served: 2 });
    expect(connections).toBe(2);
  });

  it('refuses bad options and calls after close', async () => {
    const kc = new KubeConfig();
    expect(() => new ApiClient(kc, { timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new ApiClient(kc, { timeoutMs: 1, maxSockets: 0 })).toThrow(/maxSockets/);
    const { client: c } = await start();
    c.close();
    await expect(c.request({ method: 'GET', path: '/api/v1/nodes/n1' })).rejects.toThrow(/closed/);
  });
});
