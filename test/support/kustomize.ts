import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * A small kustomize, enough for manifests/ and no more: CI machines need not have kubectl. It
 * supports exactly what the manifests use and throws on anything else, so that a manifest using a
 * feature it does not know fails loudly instead of rendering wrong. When kubectl is on PATH, a
 * test checks that its output equals `kubectl kustomize` (kustomize v5).
 *
 * Supported kustomization fields:
 * - `resources`: YAML files (several documents each) and directories holding a kustomization,
 *   rendered first with their own transformers;
 * - `configMapGenerator`: `name`, `namespace`, `files` (keyed by file name), `behavior: replace`
 *   (the data of a ConfigMap of the resources, its metadata kept), with
 *   `generatorOptions.disableNameSuffixHash: true` (the content-hash suffix is not implemented);
 * - `patches`: `path` to a strategic-merge patch that only sets map fields and scalars, matched by
 *   apiVersion, kind, name and namespace; or `path` and `target` (kind, name, namespace) to a JSON
 *   patch (RFC 6902: add, replace, remove, test);
 * - `namespace`: set on every namespaced object;
 * - `labels`: `pairs` added to every object's metadata.labels (not to selectors or templates);
 * - `images`: `name`, `newName`, `newTag` for the containers of pod templates.
 * Transformers run in kustomize's order: patches, namespace, labels, images. The output is in
 * kustomize's default ("legacy") order.
 */

export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> } & Record<string, unknown>;
};

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

const KNOWN_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'configMapGenerator',
  'generatorOptions',
  'patches',
  'namespace',
  'labels',
  'images',
]);

/** Kinds without a namespace, among those manifests/ could hold; any other kind is namespaced. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
  'PersistentVolume',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

/** kustomize's legacy output order (api/resource/resid/gvk.go): these kinds first, in order... */
const ORDER_FIRST = [
  'Namespace',
  'ResourceQuota',
  'StorageClass',
  'CustomResourceDefinition',
  'ServiceAccount',
  'PodSecurityPolicy',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ConfigMap',
  'Secret',
  'Endpoints',
  'Service',
  'LimitRange',
  'PriorityClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'Deployment',
  'StatefulSet',
  'CronJob',
  'PodDisruptionBudget',
];
/** ...these last, and every other kind in between. */
const ORDER_LAST = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

export class KustomizeError extends Error {
  override name = 'KustomizeError';
}

/** Renders the kustomization in `dir` as `kubectl kustomize dir` would, in its output order. */
export function kustomize(dir: string): KubeObject[] {
  return sortLegacy(build(resolve(dir)));
}

/** Reads every object of a multi-document YAML text (empty documents are skipped). */
export function parseYamlObjects(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new KustomizeError(`${source}: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isMap(value) || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string')
      throw new KustomizeError(`${source}: a document without apiVersion and kind`);
    const metadata = value.metadata;
    if (!isMap(metadata) || typeof metadata.name !== 'string')
      throw new KustomizeError(`${source}: a ${value.kind} without metadata.name`);
    objects.push(value as KubeObject);
  }
  return objects;
}

function build(root: string): KubeObject[] {
  const file = KUSTOMIZATION_FILES.map((f) => join(root, f)).find((f) => existsSync(f));
  if (file === undefined) throw new KustomizeError(`${root}: no kustomization.yaml`);
  const k = parseMap(readFileSync(file, 'utf8'), file);
  for (const key of Object.keys(k)) {
    if (!KNOWN_FIELDS.has(key)) throw new KustomizeError(`${file}: field ${key} is not supported`);
  }

  let objects: KubeObject[] = [];
  for (const entry of strings(k.resources, `${file}: resources`)) {
    const path = inside(root, entry, file);
    objects.push(
      ...(statSync(path).isDirectory() ? build(path) : parseYamlObjects(readFileSync(path, 'utf8'), path)),
    );
  }
  for (const generated of generateConfigMaps(root, k, file)) {
    if (!generated.replace) {
      objects.push(generated.object);
      continue;
    }
    const { name, namespace } = generated.object.metadata;
    const matches = objects.filter(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === name && o.metadata.namespace === namespace,
    );
    if (matches.length !== 1)
      throw new KustomizeError(
        `${file}: behavior replace of ConfigMap ${name} matches ${matches.length} objects`,
      );
    objects = objects.map((o) => (o === matches[0] ? { ...o, data: generated.object.data } : o));
  }
  assertUniqueIds(objects, file);

  for (const patch of list(k.patches, `${file}: patches`)) {
    if (!isMap(patch) || Object.keys(patch).some((key) => key !== 'path' && key !== 'target'))
      throw new KustomizeError(`${file}: only patches with a path (and a target) are supported`);
    const path = inside(root, String(patch.path), file);
    objects =
      patch.target === undefined
        ? applyPatchFile(objects, path)
        : applyJsonPatchFile(objects, patch.target, path);
  }
  if (k.namespace !== undefined) {
    if (typeof k.namespace !== 'string') throw new KustomizeError(`${file}: namespace must be a string`);
    objects = objects.map((o) => setNamespace(o, k.namespace as string, file));
  }
  for (const entry of list(k.labels, `${file}: labels`)) {
    if (!isMap(entry) || !isMap(entry.pairs)) throw new KustomizeError(`${file}: labels entries need pairs`);
    if (entry.includeSelectors === true || entry.includeTemplates === true)
      throw new KustomizeError(`${file}: labels into selectors or templates are not supported`);
    const pairs = entry.pairs as Record<string, string>;
    objects = objects.map((o) => ({
      ...o,
      metadata: { ...o.metadata, labels: { ...o.metadata.labels, ...pairs } },
    }));
  }
  for (const image of list(k.images, `${file}: images`)) {
    if (!isMap(image) || typeof image.name !== 'string')
      throw new KustomizeError(`${file}: images entries need a name`);
    for (const key of Object.keys(image)) {
      if (!['name', 'newName', 'newTag'].includes(key))
        throw new KustomizeError(`${file}: images.${key} is not supported`);
    }
    objects = objects.map((o) => setImage(o, image as { name: string; newName?: string; newTag?: string }));
  }
  return objects;
}

function generateConfigMaps(
  root: string,
  k: Record<string, unknown>,
  file: string,
): { object: KubeObject; replace: boolean }[] {
  const generators = list(k.configMapGenerator, `${file}: configMapGenerator`);
  if (generators.length === 0) return [];
  const options = k.generatorOptions;
  if (!isMap(options) || options.disableNameSuffixHash !== true || Object.keys(options).length !== 1)
    throw new KustomizeError(
      `${file}: only generatorOptions.disableNameSuffixHash: true is supported (no name hash)`,
    );
  return generators.map((g) => {
    if (!isMap(g) || typeof g.name !== 'string')
      throw new KustomizeError(`${file}: configMapGenerator entries need a name`);
    for (const key of Object.keys(g)) {
      if (!['name', 'namespace', 'files', 'behavior'].includes(key))
        throw new KustomizeError(`${file}: configMapGenerator.${key} is not supported`);
    }
    if (g.behavior !== undefined && g.behavior !== 'create' && g.behavior !== 'replace')
      throw new KustomizeError(`${file}: configMapGenerator behavior ${String(g.behavior)} is not supported`);
    const data: Record<string, string> = {};
    for (const entry of strings(g.files, `${file}: configMapGenerator.files`)) {
      if (entry.includes('=')) throw new KustomizeError(`${file}: key=path files are not supported`);
      data[basename(entry)] = readFileSync(inside(root, entry, file), 'utf8');
    }
    const metadata: KubeObject['metadata'] = { name: g.name };
    if (typeof g.namespace === 'string') metadata.namespace = g.namespace;
    return {
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata, data },
      replace: g.behavior === 'replace',
    };
  });
}

function applyPatchFile(objects: KubeObject[], path: string): KubeObject[] {
  const patches = parseYamlObjects(readFileSync(path, 'utf8'), path);
  let result = objects;
  for (const patch of patches) {
    const matches = result.filter(
      (o) =>
        o.apiVersion === patch.apiVersion &&
        o.kind === patch.kind &&
        o.metadata.name === patch.metadata.name &&
        (patch.metadata.namespace === undefined || o.metadata.namespace === patch.metadata.namespace),
    );
    if (matches.length !== 1)
      throw new KustomizeError(`${path}: the patch matches ${matches.length} objects, not one`);
    result = result.map((o) => (o === matches[0] ? (mergePatch(o, patch, path) as KubeObject) : o));
  }
  return result;
}

function applyJsonPatchFile(objects: KubeObject[], target: unknown, path: string): KubeObject[] {
  if (!isMap(target) || Object.keys(target).some((key) => !['kind', 'name', 'namespace'].includes(key)))
    throw new KustomizeError(`${path}: only targets by kind, name and namespace are supported`);
  const matches = objects.filter(
    (o) =>
      (target.kind === undefined || o.kind === target.kind) &&
      (target.name === undefined || o.metadata.name === target.name) &&
      (target.namespace === undefined || o.metadata.namespace === target.namespace),
  );
  if (matches.length !== 1)
    throw new KustomizeError(`${path}: the target matches ${matches.length} objects, not one`);
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  const ops: unknown = docs[0]?.toJS();
  if (docs.length !== 1 || !Array.isArray(ops))
    throw new KustomizeError(`${path}: a JSON patch is one YAML list`);
  const patched = structuredClone(matches[0]) as KubeObject;
  for (const op of ops) applyJsonOp(patched, op, path);
  return objects.map((o) => (o === matches[0] ? patched : o));
}

/** One RFC 6902 operation, in place: add, replace, remove and test (no move, no copy). */
function applyJsonOp(doc: unknown, op: unknown, source: string): void {
  if (!isMap(op) || typeof op.op !== 'string' || typeof op.path !== 'string')
    throw new KustomizeError(`${source}: each operation needs op and path`);
  const keys = op.path
    .split('/')
    .slice(1)
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
  const last = keys.pop();
  if (last === undefined)
    throw new KustomizeError(`${source}: ${op.path}: the whole document cannot be patched`);
  let parent: unknown = doc;
  for (const key of keys) {
    parent = Array.isArray(parent) ? parent[Number(key)] : isMap(parent) ? parent[key] : undefined;
    if (parent === undefined) throw new KustomizeError(`${source}: ${op.path} does not exist`);
  }
  const missing = () => new KustomizeError(`${source}: ${op.op} ${op.path}: no such location`);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw missing();
    if (op.op === 'add') parent.splice(index, 0, structuredClone(op.value));
    else if (index >= parent.length) throw missing();
    else if (op.op === 'replace') parent[index] = structuredClone(op.value);
    else if (op.op === 'remove') parent.splice(index, 1);
    else if (op.op === 'test') {
      if (JSON.stringify(parent[index]) !== JSON.stringify(op.value))
        throw new KustomizeError(`${source}: test ${op.path} failed`);
    } else throw new KustomizeError(`${source}: op ${op.op} is not supported`);
    return;
  }
  if (!isMap(parent)) throw missing();
  if (op.op === 'add') parent[last] = structuredClone(op.value);
  else if (!(last in parent)) throw missing();
  else if (op.op === 'replace') parent[last] = structuredClone(op.value);
  else if (op.op === 'remove') delete parent[last];
  else if (op.op === 'test') {
    if (JSON.stringify(parent[last]) !== JSON.stringify(op.value))
      throw new KustomizeError(`${source}: test ${op.path} failed`);
  } else throw new KustomizeError(`${source}: op ${op.op} is not supported`);
}

/** Strategic merge, for maps and scalars only: lists would need the merge keys of each type. */
function mergePatch(target: unknown, patch: unknown, source: string): unknown {
  if (Array.isArray(patch)) throw new KustomizeError(`${source}: lists in patches are not supported`);
  if (!isMap(patch)) return patch;
  const base = isMap(target) ? target : {};
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) throw new KustomizeError(`${source}: ${key} directives are not supported`);
    if (value === null) delete out[key];
    else out[key] = mergePatch(base[key], value, source);
  }
  return out;
}

function setNamespace(o: KubeObject, namespace: string, file: string): KubeObject {
  if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
    // kustomize also moves ServiceAccount subjects named "default" into the namespace.
    for (const s of (o.subjects as { kind?: string; name?: string }[] | undefined) ?? []) {
      if (s.kind === 'ServiceAccount' && s.name === 'default')
        throw new KustomizeError(`${file}: subjects named default are not supported`);
    }
  }
  if (CLUSTER_SCOPED.has(o.kind)) return o;
  return { ...o, metadata: { ...o.metadata, namespace } };
}

const POD_TEMPLATE_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'ReplicaSet', 'Job']);

function setImage(o: KubeObject, image: { name: string; newName?: string; newTag?: string }): KubeObject {
  if (!POD_TEMPLATE_KINDS.has(o.kind)) return o;
  const copy = structuredClone(o);
  const podSpec = ((copy.spec as Record<string, unknown> | undefined)?.template as Record<string, unknown>)
    ?.spec as Record<string, unknown> | undefined;
  for (const field of ['containers', 'initContainers']) {
    for (const c of (podSpec?.[field] as { image?: string }[] | undefined) ?? []) {
      if (c.image === undefined) continue;
      if (c.image.includes('@')) throw new KustomizeError(`${c.image}: digests are not supported`);
      const colon = c.image.lastIndexOf(':');
      const hasTag = colon > c.image.lastIndexOf('/');
      const name = hasTag ? c.image.slice(0, colon) : c.image;
      if (name !== image.name) continue;
      const tag = image.newTag ?? (hasTag ? c.image.slice(colon + 1) : undefined);
      c.image = `${image.newName ?? name}${tag === undefined ? '' : `:${tag}`}`;
    }
  }
  return copy;
}

function gvkString(o: KubeObject): string {
  const slash = o.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : o.apiVersion.slice(0, slash);
  const version = slash < 0 ? o.apiVersion : o.apiVersion.slice(slash + 1);
  return [group || '~G', version || '~V', o.kind || '~K'].join('_');
}

function kindRank(kind: string): number {
  const first = ORDER_FIRST.indexOf(kind);
  if (first >= 0) return first - ORDER_FIRST.length;
  const last = ORDER_LAST.indexOf(kind);
  return last >= 0 ? last + 1 : 0;
}

function sortLegacy(objects: KubeObject[]): KubeObject[] {
  const key = (o: KubeObject) => `${o.metadata.namespace ?? '~X'}|${o.metadata.name}`;
  return [...objects].sort((a, b) => {
    const rank = kindRank(a.kind) - kindRank(b.kind);
    if (rank !== 0) return rank;
    const ga = gvkString(a);
    const gb = gvkString(b);
    if (ga !== gb) return ga < gb ? -1 : 1;
    return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
  });
}

function assertUniqueIds(objects: KubeObject[], file: string): void {
  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${gvkString(o)}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;
    if (seen.has(id)) throw new KustomizeError(`${file}: ${o.kind} ${o.metadata.name} is defined twice`);
    seen.add(id);
  }
}

/** kustomize's load restriction: no file outside the kustomization's own directory tree. */
function inside(root: string, entry: string, file: string): string {
  const path = resolve(root, entry);
  const rel = relative(root, path);
  const isFile = existsSync(path) && statSync(path).isFile();
  // Directories (other kustomizations) may be anywhere, as in kustomize; files may not.
  if (isFile && (rel.startsWith(`..${sep}`) || rel === '..'))
    throw new KustomizeError(`${file}: ${entry} is outside the kustomization's directory ${root}`);
  if (!existsSync(path)) throw new KustomizeError(`${file}: ${entry} does not exist`);
  return path;
}

function parseMap(text: string, source: string): Record<string, unknown> {
  const docs = parseAllDocuments(text);
  const value: unknown = docs[0]?.toJS();
  if (docs.length !== 1 || !isMap(value)) throw new KustomizeError(`${source}: not a single YAML map`);
  return value;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function list(value: unknown, what: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new KustomizeError(`${what}: must be a list`);
  return value;
}

function strings(value: unknown, what: string): string[] {
  return list(value, what).map((v) => {
    if (typeof v !== 'string') throw new KustomizeError(`${what}: entries must be strings`);
    return v;
  });
}
