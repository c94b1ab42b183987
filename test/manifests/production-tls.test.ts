import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseAgentOptions } from '../../src/agent/agent-options.js';
import { validateConfig } from '../../src/config/load.js';
import type { KubeObject } from '../support/kustomize.js';
import {
  type Container,
  envOf,
  find,
  readRepoFile,
  render,
  selects,
  type Volume,
  type Workload,
} from '../support/manifests.js';

/**
 * overlays/production-tls: overlays/production and the scheduler with TLS on end to end. The
 * files each side reads must be the ones the other side's Secret holds, under the names each
 * certificate is checked for.
 */
const objects = render('overlays/production-tls');
const plain = [...render('overlays/production'), ...render('scheduler')];

type SecretVolume = Volume & { secret?: { secretName: string; items?: { key: string; path: string }[] } };
interface Certificate extends KubeObject {
  spec: {
    secretName: string;
    dnsNames?: string[];
    commonName?: string;
    usages?: string[];
    isCA?: boolean;
    issuerRef: { kind: string; name: string };
  };
}
interface Extender {
  urlPrefix: string;
  enableHTTPS: boolean;
  tlsConfig?: Record<string, string>;
}

const deployment = find<Workload>(objects, 'Deployment', 'ioplace');
const server = deployment.spec.template.spec.containers[0] as Container;
const scheduler = find<Workload>(objects, 'Deployment', 'ioplace-scheduler');
const agentSet = find<Workload>(objects, 'DaemonSet', 'ioplace-agent');
const agent = agentSet.spec.template.spec.containers[0] as Container;
const serving = find<Certificate>(objects, 'Certificate', 'ioplace-serving');
const client = find<Certificate>(objects, 'Certificate', 'ioplace-scheduler-client');

function configMapText(list: readonly KubeObject[], name: string, key: string): string {
  return (find(list, 'ConfigMap', name) as unknown as { data: Record<string, string> }).data[key] as string;
}
const config = validateConfig(parseYaml(configMapText(objects, 'ioplace-config', 'ioplace.yaml')));
const schedulerConfig = parseYaml(
  configMapText(objects, 'ioplace-scheduler-config', 'ioplace-scheduler-config.yaml'),
) as { extenders: Extender[] };
const extender = schedulerConfig.extenders[0] as Extender;

/** The Secret, and the key in it, that the container sees at `file` (undefined: none). */
function secretFileAt(w: Workload, c: Container, file: string): { secret: string; key: string } | undefined {
  for (const m of c.volumeMounts ?? []) {
    if (posix.dirname(file) !== m.mountPath) continue;
    const v = w.spec.template.spec.volumes?.find((x) => x.name === m.name) as SecretVolume | undefined;
    if (v?.secret === undefined) return undefined;
    const name = posix.basename(file);
    const items = v.secret.items;
    const key = items === undefined ? name : items.find((i) => i.path === name)?.key;
    return key === undefined ? undefined : { secret: v.secret.secretName, key };
  }
  return undefined;
}

describe('manifests/overlays/production-tls', () => {
  it('is overlays/production and the scheduler, plus certificates and a NetworkPolicy', () => {
    const id = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`;
    const added = objects.map(id).filter((x) => !plain.map(id).includes(x));
    expect(added.sort()).toEqual([
      'Certificate/ioplace-system/ioplace-ca',
      'Certificate/ioplace-system/ioplace-scheduler-client',
      'Certificate/ioplace-system/ioplace-serving',
      'Issuer/ioplace-system/ioplace-ca',
      'Issuer/ioplace-system/ioplace-selfsigned',
      'NetworkPolicy/ioplace-system/ioplace',
    ]);
    expect(plain.map(id).filter((x) => !objects.map(id).includes(x))).toEqual([]);
    expect(deployment.spec.replicas).toBe(3);
  });

  it('runs config/ioplace.yaml with the tls block set, and nothing else changed', () => {
    const base = parseYaml(readRepoFile('config/ioplace.yaml')) as Record<string, unknown>;
    const tls = parseYaml(configMapText(objects, 'ioplace-config', 'ioplace.yaml')) as Record<
      string,
      unknown
    >;
    expect({ ...tls, tls: base.tls }).toEqual(base);
    expect(config.tls.certFile).not.toBe('');
    expect(config.tls.clientCAFile).not.toBe('');
  });

  it("serves the serving certificate's Secret, and checks client certificates against its CA", () => {
    const at = (file: string) => secretFileAt(deployment, server, file);
    expect(at(config.tls.certFile)).toEqual({ secret: serving.spec.secretName, key: 'tls.crt' });
    expect(at(config.tls.keyFile)).toEqual({ secret: serving.spec.secretName, key: 'tls.key' });
    expect(at(config.tls.clientCAFile)).toEqual({ secret: serving.spec.secretName, key: 'ca.crt' });
    // ca.crt of the serving Secret is the CA that signs the client certificate: one issuer.
    expect(client.spec.issuerRef).toEqual(serving.spec.issuerRef);
    const ca = find<Certificate>(objects, 'Certificate', 'ioplace-ca');
    expect(ca.spec.isCA).toBe(true);
    const issuer = find(objects, serving.spec.issuerRef.kind, serving.spec.issuerRef.name);
    expect((issuer.spec as { ca: { secretName: string } }).ca.secretName).toBe(ca.spec.secretName);
    expect(serving.spec.usages).toContain('server auth');
    expect(client.spec.usages).toContain('client auth');
  });

  it('probes, and lets Prometheus scrape, the plain-HTTP ops port', () => {
    const ops = server.ports?.find((p) => p.name === 'ops');
    expect(ops?.containerPort).toBe(config.ops.port);
    expect(ops?.containerPort).not.toBe(config.server.port);
    for (const probe of [server.readinessProbe, server.livenessProbe]) {
      expect(probe?.httpGet?.port).toBe('ops');
      expect(probe?.httpGet?.scheme ?? 'HTTP').toBe('HTTP');
    }
    const service = find(objects, 'Service', 'ioplace') as unknown as {
      spec: { ports: { name: string; port: number; targetPort: string }[] };
    };
    const monitor = find(
      render('overlays/production-tls/monitoring'),
      'ServiceMonitor',
      'ioplace',
    ) as unknown as {
      spec: { endpoints: { port: string; scheme: string }[] };
    };
    for (const endpoint of monitor.spec.endpoints) {
      expect(endpoint.scheme).toBe('http');
      expect(service.spec.ports.find((p) => p.name === endpoint.port)?.targetPort).toBe('ops');
    }
  });

  it('has ioplace-scheduler call https with its client certificate, everything else as in manifests/scheduler', () => {
    const original = parseYaml(readRepoFile('manifests/scheduler/ioplace-scheduler-config.yaml')) as {
      extenders: Extender[];
    };
    const { tlsConfig, ...rest } = extender;
    const originalExtender = original.extenders[0] as Extender;
    expect({ ...schedulerConfig, extenders: [rest] }).toEqual({
      ...original,
      extenders: [
        {
          ...originalExtender,
          urlPrefix: originalExtender.urlPrefix.replace(/^http:/, 'https:'),
          enableHTTPS: true,
        },
      ],
    });
    const container = scheduler.spec.template.spec.containers[0] as Container;
    const at = (file: string | undefined) => secretFileAt(scheduler, container, file as string);
    expect(at(tlsConfig?.certFile)).toEqual({ secret: client.spec.secretName, key: 'tls.crt' });
    expect(at(tlsConfig?.keyFile)).toEqual({ secret: client.spec.secretName, key: 'tls.key' });
    expect(at(tlsConfig?.caFile)).toEqual({ secret: client.spec.secretName, key: 'ca.crt' });
    expect(Object.keys(tlsConfig ?? {}).sort()).toEqual(['caFile', 'certFile', 'keyFile']);
    // ioplace's certificate names the host the scheduler connects to.
    expect(serving.spec.dnsNames).toContain(new URL(extender.urlPrefix).hostname);
  });

  it('has the agents report over https, checking the certificate with the CA alone (not the key)', () => {
    const values: NodeJS.ProcessEnv = { NODE_NAME: 'node-a' };
    for (const [name, e] of envOf(agent)) if (e.value !== undefined) values[name] = e.value;
    const options = parseAgentOptions([], values);
    if (options === 'help') throw new Error('help');
    expect(options.servers.map((u) => u.protocol)).toEqual(['https:']);
    for (const url of options.servers) expect(serving.spec.dnsNames).toContain(url.hostname);
    expect(secretFileAt(agentSet, agent, options.caFile as string)).toEqual({
      secret: serving.spec.secretName,
      key: 'ca.crt',
    });
    const mounted = (agentSet.spec.template.spec.volumes ?? []) as SecretVolume[];
    const ofServing = mounted.filter((v) => v.secret?.secretName === serving.spec.secretName);
    expect(ofServing.flatMap((v) => v.secret?.items?.map((i) => i.key) ?? ['(every key)'])).toEqual([
      'ca.crt',
    ]);
  });

  it('lets only the scheduler pods, the nodes and Prometheus connect, each to its port', () => {
    const policy = find(objects, 'NetworkPolicy', 'ioplace') as unknown as {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: {
          from: {
            podSelector?: { matchLabels: Record<string, string> };
            namespaceSelector?: unknown;
            ipBlock?: { cidr: string };
          }[];
          ports: { port: string }[];
        }[];
      };
    };
    expect(selects(policy.spec.podSelector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const portNames = new Set(server.ports?.map((p) => p.name));
    for (const rule of policy.spec.ingress) {
      expect(rule.from.length).toBeGreaterThan(0); // no rule open to everyone
      for (const p of rule.ports) expect(portNames.has(p.port), p.port).toBe(true);
    }
    const schedulerLabels = scheduler.spec.template.metadata.labels;
    const forScheduler = policy.spec.ingress.filter((r) =>
      r.from.some((f) => f.podSelector !== undefined && selects(f.podSelector.matchLabels, schedulerLabels)),
    );
    expect(forScheduler.flatMap((r) => r.ports.map((p) => p.port))).toEqual(['http']);
    // The ops port (metrics) is opened to namespaces only, and nobody else gets it.
    const toOps = policy.spec.ingress.filter((r) => r.ports.some((p) => p.port === 'ops'));
    expect(toOps.flatMap((r) => r.from.map((f) => Object.keys(f)[0]))).toEqual(['namespaceSelector']);
    // The agents (hostNetwork) come from the nodes' addresses: an ipBlock rule for the http port.
    const fromNodes = policy.spec.ingress.filter((r) => r.from.some((f) => f.ipBlock !== undefined));
    expect(fromNodes.flatMap((r) => r.ports.map((p) => p.port))).toEqual(['http']);
    expect(agentSet.spec.template.spec.hostNetwork).toBe(true);
  });
});
