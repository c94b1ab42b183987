import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type KubeObject, KustomizeError, kustomize, parseYamlObjects } from '../support/kustomize.js';
import { kustomizationDirs, MANIFESTS, render } from '../support/manifests.js';

/** kubectl with kustomize v5, when this machine has it: CI machines may not. */
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const KUSTOMIZE_VERSION = /Kustomize Version: (v\d+)/.exec(kubectl.stdout ?? '')?.[1];
const SKIP_REASON =
  kubectl.status !== 0
    ? 'kubectl is not on PATH: the renderer is not compared with kubectl kustomize'
    : KUSTOMIZE_VERSION !== 'v5'
      ? `kubectl embeds kustomize ${KUSTOMIZE_VERSION ?? '(unknown)'}, not v5: the renderer is not compared`
      : undefined;

describe('the kustomizations under manifests/', () => {
  it('are the expected ones', () => {
    expect(kustomizationDirs()).toEqual([
      '.',
      'base',
      'base/agent',
      'examples',
      'monitoring',
      'overlays/production',
      'overlays/production-tls',
      'overlays/production-tls/monitoring',
      'scheduler',
    ]);
  });

  it('at the root install the recommended set: base and the second scheduler, not monitoring or examples', () => {
    const id = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`;
    const parts = [...render('base'), ...render('scheduler')].map(id).sort();
    expect(render('.').map(id).sort()).toEqual(parts);
    expect(parts).toContain('Deployment/ioplace-system/ioplace-scheduler');
  });

  for (const dir of kustomizationDirs()) {
    it(`${dir} renders`, () => {
      const objects = render(dir);
      expect(objects.length).toBeGreaterThan(0);
    });

    it(`${dir} renders as \`kubectl kustomize\` does${SKIP_REASON ? ' (skipped: no kubectl with kustomize v5)' : ''}`, (ctx) => {
      if (SKIP_REASON !== undefined) {
        ctx.skip(SKIP_REASON);
        return;
      }
      const out = spawnSync('kubectl', ['kustomize', join(MANIFESTS, dir)], {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      });
      expect(out.stderr).toBe('');
      expect(out.status).toBe(0);
      expect(render(dir)).toEqual(parseYamlObjects(out.stdout, `kubectl kustomize ${dir}`));
    });
  }
});

describe('the test renderer itself', () => {
  const roots: string[] = [];
  afterAll(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  /** A throw-away tree of files: path -> text. */
  function tree(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'ioplace-kustomize-'));
    roots.push(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }

  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  template:
    spec:
      containers: [{name: web, image: "web:1"}]
`;

  it('applies patches, then the namespace, labels and images, and leaves cluster-scoped kinds alone', () => {
    const root = tree({
      'base/kustomization.yaml': 'resources: [all.yaml]\nnamespace: shop\n',
      'base/all.yaml': `${deployment}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n`,
      'prod/kustomization.yaml': [
        'resources: [../base]',
        'patches: [{path: patch.yaml}]',
        'labels: [{pairs: {tier: prod}}]',
        'images: [{name: web, newName: reg/web, newTag: "2"}]',
        '',
      ].join('\n'),
      'prod/patch.yaml':
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {replicas: 3}\n',
    });
    const objects = kustomize(join(root, 'prod'));
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`)).toEqual([
      'ClusterRole/-/r',
      'Deployment/shop/web',
    ]);
    expect(objects[1]).toMatchObject({
      metadata: { labels: { tier: 'prod' } },
      spec: { replicas: 3, template: { spec: { containers: [{ name: 'web', image: 'reg/web:2' }] } } },
    });
  });

  it('applies JSON patches to a target and replaces the data of a ConfigMap, keeping its metadata', () => {
    const root = tree({
      'base/kustomization.yaml': [
        'resources: [d.yaml]',
        'configMapGenerator: [{name: c, files: [c.txt]}]',
        'generatorOptions: {disableNameSuffixHash: true}',
        'labels: [{pairs: {app: web}}]',
        '',
      ].join('\n'),
      'base/d.yaml': deployment,
      'base/c.txt': 'old\n',
      'over/kustomization.yaml': [
        'resources: [../base]',
        'configMapGenerator: [{name: c, behavior: replace, files: [c.txt]}]',
        'generatorOptions: {disableNameSuffixHash: true}',
        'patches: [{path: p.yaml, target: {kind: Deployment, name: web}}]',
        '',
      ].join('\n'),
      'over/c.txt': 'new\n',
      'over/p.yaml': [
        '- {op: test, path: /spec/template/spec/containers/0/name, value: web}',
        '- {op: add, path: /spec/template/spec/containers/0/ports, value: [{containerPort: 80}]}',
        '- {op: add, path: /spec/template/spec/containers/0/ports/-, value: {containerPort: 81}}',
        '- {op: replace, path: /spec/replicas, value: 2}',
        '- {op: remove, path: /spec/template/spec/containers/0/image}',
        '',
      ].join('\n'),
    });
    const [configMap, web] = kustomize(join(root, 'over'));
    expect(configMap).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', labels: { app: 'web' } },
      data: { 'c.txt': 'new\n' },
    });
    expect(web?.spec).toEqual({
      replicas: 2,
      template: {
        spec: { containers: [{ name: 'web', ports: [{ containerPort: 80 }, { containerPort: 81 }] }] },
      },
    });
    writeFileSync(
      join(root, 'over/p.yaml'),
      '- {op: test, path: /spec/template/spec/containers/0/name, value: db}\n',
    );
    expect(() => kustomize(join(root, 'over'))).toThrow(/test .* failed/);
  });

  it('refuses a file outside the kustomization, as kustomize does', () => {
    const root = tree({
      'config.yaml': 'a: 1\n',
      'app/kustomization.yaml': [
        'configMapGenerator: [{name: c, files: [../config.yaml]}]',
        'generatorOptions: {disableNameSuffixHash: true}',
        '',
      ].join('\n'),
    });
    expect(() => kustomize(join(root, 'app'))).toThrow(/outside the kustomization/);
  });

  it('refuses what it does not implement instead of rendering it wrong', () => {
    for (const kustomization of [
      'resources: [d.yaml]\nnamePrefix: x-\n',
      'resources: [d.yaml]\nlabels: [{pairs: {a: b}, includeSelectors: true}]\n',
      'configMapGenerator: [{name: c, literals: [a=b]}]\ngeneratorOptions: {disableNameSuffixHash: true}\n',
      'configMapGenerator: [{name: c, files: [d.yaml]}]\n',
      'resources: [d.yaml]\npatches: [{path: p.yaml}]\n',
    ]) {
      const root = tree({
        'kustomization.yaml': kustomization,
        'd.yaml': deployment,
        'p.yaml':
          'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: []}}}\n',
      });
      expect(() => kustomize(root), kustomization).toThrow(KustomizeError);
    }
  });
});
