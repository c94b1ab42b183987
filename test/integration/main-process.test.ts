import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer, waitFor } from '../support/fake-apiserver.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ioplace-main-'));
const children: ChildProcess[] = [];

/** Signals the child's whole process group. */
function signal(child: ChildProcess, name: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, name);
  } catch {
    // already gone
  }
}

afterEach(() => {
  for (const child of children.splice(0)) signal(child, 'SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(command: string, args: string[], env: Record<string, string>): Run {
  // Its own process group, so that `npm start`'s grandchild (node) is stopped with it.
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: 'pipe',
    detached: true,
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs src/main.ts as `npm start` would run dist/main.js, with no cluster unless told. */
function runMain(env: Record<string, string>): Run {
  const noCluster = { HOME: dir, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' };
  return run(process.execPath, ['--import', 'tsx', 'src/main.ts'], { ...noCluster, ...env });
}

/** Waits for the "ioplace is serving" log line and returns the port it names. */
async function servingPort(r: Run): Promise<number> {
  for (;;) {
    const line = r
      .stdout()
      .split('\n')
      .find((l) => l.includes('"ioplace is serving"'));
    if (line !== undefined) {
      const parsed = JSON.parse(line) as { addresses: { port: number }[] };
      const port = parsed.addresses[0]?.port;
      if (port !== undefined) return port;
    }
    const code = await Promise.race([
      r.exited,
      new Promise((resolve) => setTimeout(() => resolve('wait'), 50)),
    ]);
    if (code !== 'wait') throw new Error(`exited with ${String(code)}: ${r.stderr()}`);
  }
}

describe('the ioplace process', () => {
  it('serves on PORT and HOST, logs JSON lines, and exits 0 on SIGTERM', async () => {
    const r = runMain({ PORT: '0', HOST: '127.0.0.1' });
    const port = await servingPort(r);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const filter = await fetch(`http://127.0.0.1:${port}/scheduler/filter`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Pod: {}, NodeNames: ['node-a'] }),
    });
    expect(await filter.json()).toMatchObject({ NodeNames: ['node-a'], Error: '' });
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(r.stdout()).toContain('"msg":"shutting down: finishing requests in flight"');
  });

  it('reads the file named by IOPLACE_CONFIG', async () => {
    const file = join(dir, 'pack.yaml');
    writeFileSync(file, 'server:\n  host: 127.0.0.1\n  port: 0\nscoring:\n  strategy: pack\n');
    const r = runMain({ IOPLACE_CONFIG: file });
    await servingPort(r);
    expect(r.stdout()).toContain('"strategy":"pack"');
  });

  it.each([
    ['an out-of-range field', 'scoring:\n  reserveFraction: 1\n', 'scoring.reserveFraction: must be < 1'],
    ['a misspelt field', 'scoring:\n  wieghts: {}\n', 'scoring.wieghts: unknown field'],
    ['a bad enum value', 'scoring:\n  strategy: random\n', 'scoring.strategy: must be one of spread, pack'],
    ['YAML that does not parse', 'scoring: [\n', 'is not valid YAML'],
  ])('refuses to start on %s with one line naming the field', async (_what, yaml, message) => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, yaml);
    const r = runMain({ IOPLACE_CONFIG: file });
    expect(await r.exited).toBe(2);
    const lines = r.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`ioplace: invalid configuration: ${file}`);
    expect(lines[0]).toContain(message);
  });

  const TLS = join(ROOT, 'test/fixtures/tls');
  it.each([
    [
      'a tokens file with a short token',
      () => {
        writeFileSync(join(dir, 'tokens'), 'short node-a\n');
        return `auth:\n  agents: file\n  agentTokensFile: ${join(dir, 'tokens')}\n`;
      },
      `auth.agentTokensFile: ${join(dir, 'tokens')}:1: token too short`,
    ],
    [
      'a missing tokens file',
      () => `auth:\n  agents: file\n  agentTokensFile: ${join(dir, 'no-tokens')}\n`,
      `auth.agentTokensFile: cannot read ${join(dir, 'no-tokens')}: ENOENT`,
    ],
    [
      'agent tokenreview with no cluster',
      () => 'auth:\n  agents: tokenreview\n',
      'auth.agents: tokenreview needs cluster access',
    ],
    [
      'a missing TLS certificate',
      () => `tls:\n  certFile: ${join(dir, 'no.crt')}\n  keyFile: ${join(TLS, 'server.key')}\n`,
      `tls.certFile: cannot read ${join(dir, 'no.crt')}: ENOENT`,
    ],
    [
      'a certificate that is not PEM',
      () => {
        writeFileSync(join(dir, 'garbage.crt'), 'not a certificate\n');
        return `tls:\n  certFile: ${join(dir, 'garbage.crt')}\n  keyFile: ${join(TLS, 'server.key')}\n`;
      },
      `tls.certFile: ${join(dir, 'garbage.crt')} is not a PEM certificate`,
    ],
    [
      'a client CA that is not PEM',
      () =>
        `tls:\n  certFile: ${join(TLS, 'server.crt')}\n  keyFile: ${join(TLS, 'server.key')}\n` +
        `  clientCAFile: ${join(TLS, 'server.key')}\n`,
      `tls.clientCAFile: ${join(TLS, 'server.key')} is not a PEM certificate`,
    ],
    [
      "a key that is not the certificate's",
      () => `tls:\n  certFile: ${join(TLS, 'server.crt')}\n  keyFile: ${join(TLS, 'intruder.key')}\n`,
      `tls.keyFile: ${join(TLS, 'intruder.key')} does not go with tls.certFile`,
    ],
  ])(
    'refuses to start on %s with one line naming the field and the file, exit 2',
    async (_what, yaml, message) => {
      const file = join(dir, 'files.yaml');
      writeFileSync(file, yaml());
      const r = runMain({ IOPLACE_CONFIG: file });
      expect(await r.exited).toBe(2);
      const lines = r.stderr().trim().split('\n');
      expect(lines).toEqual([expect.stringContaining(`ioplace: invalid configuration: ${file}: `)]);
      expect(lines[0]).toContain(message);
    },
  );

  it('refuses a PORT that is not a port', async () => {
    const r = runMain({ PORT: 'eighty' });
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toBe(
      'ioplace: invalid configuration: PORT: must be an integer from 0 to 65535, got "eighty"\n',
    );
  });

  it('runs standalone when no cluster is found, and says so in one line', async () => {
    const r = runMain({ PORT: '0', HOST: '127.0.0.1' });
    await servingPort(r);
    const lines = r
      .stdout()
      .split('\n')
      .filter((l) => l.includes('running standalone'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('no in-cluster service account, KUBECONFIG or ~/.kube/config');
  });

  it('refuses to start with cluster.mode on and no cluster', async () => {
    const file = join(dir, 'on.yaml');
    writeFileSync(file, 'cluster:\n  mode: on\n');
    const r = runMain({ IOPLACE_CONFIG: file });
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toContain('cluster.mode is on, but there is no in-cluster service account');
  });

  it('watches the cluster named by KUBECONFIG and is ready once synced', async () => {
    const api = await FakeApiServer.start();
    try {
      api.addNode({ metadata: { name: 'n1' } });
      const kubeconfig = join(dir, 'kubeconfig');
      await api.writeKubeconfig(kubeconfig);
      const config = join(dir, 'open-agents.yaml');
      writeFileSync(config, 'auth:\n  agents: open\nreadiness:\n  warmupSeconds: 0\n');
      const r = runMain({ PORT: '0', HOST: '127.0.0.1', KUBECONFIG: kubeconfig, IOPLACE_CONFIG: config });
      const port = await servingPort(r);
      expect(r.stdout()).toContain('"msg":"using the cluster"');
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
        10_000,
        'ready',
      );
      const ghost = await fetch(`http://127.0.0.1:${port}/v1/nodes/ghost/report`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ capacity: { iops: 1 } }),
      });
      expect(ghost.status).toBe(404);
      r.child.kill('SIGTERM');
      expect(await r.exited).toBe(0);
    } finally {
      await api.close();
    }
  });

  it('starts with `npm start` from the build `npm ci` made (no compile at start), on the default config', {
    timeout: 60_000,
  }, async () => {
    const r = run('npm', ['start', '--silent'], { PORT: '0', HOST: '127.0.0.1', HOME: dir, KUBECONFIG: '' });
    const port = await servingPort(r);
    expect(r.stdout()).toContain('config/ioplace.yaml');
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    signal(r.child, 'SIGTERM');
    await r.exited;
    // The server itself (npm's grandchild) stopped too: nothing listens any more.
    await waitFor(
      async () =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          () => false,
          () => true,
        ),
      10_000,
      'the server to stop',
    );
  });
});
