/**
 * Memory with a full pod store: a second ioplace in cluster mode, pointed (KUBECONFIG) at the
 * project's fake API server running in this process, holding `pods` pods (each asking for IOPS,
 * bound to one of `nodes` nodes, Running) and `nodes` nodes. Once ready and every node has
 * reported, the server's RSS is read from /proc.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { sendAll } from './harness/closed-loop-load.js';
import { nodeName, nodeObject } from './harness/cluster-payloads.js';
import { FakeApiServer } from './harness/fake-apiserver.js';
import { IoplaceProcess, type ServerEntry } from './harness/ioplace-process.js';
import { sampleValue } from './harness/prometheus.js';
import { boundPodTemplate, reportRequests } from './payloads.js';

export interface MemoryResult {
  readonly pods: number;
  readonly nodes: number;
  readonly podsTracked: number | undefined;
  readonly inventoryNodes: number | undefined;
  readonly rssBytes: number;
  readonly peakRssBytes: number;
  readonly heapUsedBytes: number | undefined;
  readonly heapTotalBytes: number | undefined;
  readonly fillSeconds: number;
  readonly syncSeconds: number;
  readonly listPageSize: number;
}

export interface MemoryOptions {
  readonly pods: number;
  readonly nodes: number;
  readonly entry: ServerEntry;
  readonly dir: string;
  readonly config: Record<string, unknown>;
  readonly listPageSize: number;
  readonly nodeArgs: readonly string[];
  readonly log: (line: string) => void;
  readonly track: (proc: IoplaceProcess | undefined) => void;
}

const NAMESPACES = 40;

export async function measureMemory(options: MemoryOptions): Promise<MemoryResult> {
  const { pods, nodes, log } = options;
  const api = await FakeApiServer.start();
  let proc: IoplaceProcess | undefined;
  try {
    const fillStart = performance.now();
    for (let i = 0; i < nodes; i++) api.addNode(nodeObject(nodeName(i)) as V1Node);
    const template = boundPodTemplate() as unknown as V1Pod;
    for (let i = 0; i < pods; i++) {
      const pod = structuredClone(template);
      const ns = `team-${i % NAMESPACES}`;
      const name = `app-${Math.floor(i / 30)}-5d8f7c9b6-${(i % 30).toString(36).padStart(5, 'x')}`;
      pod.metadata = { ...pod.metadata, name, namespace: ns, uid: undefined, resourceVersion: undefined };
      pod.spec = { ...pod.spec, containers: pod.spec?.containers ?? [], nodeName: nodeName(i % nodes) };
      api.addPod(pod);
    }
    const fillSeconds = (performance.now() - fillStart) / 1000;
    log(`  fake API server: ${nodes} nodes, ${pods} pods in ${fillSeconds.toFixed(1)} s`);
    const kubeconfig = join(options.dir, 'kubeconfig.yaml');
    await api.writeKubeconfig(kubeconfig);

    const syncStart = performance.now();
    proc = await IoplaceProcess.start({
      name: 'ioplace-cluster',
      entry: options.entry,
      config: options.config,
      dir: options.dir,
      env: { KUBECONFIG: kubeconfig },
      nodeArgs: options.nodeArgs,
    });
    options.track(proc);
    // Reports for nodes not yet listed are refused, so the node list must have synced first.
    await proc.waitForClusterSync(240_000, 200);
    const syncSeconds = (performance.now() - syncStart) / 1000;
    log(`  ioplace synced ${pods} pods in ${syncSeconds.toFixed(1)} s`);
    await sendAll(proc.origin, reportRequests(nodes), {
      concurrency: 8,
      durationMs: 60_000,
      what: 'seeding the cluster instance',
    });
    await proc.waitFor('/readyz', 60_000);
    // Let the process settle (no load, the first GC after the list) before reading.
    await sleep(2_000);
    const samples = await proc.metrics();
    const memory = proc.runningMemory();
    return {
      pods,
      nodes,
      podsTracked: sampleValue(samples, 'ioplace_pods_tracked'), // measured + unmeasured
      inventoryNodes: sampleValue(samples, 'ioplace_inventory_nodes'),
      rssBytes: memory.rss,
      peakRssBytes: memory.peakRss,
      heapUsedBytes: sampleValue(samples, 'nodejs_heap_size_used_bytes'),
      heapTotalBytes: sampleValue(samples, 'nodejs_heap_size_total_bytes'),
      fillSeconds,
      syncSeconds,
      listPageSize: options.listPageSize,
    };
  } finally {
    await proc?.stop();
    options.track(undefined);
    await api.close();
  }
}
