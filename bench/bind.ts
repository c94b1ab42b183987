/**
 * Bind that keeps up (issue 12): a burst of pending pods scheduled by a kube-scheduler stand-in,
 * bound either by the scheduler itself (straight to the API server) or through ioplace's
 * /scheduler/bind (`bindVerb`), against the project's fake API server running in this process,
 * with or without TLS. ioplace runs as its own process in cluster mode.
 *
 * The stand-in does what kube-scheduler does for each pod, one pod at a time: a scheduling cycle
 * (its own plugins' work, then filter and prioritize over the nodes that passed, both to ioplace),
 * the best-scored node chosen, and the bind fired without waiting for it (kube-scheduler binds in
 * a goroutine of its own and starts the next pod's cycle at once). The burst is over when the last
 * bind is answered.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { Client, Pool } from 'undici';
import { sendAll } from './harness/closed-loop-load.js';
import { nodeName, nodeObject } from './harness/cluster-payloads.js';
import { FakeApiServer, fakeApiServerCa } from './harness/fake-apiserver.js';
import { IoplaceProcess, type ServerEntry } from './harness/ioplace-process.js';
import { type Latency, latencySummary } from './harness/latency.js';
import { sampleValue } from './harness/prometheus.js';
import { waitUntil } from './harness/wait-until.js';
import { pendingPodTemplate, reportRequests } from './payloads.js';

export type BindPath = 'direct' | 'ioplace';

export interface BindRun {
  readonly path: BindPath;
  readonly pods: number;
  /** First cycle started to last bind answered (burst), or first bind sent to last answered (saturation). */
  readonly totalMs: number;
  readonly bindsPerSecond: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Single-pod GETs that reached the API server during the run (ioplace reading a pod it did not know). */
  readonly podReads: number;
  /** TCP connections the API server accepted during the run. */
  readonly apiConnections: number;
  /** Sent to answered, per bind, as the scheduler (or the saturating client) saw it. */
  readonly bindMs: Latency;
  /** Filter + prioritize, per pod, as the stand-in saw them (burst only). */
  readonly cycleMs?: Latency;
}

export interface BindResult {
  readonly tls: boolean;
  readonly pods: number;
  readonly nodes: number;
  readonly bindingLatencyMs: number;
  readonly cycleMs: number;
  readonly saturationConcurrency: number;
  /**
   * The scheduler stand-in, the median of `rounds` rounds (each a direct and an ioplace burst back
   * to back, in turns first): `ratio` is ioplace's bind rate over the scheduler's own (direct total
   * time / ioplace total time), the runs those of the round with the median ratio.
   */
  readonly burst: {
    readonly direct: BindRun;
    readonly ioplace: BindRun;
    readonly ratio: number;
    /** Every round's ratio, in order. */
    readonly ratios: readonly number[];
  };
  /** Binds only, `saturationConcurrency` in flight: `ratio` is ioplace's binds/s over direct's. */
  readonly saturation: { readonly direct: BindRun; readonly ioplace: BindRun; readonly ratio: number };
}

export interface BindOptions {
  readonly pods: number;
  readonly nodes: number;
  readonly tls: boolean;
  /** The fake API server answers each binding this much later (etcd's write). */
  readonly bindingLatencyMs: number;
  /**
   * The scheduler's own work in each cycle besides the calls to ioplace (its in-tree filter and
   * score plugins over the nodes, which it runs before asking the extender), waited for in the
   * stand-in: it runs on the scheduler's CPU, not on this machine's.
   */
  readonly cycleMs: number;
  readonly saturationConcurrency: number;
  /** Burst rounds: the machine is shared, and one burst of a few seconds moves by 10 to 20%. */
  readonly rounds: number;
  readonly entry: ServerEntry;
  readonly dir: string;
  readonly config: Record<string, unknown>;
  readonly nodeArgs: readonly string[];
  readonly log: (line: string) => void;
  readonly track: (proc: IoplaceProcess | undefined) => void;
}

/** Each pod asks ioplace for this many IOPS: the whole run fits on the nodes many times over. */
const POD_IOPS = '10';
const JSON_HEADERS = { 'content-type': 'application/json' };

interface PendingPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** The Pod as kube-scheduler sends it in ExtenderArgs. */
  readonly json: string;
}

export async function measureBind(options: BindOptions): Promise<BindResult> {
  const { nodes, tls, log } = options;
  const api = await FakeApiServer.start({ tls, bindingLatencyMs: options.bindingLatencyMs });
  let proc: IoplaceProcess | undefined;
  const names = Array.from({ length: nodes }, (_, i) => nodeName(i));
  for (const name of names) api.addNode(nodeObject(name) as V1Node);
  const kubeconfig = join(options.dir, `kubeconfig-bind-${tls ? 'tls' : 'plain'}.yaml`);
  await api.writeKubeconfig(kubeconfig);
  // The scheduler's own client: keep-alive connections to the API server, as client-go keeps them.
  const apiPool = new Pool(api.url, {
    connect: tls ? { ca: fakeApiServerCa() } : {},
  });
  let ioplaceCycle: Client | undefined;
  let ioplaceBinds: Pool | undefined;
  try {
    proc = await IoplaceProcess.start({
      name: `ioplace-bind-${tls ? 'tls' : 'plain'}`,
      entry: options.entry,
      config: options.config,
      dir: options.dir,
      env: { KUBECONFIG: kubeconfig },
      nodeArgs: options.nodeArgs,
    });
    options.track(proc);
    const server = proc;
    await server.waitForClusterSync(60_000);
    await sendAll(server.origin, reportRequests(nodes), {
      concurrency: 4,
      durationMs: 30_000,
      what: 'seeding the bind instance',
    });
    await server.waitFor('/readyz', 30_000);
    // Like kube-scheduler's extender client: one connection for the serial cycle; binds run in
    // goroutines of their own, each on a free kept connection or a new one.
    ioplaceCycle = new Client(server.origin, { pipelining: 1, keepAliveTimeout: 60_000 });
    ioplaceBinds = new Pool(server.origin, { keepAliveTimeout: 60_000 });
    const env: RunEnv = { api, apiPool, ioplaceCycle, ioplaceBinds, names, server };

    let batch = 0;
    const namespace = () => `bind-${batch++}`;
    // A short burst each way first, unmeasured: the first one after start runs on cold code.
    const warmup = { pods: Math.min(50, options.pods), cycleMs: options.cycleMs };
    for (const path of ['direct', 'ioplace'] as const) await burst(env, path, namespace(), warmup);
    const rounds: { direct: BindRun; ioplace: BindRun; ratio: number }[] = [];
    for (let round = 0; round < Math.max(1, options.rounds); round++) {
      const order: BindPath[] = round % 2 === 0 ? ['direct', 'ioplace'] : ['ioplace', 'direct'];
      const runs = new Map<BindPath, BindRun>();
      for (const path of order) runs.set(path, await burst(env, path, namespace(), options));
      const direct = runs.get('direct') as BindRun;
      const ioplace = runs.get('ioplace') as BindRun;
      const ratio = direct.totalMs / ioplace.totalMs;
      rounds.push({ direct, ioplace, ratio });
      log(
        `  ${tls ? 'TLS  ' : 'plain'} burst of ${options.pods} pods on ${nodes} nodes: scheduler's own bind ` +
          `${(direct.totalMs / 1000).toFixed(2)} s, through ioplace ${(ioplace.totalMs / 1000).toFixed(2)} s ` +
          `(ratio ${ratio.toFixed(2)}); ioplace read ${ioplace.podReads} pods, opened ${ioplace.apiConnections} ` +
          `API connections${errorsNote(direct, ioplace)}`,
      );
    }
    const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[
      Math.floor((rounds.length - 1) / 2)
    ] as (typeof rounds)[number];

    const { saturationConcurrency: concurrency } = options;
    const satDirect = await saturate(
      env,
      'direct',
      await createSettled(env, namespace(), options.pods),
      concurrency,
    );
    const satIoplace = await saturate(
      env,
      'ioplace',
      await createSettled(env, namespace(), options.pods),
      concurrency,
    );
    const satRatio = satIoplace.bindsPerSecond / satDirect.bindsPerSecond;
    log(
      `  ${tls ? 'TLS  ' : 'plain'} saturation, ${options.saturationConcurrency} binds in flight: direct ` +
        `${satDirect.bindsPerSecond.toFixed(0)} binds/s, through ioplace ${satIoplace.bindsPerSecond.toFixed(0)} binds/s ` +
        `(ratio ${satRatio.toFixed(2)}); ioplace opened ${satIoplace.apiConnections} API connections` +
        errorsNote(satDirect, satIoplace),
    );
    return {
      tls,
      pods: options.pods,
      nodes,
      bindingLatencyMs: options.bindingLatencyMs,
      cycleMs: options.cycleMs,
      saturationConcurrency: options.saturationConcurrency,
      burst: { ...median, ratios: rounds.map((r) => r.ratio) },
      saturation: { direct: satDirect, ioplace: satIoplace, ratio: satRatio },
    };
  } finally {
    await ioplaceCycle?.close();
    await ioplaceBinds?.close();
    await apiPool.close();
    await proc?.stop();
    options.track(undefined);
    await api.close();
  }
}

interface RunEnv {
  readonly api: FakeApiServer;
  readonly apiPool: Pool;
  readonly ioplaceCycle: Client;
  readonly ioplaceBinds: Pool;
  readonly names: readonly string[];
  readonly server: IoplaceProcess;
}

function errorsNote(...runs: BindRun[]): string {
  const failed = runs.filter((r) => r.errors > 0);
  return failed.map((r) => `; ${r.path}: ${r.errors} binds failed (${r.firstError})`).join('');
}

/** Pod `i` of a batch, created in the API server (its watches see it at once). */
function createPod(
  api: FakeApiServer,
  template: Record<string, unknown>,
  namespace: string,
  i: number,
): PendingPod {
  const pod = structuredClone(template) as unknown as V1Pod;
  const name = `web-${i}`;
  pod.metadata = { ...pod.metadata, name, namespace };
  const created = api.addPod(pod);
  return { namespace, name, uid: created.metadata?.uid ?? '', json: JSON.stringify(created) };
}

/** `count` pending pods created at once. */
function createPods(api: FakeApiServer, namespace: string, count: number): PendingPod[] {
  const template = pendingPodTemplate(POD_IOPS);
  return Array.from({ length: count }, (_, i) => createPod(api, template, namespace, i));
}

/** Pods created like createPods, once ioplace's watch shows them all (the saturation runs measure binds alone). */
async function createSettled(env: RunEnv, namespace: string, count: number): Promise<PendingPod[]> {
  const tracked = async () => sampleValue(await env.server.metrics(), 'ioplace_pods_tracked') ?? 0;
  const before = await tracked();
  const pods = createPods(env.api, namespace, count);
  await waitUntil(async () => (await tracked()) >= before + count, 30_000);
  return pods;
}

async function post(
  client: Client | Pool,
  path: string,
  body: string,
): Promise<{ status: number; text: string }> {
  const res = await client.request({ method: 'POST', path, headers: JSON_HEADERS, body });
  return { status: res.statusCode, text: await res.body.text() };
}

/** Binds one pod: null when bound, else what went wrong. */
async function bindOne(env: RunEnv, path: BindPath, pod: PendingPod, node: string): Promise<string | null> {
  if (path === 'direct') {
    const binding = {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
      target: { apiVersion: 'v1', kind: 'Node', name: node },
    };
    const res = await post(
      env.apiPool,
      `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}/binding`,
      JSON.stringify(binding),
    );
    return res.status === 201 ? null : `HTTP ${res.status}: ${res.text.slice(0, 200)}`;
  }
  const args = { PodName: pod.name, PodNamespace: pod.namespace, PodUID: pod.uid, Node: node };
  const res = await post(env.ioplaceBinds, '/scheduler/bind', JSON.stringify(args));
  if (res.status !== 200) return `HTTP ${res.status}: ${res.text.slice(0, 200)}`;
  const error = (JSON.parse(res.text) as { Error?: string }).Error ?? '';
  return error === '' ? null : error;
}

/** What the API server saw during a run: single-pod reads and new connections. */
function apiCounters(api: FakeApiServer) {
  const requestsBefore = api.requests.length;
  const connectionsBefore = api.connections;
  return () => ({
    podReads: api.requests
      .slice(requestsBefore)
      .filter((r) => r.method === 'GET' && /^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+$/.test(r.path)).length,
    apiConnections: api.connections - connectionsBefore,
  });
}

/**
 * The scheduler stand-in: `count` pods, one scheduling cycle after another, binds fired as they
 * come. Each pod is created just before its cycle, as if the scheduler's informer saw it the
 * moment the API server stored it: ioplace's watch has one cycle's time to show it before its bind.
 */
async function burst(
  env: RunEnv,
  path: BindPath,
  namespace: string,
  { pods: count, cycleMs }: { pods: number; cycleMs: number },
): Promise<BindRun> {
  const template = pendingPodTemplate(POD_IOPS);
  const counters = apiCounters(env.api);
  const namesJson = JSON.stringify(env.names);
  const cycles = new Float64Array(count);
  const bindTimes = new Float64Array(count);
  const binds: Promise<string | null>[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const pod = createPod(env.api, template, namespace, i);
    const t0 = performance.now();
    if (cycleMs > 0) await sleep(cycleMs);
    const filter = await post(
      env.ioplaceCycle,
      '/scheduler/filter',
      `{"Pod":${pod.json},"Nodes":null,"NodeNames":${namesJson}}`,
    );
    const passed = (JSON.parse(filter.text) as { NodeNames: string[] | null }).NodeNames ?? [];
    if (passed.length === 0)
      throw new Error(`no node passed filter for ${pod.namespace}/${pod.name}: ${filter.text.slice(0, 300)}`);
    const prioritize = await post(
      env.ioplaceCycle,
      '/scheduler/prioritize',
      `{"Pod":${pod.json},"Nodes":null,"NodeNames":${JSON.stringify(passed)}}`,
    );
    const scores = JSON.parse(prioritize.text) as { Host: string; Score: number }[];
    const best = Math.max(...scores.map((s) => s.Score));
    const ties = scores.filter((s) => s.Score === best);
    const node = (ties[i % ties.length] as { Host: string }).Host;
    cycles[i] = performance.now() - t0;
    const sent = performance.now();
    binds.push(
      bindOne(env, path, pod, node).then(
        (outcome) => {
          bindTimes[i] = performance.now() - sent;
          return outcome;
        },
        (err: unknown) => String(err),
      ),
    );
  }
  const outcomes = await Promise.all(binds);
  const totalMs = performance.now() - started;
  return finish(path, count, totalMs, outcomes, bindTimes, counters(), latencySummary(cycles));
}

/** Binds alone: `concurrency` in flight, onto the nodes that pass filter, in turn. */
async function saturate(
  env: RunEnv,
  path: BindPath,
  pods: readonly PendingPod[],
  concurrency: number,
): Promise<BindRun> {
  const first = pods[0] as PendingPod;
  const filter = await post(
    env.ioplaceCycle,
    '/scheduler/filter',
    `{"Pod":${first.json},"Nodes":null,"NodeNames":${JSON.stringify(env.names)}}`,
  );
  const passed = (JSON.parse(filter.text) as { NodeNames: string[] | null }).NodeNames ?? [];
  const counters = apiCounters(env.api);
  const bindTimes = new Float64Array(pods.length);
  const outcomes: (string | null)[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < pods.length) {
      const i = next++;
      const t0 = performance.now();
      outcomes[i] = await bindOne(
        env,
        path,
        pods[i] as PendingPod,
        passed[i % passed.length] as string,
      ).catch((err: unknown) => String(err));
      bindTimes[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const totalMs = performance.now() - started;
  return finish(path, pods.length, totalMs, outcomes, bindTimes, counters());
}

function finish(
  path: BindPath,
  pods: number,
  totalMs: number,
  outcomes: readonly (string | null)[],
  bindTimes: Float64Array,
  seen: { podReads: number; apiConnections: number },
  cycleMs?: Latency,
): BindRun {
  const failures = outcomes.filter((o) => o !== null);
  return {
    path,
    pods,
    totalMs,
    bindsPerSecond: pods / (totalMs / 1000),
    errors: failures.length,
    ...(failures[0] === undefined || failures[0] === null ? {} : { firstError: failures[0] }),
    ...seen,
    bindMs: latencySummary(bindTimes),
    ...(cycleMs === undefined ? {} : { cycleMs }),
  };
}
