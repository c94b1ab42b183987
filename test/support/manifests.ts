import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { type App, buildApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { type KubeObject, kustomize, parseYamlObjects } from './kustomize.js';

/** The repository's root and its manifests/ folder. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const MANIFESTS = join(REPO, 'manifests');

/**
 * Every folder of manifests/ that holds a kustomization, relative to manifests/ ("base"); "." is
 * manifests/ itself, the recommended install.
 */
export function kustomizationDirs(dir = MANIFESTS): string[] {
  const found: string[] = dir === MANIFESTS && readdirSync(dir).includes('kustomization.yaml') ? ['.'] : [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (!statSync(path).isDirectory()) continue;
    if (readdirSync(path).includes('kustomization.yaml')) found.push(relative(MANIFESTS, path));
    found.push(...kustomizationDirs(path));
  }
  return found;
}

const rendered = new Map<string, KubeObject[]>();

/** The objects a kustomization renders to (manifests/<dir>), rendered once per test file. */
export function render(dir: string): KubeObject[] {
  let objects = rendered.get(dir);
  if (objects === undefined) {
    objects = kustomize(join(MANIFESTS, dir));
    rendered.set(dir, objects);
  }
  return structuredClone(objects);
}

/** The one object of this kind and name; throws when there is none or more than one. */
export function find<T = KubeObject>(objects: readonly KubeObject[], kind: string, name: string): T {
  const matches = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (matches.length !== 1) throw new Error(`${matches.length} objects ${kind}/${name}, not one`);
  return matches[0] as T;
}

export function readRepoFile(path: string): string {
  return readFileSync(join(REPO, path), 'utf8');
}

/** A YAML file of the repository that is not part of a kustomization. */
export function readYamlObjects(path: string): KubeObject[] {
  return parseYamlObjects(readRepoFile(path), path);
}

// --- The parts of workloads the tests look at ----------------------------------------------------

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Probe {
  httpGet?: { path: string; port: number | string; scheme?: string };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type: string };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Volume {
  name: string;
  configMap?: { name: string };
  hostPath?: { path: string; type?: string };
  projected?: {
    sources: { serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string } }[];
  };
}

export interface PodSpec {
  serviceAccountName?: string;
  priorityClassName?: string;
  schedulerName?: string;
  hostNetwork?: boolean;
  hostPID?: boolean;
  dnsPolicy?: string;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    seccompProfile?: { type: string };
  };
  tolerations?: { operator?: string; key?: string }[];
  topologySpreadConstraints?: {
    topologyKey: string;
    maxSkew: number;
    whenUnsatisfiable: string;
    labelSelector?: { matchLabels?: Record<string, string> };
  }[];
  affinity?: {
    podAntiAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: {
        topologyKey: string;
        labelSelector?: { matchLabels?: Record<string, string> };
      }[];
      preferredDuringSchedulingIgnoredDuringExecution?: {
        weight: number;
        podAffinityTerm: { topologyKey: string; labelSelector?: { matchLabels?: Record<string, string> } };
      }[];
    };
  };
  containers: Container[];
  volumes?: Volume[];
}

export interface Workload extends KubeObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: PodSpec;
    };
  };
}

export const WORKLOAD_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

export function workloads(objects: readonly KubeObject[]): Workload[] {
  return objects.filter((o) => WORKLOAD_KINDS.has(o.kind)) as Workload[];
}

export function envOf(container: Container): Map<string, EnvVar> {
  return new Map((container.env ?? []).map((e) => [e.name, e]));
}

/** Whether every label of `selector` is on `labels` (a Service's or PDB's selector). */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

// --- The server the manifests point at ----------------------------------------------------------

/** A whole ioplace built in-process (standalone, silent), ready, to ask which routes it serves. */
export async function readyApp(config: Record<string, unknown> = {}): Promise<App> {
  const app = await buildApp({
    config: validateConfig({ cluster: { mode: 'off' }, ...config }),
    logger: pino({ level: 'silent' }),
    clock: () => Date.now(),
  });
  await app.server.ready();
  return app;
}
