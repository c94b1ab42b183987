import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IOPS_CAPACITY_KEY, iopsCapacityOf, NodeIopsCapacity } from '../../src/agent/node-iops-capacity.js';
import { Reporter } from '../../src/agent/reporter.js';
import { FakeApiServer, waitFor } from '../support/fake-apiserver.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/agent/k8s-node');
const dir = mkdtempSync(join(tmpdir(), 'ioplace-agent-'));
const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Seen {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A bare HTTP server on `host:port` that records what it is sent and answers `status`. */
async function recorder(
  host: string,
  port: number,
  status = 200,
): Promise<{ seen: Seen[]; server: Server; port: number }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  return { seen, server, port: typeof address === 'object' && address ? address.port : port };
}

function reporter(
  servers: string[],
  resolve: (host: string) => Promise<string[]>,
  extra: Partial<{ tokenFile: string; now: () => number }> = {},
) {
  return new Reporter({
    servers: servers.map((s) => new URL(s)),
    nodeName: 'node-1',
    tokenFile: extra.tokenFile,
    timeoutMs: 2_000,
    resolve,
    logger: silent,
    now: extra.now ?? (() => Date.now()),
    maxBackoffMs: 60_000,
  });
}

const REPORT = { capacity: { iops: 1000 }, usage: { iops: 10 } };

describe('the agent reporter', () => {
  it('sends each report to every address of the service name, with the Host header and a fresh token', async () => {
    const a = await recorder('127.0.0.1', 0);
    const b = await recorder('127.0.0.2', a.port);
    const token = join(dir, 'token');
    writeFileSync(token, 'first-token\n');
    const r = reporter(
      [`http://ioplace-agents.svc:${a.port}`],
      async (host) => {
        expect(host).toBe('ioplace-agents.svc');
        return ['127.0.0.1', '127.0.0.2'];
      },
      { tokenFile: token },
    );

    expect(await r.report(REPORT)).toMatchObject({ delivered: 2, failed: 0, skipped: 0 });
    for (const replica of [a, b]) {
      expect(replica.seen).toHaveLength(1);
      expect(replica.seen[0]?.url).toBe('/v1/nodes/node-1/report');
      expect(replica.seen[0]?.headers.host).toBe(`ioplace-agents.svc:${a.port}`);
      expect(replica.seen[0]?.headers.authorization).toBe('Bearer first-token');
      expect(JSON.parse(replica.seen[0]?.body ?? '')).toEqual(REPORT);
    }
    writeFileSync(token, 'rotated-token\n'); // the kubelet rotates projected tokens
    await r.report(REPORT);
    expect(a.seen[1]?.headers.authorization).toBe('Bearer rotated-token');
  });

  it('keeps reporting to healthy replicas while one fails, and backs off the failing one', async () => {
    const good = await recorder('127.0.0.1', 0);
    const bad = await recorder('127.0.0.3', good.port, 503);
    let now = 1_000_000;
    const r = reporter([`http://ioplace:${good.port}`], async () => ['127.0.0.3', '127.0.0.1', '127.0.0.4'], {
      now: () => now,
    });
    // 127.0.0.4 refuses connections; 127.0.0.3 answers 503; 127.0.0.1 is fine.
    expect(await r.report(REPORT)).toMatchObject({ delivered: 1, failed: 2, skipped: 0 });
    now += 500; // still within the first 1 s backoff: the failing two are skipped
    expect(await r.report(REPORT)).toMatchObject({ delivered: 1, failed: 0, skipped: 2 });
    now += 1_000;
    expect(await r.report(REPORT)).toMatchObject({ delivered: 1, failed: 2, skipped: 0 });
    expect(good.seen).toHaveLength(3);
    expect(bad.seen).toHaveLength(2);
  });

  it('reports a name that does not resolve without stopping the others', async () => {
    const good = await recorder('127.0.0.1', 0);
    const r = reporter([`http://gone.invalid:1`, `http://127.0.0.1:${good.port}`], async () => {
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    });
    const result = await r.report(REPORT);
    expect(result).toMatchObject({ delivered: 1, failed: 1, skipped: 0 });
    expect(result.problems).toEqual([
      { replica: 'http://gone.invalid:1/', reason: expect.stringContaining('cannot resolve') },
    ]);
  });
});

describe('the node IOPS capacity', () => {
  it.each([
    [{ annotations: { [IOPS_CAPACITY_KEY]: '200k' }, labels: { [IOPS_CAPACITY_KEY]: '100k' } }, 200_000],
    [{ labels: { [IOPS_CAPACITY_KEY]: '100k' } }, 100_000],
    [{ annotations: { [IOPS_CAPACITY_KEY]: 'lots' }, labels: { [IOPS_CAPACITY_KEY]: '5000' } }, 5_000],
    [{}, undefined],
  ])('reads %j as %s (annotation first, then label)', (metadata, expected) => {
    expect(iopsCapacityOf({ metadata })).toBe(expected);
  });

  it('is read through the API and kept while the API server is away', async () => {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.close());
    api.addNode({ metadata: { name: 'node-1', annotations: { [IOPS_CAPACITY_KEY]: '80k' } } });
    const reader = new NodeIopsCapacity(api.kubeConfig(), 'node-1', 60_000, silent);
    expect(await reader.get(0)).toBe(80_000);
    api.updateNode('node-1', (n) => {
      n.metadata = { ...n.metadata, name: 'node-1', annotations: { [IOPS_CAPACITY_KEY]: '90k' } };
    });
    expect(await reader.get(30_000)).toBe(80_000); // not re-read within the refresh period
    expect(await reader.get(60_000)).toBe(90_000);
    await api.stop();
    expect(await reader.get(120_000)).toBe(90_000);
  });
});

describe('ioplace-agent end to end', () => {
  let server: TestServer;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    child?.kill('SIGKILL');
    await server?.close();
  });

  it('reports a fixture node to a real ioplace, where it appears in the inventory', async () => {
    server = await startTestServer();
    const nodeServer = server.url;
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/agent/main.ts',
        '--server',
        nodeServer,
        '--node-name',
        'node-1',
        '--interval',
        '0.2',
        '--iops-capacity',
        '40k',
        '--proc-root',
        join(FIXTURE, 'proc'),
        '--sys-root',
        join(FIXTURE, 'sys'),
        '--no-node-capacity',
      ],
      { cwd: ROOT, stdio: 'pipe', env: { ...process.env, KUBECONFIG: '', HOME: dir } },
    );
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const view = await waitFor(
      async () => {
        const res = await call<{ capacity: Record<string, number>; usage: Record<string, number> }>(
          `${server.url}/v1/nodes/node-1`,
          'GET',
        );
        return res.status === 200 ? res.body : undefined;
      },
      15_000,
      `the node in the inventory (agent stderr: ${stderr})`,
    );
    expect(view.capacity).toEqual({ ingressBandwidth: 45e9, egressBandwidth: 45e9, iops: 40_000 });
    expect(Object.keys(view.usage).sort()).toEqual(['egressBandwidth', 'ingressBandwidth', 'iops']);
  });
});
