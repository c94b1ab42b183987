import * as clientNode from '@kubernetes/client-node';
import * as certManager from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../support/kustomize.js';
import { find, kustomizationDirs, render } from '../support/manifests.js';

/**
 * Every rendered object is checked twice:
 * - against the Kubernetes OpenAPI schemas (kubernetes-models, and @kubernetes-models/
 *   prometheus-operator for the CRDs): types, required fields, enums, formats;
 * - for unknown fields, which those schemas let through (Kubernetes' OpenAPI has no
 *   additionalProperties: false) and the API server silently drops: a misspelled
 *   `readOnlyRootFilesytem` would leave the root filesystem writable. The field names come from
 *   @kubernetes/client-node's models (OpenAPI of Kubernetes 1.34) for built-in kinds, and from
 *   the lists below for the Prometheus Operator and cert-manager kinds.
 */

type Model = new (data: unknown) => { validate(): void };

const MODELS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  v1: core,
  'apps/v1': apps,
  'policy/v1': policy,
  'rbac.authorization.k8s.io/v1': rbac,
  'monitoring.coreos.com/v1': monitoring,
  'networking.k8s.io/v1': networking,
  'cert-manager.io/v1': certManager,
};

function modelOf(o: KubeObject): Model {
  const model = MODELS[o.apiVersion]?.[o.kind];
  if (typeof model !== 'function') throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  return model as Model;
}

/** Throws the schema's first complaint, prefixed with the object's identity. */
function validate(o: KubeObject): void {
  const Ctor = modelOf(o);
  try {
    new Ctor(o).validate();
  } catch (err) {
    throw new Error(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
  }
}

// --- Unknown fields ------------------------------------------------------------------------------

interface Attribute {
  readonly baseName: string;
  readonly type: string;
}

function attributesOf(type: string): readonly Attribute[] | undefined {
  const cls = (clientNode as unknown as Record<string, { getAttributeTypeMap?: () => Attribute[] }>)[type];
  return cls?.getAttributeTypeMap?.();
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Paths of the fields of `value` that its client-node type `type` does not have. */
function unknownFields(value: unknown, type: string, path: string, out: string[] = []): string[] {
  const array = /^Array<(.+)>$/.exec(type);
  if (array !== null) {
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) unknownFields(v, array[1] as string, `${path}[${i}]`, out);
    }
    return out;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map !== null) {
    if (isMap(value))
      for (const [k, v] of Object.entries(value)) unknownFields(v, map[1] as string, `${path}.${k}`, out);
    return out;
  }
  const attributes = attributesOf(type);
  // A scalar, or a value of the wrong type: the schema check reports that one.
  if (attributes === undefined || !isMap(value)) return out;
  const fields = new Map(attributes.map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const fieldType = fields.get(k);
    if (fieldType === undefined) out.push(`${path}.${k}`);
    else unknownFields(v, fieldType, `${path}.${k}`, out);
  }
  return out;
}

/** The fields of the Prometheus Operator and cert-manager kinds, as their CRDs define them. */
const CRD_FIELDS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  ServiceMonitor: {
    spec: [
      'selector',
      'endpoints',
      'namespaceSelector',
      'jobLabel',
      'targetLabels',
      'podTargetLabels',
      'sampleLimit',
      'targetLimit',
      'labelLimit',
      'labelNameLengthLimit',
      'labelValueLengthLimit',
      'keepDroppedTargets',
      'attachMetadata',
    ],
    endpoint: [
      'port',
      'targetPort',
      'path',
      'scheme',
      'params',
      'interval',
      'scrapeTimeout',
      'tlsConfig',
      'bearerTokenFile',
      'bearerTokenSecret',
      'authorization',
      'honorLabels',
      'honorTimestamps',
      'basicAuth',
      'oauth2',
      'metricRelabelings',
      'relabelings',
      'proxyUrl',
      'followRedirects',
      'enableHttp2',
      'filterRunning',
    ],
  },
  Certificate: {
    spec: [
      'subject',
      'literalSubject',
      'commonName',
      'duration',
      'renewBefore',
      'renewBeforePercentage',
      'dnsNames',
      'ipAddresses',
      'uris',
      'otherNames',
      'emailAddresses',
      'secretName',
      'secretTemplate',
      'keystores',
      'issuerRef',
      'isCA',
      'usages',
      'privateKey',
      'encodeUsagesInRequest',
      'revisionHistoryLimit',
      'additionalOutputFormats',
      'nameConstraints',
    ],
    privateKey: ['rotationPolicy', 'encoding', 'algorithm', 'size'],
    issuerRef: ['name', 'kind', 'group'],
  },
  Issuer: {
    spec: ['acme', 'ca', 'vault', 'selfSigned', 'venafi'],
    ca: ['secretName', 'crlDistributionPoints', 'ocspServers', 'issuingCertificateURL'],
    selfSigned: ['crlDistributionPoints'],
  },
  PrometheusRule: {
    spec: ['groups'],
    group: ['name', 'interval', 'rules', 'limit', 'partial_response_strategy', 'query_offset'],
    rule: ['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'],
  },
};

function unknownCrdFields(o: KubeObject): string[] {
  const out: string[] = [];
  const check = (value: unknown, allowed: readonly string[] | undefined, path: string) => {
    if (!isMap(value)) return;
    for (const k of Object.keys(value)) if (!allowed?.includes(k)) out.push(`${path}.${k}`);
  };
  const fields = CRD_FIELDS[o.kind];
  const spec = o.spec as Record<string, unknown[]>;
  check(o, ['apiVersion', 'kind', 'metadata', 'spec'], '');
  out.push(...unknownFields(o.metadata, 'V1ObjectMeta', '.metadata'));
  check(spec, fields?.spec, '.spec');
  if (o.kind === 'ServiceMonitor') {
    for (const [i, e] of (spec.endpoints ?? []).entries())
      check(e, fields?.endpoint, `.spec.endpoints[${i}]`);
  }
  if (o.kind === 'Certificate') {
    const cert = o.spec as unknown as Record<string, unknown>;
    check(cert.privateKey, fields?.privateKey, '.spec.privateKey');
    check(cert.issuerRef, fields?.issuerRef, '.spec.issuerRef');
  }
  if (o.kind === 'Issuer') {
    const issuer = o.spec as unknown as Record<string, unknown>;
    check(issuer.ca, fields?.ca, '.spec.ca');
    check(issuer.selfSigned, fields?.selfSigned, '.spec.selfSigned');
  }
  if (o.kind === 'PrometheusRule') {
    for (const [i, g] of ((spec.groups ?? []) as { rules?: unknown[] }[]).entries()) {
      check(g, fields?.group, `.spec.groups[${i}]`);
      for (const [j, r] of (g.rules ?? []).entries())
        check(r, fields?.rule, `.spec.groups[${i}].rules[${j}]`);
    }
  }
  return out;
}

function unknownFieldsOf(o: KubeObject): string[] {
  if (o.kind in CRD_FIELDS) return unknownCrdFields(o);
  const version = o.apiVersion.split('/').pop() as string;
  const type = `${version.charAt(0).toUpperCase()}${version.slice(1)}${o.kind}`;
  if (attributesOf(type) === undefined) throw new Error(`no field list for ${o.apiVersion} ${o.kind}`);
  return unknownFields(o, type, '');
}

// --- Tests ---------------------------------------------------------------------------------------

describe('every rendered object', () => {
  for (const dir of kustomizationDirs()) {
    it(`in ${dir} is valid against the Kubernetes schemas`, () => {
      for (const o of render(dir)) validate(o);
    });

    it(`in ${dir} has no field Kubernetes does not know`, () => {
      const unknown = render(dir).flatMap((o) =>
        unknownFieldsOf(o).map((path) => `${o.kind}/${o.metadata.name}${path}`),
      );
      expect(unknown).toEqual([]);
    });
  }
});

describe('the checks themselves', () => {
  it('catch a wrong type and a misspelled field', () => {
    const deployment = find(render('base'), 'Deployment', 'ioplace');
    const container = (deployment.spec as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template.spec.containers[0] as Record<string, unknown>;
    container.ports = [{ name: 'http', containerPort: '8080' }];
    container.securityContext = { readOnlyRootFilesytem: true };
    expect(() => validate(deployment)).toThrow(/containerPort must be integer/);
    expect(unknownFieldsOf(deployment)).toEqual([
      '.spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem',
    ]);
  });

  it('catch a misspelled alert field and a bad duration', () => {
    const rule = find(render('monitoring'), 'PrometheusRule', 'ioplace');
    const first = (rule.spec as { groups: { rules: Record<string, unknown>[] }[] }).groups[0]
      ?.rules[0] as Record<string, unknown>;
    first.anotations = {};
    first.for = 'five minutes';
    expect(() => validate(rule)).toThrow(/for must match pattern/);
    expect(unknownFieldsOf(rule)).toEqual(['.spec.groups[0].rules[0].anotations']);
  });

  it('catch a misspelled certificate field', () => {
    const cert = find(render('overlays/production-tls'), 'Certificate', 'ioplace-serving');
    (cert.spec as Record<string, unknown>).dnsName = ['x'];
    ((cert.spec as Record<string, Record<string, unknown>>).privateKey as Record<string, unknown>).rotation =
      'Always';
    expect(unknownFieldsOf(cert)).toEqual(['.spec.dnsName', '.spec.privateKey.rotation']);
    (cert.spec as Record<string, unknown>).isCA = 'yes';
    expect(() => validate(cert)).toThrow(/isCA/);
  });

  it('know every kind the manifests use', () => {
    const kinds = new Set(
      kustomizationDirs().flatMap((dir) => render(dir).map((o) => `${o.apiVersion} ${o.kind}`)),
    );
    expect([...kinds].sort()).toEqual([
      'apps/v1 DaemonSet',
      'apps/v1 Deployment',
      'cert-manager.io/v1 Certificate',
      'cert-manager.io/v1 Issuer',
      'monitoring.coreos.com/v1 PrometheusRule',
      'monitoring.coreos.com/v1 ServiceMonitor',
      'networking.k8s.io/v1 NetworkPolicy',
      'policy/v1 PodDisruptionBudget',
      'rbac.authorization.k8s.io/v1 ClusterRole',
      'rbac.authorization.k8s.io/v1 ClusterRoleBinding',
      'rbac.authorization.k8s.io/v1 Role',
      'rbac.authorization.k8s.io/v1 RoleBinding',
      'v1 ConfigMap',
      'v1 Namespace',
      'v1 ResourceQuota',
      'v1 Service',
      'v1 ServiceAccount',
    ]);
  });
});
