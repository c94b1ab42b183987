/**
 * Proves the fake API server against the REAL @kubernetes/client-node (CoreV1Api and Watch), so
 * cluster code tested against it is tested against what client-node actually does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeApiServer, TEST_TOKEN, waitFor } from '../support/fake-apiserver.js';

let server: FakeApiServer;
let api: CoreV1Api;
const openWatches: AbortController[] = [];

beforeEach(async () => {
  server = await FakeApiServer.start();
  api = server.kubeConfig().makeApiClient(CoreV1Api);
});
afterEach(async () => {
  for (const controller of openWatches.splice(0)) controller.abort();
  vi.unstubAllEnvs();
  await server.close();
});

function pod(name: string, init: { namespace?: string; nodeName?: string; phase?: string } = {}): V1Pod {
  return {
    metadata: { name, namespace: init.namespace ?? 'default' },
    spec: { containers: [{ name: 'main', image: 'busybox' }], nodeName: init.nodeName },
    status: { phase: init.phase ?? 'Pending' },
  };
}

interface SeenObject {
  metadata?: { name?: string; resourceVersion?: string };
  code?: number;
  reason?: string;
  message?: string;
}

interface OpenWatch {
  readonly events: { type: string; object: SeenObject }[];
  /** Settles with what client-node gives the done callback: null for a clean end, else the error. */
  readonly done: Promise<unknown>;
  /** "TYPE name" for each event, the compact form assertions read best in. */
  seen(): string[];
}

/** Opens a real client-node watch and collects what it reports. */
async function watch(path: string, query: Record<string, string | number | boolean>): Promise<OpenWatch> {
  const events: OpenWatch['events'] = [];
  let settle: (err: unknown) => void = () => {};
  const done = new Promise<unknown>((resolve) => {
    settle = resolve;
  });
  const controller = await new Watch(server.kubeConfig()).watch(
    path,
    query,
    (type, object: SeenObject) => events.push({ type, object }),
    (err: unknown) => settle(err ?? null),
  );
  openWatches.push(controller);
  return { events, done, seen: () => events.map((e) => `${e.type} ${e.object.metadata?.name ?? ''}`.trim()) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('lists through CoreV1Api', () => {
  beforeEach(() => {
    server.addPod(pod('a-pending'));
    server.addPod(pod('b-running', { nodeName: 'node-1', phase: 'Running' }));
    server.addPod(pod('c-done', { phase: 'Succeeded' }));
    server.addPod(pod('d-pending', { namespace: 'kube-system' }));
    server.addPod(pod('e-running', { nodeName: 'node-2', phase: 'Running' }));
  });

  it.each([
    ['', ['a-pending', 'b-running', 'c-done', 'e-running', 'd-pending']],
    ['spec.nodeName=', ['a-pending', 'c-done', 'd-pending']],
    ['spec.nodeName==node-1', ['b-running']],
    ['spec.nodeName!=', ['b-running', 'e-running']],
    ['spec.nodeName=,status.phase!=Succeeded', ['a-pending', 'd-pending']],
    ['status.phase=Failed', []],
    ['metadata.namespace=kube-system', ['d-pending']],
  ])('fieldSelector %j selects %j (a missing field equals "")', async (fieldSelector, names) => {
    const list = await api.listPodForAllNamespaces({ fieldSelector });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(names);
  });

  it('pages with limit/continue from one snapshot, unaffected by changes between pages', async () => {
    const fieldSelector = 'spec.nodeName=';
    const first = await api.listPodForAllNamespaces({ fieldSelector, limit: 2 });
    expect(first.items.map((p) => p.metadata?.name)).toEqual(['a-pending', 'c-done']);
    expect(first.metadata?._continue).toEqual(expect.any(String));

    server.deletePod('kube-system', 'd-pending');
    server.addPod(pod('f-new'));
    const second = await api.listPodForAllNamespaces({
      fieldSelector,
      limit: 2,
      _continue: first.metadata?._continue,
    });
    expect(second.items.map((p) => p.metadata?.name)).toEqual(['d-pending']);
    expect(second.metadata?._continue).toBeUndefined();
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    expect(server.requests.at(-1)?.query).toMatchObject({ limit: '2', continue: first.metadata?._continue });

    const fresh = await api.listPodForAllNamespaces({ fieldSelector });
    expect(fresh.items.map((p) => p.metadata?.name)).toEqual(['a-pending', 'c-done', 'f-new']);
    expect(Number(fresh.metadata?.resourceVersion)).toBeGreaterThan(Number(first.metadata?.resourceVersion));
  });

  it('gzips a list of 128 KiB or more for a client that accepts it, as kube-apiserver does', async () => {
    for (let i = 0; i < 40; i++) {
      const big = pod(`big-${i}`);
      big.metadata = { ...big.metadata, annotations: { note: 'x'.repeat(4000) } };
      server.addPod(big);
    }
    const url = `${server.url}/api/v1/pods`;
    const authorization = `Bearer ${TEST_TOKEN}`;
    const plain = await fetch(url, { headers: { authorization, 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(server.gzippedResponses).toBe(0);
    // client-node asks for gzip and reads it back transparently.
    const list = await api.listPodForAllNamespaces();
    expect(list.items).toHaveLength(45);
    expect(server.gzippedResponses).toBe(1);
    // Small answers stay plain.
    await api.listPodForAllNamespaces({ limit: 5 });
    expect(server.gzippedResponses).toBe(1);
  });

  it('answers 410 Expired to a continue token older than a compaction', async () => {
    const first = await api.listPodForAllNamespaces({ limit: 1 });
    server.addPod(pod('f-new'));
    server.compact();
    const err = await rejection(
      api.listPodForAllNamespaces({ limit: 1, _continue: first.metadata?._continue }),
    );
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(410);
  });

  it('lists nodes and reads one pod; list items carry no kind, as on the real server', async () => {
    server.addNode({ metadata: { name: 'node-1', labels: { zone: 'a' } }, status: { phase: 'Running' } });
    const nodes = await api.listNode();
    expect(nodes.kind).toBe('NodeList');
    expect(nodes.items.map((n) => [n.metadata?.name, n.metadata?.labels, n.kind])).toEqual([
      ['node-1', { zone: 'a' }, undefined],
    ]);

    const one = await api.readNamespacedPod({ namespace: 'default', name: 'b-running' });
    expect(one.kind).toBe('Pod');
    expect(one.spec?.nodeName).toBe('node-1');
    expect(one.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(one.metadata?.resourceVersion).toBe(
      server.getPod('default', 'b-running')?.metadata?.resourceVersion,
    );
  });

  it('surfaces a missing pod as an ApiException with .code 404 and the Status as a JSON string body', async () => {
    const err = await rejection(api.readNamespacedPod({ namespace: 'default', name: 'nope' }));
    expect(err).toBeInstanceOf(ApiException);
    const e = err as ApiException<string>;
    expect(e.code).toBe(404);
    expect(typeof e.body).toBe('string');
    expect(JSON.parse(e.body)).toMatchObject({
      kind: 'Status',
      reason: 'NotFound',
      message: 'pods "nope" not found',
    });
  });

  it('failNext answers the given status the given number of times, then recovers', async () => {
    server.failNext('GET', /^\/api\/v1\/pods$/, 503, 2);
    for (let i = 0; i < 2; i++) {
      const err = await rejection(api.listPodForAllNamespaces());
      expect((err as ApiException<string>).code).toBe(503);
      expect(JSON.parse((err as ApiException<string>).body)).toMatchObject({ reason: 'ServiceUnavailable' });
    }
    expect((await api.listPodForAllNamespaces()).items).toHaveLength(5);
  });

  it('gives a 401 an ApiException with no body at all (client-node drops it)', async () => {
    server.failNext('GET', /pods/, 401);
    const err = await rejection(api.listPodForAllNamespaces());
    expect((err as ApiException<unknown>).code).toBe(401);
    expect((err as ApiException<unknown>).body).toBeUndefined();
  });
});

describe('binding through CoreV1Api', () => {
  it('binds an unassigned pod: 201, spec.nodeName set, a MODIFIED change, recorded', async () => {
    const created = server.addPod(pod('web'));
    const before = Number(server.resourceVersion);
    const uid = created.metadata?.uid;
    await api.createNamespacedPodBinding({
      namespace: 'default',
      name: 'web',
      body: {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: 'web', namespace: 'default', uid },
        target: { kind: 'Node', name: 'node-1' },
      },
    });
    expect(server.getPod('default', 'web')?.spec?.nodeName).toBe('node-1');
    expect(server.resourceVersion).toBe(String(before + 1));
    expect(server.events.at(-1)).toMatchObject({ type: 'MODIFIED', kind: 'pod', rv: before + 1 });
    expect(server.bindings).toEqual([{ namespace: 'default', name: 'web', node: 'node-1', uid }]);
  });

  it.each([
    ['the pod is already bound', { name: 'bound' }, 409, 'already assigned to node "node-9"'],
    ['the uid differs', { name: 'web', uid: 'other-uid' }, 409, 'Precondition failed'],
    ['the pod does not exist', { name: 'ghost' }, 404, 'pods "ghost" not found'],
  ])('refuses when %s', async (_, metadata, code, message) => {
    server.addPod(pod('web'));
    server.addPod(pod('bound', { nodeName: 'node-9' }));
    const err = await rejection(
      api.createNamespacedPodBinding({
        namespace: 'default',
        name: metadata.name,
        body: { metadata: { ...metadata, namespace: 'default' }, target: { kind: 'Node', name: 'node-1' } },
      }),
    );
    expect((err as ApiException<string>).code).toBe(code);
    expect(JSON.parse((err as ApiException<string>).body).message).toContain(message);
    expect(server.bindings).toEqual([]);
  });
});

describe('node patch through CoreV1Api', () => {
  it.each([PatchStrategy.MergePatch, PatchStrategy.StrategicMergePatch])(
    'applies a %s as a JSON merge patch (null deletes) and records it',
    async (strategy) => {
      server.addNode({ metadata: { name: 'node-1', annotations: { keep: '1', drop: '2' } } });
      const before = Number(server.resourceVersion);
      const body = { metadata: { annotations: { drop: null, added: '3' } } };
      const node = await api.patchNode({ name: 'node-1', body }, setHeaderOptions('Content-Type', strategy));
      expect(node.metadata?.annotations).toEqual({ keep: '1', added: '3' });
      expect(node.metadata?.resourceVersion).toBe(String(before + 1));
      expect(server.getNode('node-1')?.metadata?.annotations).toEqual({ keep: '1', added: '3' });
      expect(server.patches).toEqual([{ name: 'node-1', contentType: strategy, patch: body }]);
    },
  );

  it('refuses a JSON patch (client-node picks it when no Content-Type is set) with 415', async () => {
    server.addNode({ metadata: { name: 'node-1' } });
    const err = await rejection(api.patchNode({ name: 'node-1', body: [] }));
    expect((err as ApiException<unknown>).code).toBe(415);
  });
});

describe('watch through client-node Watch', () => {
  it('without a resourceVersion starts with ADDED for the current state, then streams live', async () => {
    server.addPod(pod('a'));
    const w = await watch('/api/v1/pods', {});
    await waitFor(() => w.events.length === 1);
    server.updatePod('default', 'a', (p) => {
      p.metadata = { ...p.metadata, labels: { touched: 'yes' } };
    });
    server.addPod(pod('b'));
    await waitFor(() => w.events.length === 3);
    expect(w.seen()).toEqual(['ADDED a', 'MODIFIED a', 'ADDED b']);
    expect(w.events[1]?.object.metadata?.resourceVersion).toBe(
      server.getPod('default', 'a')?.metadata?.resourceVersion,
    );
  });

  it('replays the changes after a resourceVersion, then streams live events and bookmarks', async () => {
    server.addPod(pod('a'));
    server.addPod(pod('b'));
    const from = server.resourceVersion;
    server.addPod(pod('c'));
    server.updatePod('default', 'a', (p) => {
      p.status = { phase: 'Running' };
    });
    server.deletePod('default', 'b');

    const w = await watch('/api/v1/pods', { resourceVersion: from, allowWatchBookmarks: true });
    await waitFor(() => w.events.length === 3);
    expect(w.seen()).toEqual(['ADDED c', 'MODIFIED a', 'DELETED b']);
    expect(server.requests.at(-1)?.query).toMatchObject({ watch: 'true', resourceVersion: from });

    server.addNode({ metadata: { name: 'node-1' } }); // another kind: not on this watch
    server.addPod(pod('d'));
    server.sendBookmarks();
    await waitFor(() => w.events.length === 5);
    expect(w.seen()).toEqual(['ADDED c', 'MODIFIED a', 'DELETED b', 'ADDED d', 'BOOKMARK']);
    expect(w.events[4]?.object).toEqual({
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { resourceVersion: server.resourceVersion },
    });
  });

  it('sends no bookmarks to a watch that did not ask for them', async () => {
    const w = await watch('/api/v1/nodes', {});
    server.sendBookmarks();
    server.addNode({ metadata: { name: 'node-1' } });
    await waitFor(() => w.events.length === 1);
    expect(w.seen()).toEqual(['ADDED node-1']);
  });

  it('with a fieldSelector, turns leaving the selection into DELETED and entering it into ADDED', async () => {
    server.addPod(pod('a'));
    const w = await watch('/api/v1/pods', { fieldSelector: 'spec.nodeName=' });
    await waitFor(() => w.events.length === 1);
    await api.createNamespacedPodBinding({
      namespace: 'default',
      name: 'a',
      body: { metadata: { name: 'a' }, target: { kind: 'Node', name: 'node-1' } },
    });
    server.updatePod('default', 'a', (p) => {
      if (p.spec) delete p.spec.nodeName;
    });
    await waitFor(() => w.events.length === 3);
    expect(w.seen()).toEqual(['ADDED a', 'DELETED a', 'ADDED a']);
    // The DELETED carries the last content that matched, at the resourceVersion of the change.
    const exit = server.events.at(-2);
    expect(w.events[1]?.object.metadata?.resourceVersion).toBe(String(exit?.rv));
    expect(w.events[1]?.object).not.toHaveProperty('spec.nodeName');
  });

  it('answers a compacted resourceVersion with an in-stream ERROR 410 event, then a clean end', async () => {
    server.addPod(pod('a'));
    const from = server.resourceVersion;
    server.addPod(pod('b'));
    server.compact();
    const w = await watch('/api/v1/pods', { resourceVersion: from });
    expect(await w.done).toBeNull();
    expect(w.events).toEqual([
      {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${from} (${server.resourceVersion})`,
          reason: 'Expired',
          code: 410,
        },
      },
    ]);
  });

  it('still serves a watch from exactly the compacted resourceVersion', async () => {
    server.addPod(pod('a'));
    server.compact();
    const w = await watch('/api/v1/pods', { resourceVersion: server.resourceVersion });
    server.addPod(pod('b'));
    await waitFor(() => w.events.length === 1);
    expect(w.seen()).toEqual(['ADDED b']);
  });

  it("compact({ as: 'http' }) refuses with HTTP 410: done gets an Error with statusCode 410", async () => {
    server.addPod(pod('a'));
    const from = server.resourceVersion;
    server.addPod(pod('b'));
    server.compact({ as: 'http' });
    const w = await watch('/api/v1/pods', { resourceVersion: from });
    const err = (await w.done) as Error & { statusCode?: number };
    expect(err).toBeInstanceOf(Error);
    expect(err.statusCode).toBe(410);
    expect(err.message).toBe('Gone');
    expect(w.events).toEqual([]);
  });

  it('dropWatches() cuts the stream: done gets a premature-close error', async () => {
    const w = await watch('/api/v1/pods', {});
    await waitFor(() => server.watchCount === 1);
    server.dropWatches();
    // node-fetch notices the chunked stream never ended; a clean end would give done(null).
    expect(await w.done).toMatchObject({ message: 'Premature close', code: 'ERR_STREAM_PREMATURE_CLOSE' });
    await waitFor(() => server.watchCount === 0);
  });

  it('timeoutSeconds ends the stream cleanly: done(null)', async () => {
    const w = await watch('/api/v1/nodes', { timeoutSeconds: 0.05 });
    expect(await w.done).toBeNull();
  });

  it('stop() refuses connections and ends watches; restart() comes back on the same url with the state', async () => {
    server.addPod(pod('a'));
    const url = server.url;
    const w = await watch('/api/v1/pods', {});
    await server.stop();
    expect(await w.done).toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });

    const err = await rejection(api.listPodForAllNamespaces());
    expect(err).not.toBeInstanceOf(ApiException);
    expect((err as { code?: unknown }).code).toBe('ECONNREFUSED');
    const refused = await watch('/api/v1/pods', {});
    expect((await refused.done) as { code?: unknown }).toMatchObject({ code: 'ECONNREFUSED' });

    await server.restart();
    expect(server.url).toBe(url);
    const list = await api.listPodForAllNamespaces();
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['a']);
  });
});

describe('client configuration', () => {
  it('sends the bearer token of kubeConfig()', async () => {
    await api.listNode();
    expect(server.requests.at(-1)).toMatchObject({ method: 'GET', path: '/api/v1/nodes' });
    expect(server.requests.at(-1)?.authorization).toBe(`Bearer ${TEST_TOKEN}`);
  });

  it('writes a kubeconfig file that client-node loads through KUBECONFIG', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fake-apiserver-'));
    try {
      const path = join(dir, 'kubeconfig');
      await server.writeKubeconfig(path);
      vi.stubEnv('KUBECONFIG', path);
      const kc = new KubeConfig();
      kc.loadFromDefault();
      expect(kc.getCurrentCluster()?.server).toBe(server.url);
      server.addNode({ metadata: { name: 'node-1' } });
      const nodes = await kc.makeApiClient(CoreV1Api).listNode();
      expect(nodes.items.map((n) => n.metadata?.name)).toEqual(['node-1']);
      expect(server.requests.at(-1)?.authorization).toBe(`Bearer ${TEST_TOKEN}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('waitFor', () => {
  it('returns the first truthy value and times out with a clear message', async () => {
    let n = 0;
    expect(await waitFor(() => (++n >= 3 ? n : 0))).toBe(3);
    await expect(waitFor(() => false, 30, 'the impossible')).rejects.toThrow(
      'waitFor timed out after 30 ms waiting for: the impossible',
    );
  });
});
