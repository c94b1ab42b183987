import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ioplace-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ioplace ARGS` as a process (src/cli/main.ts through tsx), with `stdin` piped in. */
function ioplace(args: string[], stdin = '', extraEnv: Record<string, string> = {}): Promise<Result> {
  const { IOPLACE_SERVER_URL: _ignored, IOPLACE_SERVER: _ignoredToo, ...inherited } = process.env;
  const env = { ...inherited, ...extraEnv };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Table rows as cells: columns are separated by three spaces or more, cells never hold that. */
function rows(table: string): string[][] {
  return table
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(/ {3,}/));
}

const POD_YAML = `apiVersion: v1
kind: Pod
metadata:
  name: db
  namespace: prod
spec:
  containers:
  - name: db
    image: registry.k8s.io/pause:3.10
    resources:
      requests:
        ioplace.io/iops: 10k
        ioplace.io/ingress-bandwidth: 100M
status:
  phase: Pending
`;
const podFile = join(dir, 'pod.yaml');
writeFileSync(podFile, POD_YAML);

let server: TestServer;

/**
 * node-s reports and goes stale (31 s); then node-a: 10G each way, 50k iops with 2k in use;
 * node-d: 1G ingress, 50k iops with 40k in use (5k free of 45k allocatable). node-a's agent
 * enforces all (12 pods, 1 failing), node-d's nothing; node-s's predates enforcement.
 */
beforeEach(async () => {
  server = await startTestServer();
  const put = async (node: string, body: unknown) =>
    expect((await call(`${server.url}/v1/nodes/${node}/report`, 'PUT', body)).status).toBe(200);
  await put('node-s', { capacity: { ingressBandwidth: 1e9, egressBandwidth: 1e9 } });
  server.clock.now += 31_000;
  await put('node-a', {
    capacity: { ingressBandwidth: 10e9, egressBandwidth: 10e9, iops: 50_000 },
    usage: { iops: 2_000 },
    enforcement: { mode: 'all', pods: 12, errors: 1 },
  });
  await put('node-d', {
    capacity: { ingressBandwidth: 1e9, iops: 50_000 },
    usage: { iops: 40_000 },
    enforcement: { mode: 'off', pods: 0, errors: 0 },
  });
});
afterEach(async () => {
  await server.close();
});

describe('ioplace nodes', () => {
  it('prints a table: a header starting with NODE, then one line per node with human units', async () => {
    const r = await ioplace(['nodes', '--server', server.url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [table = '', notes = ''] = r.stdout.trimEnd().split('\n\n');
    const lines = table.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^NODE\s/);
    // A capacity the agent does not report is ?, and said in words under the table.
    expect(rows(table)).toEqual([
      ['NODE', 'FRESH', 'AGE', 'CAPACITY in/out/iops', 'USAGE', 'COMMITTED', 'FREE', 'ENFORCED'],
      ['node-a', 'yes', '0s', '10G/10G/50k', '-/-/2k', '-/-/-', '9G/9G/43k', 'all 12 (1 failing)'],
      ['node-d', 'yes', '0s', '1G/?/50k', '-/-/40k', '-/-/-', '900M/-/5k', 'off'],
      ['node-s', 'STALE', '31s', '1G/1G/?', '-/-/-', '-/-/-', '900M/900M/-', '-'],
    ]);
    expect(notes.split('\n')).toEqual([
      "node-d: capacity unknown for egressBandwidth: pods asking for it are not placed there (set the agent's --network-capacity)",
      "node-s: capacity unknown for iops: pods asking for it are not placed there (set the agent's --iops-capacity or the node's ioplace.io/iops-capacity annotation)",
    ]);
  });

  it('reads the server from IOPLACE_SERVER, as the agent does, and IOPLACE_SERVER_URL with a note', async () => {
    const list = `${server.url},http://127.0.0.1:1`;
    const r = await ioplace(['nodes', '--json'], '', { IOPLACE_SERVER: list });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect((JSON.parse(r.stdout) as { count: number }).count).toBe(3);
    const old = await ioplace(['nodes', '--json'], '', { IOPLACE_SERVER_URL: server.url });
    expect(old.code).toBe(0);
    expect(old.stderr).toBe('ioplace: IOPLACE_SERVER_URL is deprecated; set IOPLACE_SERVER instead\n');
    // The new name wins, without a note.
    const both = await ioplace(['nodes', '--json'], '', {
      IOPLACE_SERVER: server.url,
      IOPLACE_SERVER_URL: 'http://127.0.0.1:1',
    });
    expect([both.code, both.stderr]).toEqual([0, '']);
  });

  it('prints the inventory as JSON with --json', async () => {
    const r = await ioplace(['nodes', '--server', server.url, '--json']);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout) as { count: number; nodes: { node: string; fresh: boolean }[] };
    expect(parsed.count).toBe(3);
    expect(parsed.nodes.map((n) => [n.node, n.fresh])).toEqual([
      ['node-a', true],
      ['node-d', true],
      ['node-s', false],
    ]);
    const enforcement = (parsed.nodes as { enforcement?: unknown }[]).map((n) => n.enforcement);
    expect(enforcement).toEqual([
      { mode: 'all', pods: 12, errors: 1 },
      { mode: 'off', pods: 0, errors: 0 },
      undefined, // its agent does not say
    ]);
  });
});

describe('ioplace explain', () => {
  // Live: spread, reserve 0.1, weights 1. For in 100M and iops 10k:
  //   node-a: s_in = (9G - 100M) / 9G = 0.99, s_iops = (43k - 10k) / 45k = 0.73 -> 9
  //   node-d: s_in = 800M / 900M = 0.89, iops short (5k free) so 0 -> 4, and it does not fit
  const LIVE_ROWS = [
    ['NODE', 'FITS', 'SCORE', 'FREE in/out/iops', 'WHY NOT'],
    ['node-a', 'yes', '9 (in 0.99, iops 0.73)', '9G/9G/43k'],
    [
      'node-d',
      'no',
      '4 (in 0.89, iops 0.00)',
      '900M/-/5k',
      'ioplace: not enough iops: needs 10k, 5k free of 45k allocatable',
    ],
    ['node-s', 'no', '0', '900M/900M/-', 'ioplace: report from this node is stale'],
  ];
  const SETTINGS_LINE =
    'settings: spread, reserve 0.1, weights {"ingressBandwidth":1,"egressBandwidth":1,"iops":1}';

  it('prints the pod line, the settings line, and a row per node with yes/no and why not', async () => {
    const r = await ioplace(['explain', podFile, '--server', server.url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [head, table] = r.stdout.split('\n\n');
    expect(head?.split('\n')).toEqual(['pod prod/db: demand 100M/-/10k (in/out/iops)', SETTINGS_LINE]);
    expect(rows(table ?? '')).toEqual(LIVE_ROWS);
  });

  it('adds the preview line and columns with --strategy and --weight, and leaves the server as it was', async () => {
    const r = await ioplace([
      'explain',
      podFile,
      '--server',
      server.url,
      '--strategy',
      'pack',
      '--weight',
      'iops=3',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [head, table] = r.stdout.split('\n\n');
    expect(head?.split('\n')).toEqual([
      'pod prod/db: demand 100M/-/10k (in/out/iops)',
      SETTINGS_LINE,
      'preview:  pack, reserve 0.1, weights {"ingressBandwidth":1,"egressBandwidth":1,"iops":3}',
    ]);
    // pack, iops weight 3: node-a (0.01 + 3 x 0.27) / 4 -> 2; node-d (0.11 + 3 x 0) / 4 -> 0.
    expect(rows(table ?? '')).toEqual([
      ['NODE', 'FITS', 'SCORE', 'FREE in/out/iops', 'PREVIEW FITS', 'PREVIEW SCORE', 'WHY NOT'],
      ['node-a', 'yes', '9 (in 0.99, iops 0.73)', '9G/9G/43k', 'yes', '2 (in 0.01, iops 0.27)'],
      [
        'node-d',
        'no',
        '4 (in 0.89, iops 0.00)',
        '900M/-/5k',
        'no',
        '0 (in 0.11, iops 0.00)',
        'ioplace: not enough iops: needs 10k, 5k free of 45k allocatable',
      ],
      ['node-s', 'no', '0', '900M/900M/-', 'no', '0', 'ioplace: report from this node is stale'],
    ]);
    const again = await ioplace(['explain', podFile, '--server', server.url]);
    expect(rows(again.stdout.split('\n\n')[1] ?? '')).toEqual(LIVE_ROWS);
  });

  it('reads the pod from standard input with -', async () => {
    const r = await ioplace(['explain', '-', '--server', server.url, '--node', 'node-a'], POD_YAML);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('pod prod/db: demand 100M/-/10k (in/out/iops)');
    expect(rows(r.stdout.split('\n\n')[1] ?? '')).toEqual([LIVE_ROWS[0], LIVE_ROWS[1]]);
  });

  it('prints the answer as JSON with --json', async () => {
    const r = await ioplace(['explain', podFile, '--server', server.url, '--json']);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout) as { pod: string; nodes: { node: string; fits: boolean }[] };
    expect(parsed.pod).toBe('prod/db');
    expect(parsed.nodes.map((n) => [n.node, n.fits])).toEqual([
      ['node-a', true],
      ['node-d', false],
      ['node-s', false],
    ]);
  });
});

describe('ioplace errors', () => {
  async function closedPort(): Promise<number> {
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return address.port;
  }

  it('exits 2 with a one-line message when the server cannot be reached', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await ioplace(['nodes', '--server', url]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`ioplace: cannot reach ${url}: ECONNREFUSED\n`);
  });

  it('exits 2 with the server message when the server refuses the request', async () => {
    const r = await ioplace(['explain', podFile, '--server', server.url, '--strategy', 'random']);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ioplace: .* answered 400: body\/preview\/strategy /);
  });

  it.each([
    ['an unknown command', ['frob'], /^ioplace: unknown command "frob"\n$/],
    [
      'a bad --weight',
      ['explain', podFile, '--weight', 'bogus'],
      /^ioplace: --weight bogus: expected DIMENSION=N/,
    ],
    ['an unknown option', ['nodes', '--bogus'], /^ioplace: Unknown option '--bogus'/],
    ['explain without a file', ['explain'], /^ioplace: explain needs a pod file/],
    ['a file that cannot be read', ['explain', join(dir, 'missing.yaml')], /^ioplace: cannot read /],
  ])('exits 2 on %s, saying so on stderr', async (_what, args, message) => {
    const r = await ioplace([...args, '--server', server.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('exits 2 with a one-line message for a --weight without a number', async () => {
    // `iops=` is not DIMENSION=N; it must not become weight 0 (which takes iops out of the score).
    const r = await ioplace(['explain', podFile, '--server', server.url, '--weight', 'iops=']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ioplace: --weight iops=: expected DIMENSION=N/);
  });

  it('exits 2 with a one-line message for a --server that is not a URL', async () => {
    // A common slip: host:port without the scheme.
    const r = await ioplace(['nodes', '--server', 'localhost:8080']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ioplace: .*localhost:8080/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('exits 2 with a one-line message when the server answers something other than JSON', async () => {
    // Not ioplace: some other web server on the port named.
    const other = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html><body>It works!</body></html>');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const address = other.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const r = await ioplace(['nodes', '--server', `http://127.0.0.1:${address.port}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^ioplace: /);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('prints the usage and exits 2 without arguments', async () => {
    const r = await ioplace([]);
    expect(r.code).toBe(2);
    expect(`${r.stdout}${r.stderr}`).toMatch(/^Usage:\n {2}ioplace nodes /);
  });

  it('prints the usage on stdout and exits 0 with --help', async () => {
    const r = await ioplace(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage:\n/);
    expect(r.stdout).toContain('ioplace explain POD.yaml|-');
  });
});
