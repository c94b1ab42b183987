import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { loadConfigFile } from '../../src/config/load.js';
import { waitFor } from '../support/fake-apiserver.js';
import { call } from '../support/test-server.js';

/**
 * A directory laid out as the kubelet mounts a ConfigMap:
 *   ioplace.yaml -> ..data/ioplace.yaml
 *   ..data -> ..2026_a
 *   ..2026_a/ioplace.yaml
 */
class ConfigMapMount {
  readonly dir = mkdtempSync(join(tmpdir(), 'ioplace-configmap-'));
  readonly path = join(this.dir, 'ioplace.yaml');
  #current: string;

  constructor(text: string) {
    this.#current = '..2026_a';
    mkdirSync(join(this.dir, this.#current));
    writeFileSync(join(this.dir, this.#current, 'ioplace.yaml'), text);
    symlinkSync(this.#current, join(this.dir, '..data'));
    symlinkSync(join('..data', 'ioplace.yaml'), this.path);
  }

  /** What the kubelet's atomic writer does on a ConfigMap change. */
  update(version: string, text: string): void {
    const next = `..2026_${version}`;
    mkdirSync(join(this.dir, next));
    writeFileSync(join(this.dir, next, 'ioplace.yaml'), text);
    symlinkSync(next, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    rmSync(join(this.dir, this.#current), { recursive: true });
    this.#current = next;
  }

  /** An edit of the file in place, which a watch on the mount directory does not see. */
  editInPlace(text: string): void {
    writeFileSync(join(this.dir, '..data', 'ioplace.yaml'), text);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface LogLine {
  msg: string;
  level: number;
  trigger?: string;
  changed?: string[];
  fields?: string[];
  error?: string;
}

const G = 1e9;
const M = 1e6;
const SPREAD = 'server:\n  port: 8080\nscoring:\n  strategy: spread\n';
const PACK_IOPS = 'server:\n  port: 8080\nscoring:\n  strategy: pack\n  weights:\n    iops: 5\n';
/** The pod asks ingress 100M and iops 10k. */
const POD = {
  metadata: { name: 'db', namespace: 'default' },
  spec: {
    containers: [
      {
        name: 'db',
        resources: { requests: { 'ioplace.io/iops': '10k', 'ioplace.io/ingress-bandwidth': '100M' } },
      },
    ],
  },
};

let mount: ConfigMapMount;
let app: App;
let url: string;
let logs: LogLine[];

async function start(text: string): Promise<void> {
  mount = new ConfigMapMount(text);
  logs = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line !== '') logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const clock = Date.parse('2026-11-25T20:00:00Z');
  app = await buildApp({
    config: loadConfigFile(mount.path),
    configPath: mount.path,
    logger: pino({ level: 'info' }, sink),
    clock: () => clock,
  });
  await app.server.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  url = `http://127.0.0.1:${address.port}`;
  // node-c idle; node-f half used.
  for (const [node, usage] of [
    ['node-c', {}],
    ['node-f', { ingressBandwidth: 500 * M, iops: 25_000 }],
  ] as const) {
    const res = await call(`${url}/v1/nodes/${node}/report`, 'PUT', {
      capacity: { ingressBandwidth: G, iops: 50_000 },
      usage,
    });
    expect(res.status).toBe(200);
  }
}

afterEach(async () => {
  await app?.server.close();
  mount?.remove();
});

async function scores(): Promise<number[]> {
  const res = await call<{ Host: string; Score: number }[]>(`${url}/scheduler/prioritize`, 'POST', {
    Pod: POD,
    NodeNames: ['node-c', 'node-f'],
  });
  expect(res.status).toBe(200);
  return res.body.map((h) => h.Score);
}

async function reloads(result: 'success' | 'failure'): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`ioplace_config_reloads_total{result="${result}"} `));
  if (line === undefined) throw new Error(`no ioplace_config_reloads_total{result="${result}"}`);
  return Number(line.split(' ')[1]);
}

const sameScores = (want: number[]) => async () => JSON.stringify(await scores()) === JSON.stringify(want);

// By hand, for the pod (in 100M, iops 10k) on node-c (idle) and node-f (500M, 25k in use), reserve 0.1:
//   spread, weights 1/1:  c = (800/900 + 35/45) / 2 = 0.833 -> 8;  f = (300/900 + 10/45) / 2 = 0.278 -> 3
//   pack, iops weight 5:  c = (0.111 + 5 x 0.222) / 6 = 0.204 -> 2;  f = (0.667 + 5 x 0.778) / 6 = 0.759 -> 8
//   spread, reserve 0.5:  c = (400/500 + 15/25) / 2 = 0.7 -> 7;      f: nothing free -> 0
const SPREAD_SCORES = [8, 3];
const PACK_SCORES = [2, 8];
const HALF_RESERVE_SCORES = [7, 0];

describe('a config file mounted from a ConfigMap', () => {
  it('follows the kubelet symlink swap, refuses an invalid file, and holds fields that need a restart', async () => {
    await start(SPREAD);
    expect(await scores()).toEqual(SPREAD_SCORES);
    expect(await reloads('success')).toBe(0);
    expect(await reloads('failure')).toBe(0);

    // The ConfigMap changes: new strategy and weights, applied without a restart.
    mount.update('b', PACK_IOPS);
    await waitFor(sameScores(PACK_SCORES), 5000, 'prioritize to use the new config');
    expect(app.config.current.scoring).toMatchObject({ strategy: 'pack', weights: { iops: 5 } });
    expect(await reloads('success')).toBe(1);
    const reloaded = logs.find((l) => l.msg === 'configuration reloaded');
    expect(reloaded).toMatchObject({ trigger: 'file changed' });
    expect([...(reloaded?.changed ?? [])].sort()).toEqual(['scoring.strategy', 'scoring.weights.iops']);

    // An invalid file: the old config stays, and the failure is counted and logged.
    mount.update('c', `${PACK_IOPS}  reserveFraction: 2\n`);
    await waitFor(async () => (await reloads('failure')) >= 1, 5000, 'the invalid file to be refused');
    expect(await reloads('failure')).toBe(1);
    expect(await scores()).toEqual(PACK_SCORES);
    expect(app.config.current.scoring.reserveFraction).toBe(0.1);
    const refused = logs.find((l) => l.msg === 'new configuration refused; keeping the current one');
    expect(refused?.error).toContain('scoring.reserveFraction');
    expect(refused?.level).toBe(50);

    // A new port needs a restart: it is reported, not applied.
    mount.update('d', PACK_IOPS.replace('port: 8080', 'port: 9090'));
    await waitFor(
      () => logs.find((l) => l.msg === 'these changes take effect only after a restart'),
      5000,
      'the restart warning',
    );
    expect(logs.find((l) => l.msg === 'these changes take effect only after a restart')?.fields).toEqual([
      'server.port',
    ]);
    expect(app.config.current.server.port).toBe(8080);
    expect(await scores()).toEqual(PACK_SCORES);
    expect(await reloads('success')).toBe(2);
    expect(await reloads('failure')).toBe(1);
  });

  it('applies an edit in place synchronously on reloadConfig (SIGHUP)', async () => {
    await start(SPREAD);
    expect(await scores()).toEqual(SPREAD_SCORES);
    mount.editInPlace('server:\n  port: 8080\nscoring:\n  reserveFraction: 0.5\n');
    const outcome = app.reloadConfig('SIGHUP');
    expect(outcome).toEqual({ result: 'success', changed: ['scoring.reserveFraction'], needRestart: [] });
    expect(app.config.current.scoring.reserveFraction).toBe(0.5);
    expect(await scores()).toEqual(HALF_RESERVE_SCORES);
    expect(logs.find((l) => l.msg === 'configuration reloaded')).toMatchObject({
      trigger: 'SIGHUP',
      changed: ['scoring.reserveFraction'],
    });
    // Reading the same file again changes nothing and counts nothing.
    expect(app.reloadConfig('SIGHUP')).toEqual({ result: 'unchanged' });
    expect(await reloads('success')).toBe(1);
  });

  it('keeps the config on SIGHUP when the file has become invalid, and says why', async () => {
    await start(SPREAD);
    mount.editInPlace('scoring:\n  strategy: random\n');
    const outcome = app.reloadConfig('SIGHUP');
    expect(outcome.result).toBe('failure');
    expect(outcome.result === 'failure' && outcome.error).toContain('scoring.strategy');
    expect(app.config.current.scoring.strategy).toBe('spread');
    expect(await scores()).toEqual(SPREAD_SCORES);
    expect(await reloads('failure')).toBe(1);
  });
});

describe('server.logLevel in the config file', () => {
  const filter = () => call(`${url}/scheduler/filter`, 'POST', { Pod: POD, NodeNames: ['node-c', 'node-f'] });
  const refused = () => call(`${url}/v1/nodes/node-c/report`, 'PUT', { capacity: {}, usage: {}, extra: 1 });

  const at = (level: string) => SPREAD.replace('port: 8080\n', `port: 8080\n  logLevel: ${level}\n`);

  it('applies to request and decision logs at once: info to debug, then to warn', async () => {
    await start(at('info'));
    await filter();
    expect(logs.filter((l) => l.msg === 'filter decision')).toHaveLength(0);

    mount.editInPlace(at('debug'));
    expect(app.reloadConfig('SIGHUP')).toMatchObject({ result: 'success', changed: ['server.logLevel'] });
    await filter();
    expect(logs.filter((l) => l.msg === 'filter decision')).toHaveLength(1);
    expect(logs.filter((l) => l.msg === 'incoming request').length).toBeGreaterThan(0);

    mount.editInPlace(at('warn'));
    expect(app.reloadConfig('SIGHUP')).toMatchObject({ result: 'success', changed: ['server.logLevel'] });
    const before = logs.length;
    await filter();
    expect((await refused()).status).toBe(400);
    expect(logs.slice(before).filter((l) => l.level < 40)).toEqual([]);
  });
});
