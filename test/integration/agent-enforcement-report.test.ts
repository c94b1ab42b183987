import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Reporter } from '../../src/agent/reporter.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(): Promise<TestServer> {
  const s = await startTestServer();
  cleanups.push(() => s.close());
  return s;
}

function reporter(url: string, resolve = async () => ['127.0.0.1'], now = () => Date.now()) {
  return new Reporter({
    servers: [new URL(url)],
    nodeName: 'node-1',
    tokenFile: undefined,
    timeoutMs: 2_000,
    resolve,
    logger: silent,
    now,
    maxBackoffMs: 60_000,
  });
}

const CAPACITY = { capacity: { iops: 50_000 }, usage: { iops: 100 } };

interface View {
  enforcement?: unknown;
}

describe('the enforcement field of the report', () => {
  it('travels from the agent’s reporter to the node’s entry, as its view and the list show', async () => {
    const s = await server();
    const r = reporter(s.url);
    expect(await r.report({ ...CAPACITY, enforcement: { mode: 'all', pods: 12, errors: 1 } })).toEqual({
      problems: [],
      delivered: 1,
      failed: 0,
      skipped: 0,
    });
    const view = await call<View>(`${s.url}/v1/nodes/node-1`, 'GET');
    expect(view.body.enforcement).toEqual({ mode: 'all', pods: 12, errors: 1 });
    const list = await call<{ nodes: View[] }>(`${s.url}/v1/nodes`, 'GET');
    expect(list.body.nodes[0]?.enforcement).toEqual({ mode: 'all', pods: 12, errors: 1 });
  });

  it('is optional: a report from an agent without it is taken, and replaces the field with nothing', async () => {
    const s = await server();
    const put = (body: unknown) => call<View>(`${s.url}/v1/nodes/node-1/report`, 'PUT', body);
    const first = await put({ ...CAPACITY, enforcement: { mode: 'iops', pods: 3, errors: 0 } });
    expect(first.status).toBe(200);
    expect(first.body.enforcement).toEqual({ mode: 'iops', pods: 3, errors: 0 });
    s.clock.now += 1_000;
    const old = await put(CAPACITY);
    expect(old.status).toBe(200);
    expect(old.body).not.toHaveProperty('enforcement');
    expect((await call<View>(`${s.url}/v1/nodes/node-1`, 'GET')).body).not.toHaveProperty('enforcement');
  });

  it('takes what later agents add to it, and keeps only what it knows', async () => {
    const s = await server();
    const res = await call<View>(`${s.url}/v1/nodes/node-1/report`, 'PUT', {
      ...CAPACITY,
      enforcement: { mode: 'bandwidth-only', pods: 2, errors: 0, waiting: 4 },
    });
    expect(res.status).toBe(200);
    expect(res.body.enforcement).toEqual({ mode: 'bandwidth-only', pods: 2, errors: 0 });
  });

  it.each([
    [{ pods: -1, errors: 0 }, 'body/enforcement/pods must be >= 0'],
    [{ pods: 1.5, errors: 0 }, 'body/enforcement/pods must be integer'],
    [{ pods: 1 }, "body/enforcement must have required property 'errors'"],
    [
      { mode: 'ALL; rm', pods: 1, errors: 0 },
      "body/enforcement/mode must be a lowercase word (letters, digits and '-', starting with a letter)",
    ],
    ['all', 'body/enforcement must be object'],
  ])('refuses %j with 400', async (enforcement, message) => {
    const s = await server();
    const res = await call<{ error: string }>(`${s.url}/v1/nodes/node-1/report`, 'PUT', {
      ...CAPACITY,
      enforcement,
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toContain(message);
  });

  it('is left out for a replica from before it, which refuses it, so that its inventory stays fresh', async () => {
    // An ioplace from before the field: its schema is closed, so it answers as today's does for
    // any field it does not know.
    const seen: string[] = [];
    const older: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        seen.push(body);
        const refuses = 'enforcement' in (JSON.parse(body) as object);
        res.writeHead(refuses ? 400 : 200, { 'content-type': 'application/json' });
        res.end(refuses ? '{"error":"body must NOT have additional properties"}' : '{}');
      });
    });
    await new Promise<void>((resolve) => older.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => older.close(() => resolve())));
    const port = (older.address() as { port: number }).port;
    const clock = { now: 1_000_000 };
    const r = reporter(
      `http://ioplace:${port}`,
      async () => ['127.0.0.1'],
      () => clock.now,
    );
    const body = { ...CAPACITY, enforcement: { mode: 'all' as const, pods: 1, errors: 0 } };
    expect(await r.report(body)).toMatchObject({ delivered: 1, failed: 0, skipped: 0 });
    expect(await r.report(body)).toMatchObject({ delivered: 1, failed: 0, skipped: 0 });
    // Tried once with the field, then without it.
    expect(seen.map((b) => 'enforcement' in JSON.parse(b))).toEqual([true, false, false]);
    clock.now += 10 * 60_000; // offered again later: the replica may have been upgraded in place
    expect(await r.report(body)).toMatchObject({ delivered: 1, failed: 0, skipped: 0 });
    expect(seen.map((b) => 'enforcement' in JSON.parse(b))).toEqual([true, false, false, true, false]);
  });

  it('is not dropped for any other 400', async () => {
    const s = await server();
    const r = reporter(s.url);
    // A report ioplace refuses for its own reasons (a negative figure) is a failure, not a retry.
    const result = await r.report({
      capacity: { iops: -1 },
      usage: {},
      enforcement: { mode: 'all', pods: 1, errors: 0 },
    });
    expect(result).toMatchObject({ delivered: 0, failed: 1, skipped: 0 });
  });
});
