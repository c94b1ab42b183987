import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IopsLimiter } from '../../src/agent/enforce/iops-limits.js';
import { limitedDevices } from '../../src/agent/enforce/pod-devices.js';
import { decodeNodePod, type NodePod } from '../../src/agent/enforce/pod-record.js';
import { Reconciler } from '../../src/agent/enforce/reconciler.js';
import { FakeApiServer, waitFor } from '../support/fake-apiserver.js';
import { capturingLogger } from '../support/fake-enforcers.js';
import { fileTrees } from '../support/file-tree.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOST = join(ROOT, 'test/fixtures/agent/k8s-node');
const dir = mkdtempSync(join(tmpdir(), 'ioplace-enforce-'));
const trees = fileTrees('ioplace-cgroups-');
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  trees.cleanup();
});

const UID_A = '1a2b3c4d-0000-4000-8000-00000000000a';
const UID_B = '2b3c4d5e-0000-4000-8000-00000000000b';

/** Where the kubelet (systemd driver, cgroup v2) puts a Burstable pod's cgroup. */
function burstable(uid: string): string {
  return `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice`;
}

/** A cgroup v2 mount with the io controller, and the cgroups of `uids` (empty io.max: no limit). */
function cgroupTree(uids: readonly string[]): string {
  const files: Record<string, string | null> = {
    'cgroup.controllers': 'cpuset cpu io memory pids\n',
    'kubepods.slice/kubepods-burstable.slice/cgroup.procs': '',
  };
  for (const uid of uids) {
    files[`${burstable(uid)}/io.max`] = '';
    files[`${burstable(uid)}/cgroup.procs`] = '';
  }
  return trees.make(files);
}

/** Makes a pod's cgroup after the fact, as the kubelet does once the pod is admitted. */
function makeCgroup(root: string, uid: string): void {
  const path = join(root, burstable(uid));
  mkdirSync(path, { recursive: true });
  for (const name of ['io.max', 'cgroup.procs']) writeFileSync(join(path, name), '');
}

const ioMax = (root: string, uid: string) =>
  readFileSync(join(root, burstable(uid), 'io.max'), 'utf8').trim();

/** A Running Burstable pod on node-1 that asks for `iops`. */
function apiPod(name: string, uid: string, iops: string, status: Record<string, unknown> = {}): V1Pod {
  return {
    metadata: { name, namespace: 'db', uid },
    spec: {
      nodeName: 'node-1',
      containers: [{ name: 'db', resources: { requests: { 'ioplace.io/iops': iops } } }],
    },
    status: { phase: 'Running', qosClass: 'Burstable', startTime: '2026-11-25T20:00:00Z', ...status },
  } as unknown as V1Pod;
}

describe('the enforcement loop with the real IopsLimiter, on a cgroup tree', () => {
  it('limits, re-applies after a restart, waits for a late cgroup, and clears a deleted pod', async () => {
    const root = cgroupTree([UID_A]);
    const { devices } = await limitedDevices(join(HOST, 'proc'), join(HOST, 'sys'), {
      include: ['sda'],
      exclude: [],
    });
    expect(devices).toEqual([{ name: 'sda', device: '8:0' }]);
    const pods = new Map<string, NodePod>();
    const put = (pod: V1Pod) => {
      const record = decodeNodePod(pod) as NodePod;
      pods.set(record.uid, record);
    };
    const { logger, lines } = capturingLogger('warn');
    const loop = () =>
      new Reconciler({
        mode: 'iops',
        pods: () => pods.values(),
        devices: async () => devices.map((d) => d.device),
        iops: new IopsLimiter({ cgroupRoot: root, split: 'even' }),
        bandwidth: undefined,
        clock: () => Date.now(),
        startedAt: Date.now(),
        logger,
      });
    const first = loop();
    put(apiPod('a', UID_A, '1k'));
    put(apiPod('b', UID_B, '300', { phase: 'Pending' })); // admitted, its cgroup not made yet
    await first.round();
    expect(ioMax(root, UID_A)).toBe('8:0 riops=500 wiops=500');
    expect(first.summary()).toEqual({ mode: 'iops', pods: 1, errors: 0 });

    makeCgroup(root, UID_B);
    await first.round();
    expect(ioMax(root, UID_B)).toBe('8:0 riops=150 wiops=150');
    expect(first.summary()).toEqual({ mode: 'iops', pods: 2, errors: 0 });

    writeFileSync(join(root, burstable(UID_A), 'io.max'), ''); // lost while the agent was away
    const restarted = loop();
    await restarted.round();
    expect(ioMax(root, UID_A)).toBe('8:0 riops=500 wiops=500');

    pods.delete(UID_A);
    await restarted.round();
    expect(ioMax(root, UID_A)).toBe('8:0 riops=max wiops=max');
    expect(restarted.summary()).toEqual({ mode: 'iops', pods: 1, errors: 0 });
    expect(lines).toEqual([]);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('ioplace-agent --enforce iops end to end', () => {
  let server: TestServer | undefined;
  let api: FakeApiServer | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    child?.kill('SIGKILL');
    await server?.close();
    await api?.close();
  });

  const agentEnv = (kubeconfig: string) => {
    const { KUBERNETES_SERVICE_HOST: _host, IOPLACE_SERVER: _server, ...env } = process.env;
    return { ...env, KUBECONFIG: kubeconfig, HOME: dir, NODE_NAME: 'node-1' };
  };
  const hostArgs = (cgroupRoot: string) => [
    '--proc-root',
    join(HOST, 'proc'),
    '--sys-root',
    join(HOST, 'sys'),
    '--devices',
    'sda',
    '--cgroup-root',
    cgroupRoot,
  ];
  const agentProcess = (args: string[], env: NodeJS.ProcessEnv): Promise<Run> => {
    const run = spawn(process.execPath, ['--import', 'tsx', 'src/agent/main.ts', ...args], {
      cwd: ROOT,
      env,
      stdio: 'pipe',
    });
    let stdout = '';
    let stderr = '';
    run.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    run.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    return new Promise((resolve, reject) => {
      run.on('error', reject);
      run.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  };

  it('limits the node’s pods, reports how many to ioplace, exports metrics, and prints the limits', async () => {
    api = await FakeApiServer.start();
    api.addPod(apiPod('a', UID_A, '1k'));
    api.addPod({
      ...apiPod('elsewhere', '3c4d5e6f-0000-4000-8000-00000000000e', '5k'),
      spec: { nodeName: 'node-2', containers: [] },
    } as V1Pod);
    const kubeconfig = join(dir, 'kubeconfig');
    await api.writeKubeconfig(kubeconfig);
    const root = cgroupTree([UID_A]);
    // The server's clock stands still: a burst big enough for every report of the test.
    server = await startTestServer({ inventory: { reportBurst: 10_000 } });
    const metricsPort = await freePort();
    const env = agentEnv(kubeconfig);
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/agent/main.ts',
        '--server',
        server.url,
        '--interval',
        '0.2',
        '--iops-capacity',
        '40k',
        '--no-node-capacity',
        '--enforce',
        'iops',
        '--metrics-port',
        String(metricsPort),
        ...hostArgs(root),
      ],
      { cwd: ROOT, stdio: 'pipe', env },
    );
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const url = server.url;
    const enforcement = async () => {
      const res = await call<{ enforcement?: { mode: string; pods: number; errors: number } }>(
        `${url}/v1/nodes/node-1`,
        'GET',
      );
      return res.status === 200 ? res.body.enforcement : undefined;
    };
    expect(
      await waitFor(
        async () => (await enforcement())?.pods === 1 && enforcement(),
        20_000,
        `pod a enforced (${stderr})`,
      ),
    ).toEqual({ mode: 'iops', pods: 1, errors: 0 });
    expect(ioMax(root, UID_A)).toBe('8:0 riops=500 wiops=500');

    // A pod that starts now, before its cgroup exists.
    const startTime = new Date(Math.ceil(Date.now() / 1000) * 1000).toISOString();
    api.addPod(apiPod('b', UID_B, '600', { phase: 'Pending', startTime }));
    await new Promise((r) => setTimeout(r, 300));
    makeCgroup(root, UID_B);
    await waitFor(
      () => ioMax(root, UID_B) === '8:0 riops=300 wiops=300',
      10_000,
      `pod b limited (${stderr})`,
    );
    await waitFor(async () => (await enforcement())?.pods === 2, 10_000, 'two pods reported');

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain('ioplace_agent_enforced_pods{kind="iops"} 2');
    expect(metrics).toContain('ioplace_agent_enforced_pods{kind="bandwidth"} 0');
    expect(metrics).toContain('ioplace_agent_enforcement_errors_total{reason="write-failed"} 0');
    expect(metrics).toMatch(/ioplace_agent_enforcement_delay_seconds_count\{kind="iops"\} 1\n/);

    // limits --print, as `kubectl exec` runs it in the agent's container.
    const printed = await agentProcess(['limits', '--print', '--enforce', 'iops', ...hostArgs(root)], env);
    expect(printed.stderr).toBe('');
    expect(printed.code).toBe(0);
    const lines = printed.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`node node-1: enforce iops, disks sda (8:0), cgroups under ${root}`);
    const table = lines.slice(2).map((l) => l.split(/ {3,}/));
    expect(table).toEqual([
      [
        'POD',
        'PHASE',
        'DEMAND in/out/iops',
        'CGROUP',
        'IOPS IN FORCE',
        'BANDWIDTH IN FORCE in/out',
        'PROBLEMS',
      ],
      ['db/a', 'Running', '-/-/1k', burstable(UID_A), '8:0=500/500', '-'],
      ['db/b', 'Pending', '-/-/600', burstable(UID_B), '8:0=300/300', '-'],
    ]);
    const json = await agentProcess(
      ['limits', '--print', '--json', '--enforce', 'iops', ...hostArgs(root)],
      env,
    );
    const parsed = JSON.parse(json.stdout) as {
      node: string;
      devices: unknown;
      pods: { pod: string; cgroup: string; iops: unknown; problems: string[] }[];
    };
    expect(parsed.node).toBe('node-1');
    expect(parsed.devices).toEqual([{ name: 'sda', device: '8:0' }]);
    expect(parsed.pods.map((p) => [p.pod, p.cgroup, p.iops, p.problems])).toEqual([
      [
        'db/a',
        join(root, burstable(UID_A)),
        { wanted: 1000, inForce: { '8:0': { readIops: 500, writeIops: 500 } } },
        [],
      ],
      [
        'db/b',
        join(root, burstable(UID_B)),
        { wanted: 600, inForce: { '8:0': { readIops: 300, writeIops: 300 } } },
        [],
      ],
    ]);

    api.deletePod('db', 'a');
    await waitFor(() => ioMax(root, UID_A) === '8:0 riops=max wiops=max', 10_000, 'pod a cleared');
    await waitFor(async () => (await enforcement())?.pods === 1, 10_000, 'one pod reported');
  }, 90_000);

  it('refuses --enforce without the Kubernetes API, and a bad mode, with one line and exit 2', async () => {
    const env = { ...agentEnv(join(dir, 'no-such-kubeconfig')), HOME: join(dir, 'nowhere') };
    const server = ['--server', 'http://127.0.0.1:1'];
    const noApi = await agentProcess([...server, '--enforce', 'all'], env);
    expect(noApi.code).toBe(2);
    expect(noApi.stderr).toMatch(
      /^ioplace-agent: --enforce all \(the pods of the node\) needs the Kubernetes API/,
    );
    const bad = await agentProcess([...server, '--enforce', 'some'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'ioplace-agent: --enforce: must be one of off, iops, all, got "some" (see --help)\n',
    );
  }, 60_000);
});
