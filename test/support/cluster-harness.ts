import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { FakeApiServer, waitFor } from './fake-apiserver.js';
import { call, metricValue, startTestServer, type TestServer } from './test-server.js';

/**
 * Cluster settings that make the watches recover in milliseconds instead of seconds; agents are
 * not authenticated (the auth tests turn that on) and readiness needs no warm-up.
 */
export const FAST_CLUSTER = {
  cluster: { mode: 'on', backoffInitialSeconds: 0.01, backoffMaxSeconds: 0.05, watchTimeoutSeconds: 10 },
  auth: { agents: 'open' },
  readiness: { warmupSeconds: 0 },
};

export interface ClusterHarness {
  readonly api: FakeApiServer;
  readonly server: TestServer;
  close(): Promise<void>;
}

/** A fake API server and an ioplace watching it, synced before this resolves. */
export async function startCluster(
  config: Record<string, unknown> = {},
  setup: (api: FakeApiServer) => void = () => {},
  options: { api?: FakeApiServer; configPath?: string } = {},
): Promise<ClusterHarness> {
  const api = options.api ?? (await FakeApiServer.start());
  setup(api);
  const merged = {
    ...FAST_CLUSTER,
    ...config,
    cluster: { ...FAST_CLUSTER.cluster, ...(config.cluster as object) },
  };
  const server = await startTestServer(merged, {
    kubeConfig: api.kubeConfig(),
    configPath: options.configPath,
  });
  await waitFor(() => clusterSynced(server), 5000, 'the initial list');
  return {
    api,
    server,
    close: async () => {
      await server.close();
      await api.close();
    },
  };
}

/** Whether the first lists of pods and nodes are in (ioplace_cluster_synced). */
export async function clusterSynced(server: TestServer): Promise<boolean> {
  return (await metricValue(server, 'ioplace_cluster_synced')) === 1;
}

/** Whether the watch of `resource` is open (ioplace_cluster_watch_connected). */
export async function watchConnected(server: TestServer, resource: 'pods' | 'nodes'): Promise<boolean> {
  return (await metricValue(server, 'ioplace_cluster_watch_connected', { resource })) === 1;
}

/** Pods with demand that ioplace tracks (ioplace_pods_tracked): in `state`, or all of them. */
export async function podsTracked(server: TestServer, state?: 'measured' | 'unmeasured'): Promise<number> {
  const count = async (s: string) => (await metricValue(server, 'ioplace_pods_tracked', { state: s })) ?? 0;
  return state === undefined ? (await count('measured')) + (await count('unmeasured')) : count(state);
}

/** Bind reservations held for pods the watch does not show bound yet (ioplace_reservations). */
export async function reservationsHeld(server: TestServer): Promise<number> {
  return (await metricValue(server, 'ioplace_reservations')) ?? 0;
}

/** A Node as the kubelet registers it: capacity and allocatable of its own resources, none of ioplace's. */
export function kubeletNode(name: string): V1Node {
  const resources = { cpu: '8', memory: '32Gi', pods: '110' };
  return {
    metadata: { name },
    spec: {},
    status: { capacity: { ...resources }, allocatable: { ...resources } },
  };
}

export function node(name: string): V1Node {
  return { metadata: { name }, spec: {}, status: {} };
}

export interface PodSpecInput {
  readonly node?: string;
  readonly iops?: string;
  readonly ingress?: string;
  readonly phase?: string;
  readonly uid?: string;
  readonly namespace?: string;
}

export function pod(name: string, input: PodSpecInput = {}): V1Pod {
  const requests: Record<string, string> = {};
  if (input.iops !== undefined) requests['ioplace.io/iops'] = input.iops;
  if (input.ingress !== undefined) requests['ioplace.io/ingress-bandwidth'] = input.ingress;
  return {
    metadata: { name, namespace: input.namespace ?? 'default', ...(input.uid ? { uid: input.uid } : {}) },
    spec: {
      containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', resources: { requests } }],
      ...(input.node ? { nodeName: input.node } : {}),
    },
    status: { phase: input.phase ?? (input.node ? 'Running' : 'Pending') },
  };
}

export async function report(server: TestServer, name: string, body: unknown): Promise<number> {
  return (await call(`${server.url}/v1/nodes/${name}/report`, 'PUT', body)).status;
}

export interface NodeView {
  node: string;
  committed: { iops?: number; ingressBandwidth?: number };
  free: { iops?: number; ingressBandwidth?: number };
}

export async function nodeView(server: TestServer, name: string): Promise<NodeView> {
  return (await call<NodeView>(`${server.url}/v1/nodes/${name}`, 'GET')).body;
}
