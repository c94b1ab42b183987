import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

interface Line {
  level: number;
  msg: string;
  method?: string;
  url?: string;
  status?: number;
  error?: string;
}

let server: TestServer;
let lines: Line[];

async function start(config: Parameters<typeof startTestServer>[0] = {}): Promise<void> {
  lines = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  server = await startTestServer(config, { logger: pino({ level: 'info' }, sink) });
}

afterEach(async () => {
  await server?.close();
});

/** The log lines of one request, once its answer is out. */
async function linesOf(request: () => Promise<unknown>): Promise<Line[]> {
  const before = lines.length;
  await request();
  await new Promise((resolve) => setTimeout(resolve, 20));
  return lines.slice(before);
}

describe('refused requests in the log', () => {
  it.each([
    [
      'a report that fails validation',
      'PUT',
      '/v1/nodes/node-1/report',
      { capacity: { iops: -1 } },
      400,
      'body/capacity/iops must be >= 0',
    ],
    ['a route that does not exist', 'GET', '/v1/nope?x=1', undefined, 404, 'no route GET /v1/nope'],
    [
      'a node not in the inventory',
      'GET',
      '/v1/nodes/ghost',
      undefined,
      404,
      'node ghost is not in the inventory',
    ],
  ])(
    'logs %s in one info line with method, URL, status and the answer',
    async (_what, method, path, body, status, error) => {
      await start();
      const logged = await linesOf(() => call(`${server.url}${path}`, method, body));
      expect(logged).toEqual([
        expect.objectContaining({ level: 30, msg: 'request refused', method, url: path, status, error }),
      ]);
    },
  );

  it('logs a refused agent token the same way, once', async () => {
    const tokens = join(mkdtempSync(join(tmpdir(), 'ioplace-log-')), 'tokens');
    writeFileSync(tokens, 'a-token-long-enough node-1\n');
    await start({ auth: { agents: 'file', agentTokensFile: tokens } });
    const logged = await linesOf(() => call(`${server.url}/v1/nodes/node-1/report`, 'PUT', { capacity: {} }));
    expect(logged).toEqual([
      expect.objectContaining({
        msg: 'request refused',
        method: 'PUT',
        url: '/v1/nodes/node-1/report',
        status: 401,
      }),
    ]);
  });

  it('logs nothing at info for a request that succeeds', async () => {
    await start();
    const logged = await linesOf(() => call(`${server.url}/v1/nodes/node-1/report`, 'PUT', { capacity: {} }));
    expect(logged).toEqual([]);
  });
});
