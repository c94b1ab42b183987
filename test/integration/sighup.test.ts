import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/fake-apiserver.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ioplace-sighup-'));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface LogLine {
  msg: string;
  trigger?: string;
  changed?: string[];
  addresses?: { port: number }[];
}

interface Run {
  child: ChildProcess;
  logs: () => LogLine[];
  stderr: () => string;
}

/** Runs src/main.ts with no cluster to find, on a free port, with the given config file. */
function runMain(configPath: string): Run {
  const env = {
    ...process.env,
    HOME: dir,
    KUBECONFIG: '',
    KUBERNETES_SERVICE_HOST: '',
    PORT: '0',
    HOST: '127.0.0.1',
    IOPLACE_CONFIG: configPath,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env,
    stdio: 'pipe',
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
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{') && l.endsWith('}'))
      .map((l) => JSON.parse(l) as LogLine);
  return { child, logs, stderr: () => err };
}

async function servingPort(r: Run): Promise<number> {
  const line = await waitFor(
    () => {
      if (r.child.exitCode !== null) throw new Error(`exited with ${r.child.exitCode}: ${r.stderr()}`);
      return r.logs().find((l) => l.msg === 'ioplace is serving');
    },
    15_000,
    'the "ioplace is serving" line',
  );
  const port = line.addresses?.[0]?.port;
  if (port === undefined) throw new Error('the serving line names no port');
  return port;
}

const POD = {
  metadata: { name: 'db', namespace: 'default' },
  spec: { containers: [{ name: 'db', resources: { requests: { 'ioplace.io/iops': '1k' } } }] },
};

async function explainSettings(port: number): Promise<{ strategy: string; weights: Record<string, number> }> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/explain`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pod: POD }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { settings: { strategy: string; weights: Record<string, number> } }).settings;
}

describe('the ioplace process on SIGHUP', () => {
  it('reads its config file again, logs "configuration reloaded", and answers with the new settings', async () => {
    // The file named by IOPLACE_CONFIG is a symlink into a subdirectory, as in a ConfigMap mount:
    // editing the target in place is invisible to the watch on the mount, so only SIGHUP can apply it.
    const data = join(dir, '..data');
    mkdirSync(data);
    const target = join(data, 'ioplace.yaml');
    writeFileSync(target, 'scoring:\n  strategy: spread\n');
    const configPath = join(dir, 'ioplace.yaml');
    symlinkSync(join('..data', 'ioplace.yaml'), configPath);

    const r = runMain(configPath);
    const port = await servingPort(r);
    expect(await explainSettings(port)).toMatchObject({ strategy: 'spread', weights: { iops: 1 } });

    writeFileSync(target, 'scoring:\n  strategy: pack\n  weights:\n    iops: 4\n');
    r.child.kill('SIGHUP');
    const reloaded = await waitFor(
      () => r.logs().find((l) => l.msg === 'configuration reloaded'),
      10_000,
      'the "configuration reloaded" line',
    );
    expect(reloaded.trigger).toBe('SIGHUP');
    expect([...(reloaded.changed ?? [])].sort()).toEqual(['scoring.strategy', 'scoring.weights.iops']);
    expect(await explainSettings(port)).toMatchObject({ strategy: 'pack', weights: { iops: 4 } });
    // The process is still up and serving the scheduler.
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(r.child.exitCode).toBeNull();
  });
});
