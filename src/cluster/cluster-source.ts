import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface ClusterSourcePaths {
  readonly serviceAccountToken: string;
  readonly home: string;
}

/** Where the cluster's connection settings come from, decided before any client is loaded. */
export type ClusterSource =
  | { readonly kind: 'files'; readonly files: readonly string[] }
  | { readonly kind: 'in-cluster' }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * The configured kubeconfig file, else the in-cluster service account, else KUBECONFIG, else
 * ~/.kube/config. Only looks at files and the environment, so that a standalone ioplace never
 * loads @kubernetes/client-node (some 50 MiB of RSS) just to learn that there is no cluster.
 */
export function clusterSource(
  config: Pick<Config['cluster'], 'mode' | 'kubeconfig'>,
  env: NodeJS.ProcessEnv,
  paths: ClusterSourcePaths = { serviceAccountToken: SERVICE_ACCOUNT_TOKEN, home: homedir() },
): ClusterSource {
  if (config.mode === 'off') return { kind: 'none', reason: 'cluster.mode is off' };
  if (config.kubeconfig !== '') {
    if (!existsSync(config.kubeconfig))
      throw new ConfigError(`cluster.kubeconfig: ${config.kubeconfig} does not exist`);
    return { kind: 'files', files: [config.kubeconfig] };
  }
  if (env.KUBERNETES_SERVICE_HOST && existsSync(paths.serviceAccountToken)) return { kind: 'in-cluster' };
  const files = (env.KUBECONFIG ?? '').split(':').filter((f) => f !== '' && existsSync(f));
  const home = join(paths.home, '.kube', 'config');
  if (files.length === 0 && existsSync(home)) files.push(home);
  if (files.length > 0) return { kind: 'files', files };
  const reason = 'no in-cluster service account, KUBECONFIG or ~/.kube/config';
  if (config.mode === 'on') throw new ConfigError(`cluster.mode is on, but there is ${reason}`);
  return { kind: 'none', reason };
}
