import { existsSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentOptions } from '../../src/agent/agent-options.js';
import { nodePodsSelector } from '../../src/agent/enforce/pod-watch.js';
import type { App } from '../../src/app.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { KubeObject } from '../support/kustomize.js';
import {
  type Container,
  envOf,
  find,
  kustomizationDirs,
  type PodSpec,
  REPO,
  readRepoFile,
  readyApp,
  render,
  selects,
  type Workload,
  workloads,
} from '../support/manifests.js';

const NAMESPACE = 'ioplace-system';
const objects = render('base');
const deployment = find<Workload>(objects, 'Deployment', 'ioplace');
const server = deployment.spec.template.spec.containers[0] as Container;
const agentSet = find<Workload>(objects, 'DaemonSet', 'ioplace-agent');
const agent = agentSet.spec.template.spec.containers[0] as Container;
const configText = readRepoFile('config/ioplace.yaml');
const config: Config = loadConfigFile(join(REPO, 'config/ioplace.yaml'));

interface Service extends KubeObject {
  spec: {
    type?: string;
    clusterIP?: string;
    selector: Record<string, string>;
    sessionAffinity?: string;
    publishNotReadyAddresses?: boolean;
    ports: { name: string; port: number; targetPort: string | number }[];
  };
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

/** The rules of a role as `group/resource:verb` strings (`[name]` when limited to names). */
function grants(role: KubeObject): string[] {
  return ((role.rules as Rule[] | undefined) ?? [])
    .flatMap((r) =>
      (r.apiGroups ?? []).flatMap((g) =>
        (r.resources ?? []).flatMap((res) =>
          r.verbs.map((v) => `${g}/${res}:${v}${r.resourceNames ? `[${r.resourceNames.join(',')}]` : ''}`),
        ),
      ),
    )
    .sort();
}

/** The container port a probe or Service names (by name or number). */
function containerPort(c: Container, port: number | string): number | undefined {
  return c.ports?.find((p) => p.name === port || p.containerPort === port)?.containerPort;
}

function mountOf(c: Container, pod: PodSpec, path: string) {
  const mount = c.volumeMounts?.find((m) => m.mountPath === path);
  const volume = pod.volumes?.find((v) => v.name === mount?.name);
  return { mount, volume };
}

describe('manifests/base: the configuration', () => {
  it('ships config/ioplace.yaml byte for byte (kustomize cannot read the file itself)', () => {
    expect(readRepoFile('manifests/base/ioplace.yaml')).toBe(configText);
    const configMap = find<KubeObject & { data: Record<string, string> }>(
      objects,
      'ConfigMap',
      'ioplace-config',
    );
    expect(configMap.data).toEqual({ 'ioplace.yaml': configText });
  });

  it('is what IOPLACE_CONFIG names: the ConfigMap mounted as a directory, so updates are seen', () => {
    const path = envOf(server).get('IOPLACE_CONFIG')?.value as string;
    const { mount, volume } = mountOf(server, deployment.spec.template.spec, dirname(path));
    expect(volume?.configMap?.name).toBe('ioplace-config');
    expect(basename(path)).toBe('ioplace.yaml');
    expect(mount?.readOnly).toBe(true);
    expect(mount).not.toHaveProperty('subPath');
  });

  it('puts every namespaced object in ioplace-system, and creates that namespace', () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
    for (const o of objects) {
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(
        clusterScoped.has(o.kind) ? undefined : NAMESPACE,
      );
    }
    find(objects, 'Namespace', NAMESPACE);
  });
});

describe('manifests/base: the ioplace Deployment', () => {
  const pod = deployment.spec.template.spec;
  const podLabels = deployment.spec.template.metadata.labels;
  let app: App;
  beforeAll(async () => {
    app = await readyApp();
  });
  afterAll(async () => {
    await app.server.close();
  });

  it('runs 2 replicas, spread over nodes and zones, and replaces them one at a time', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(selects(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(deployment.spec).toMatchObject({
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
    });
    const spread = pod.topologySpreadConstraints ?? [];
    expect(spread.map((s) => s.topologyKey)).toEqual([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
    for (const s of spread) expect(selects(s.labelSelector?.matchLabels ?? {}, podLabels)).toBe(true);
    expect(spread[0]).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' });
    const anti = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    expect(anti.map((a) => a.podAffinityTerm.topologyKey)).toEqual(['kubernetes.io/hostname']);
    expect(selects(anti[0]?.podAffinityTerm.labelSelector?.matchLabels ?? {}, podLabels)).toBe(true);
  });

  it('has a PodDisruptionBudget that keeps one of its pods', () => {
    const pdb = find<
      KubeObject & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }
    >(objects, 'PodDisruptionBudget', 'ioplace');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas as number);
    expect(selects(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
  });

  it('listens where config/ioplace.yaml says, and probes /healthz and /readyz, routes ioplace serves', () => {
    expect(containerPort(server, 'http')).toBe(config.server.port);
    expect(server.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(server.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    for (const probe of [server.livenessProbe, server.readinessProbe]) {
      const get = probe?.httpGet as { path: string; port: string };
      expect(containerPort(server, get.port)).toBe(config.server.port);
      expect(app.server.hasRoute({ method: 'GET', url: get.path }), get.path).toBe(true);
    }
  });

  it('runs as the service account ioplace, which exists', () => {
    expect(pod.serviceAccountName).toBe('ioplace');
    find(objects, 'ServiceAccount', 'ioplace');
  });
});

describe('manifests/base: the Services', () => {
  const podLabels = deployment.spec.template.metadata.labels;

  it('ioplace, for the scheduler, keeps each client on one replica (bind reservations live there)', () => {
    const service = find<Service>(objects, 'Service', 'ioplace');
    expect(service.spec.sessionAffinity).toBe('ClientIP');
    expect(service.spec.clusterIP).toBeUndefined();
    expect(selects(service.spec.selector, podLabels)).toBe(true);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    expect(containerPort(server, 'http')).toBe(8080);
  });

  it('ioplace-agents is headless, so that DNS answers every replica, ready or not yet', () => {
    const service = find<Service>(objects, 'Service', 'ioplace-agents');
    expect(service.spec.clusterIP).toBe('None');
    expect(service.spec.publishNotReadyAddresses).toBe(true);
    expect(selects(service.spec.selector, podLabels)).toBe(true);
    expect(service.spec.ports.map((p) => [p.port, containerPort(server, p.targetPort)])).toEqual([
      [8080, 8080],
    ]);
  });
});

describe('manifests/base: the agent DaemonSet', () => {
  const pod = agentSet.spec.template.spec;
  const env = envOf(agent);
  const agentOptionsText = readRepoFile('src/agent/agent-options.ts');

  it('runs the agent entry point of the same image as the server', () => {
    expect(agent.image).toBe(server.image);
    expect(agent.command).toEqual(['node', '/app/dist/agent/main.js']);
    // dist/ is the build of src/ (tsconfig.build.json) and the image's WORKDIR is /app.
    expect(existsSync(join(REPO, 'src/agent/main.ts'))).toBe(true);
    expect(readRepoFile('Dockerfile')).toMatch(/^WORKDIR \/app$/m);
  });

  it('sets only environment variables the agent reads', () => {
    const names = [...env.keys()];
    expect(names.filter((n) => n.startsWith('IOPLACE_')).length).toBeGreaterThanOrEqual(5);
    for (const name of names) expect(agentOptionsText, name).toContain(`env.${name}`);
  });

  it('names its node from the downward API', () => {
    expect(env.get('NODE_NAME')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'spec.nodeName' } });
  });

  it('is a configuration the agent accepts', () => {
    const values: NodeJS.ProcessEnv = { NODE_NAME: 'node-a' };
    for (const [name, e] of env) if (e.value !== undefined) values[name] = e.value;
    const options = parseAgentOptions([], values);
    if (options === 'help') throw new Error('help');
    expect(options.servers.map((u) => u.href)).toEqual(['http://ioplace-agents.ioplace-system.svc:8080/']);
    expect(options).toMatchObject({
      nodeName: 'node-a',
      procRoot: '/host/proc',
      sysRoot: '/host/sys',
      enforce: 'all',
      cgroupRoot: '/host/cgroup',
      iopsSplit: 'even',
      metricsPort: 9102,
    });
    // About three intervals fit in the server's staleness window.
    expect(options.intervalMs * 3).toBeLessThanOrEqual(config.inventory.staleAfterSeconds * 1000);
  });

  it('enforces the pods’ limits, with the cgroup mount read-write where IOPLACE_CGROUP_ROOT says', () => {
    expect(env.get('IOPLACE_ENFORCE')?.value).toBe('all');
    const { mount, volume } = mountOf(agent, pod, env.get('IOPLACE_CGROUP_ROOT')?.value as string);
    expect(volume?.hostPath).toEqual({ path: '/sys/fs/cgroup', type: 'Directory' });
    expect(mount?.readOnly).toBeUndefined();
    // cgroup.procs numbers PIDs in the reader's PID namespace: the host's, to index /host/proc.
    expect(pod.hostPID).toBe(true);
    // Every host path is one of these three, and only the cgroups are writable.
    const hostPaths = (pod.volumes ?? []).filter((v) => v.hostPath).map((v) => v.hostPath?.path);
    expect(hostPaths.sort()).toEqual(['/proc', '/sys', '/sys/fs/cgroup']);
    const writable = (agent.volumeMounts ?? []).filter((m) => !m.readOnly).map((m) => m.mountPath);
    expect(writable).toEqual(['/host/cgroup']);
  });

  it('runs as root with every capability dropped but the three enforcement needs', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: false, runAsUser: 0 });
    expect(agent.securityContext?.capabilities).toEqual({
      drop: ['ALL'],
      add: ['NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE'],
    });
    expect(agent.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    });
    expect(agent.securityContext?.privileged).toBeUndefined();
    // Each added capability is explained where it is added.
    const text = readRepoFile('manifests/base/agent/daemonset.yaml');
    for (const capability of ['NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE'])
      expect(text, capability).toMatch(new RegExp(`# .*\\n(\\s+# .*\\n)*\\s+- ${capability}\\n`));
  });

  it('serves its metrics on the port IOPLACE_METRICS_PORT names, on the node’s address', () => {
    const port = Number(env.get('IOPLACE_METRICS_PORT')?.value);
    expect(containerPort(agent, 'metrics')).toBe(port);
    expect(pod.hostNetwork).toBe(true);
  });

  it('reports to the headless Service of this namespace, on the port the replicas listen on', () => {
    const url = new URL(env.get('IOPLACE_SERVER')?.value as string);
    const [name, namespace, svc] = url.hostname.split('.');
    expect([namespace, svc]).toEqual([NAMESPACE, 'svc']);
    const service = find<Service>(objects, 'Service', name as string);
    expect(service.spec.clusterIP).toBe('None');
    expect(service.spec.ports.map((p) => p.port)).toContain(Number(url.port));
  });

  it('reads the host /proc and /sys read-only where IOPLACE_PROC_ROOT and IOPLACE_SYS_ROOT say', () => {
    for (const [variable, hostPath] of [
      ['IOPLACE_PROC_ROOT', '/proc'],
      ['IOPLACE_SYS_ROOT', '/sys'],
    ] as const) {
      const { mount, volume } = mountOf(agent, pod, env.get(variable)?.value as string);
      expect(volume?.hostPath?.path, variable).toBe(hostPath);
      expect(mount?.readOnly, variable).toBe(true);
    }
    // /proc/net/dev is per network namespace: the node's NICs only show in the host's.
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
  });

  it('sends a projected token for the audience ioplace checks, from the file IOPLACE_TOKEN_FILE names', () => {
    const file = env.get('IOPLACE_TOKEN_FILE')?.value as string;
    const { mount, volume } = mountOf(agent, pod, posix.dirname(file));
    expect(mount?.readOnly).toBe(true);
    expect(volume?.projected?.sources).toEqual([
      {
        serviceAccountToken: {
          audience: config.auth.audience,
          expirationSeconds: 3600,
          path: basename(file),
        },
      },
    ]);
    expect(config.auth.audience).toBe('ioplace');
  });

  it('runs as the service account that config/ioplace.yaml trusts', () => {
    expect(config.auth.agentServiceAccounts).toContain(`${NAMESPACE}:${pod.serviceAccountName}`);
    find(objects, 'ServiceAccount', pod.serviceAccountName as string);
  });

  it('runs on every node, tainted or not', () => {
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
  });
});

describe('the workloads of manifests/base and manifests/scheduler', () => {
  const all = [...render('base'), ...render('scheduler')];

  for (const w of workloads(all)) {
    const pod = w.spec.template.spec;
    // The agent runs as root with three capabilities to enforce limits (checked above).
    const enforcer = w.kind === 'DaemonSet' && w.metadata.name === 'ioplace-agent';
    for (const c of pod.containers) {
      it(`${w.kind}/${w.metadata.name} ${c.name} is locked down and sized`, () => {
        const sc = c.securityContext ?? {};
        if (!enforcer) {
          expect(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot).toBe(true);
          expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
          expect(sc.capabilities).toEqual({ drop: ['ALL'] });
        } else {
          expect(sc.capabilities?.drop).toEqual(['ALL']);
        }
        expect(sc.readOnlyRootFilesystem).toBe(true);
        expect(sc.allowPrivilegeEscalation).toBe(false);
        expect(sc.privileged).toBeUndefined();
        expect((sc.seccompProfile ?? pod.securityContext?.seccompProfile)?.type).toBe('RuntimeDefault');
        for (const kind of ['requests', 'limits'] as const) {
          expect(Object.keys(c.resources?.[kind] ?? {}).sort(), kind).toEqual(['cpu', 'memory']);
        }
      });
    }
  }
});

describe('priority: ioplace and ioplace-scheduler', () => {
  const CLASS = 'system-cluster-critical';
  const critical = ['ioplace', 'ioplace-scheduler'].map((name) =>
    find<Workload>([...render('overlays/production'), ...render('scheduler')], 'Deployment', name),
  );

  it(`run at ${CLASS}: pods that need IOPS cannot be placed without them`, () => {
    for (const d of critical) expect(d.spec.template.spec.priorityClassName, d.metadata.name).toBe(CLASS);
  });

  it('are admitted in their namespace by a ResourceQuota for that class, with room for their rollouts', () => {
    const quotas = render('base').filter((o) => o.kind === 'ResourceQuota') as unknown as {
      metadata: { namespace?: string };
      spec: {
        hard: { pods: string };
        scopeSelector: { matchExpressions: { scopeName: string; operator: string; values: string[] }[] };
      };
    }[];
    const quota = quotas.find((q) =>
      q.spec.scopeSelector.matchExpressions.some(
        (e) => e.scopeName === 'PriorityClass' && e.operator === 'In' && e.values.includes(CLASS),
      ),
    );
    expect(quota?.metadata.namespace).toBe(NAMESPACE);
    // Every replica, plus the surge of a rolling update (25% rounded up when not given).
    const needed = critical.reduce((sum, d) => {
      expect(d.metadata.namespace).toBe(NAMESPACE);
      const replicas = d.spec.replicas ?? 1;
      const surge = (d.spec as { strategy?: { rollingUpdate?: { maxSurge?: number } } }).strategy
        ?.rollingUpdate?.maxSurge;
      return sum + replicas + (surge ?? Math.ceil(replicas / 4));
    }, 0);
    expect(Number(quota?.spec.hard.pods)).toBeGreaterThanOrEqual(needed);
  });
});

describe('RBAC', () => {
  it('grants ioplace exactly what it uses', () => {
    expect(grants(find(objects, 'ClusterRole', 'ioplace'))).toEqual(
      [
        '/pods:get',
        '/pods:list',
        '/pods:watch',
        '/pods/binding:create',
        '/nodes:get',
        '/nodes:list',
        '/nodes:watch',
        '/nodes:patch',
        '/nodes/status:patch',
        'authentication.k8s.io/tokenreviews:create',
      ].sort(),
    );
  });

  it('lets the agent get its node and read pods (its own node’s, by field selector), nothing more', () => {
    expect(grants(find(objects, 'ClusterRole', 'ioplace-agent'))).toEqual([
      '/nodes:get',
      '/pods:list',
      '/pods:watch',
    ]);
    // The selector the agent asks with, since RBAC cannot require it.
    expect(nodePodsSelector('node-a')).toBe('spec.nodeName=node-a');
  });

  it('lets ioplace-scheduler hold only its own leader election lease, beyond the system roles', () => {
    expect(grants(find(render('scheduler'), 'Role', 'ioplace-scheduler-leader-election'))).toEqual([
      'coordination.k8s.io/leases:create',
      'coordination.k8s.io/leases:get[ioplace-scheduler]',
      'coordination.k8s.io/leases:update[ioplace-scheduler]',
    ]);
  });

  for (const dir of kustomizationDirs()) {
    const rendered = render(dir);
    it(`${dir}: no wildcard, no non-resource URL, and every binding binds what exists`, () => {
      for (const role of rendered.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')) {
        for (const r of (role.rules as Rule[] | undefined) ?? []) {
          expect([...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs]).not.toContain('*');
          expect(r.nonResourceURLs).toBeUndefined();
        }
      }
      const systemRoles = [
        'system:kube-scheduler',
        'system:volume-scheduler',
        'extension-apiserver-authentication-reader',
      ];
      for (const binding of rendered.filter(
        (o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding',
      )) {
        const { roleRef, subjects } = binding as unknown as {
          roleRef: { kind: string; name: string };
          subjects: { kind: string; name: string; namespace: string }[];
        };
        if (!systemRoles.includes(roleRef.name)) find(rendered, roleRef.kind, roleRef.name);
        for (const s of subjects) {
          expect(s.kind).toBe('ServiceAccount');
          const account = find(rendered, 'ServiceAccount', s.name);
          expect(s.namespace).toBe(account.metadata.namespace);
        }
      }
      for (const w of workloads(rendered)) {
        const account = w.spec.template.spec.serviceAccountName;
        if (dir !== 'examples') find(rendered, 'ServiceAccount', account as string);
      }
    });
  }
});
