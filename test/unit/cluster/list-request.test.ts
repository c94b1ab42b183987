import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../src/cluster/api-client.js';
import { ApiStatusError, apiErrorMessage } from '../../../src/cluster/api-errors.js';
import { type ListChunk, listChunk } from '../../../src/cluster/list-request.js';

const TLS = fileURLToPath(new URL('../../fixtures/tls/', import.meta.url));
const pem = (name: string) => readFileSync(`${TLS}${name}`);
const base64 = (name: string) => pem(name).toString('base64');

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function listen(handler: Handler, tls?: { requestCert: boolean }): Promise<number> {
  server = tls
    ? createHttpsServer(
        {
          cert: pem('server.crt'),
          key: pem('server.key'),
          ca: pem('client-ca.crt'),
          requestCert: tls.requestCert,
          rejectUnauthorized: tls.requestCert,
        },
        handler,
      )
    : createHttpServer(handler);
  const s = server;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as AddressInfo).port;
}

function kubeConfig(
  server: string,
  cluster: { caData?: string; skipTLSVerify?: boolean } = { skipTLSVerify: true },
  user: Record<string, string> = { token: 'sekret' },
): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: cluster.skipTLSVerify ?? false, caData: cluster.caData }],
    users: [{ name: 'u', ...user }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

const LIST = {
  kind: 'PodList',
  apiVersion: 'v1',
  metadata: { resourceVersion: '42', continue: 'next-page' },
  items: [{ metadata: { uid: 'a' } }, { metadata: { uid: 'b' } }],
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function list(
  kc: KubeConfig,
  query: Record<string, string | number | undefined> = {},
  signal?: AbortSignal,
): Promise<ListChunk & { items: unknown[] }> {
  const items: unknown[] = [];
  const api = new ApiClient(kc, { timeoutMs: 60_000 });
  try {
    const chunk = await listChunk(api, {
      path: '/api/v1/pods',
      query,
      onItem: (item) => items.push(item),
      ...(signal ? { signal } : {}),
    });
    return { ...chunk, items };
  } finally {
    api.close();
  }
}

describe('listChunk', () => {
  it('streams the items of a page and answers its resourceVersion and continue token', async () => {
    let seen: IncomingMessage | undefined;
    const port = await listen((req, res) => {
      seen = req;
      sendJson(res, 200, LIST);
    });
    const page = await list(kubeConfig(`http://127.0.0.1:${port}`), {
      fieldSelector: 'status.phase!=Failed',
      limit: 500,
      continue: undefined,
    });
    expect(page).toEqual({ resourceVersion: '42', continueToken: 'next-page', items: LIST.items });
    const url = new URL(seen?.url ?? '', 'http://x');
    expect(url.pathname).toBe('/api/v1/pods');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      fieldSelector: 'status.phase!=Failed',
      limit: '500',
    });
    expect(seen?.headers).toMatchObject({
      authorization: 'Bearer sekret',
      accept: 'application/json',
      'accept-encoding': 'gzip',
    });
  });

  it('reads the last page (no continue token), a gzipped answer, and a server URL with a path', async () => {
    let path = '';
    const port = await listen((req, res) => {
      path = req.url ?? '';
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ ...LIST, metadata: { resourceVersion: '43', continue: '' } })));
    });
    const page = await list(kubeConfig(`http://127.0.0.1:${port}/k8s/clusters/c-1`), { limit: 2 });
    expect(page).toEqual({ resourceVersion: '43', continueToken: undefined, items: LIST.items });
    expect(path).toBe('/k8s/clusters/c-1/api/v1/pods?limit=2');
  });

  it('turns an error answer into an ApiStatusError carrying the Status, as client-node does', async () => {
    const status = { kind: 'Status', status: 'Failure', message: 'too old resource version', code: 410 };
    const port = await listen((_req, res) => sendJson(res, 410, status));
    const err = await list(kubeConfig(`http://127.0.0.1:${port}`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiStatusError);
    expect(err).toMatchObject({ code: 410, statusCode: 410, body: status });
    expect(apiErrorMessage(err)).toBe('too old resource version (HTTP 410)');
  });

  it('keeps the text of an error answer that is not JSON', async () => {
    const port = await listen((_req, res) => {
      res.writeHead(503);
      res.end('upstream connect error');
    });
    const err = await list(kubeConfig(`http://127.0.0.1:${port}`)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 503, body: 'upstream connect error' });
    expect((err as Error).message).toBe('HTTP 503: upstream connect error');
  });

  it('fails a page cut short rather than take it for a whole one', async () => {
    const port = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify(LIST).slice(0, 60));
      setTimeout(() => res.destroy(), 20);
    });
    await expect(list(kubeConfig(`http://127.0.0.1:${port}`))).rejects.toThrow();
  });

  it('fails a page whose item cannot be parsed', async () => {
    const port = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"items":[{"metadata":{"uid":"a"}},{"metadata":}]}');
    });
    await expect(list(kubeConfig(`http://127.0.0.1:${port}`))).rejects.toThrow('invalid JSON in the list');
  });

  it('stops when its signal is aborted', async () => {
    const port = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"items":[');
    });
    const stop = new AbortController();
    const pending = list(kubeConfig(`http://127.0.0.1:${port}`), {}, stop.signal);
    setTimeout(() => stop.abort(), 50);
    // An AbortError before the answer, the reset of the connection once the answer has started.
    await expect(pending).rejects.toThrow();
  });

  it('sends the pages of a list, gzipped or not, one after another on one connection', async () => {
    let connections = 0;
    let page = 0;
    const port = await listen((_req, res) => {
      page++;
      const body = JSON.stringify({
        ...LIST,
        metadata: { resourceVersion: '42', continue: page < 3 ? 'more' : '' },
      });
      if (page === 2) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(gzipSync(body));
      } else sendJson(res, 200, JSON.parse(body));
    });
    server?.on('connection', () => connections++);
    const api = new ApiClient(kubeConfig(`http://127.0.0.1:${port}`), { timeoutMs: 60_000 });
    try {
      const items: unknown[] = [];
      let continueToken: string | undefined;
      do {
        const chunk = await listChunk(api, {
          path: '/api/v1/pods',
          query: { limit: 2, continue: continueToken },
          onItem: (item) => items.push(item),
        });
        continueToken = chunk.continueToken;
      } while (continueToken !== undefined);
      expect(items).toHaveLength(6);
      expect(connections).toBe(1);
    } finally {
      api.close();
    }
  });

  it('sends the basic credentials of a user with username and password', async () => {
    let authorization: string | undefined;
    const port = await listen((req, res) => {
      authorization = req.headers.authorization;
      sendJson(res, 200, LIST);
    });
    await list(kubeConfig(`http://127.0.0.1:${port}`, undefined, { username: 'admin', password: 'pw' }));
    expect(authorization).toBe(`Basic ${Buffer.from('admin:pw').toString('base64')}`);
  });

  describe('over TLS', () => {
    it('verifies the server with the cluster CA and presents the client certificate', async () => {
      let client: string | undefined;
      const port = await listen(
        (req, res) => {
          client = String((req.socket as TLSSocket).getPeerCertificate().subject?.CN);
          sendJson(res, 200, LIST);
        },
        { requestCert: true },
      );
      const kc = kubeConfig(
        `https://127.0.0.1:${port}`,
        { caData: base64('server-ca.crt') },
        { certData: base64('scheduler.crt'), keyData: base64('scheduler.key') },
      );
      expect((await list(kc)).items).toEqual(LIST.items);
      expect(client).toBe('kube-scheduler');
    });

    it('refuses a server its CA did not sign, unless insecure-skip-tls-verify is set', async () => {
      const port = await listen((_req, res) => sendJson(res, 200, LIST), { requestCert: false });
      const server = `https://127.0.0.1:${port}`;
      await expect(list(kubeConfig(server, { caData: base64('other-ca.crt') }))).rejects.toThrow(
        /certificate/,
      );
      expect((await list(kubeConfig(server, { skipTLSVerify: true }))).items).toHaveLength(2);
    });
  });
});
