import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export type ClusterConnection =
  | { readonly kubeConfig: KubeConfig; readonly source: string }
  | { readonly kubeConfig: undefined; readonly reason: string };

/**
 * Finds the cluster to talk to: the configured kubeconfig file, else the in-cluster service
 * account, else KUBECONFIG, else ~/.kube/config. client-node's own loadFromDefault falls back to
 * http://localhost:8080 when it finds nothing, which would turn "no cluster" into endless
 * connection errors; we decide ourselves instead. Mode `on` insists on a cluster, `off` never
 * looks, `auto` runs standalone when nothing is found.
 */
export function findCluster(
  config: Pick<Config['cluster'], 'mode' | 'kubeconfig'>,
  env: NodeJS.ProcessEnv,
  paths = { serviceAccountToken: SERVICE_ACCOUNT_TOKEN, home: homedir() },
): ClusterConnection {
  if (config.mode === 'off') return { kubeConfig: undefined, reason: 'cluster.mode is off' };
  const kubeConfig = new KubeConfig();
  try {
    if (config.kubeconfig !== '') {
      if (!existsSync(config.kubeconfig))
        throw new ConfigError(`cluster.kubeconfig: ${config.kubeconfig} does not exist`);
      kubeConfig.loadFromFile(config.kubeconfig);
      return { kubeConfig, source: config.kubeconfig };
    }
    if (env.KUBERNETES_SERVICE_HOST && existsSync(paths.serviceAccountToken)) {
      // Reads KUBERNETES_SERVICE_HOST/PORT from the process environment, and re-reads the
      // projected token file as the kubelet rotates it.
      kubeConfig.loadFromCluster();
      return { kubeConfig, source: 'in-cluster service account' };
    }
    const files = (env.KUBECONFIG ?? '').split(':').filter((f) => f !== '' && existsSync(f));
    const home = join(paths.home, '.kube', 'config');
    if (files.length === 0 && existsSync(home)) files.push(home);
    if (files.length > 0) {
      // As kubectl does: the files are merged, and the first to set something wins.
      kubeConfig.loadFromFile(files[0] as string);
      for (const file of files.slice(1)) mergeFirstWins(kubeConfig, file);
      if (kubeConfig.getCurrentCluster() === null)
        throw new ConfigError(`${files.join(':')}: no current cluster`);
      return { kubeConfig, source: files.join(':') };
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot load the cluster configuration: ${(err as Error).message}`);
  }
  const reason = 'no in-cluster service account, KUBECONFIG or ~/.kube/config';
  if (config.mode === 'on') throw new ConfigError(`cluster.mode is on, but there is ${reason}`);
  return { kubeConfig: undefined, reason };
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
