import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { type ClusterSource, type ClusterSourcePaths, clusterSource } from './cluster-source.js';

export type ClusterConnection =
  | { readonly kubeConfig: KubeConfig; readonly source: string }
  | { readonly kubeConfig: undefined; readonly reason: string };

/**
 * Connects to the cluster clusterSource finds. client-node's own loadFromDefault falls back to
 * http://localhost:8080 when it finds nothing, which would turn "no cluster" into endless
 * connection errors; we decide ourselves instead. Mode `on` insists on a cluster, `off` never
 * looks, `auto` runs standalone when nothing is found.
 */
export function findCluster(
  config: Pick<Config['cluster'], 'mode' | 'kubeconfig'>,
  env: NodeJS.ProcessEnv,
  paths?: ClusterSourcePaths,
): ClusterConnection {
  return connectTo(clusterSource(config, env, paths));
}

/** The connection of a source clusterSource found (for a caller that looked before loading this). */
export function connectTo(source: ClusterSource): ClusterConnection {
  if (source.kind === 'none') return { kubeConfig: undefined, reason: source.reason };
  const kubeConfig = new KubeConfig();
  try {
    if (source.kind === 'in-cluster') {
      // Reads KUBERNETES_SERVICE_HOST/PORT from the process environment, and re-reads the
      // projected token file as the kubelet rotates it.
      kubeConfig.loadFromCluster();
      return { kubeConfig, source: 'in-cluster service account' };
    }
    const [first, ...more] = source.files;
    // As kubectl does: the files are merged, and the first to set something wins.
    kubeConfig.loadFromFile(first as string);
    for (const file of more) mergeFirstWins(kubeConfig, file);
    if (kubeConfig.getCurrentCluster() === null)
      throw new ConfigError(`${source.files.join(':')}: no current cluster`);
    return { kubeConfig, source: source.files.join(':') };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot load the cluster configuration: ${(err as Error).message}`);
  }
}

/** Adds what `file` defines and `into` does not (client-node's own merge throws on duplicates). */
function mergeFirstWins(into: KubeConfig, file: string): void {
  const more = new KubeConfig();
  more.loadFromFile(file);
  const has = (list: { name: string }[], name: string) => list.some((x) => x.name === name);
  for (const c of more.getClusters()) if (!has(into.getClusters(), c.name)) into.addCluster(c);
  for (const u of more.getUsers()) if (!has(into.getUsers(), u.name)) into.addUser(u);
  for (const c of more.getContexts()) if (!has(into.getContexts(), c.name)) into.addContext(c);
  if (into.getCurrentContext() === '' || into.getCurrentContext() === undefined) {
    into.setCurrentContext(more.getCurrentContext());
  }
}
