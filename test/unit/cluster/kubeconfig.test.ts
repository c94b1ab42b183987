import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { findCluster } from '../../../src/cluster/kubeconfig.js';
import { ConfigError, validateConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'ioplace-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
});

function kubeconfig(path: string, server: string): string {
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: u, user: {token: t}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
    ].join('\n'),
  );
  return path;
}

const cluster = (c: Record<string, unknown>) => validateConfig({ cluster: c }).cluster;
const nowhere = { serviceAccountToken: join(dir, 'no-token'), home: join(dir, 'empty-home') };

describe('findCluster', () => {
  it('never looks with mode off', () => {
    const found = findCluster(cluster({ mode: 'off' }), {
      KUBECONFIG: kubeconfig(join(dir, 'a'), 'https://a:6443'),
    });
    expect(found).toEqual({ kubeConfig: undefined, reason: 'cluster.mode is off' });
  });

  it('runs standalone in auto mode when nothing is found, and refuses in mode on', () => {
    expect(findCluster(cluster({ mode: 'auto' }), {}, nowhere)).toEqual({
      kubeConfig: undefined,
      reason: 'no in-cluster service account, KUBECONFIG or ~/.kube/config',
    });
    expect(() => findCluster(cluster({ mode: 'on' }), {}, nowhere)).toThrow(
      new ConfigError(
        'cluster.mode is on, but there is no in-cluster service account, KUBECONFIG or ~/.kube/config',
      ),
    );
  });

  it('merges the files of KUBECONFIG, the first one winning', () => {
    const first = kubeconfig(join(dir, 'first'), 'https://first:6443');
    const second = kubeconfig(join(dir, 'second'), 'https://second:6443');
    const found = findCluster(
      cluster({}),
      { KUBECONFIG: `${first}:${join(dir, 'absent')}:${second}` },
      nowhere,
    );
    expect(found.kubeConfig?.getCurrentCluster()?.server).toBe('https://first:6443');
    expect('source' in found && found.source).toBe(`${first}:${second}`);
  });

  it('uses KUBECONFIG, then ~/.kube/config', () => {
    const fromEnv = findCluster(
      cluster({}),
      { KUBECONFIG: kubeconfig(join(dir, 'env'), 'https://env:6443') },
      nowhere,
    );
    expect(fromEnv.kubeConfig?.getCurrentCluster()?.server).toBe('https://env:6443');

    const home = join(dir, 'home');
    mkdirSync(join(home, '.kube'), { recursive: true });
    kubeconfig(join(home, '.kube', 'config'), 'https://home:6443');
    const fromHome = findCluster(cluster({}), { HOME: home }, { ...nowhere, home });
    expect(fromHome.kubeConfig?.getCurrentCluster()?.server).toBe('https://home:6443');
    expect('source' in fromHome && fromHome.source).toBe(join(home, '.kube', 'config'));
  });

  it('prefers cluster.kubeconfig, and names a missing file', () => {
    const file = kubeconfig(join(dir, 'explicit'), 'https://explicit:6443');
    const found = findCluster(cluster({ kubeconfig: file }), {
      KUBECONFIG: kubeconfig(join(dir, 'b'), 'https://b:6443'),
    });
    expect(found.kubeConfig?.getCurrentCluster()?.server).toBe('https://explicit:6443');
    expect(() => findCluster(cluster({ kubeconfig: join(dir, 'missing') }), {})).toThrow(
      `cluster.kubeconfig: ${join(dir, 'missing')} does not exist`,
    );
  });

  it('uses the in-cluster service account when its token is mounted', () => {
    const token = join(dir, 'token');
    writeFileSync(token, 'abc');
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '10.0.0.1');
    vi.stubEnv('KUBERNETES_SERVICE_PORT', '443');
    const found = findCluster(cluster({}), process.env, { ...nowhere, serviceAccountToken: token });
    expect('source' in found && found.source).toBe('in-cluster service account');
    expect(found.kubeConfig?.getCurrentCluster()?.server).toBe('https://10.0.0.1:443');
  });
});
