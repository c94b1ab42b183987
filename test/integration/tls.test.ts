import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { waitFor } from '../support/fake-apiserver.js';

const TLS = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const pem = (name: string) => readFileSync(join(TLS, name));
let dir: string;
let app: App | undefined;

afterEach(async () => {
  await app?.server.close();
  app = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Copies the serving pair to a temp dir (so the rotation test can replace it) and starts ioplace. */
async function start(clientCA: boolean): Promise<{ port: number; opsPort: number }> {
  dir = mkdtempSync(join(tmpdir(), 'ioplace-tls-'));
  copyFileSync(join(TLS, 'server.crt'), join(dir, 'tls.crt'));
  copyFileSync(join(TLS, 'server.key'), join(dir, 'tls.key'));
  const config = validateConfig({
    tls: {
      certFile: join(dir, 'tls.crt'),
      keyFile: join(dir, 'tls.key'),
      clientCAFile: clientCA ? join(TLS, 'client-ca.crt') : '',
    },
    ops: { port: 0 },
  });
  app = await buildApp({ config, logger: pino({ level: 'silent' }), clock: () => Date.now() });
  await app.server.listen({ host: '127.0.0.1', port: 0 });
  await app.opsServer?.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.server.address() as { port: number }).port;
  const opsPort = (app.opsServer?.server.address() as { port: number } | null)?.port ?? 0;
  return { port, opsPort };
}

interface Answer {
  status: number;
  body: string;
  peer: PeerCertificate;
}

function httpsCall(
  port: number,
  method: string,
  path: string,
  body?: string,
  client?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: pem('server-ca.crt'),
        agent: false,
        headers: body ? { 'content-type': 'application/json' } : {},
        ...(client ? { cert: pem(`${client}.crt`), key: pem(`${client}.key`) } : {}),
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            peer: (res.socket as TLSSocket).getPeerCertificate(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const FILTER = JSON.stringify({ Pod: {}, NodeNames: ['node-a'] });

describe('TLS', () => {
  it('serves the scheduler verbs over HTTPS and probes and metrics on the plain ops port', async () => {
    const { port, opsPort } = await start(false);
    const res = await httpsCall(port, 'POST', '/scheduler/filter', FILTER);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ NodeNames: ['node-a'] });
    expect(res.peer.subject.CN).toBe('ioplace');
    expect(opsPort).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${opsPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    expect(metrics).toContain('ioplace_request_duration_seconds_count{verb="filter",outcome="ok"} 1');
    // The ops port serves nothing else.
    expect((await fetch(`http://127.0.0.1:${opsPort}/scheduler/filter`, { method: 'POST' })).status).toBe(
      404,
    );
  });

  it('requires a client certificate from tls.clientCAFile on the scheduler verbs only', async () => {
    const { port } = await start(true);
    const anonymous = await httpsCall(port, 'POST', '/scheduler/bind', '{}');
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body).error).toMatch(
      /^a client certificate signed by tls.clientCAFile is required/,
    );
    expect((await httpsCall(port, 'POST', '/scheduler/filter', FILTER, 'intruder')).status).toBe(401);
    expect((await httpsCall(port, 'POST', '/scheduler/filter', FILTER, 'scheduler')).status).toBe(200);
    // Agents prove who they are with tokens, not certificates.
    const report = await httpsCall(
      port,
      'PUT',
      '/v1/nodes/node-a/report',
      JSON.stringify({ capacity: { iops: 1 } }),
    );
    expect(report.status).toBe(200);
  });

  it('picks up a rotated certificate without a restart', async () => {
    const { port } = await start(false);
    expect((await httpsCall(port, 'GET', '/healthz')).peer.subject.CN).toBe('ioplace');
    copyFileSync(join(TLS, 'server-rotated.key'), join(dir, 'tls.key'));
    copyFileSync(join(TLS, 'server-rotated.crt'), join(dir, 'tls.crt'));
    await waitFor(
      async () => (await httpsCall(port, 'GET', '/healthz')).peer.subject.CN === 'ioplace rotated',
      5000,
      'rotation',
    );
  });

  it.each([
    [{ certFile: '/x.crt' }, 'tls: certFile and keyFile go together'],
    [{ clientCAFile: '/ca.crt' }, 'tls.clientCAFile: needs tls.certFile and tls.keyFile'],
  ])('refuses the config %j', (tls, message) => {
    expect(() => validateConfig({ tls })).toThrow(message);
  });

  it('stops the start with one clear line when a file cannot be read', async () => {
    const config = validateConfig({
      tls: { certFile: '/nonexistent/tls.crt', keyFile: '/nonexistent/tls.key' },
    });
    dir = mkdtempSync(join(tmpdir(), 'ioplace-tls-'));
    await expect(
      buildApp({ config, logger: pino({ level: 'silent' }), clock: () => Date.now() }),
    ).rejects.toThrow('tls.keyFile: cannot read /nonexistent/tls.key: ENOENT');
  });
});

describe('the agent against a TLS ioplace', () => {
  it('reports over HTTPS when given the CA', async () => {
    const { port } = await start(false);
    const { Reporter } = await import('../../src/agent/reporter.js');
    const reporter = new Reporter({
      servers: [new URL(`https://localhost:${port}`)],
      nodeName: 'node-a',
      tokenFile: undefined,
      caFile: join(TLS, 'server-ca.crt'),
      timeoutMs: 2000,
      resolve: async () => ['127.0.0.1'],
      logger: pino({ level: 'silent' }),
      now: () => Date.now(),
      maxBackoffMs: 1000,
    });
    expect(await reporter.report({ capacity: { iops: 5 }, usage: {} })).toEqual({
      problems: [],
      delivered: 1,
      failed: 0,
      skipped: 0,
    });
    const view = await app?.server.inject({ method: 'GET', url: '/v1/nodes/node-a' });
    expect(view?.json().capacity).toEqual({ iops: 5 });
  });
});
