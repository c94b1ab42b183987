import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { App } from '../../src/app.js';
import { podDemand } from '../../src/domain/demand.js';
import type { PodLike } from '../../src/domain/pod.js';
import { parseQuantity } from '../../src/domain/quantity.js';
import { EXTENDED_RESOURCE } from '../../src/domain/resources.js';
import { SCHEDULER_PREFIX } from '../../src/server/routes-plugin.js';
import type { KubeObject } from '../support/kustomize.js';
import {
  type Container,
  find,
  MANIFESTS,
  readRepoFile,
  readyApp,
  render,
  type Workload,
  workloads,
} from '../support/manifests.js';

const objects = render('scheduler');
const base = render('base');
const configMap = find<KubeObject & { data: Record<string, string> }>(
  objects,
  'ConfigMap',
  'ioplace-scheduler-config',
);
const deployment = find<Workload>(objects, 'Deployment', 'ioplace-scheduler');
const scheduler = deployment.spec.template.spec.containers[0] as Container;

interface Extender {
  urlPrefix: string;
  filterVerb?: string;
  prioritizeVerb?: string;
  bindVerb?: string;
  preemptVerb?: string;
  weight?: number;
  nodeCacheCapable?: boolean;
  enableHTTPS?: boolean;
  httpTimeout?: string;
  ignorable?: boolean;
  managedResources?: { name: string; ignoredByScheduler?: boolean }[];
}

interface SchedulerConfig {
  apiVersion: string;
  kind: string;
  leaderElection: {
    leaderElect: boolean;
    resourceLock: string;
    resourceName: string;
    resourceNamespace: string;
  };
  profiles: { schedulerName: string }[];
  extenders: Extender[];
}

const CONFIG_KEY = 'ioplace-scheduler-config.yaml';
const schedulerConfig = parseYaml(configMap.data[CONFIG_KEY] as string) as SchedulerConfig;
const extender = schedulerConfig.extenders[0] as Extender;

// --- kube-scheduler's Extender (kubescheduler.config.k8s.io/v1), checked by hand ------------------

type FieldType = 'string' | 'boolean' | 'integer' | 'duration' | 'tlsConfig' | 'managedResources';

/** Every field of v1.Extender (k8s.io/kube-scheduler/config/v1/types.go) and its type. */
const EXTENDER_FIELDS: Readonly<Record<string, FieldType>> = {
  urlPrefix: 'string',
  filterVerb: 'string',
  preemptVerb: 'string',
  prioritizeVerb: 'string',
  weight: 'integer',
  bindVerb: 'string',
  enableHTTPS: 'boolean',
  tlsConfig: 'tlsConfig',
  httpTimeout: 'duration',
  nodeCacheCapable: 'boolean',
  managedResources: 'managedResources',
  ignorable: 'boolean',
};
const TLS_FIELDS = [
  'insecure',
  'serverName',
  'certFile',
  'keyFile',
  'caFile',
  'certData',
  'keyData',
  'caData',
];
/** A Go time.Duration as metav1.Duration parses it. */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
/** An extended resource name: a domain prefix outside kubernetes.io, a slash, a name. */
const EXTENDED_RESOURCE_NAME =
  /^(?!kubernetes\.io\/|requests\.)([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/**
 * What kube-scheduler's strict decoding and its validation (pkg/scheduler/apis/config/validation)
 * would refuse in one extender; one message per problem.
 */
function extenderProblems(e: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [field, value] of Object.entries(e)) {
    const type = EXTENDER_FIELDS[field];
    const bad = (what: string) => problems.push(`${field}: ${what}, got ${JSON.stringify(value)}`);
    switch (type) {
      case undefined:
        problems.push(`${field}: unknown field`);
        break;
      case 'string':
        if (typeof value !== 'string') bad('must be a string');
        break;
      case 'boolean':
        if (typeof value !== 'boolean') bad('must be a boolean');
        break;
      case 'integer':
        if (!Number.isInteger(value)) bad('must be an integer');
        break;
      case 'duration':
        if (typeof value !== 'string' || !GO_DURATION.test(value)) bad('must be a duration such as 2s');
        break;
      case 'tlsConfig':
        if (typeof value !== 'object' || value === null) bad('must be a map');
        else
          for (const k of Object.keys(value))
            if (!TLS_FIELDS.includes(k)) problems.push(`tlsConfig.${k}: unknown field`);
        break;
      case 'managedResources': {
        if (!Array.isArray(value)) {
          bad('must be a list');
          break;
        }
        const names = new Set<string>();
        for (const [i, r] of (value as Record<string, unknown>[]).entries()) {
          for (const k of Object.keys(r)) {
            if (k !== 'name' && k !== 'ignoredByScheduler')
              problems.push(`managedResources[${i}].${k}: unknown field`);
          }
          if (typeof r.name !== 'string' || !EXTENDED_RESOURCE_NAME.test(r.name))
            problems.push(`managedResources[${i}].name: not an extended resource name`);
          if (r.ignoredByScheduler !== undefined && typeof r.ignoredByScheduler !== 'boolean')
            problems.push(`managedResources[${i}].ignoredByScheduler: must be a boolean`);
          if (names.has(String(r.name))) problems.push(`managedResources[${i}].name: duplicate`);
          names.add(String(r.name));
        }
        break;
      }
    }
  }
  if (typeof e.urlPrefix !== 'string') problems.push('urlPrefix: required');
  if (e.prioritizeVerb !== undefined && !(Number.isInteger(e.weight) && (e.weight as number) > 0))
    problems.push('weight: must be positive when prioritizeVerb is set');
  return problems;
}

// --- Tests ---------------------------------------------------------------------------------------

describe('the KubeSchedulerConfiguration of ioplace-scheduler', () => {
  it('is a v1 configuration with one profile, ioplace-scheduler, and one extender', () => {
    expect(Object.keys(configMap.data)).toEqual([CONFIG_KEY]);
    expect(schedulerConfig.apiVersion).toBe('kubescheduler.config.k8s.io/v1');
    expect(schedulerConfig.kind).toBe('KubeSchedulerConfiguration');
    expect(Object.keys(schedulerConfig).sort()).toEqual(
      ['apiVersion', 'extenders', 'kind', 'leaderElection', 'profiles'].sort(),
    );
    expect(schedulerConfig.profiles).toEqual([{ schedulerName: 'ioplace-scheduler' }]);
    expect(schedulerConfig.extenders).toHaveLength(1);
  });

  it('elects a leader with a lease of its own that its Role lets it hold', () => {
    const election = schedulerConfig.leaderElection;
    expect(election).toEqual({
      leaderElect: true,
      resourceLock: 'leases',
      resourceName: 'ioplace-scheduler',
      resourceNamespace: 'ioplace-system',
    });
    const role = find<KubeObject & { rules: { resourceNames?: string[] }[] }>(
      objects,
      'Role',
      'ioplace-scheduler-leader-election',
    );
    expect(role.metadata.namespace).toBe(election.resourceNamespace);
    expect(role.rules.flatMap((r) => r.resourceNames ?? [])).toContain(election.resourceName);
  });

  it('has an extender block kube-scheduler accepts', () => {
    expect(extenderProblems(extender as unknown as Record<string, unknown>)).toEqual([]);
    expect(extender).toMatchObject({
      filterVerb: 'filter',
      prioritizeVerb: 'prioritize',
      bindVerb: 'bind',
      preemptVerb: 'preempt',
      nodeCacheCapable: true,
      ignorable: false,
      enableHTTPS: false,
    });
    expect(extender.weight).toBeGreaterThan(0);
    expect(extender.httpTimeout).toMatch(GO_DURATION);
  });

  it('manages exactly the extended resources ioplace advertises, and lets the scheduler count them', () => {
    expect(extender.managedResources?.map((r) => r.name).sort()).toEqual(
      Object.values(EXTENDED_RESOURCE).sort(),
    );
    // Hidden from the scheduler, its preemption dry run finds no victim for them (issue 12).
    for (const r of extender.managedResources ?? []) expect(r.ignoredByScheduler, r.name).toBe(false);
  });

  it('points at the Service ioplace, whose session affinity keeps the scheduler on one replica', () => {
    const url = new URL(extender.urlPrefix);
    expect(url.protocol).toBe(extender.enableHTTPS ? 'https:' : 'http:');
    const [name, namespace, svc] = url.hostname.split('.');
    expect(svc).toBe('svc');
    const service = find<KubeObject & { spec: { sessionAffinity: string; ports: { port: number }[] } }>(
      base,
      'Service',
      name as string,
    );
    expect(service.metadata.namespace).toBe(namespace);
    expect(service.spec.sessionAffinity).toBe('ClientIP');
    expect(service.spec.ports.map((p) => p.port)).toContain(Number(url.port));
  });

  describe('calls routes ioplace serves', () => {
    let app: App;
    beforeAll(async () => {
      app = await readyApp();
    });
    afterAll(async () => {
      await app.server.close();
    });

    it('under SCHEDULER_PREFIX', () => {
      expect(new URL(extender.urlPrefix).pathname).toBe(SCHEDULER_PREFIX);
    });

    for (const field of ['filterVerb', 'prioritizeVerb', 'bindVerb', 'preemptVerb'] as const) {
      it(`${field}`, () => {
        const url = `${new URL(extender.urlPrefix).pathname}/${extender[field]}`;
        expect(app.server.hasRoute({ method: 'POST', url }), url).toBe(true);
      });
    }

    it('(and the check can fail)', () => {
      expect(app.server.hasRoute({ method: 'POST', url: `${SCHEDULER_PREFIX}/no-such-verb` })).toBe(false);
    });
  });

  it('is checked by a check that catches mistakes', () => {
    expect(
      extenderProblems({
        urlPrefix: 'http://x/scheduler',
        prioritizeVerb: 'prioritize',
        weight: 0,
        nodeCachecapable: true,
        httpTimeout: '2 seconds',
        ignorable: 'false',
        managedResources: [{ name: 'iops', ignoredByScheduler: true }],
      }),
    ).toEqual([
      'nodeCachecapable: unknown field',
      'httpTimeout: must be a duration such as 2s, got "2 seconds"',
      'ignorable: must be a boolean, got "false"',
      'managedResources[0].name: not an extended resource name',
      'weight: must be positive when prioritizeVerb is set',
    ]);
  });
});

describe('the snippet for an existing kube-scheduler', () => {
  const path = 'manifests/scheduler-snippet/extender.yaml';

  it('is the extender block of ioplace-scheduler, field for field', () => {
    const snippet = parseYaml(readRepoFile(path)) as { extenders: Extender[] };
    expect(Object.keys(snippet)).toEqual(['extenders']);
    expect(snippet.extenders).toEqual(schedulerConfig.extenders);
  });

  it('belongs to no kustomization (it is merged by hand into a scheduler configuration)', () => {
    expect(existsSync(join(MANIFESTS, 'scheduler-snippet/kustomization.yaml'))).toBe(false);
  });
});

describe('the ioplace-scheduler Deployment', () => {
  const pod = deployment.spec.template.spec;

  it('runs kube-scheduler on the configuration mounted from the ConfigMap', () => {
    expect(scheduler.image).toMatch(/^registry\.k8s\.io\/kube-scheduler:v\d+\.\d+\.\d+$/);
    const flag = scheduler.command?.find((a) => a.startsWith('--config='));
    const file = flag?.slice('--config='.length) as string;
    expect(posix.basename(file)).toBe(CONFIG_KEY);
    const mount = scheduler.volumeMounts?.find((m) => m.mountPath === posix.dirname(file));
    const volume = pod.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.configMap?.name).toBe(configMap.metadata.name);
    expect(configMap.metadata.namespace).toBe(deployment.metadata.namespace);
  });

  it('takes its version from one knob, images: in the kustomization, not from deployment.yaml', () => {
    const kustomization = parseYaml(readRepoFile('manifests/scheduler/kustomization.yaml')) as {
      images?: { name: string; newTag?: string }[];
    };
    const knob = kustomization.images?.find((i) => i.name === 'registry.k8s.io/kube-scheduler');
    expect(scheduler.image).toBe(`registry.k8s.io/kube-scheduler:${knob?.newTag}`);
    expect(readRepoFile('manifests/scheduler/deployment.yaml')).not.toMatch(/kube-scheduler:v\d/);
  });

  it('is never newer than the oldest API server the README supports (the version skew policy)', () => {
    // A kube-scheduler may be one minor version older than the API server, never newer.
    const [, major, minor] = /for Kubernetes (\d+)\.(\d+) or newer/.exec(readRepoFile('README.md')) ?? [];
    expect(minor, 'the README names the oldest supported Kubernetes').toBeDefined();
    const [, tagMajor, tagMinor] = /:v(\d+)\.(\d+)\./.exec(scheduler.image) ?? [];
    expect([Number(tagMajor), Number(tagMinor)]).toEqual([Number(major), Number(minor)]);
  });

  it('probes its secure port', () => {
    for (const probe of [scheduler.livenessProbe, scheduler.readinessProbe]) {
      expect(probe?.httpGet).toMatchObject({ port: 'https', scheme: 'HTTPS' });
    }
    expect(scheduler.ports).toEqual([{ name: 'https', containerPort: 10259, protocol: 'TCP' }]);
  });

  it('acts as kube-scheduler and volume scheduler, and reads the client CA in kube-system', () => {
    const account = pod.serviceAccountName as string;
    const bound = objects
      .filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
      .filter((o) => (o.subjects as { name: string }[]).some((s) => s.name === account))
      .map((o) => `${o.metadata.namespace ?? '*'}:${(o.roleRef as { name: string }).name}`)
      .sort();
    expect(bound).toEqual([
      '*:system:kube-scheduler',
      '*:system:volume-scheduler',
      'ioplace-system:ioplace-scheduler-leader-election',
      'kube-system:extension-apiserver-authentication-reader',
    ]);
  });
});

describe('the examples', () => {
  const examples = workloads(render('examples'));
  const managed = new Set(extender.managedResources?.map((r) => r.name));

  it('are two Deployments: extended resources, and the CNI annotations', () => {
    expect(examples.map((w) => w.metadata.name).sort()).toEqual(['cni-shaped-workload', 'io-workload']);
  });

  for (const w of examples) {
    const template = w.spec.template;
    it(`${w.metadata.name} is scheduled by ioplace-scheduler, which calls ioplace for it`, () => {
      expect(template.spec.schedulerName).toBe(schedulerConfig.profiles[0]?.schedulerName);
      const asked = template.spec.containers.flatMap((c) => Object.keys(c.resources?.requests ?? {}));
      expect(asked.some((name) => managed.has(name))).toBe(true);
    });

    it(`${w.metadata.name} asks for whole amounts with requests equal to limits, as the API server requires`, () => {
      for (const c of template.spec.containers) {
        const requests = c.resources?.requests ?? {};
        const limits = c.resources?.limits ?? {};
        for (const name of Object.values(EXTENDED_RESOURCE)) {
          expect(requests[name], name).toBe(limits[name]);
          if (requests[name] === undefined) continue;
          const parsed = parseQuantity(requests[name] as string);
          expect(parsed.ok && Number.isInteger(parsed.value), name).toBe(true);
        }
      }
    });
  }

  it('give ioplace the demand they mean', () => {
    const demand = (name: string) => {
      const t = find<Workload>(examples, 'Deployment', name).spec.template;
      return podDemand({
        metadata: { name, namespace: 'ioplace-demo', ...t.metadata },
        spec: t.spec,
      } as PodLike);
    };
    expect(demand('io-workload')).toEqual({
      ok: true,
      none: false,
      demand: { ingressBandwidth: 500e6, egressBandwidth: 200e6, iops: 2000 },
    });
    expect(demand('cni-shaped-workload')).toEqual({
      ok: true,
      none: false,
      demand: { ingressBandwidth: 100e6, egressBandwidth: 50e6, iops: 500 },
    });
  });
});

describe('the example quota', () => {
  const objects = render('examples');
  const quota = find<KubeObject & { spec: { hard: Record<string, string> } }>(
    objects,
    'ResourceQuota',
    'io-budget',
  );

  it('caps requests of ioplace resources per namespace, with the requests. prefix extended resources need', () => {
    const names = Object.keys(quota.spec.hard);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      expect(name.startsWith('requests.'), name).toBe(true);
      expect(Object.values(EXTENDED_RESOURCE)).toContain(name.slice('requests.'.length));
      expect(parseQuantity(quota.spec.hard[name] as string).ok, name).toBe(true);
    }
    expect(names).toEqual(
      expect.arrayContaining(['requests.ioplace.io/iops', 'requests.ioplace.io/egress-bandwidth']),
    );
  });

  it('leaves room for the example workloads in their namespace', () => {
    const total: Record<string, number> = {};
    for (const w of workloads(objects)) {
      const replicas = (w.spec as { replicas?: number }).replicas ?? 1;
      for (const c of w.spec.template.spec.containers) {
        for (const [name, value] of Object.entries(c.resources?.requests ?? {})) {
          const parsed = parseQuantity(value as string);
          if (parsed.ok)
            total[`requests.${name}`] = (total[`requests.${name}`] ?? 0) + parsed.value * replicas;
        }
      }
    }
    for (const [name, hard] of Object.entries(quota.spec.hard)) {
      const limit = parseQuantity(hard);
      expect(limit.ok && limit.value >= (total[name] ?? 0), name).toBe(true);
    }
  });
});
