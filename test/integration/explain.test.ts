import { afterEach, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { type CapturedArgs, capture } from '../support/captures.js';
import { type ClusterHarness, node, pod, report, startCluster } from '../support/cluster-harness.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

interface Verdict {
  fits: boolean;
  reason?: string;
  message?: string;
  unresolvable?: boolean;
  free: Record<string, number>;
  allocatable: Record<string, number>;
  score: number;
  dimensions: Record<string, number>;
}
interface NodeExplanation extends Verdict {
  node: string;
  fresh: boolean;
  preview?: Verdict;
}
interface Settings {
  strategy: string;
  weights: Record<string, number>;
  reserveFraction: number;
  unknownNodes: string;
  staleAfterSeconds: number;
  scoreAllPods: boolean;
}
interface Explanation {
  pod: string;
  demand: Record<string, number> | null;
  demandError?: string;
  settings: Settings;
  preview?: Settings;
  nodes: NodeExplanation[];
}
interface FilterResult {
  NodeNames: string[];
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
}

const G = 1e9;
const M = 1e6;
const ALL = ['node-c', 'node-f', 'node-g', 'node-d', 'node-a', 'node-m', 'node-s', 'node-e'];

let server: TestServer | undefined;
let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await cluster?.close();
  cluster = undefined;
});

/** The captured pod (ingress 100M, egress 50M by annotation), asking 10k iops as well. */
function capturedPod(): CapturedArgs['Pod'] {
  const p = capture<CapturedArgs>('filter-nodecache-true').Pod as CapturedArgs['Pod'] & {
    spec: { containers: { resources?: { requests?: Record<string, string> } }[] };
  };
  const container = p.spec.containers[0];
  if (container === undefined) throw new Error('the captured pod has no container');
  container.resources = {
    ...container.resources,
    requests: { ...container.resources?.requests, 'ioplace.io/iops': '10k' },
  };
  return p;
}

async function put(s: TestServer, name: string, body: unknown): Promise<void> {
  const res = await call(`${s.url}/v1/nodes/${name}/report`, 'PUT', body);
  expect(res.status, res.text).toBe(200);
}

/**
 * Every kind of node, for a pod asking in 100M, out 50M, iops 10k (default reserve 0.1):
 *   node-c  1G/1G/50k idle                         fits
 *   node-f  1G/1G/50k, 500M/300M/25k in use        fits, fuller
 *   node-g  1G/1G/50k, 700M ingress in use         fits (200M free), but not with reserve 0.3
 *   node-d  1G/1G/50k, 880M ingress in use         short: 20M free (FailedNodes)
 *   node-a  100M/100M/50k                          can never fit: 90M allocatable (unresolvable)
 *   node-m  iops only                              does not report ingressBandwidth (unresolvable)
 *   node-s  reported 31 s ago                      stale (unresolvable)
 *   node-e  never reported                         unknown (unresolvable)
 */
async function seed(s: TestServer): Promise<void> {
  await put(s, 'node-s', { capacity: { ingressBandwidth: G, egressBandwidth: G, iops: 50_000 } });
  s.clock.now += 31_000;
  const big = { ingressBandwidth: G, egressBandwidth: G, iops: 50_000 };
  await put(s, 'node-c', { capacity: big });
  await put(s, 'node-f', {
    capacity: big,
    usage: { ingressBandwidth: 500 * M, egressBandwidth: 300 * M, iops: 25_000 },
  });
  await put(s, 'node-g', { capacity: big, usage: { ingressBandwidth: 700 * M } });
  await put(s, 'node-d', { capacity: big, usage: { ingressBandwidth: 880 * M } });
  await put(s, 'node-a', { capacity: { ingressBandwidth: 100 * M, egressBandwidth: 100 * M, iops: 50_000 } });
  await put(s, 'node-m', { capacity: { iops: 50_000 } });
}

function explain(s: TestServer, body: unknown) {
  return call<Explanation>(`${s.url}/v1/explain`, 'POST', body);
}

async function prioritize(s: TestServer, podObject: unknown, names: string[]): Promise<Map<string, number>> {
  const res = await call<{ Host: string; Score: number }[]>(`${s.url}/scheduler/prioritize`, 'POST', {
    Pod: podObject,
    Nodes: null,
    NodeNames: names,
  });
  expect(res.status).toBe(200);
  return new Map(res.body.map((h) => [h.Host, h.Score]));
}

function byNode(e: Explanation): Map<string, NodeExplanation> {
  return new Map(e.nodes.map((n) => [n.node, n]));
}

/**
 * Asks filter, prioritize and explain about the same pod and candidates, and checks that explain
 * says for every node what the scheduler verbs answer. Returns the three answers.
 */
async function expectAgreement(s: TestServer, podObject: unknown, names: string[]) {
  const filtered = await call<FilterResult>(`${s.url}/scheduler/filter`, 'POST', {
    Pod: podObject,
    Nodes: null,
    NodeNames: names,
  });
  expect(filtered.status).toBe(200);
  const scores = await prioritize(s, podObject, names);
  const res = await explain(s, { pod: podObject, nodes: names });
  expect(res.status, res.text).toBe(200);
  expect(res.body.preview).toBeUndefined();

  const nodes = byNode(res.body);
  expect([...nodes.keys()].sort()).toEqual([...names].sort());
  const { NodeNames, FailedNodes, FailedAndUnresolvableNodes } = filtered.body;
  for (const name of names) {
    const n = nodes.get(name) as NodeExplanation;
    expect(n.fits, name).toBe(NodeNames.includes(name));
    expect(n.message, name).toBe(FailedNodes[name] ?? FailedAndUnresolvableNodes[name]);
    if (!n.fits) expect(n.unresolvable, name).toBe(name in FailedAndUnresolvableNodes);
    expect(n.score, name).toBe(scores.get(name));
    expect(n.preview).toBeUndefined();
  }
  return { filtered: filtered.body, scores, explanation: res.body };
}

describe('POST /v1/explain agrees with filter and prioritize', () => {
  it.each(['spread', 'pack'] as const)('for every kind of node, with strategy %s', async (strategy) => {
    server = await startTestServer({ scoring: { strategy } });
    await seed(server);
    const { filtered, scores, explanation } = await expectAgreement(server, capturedPod(), ALL);
    expect(explanation.pod).toBe('default/pod-annotated');
    expect(explanation.demand).toEqual({ ingressBandwidth: 100 * M, egressBandwidth: 50 * M, iops: 10_000 });
    expect(explanation.settings.strategy).toBe(strategy);

    // The scenario covers what it claims to.
    const nodes = byNode(explanation);
    expect([...filtered.NodeNames].sort()).toEqual(['node-c', 'node-f', 'node-g']);
    expect(Object.keys(filtered.FailedNodes)).toEqual(['node-d']);
    expect(Object.keys(filtered.FailedAndUnresolvableNodes).sort()).toEqual([
      'node-a',
      'node-e',
      'node-m',
      'node-s',
    ]);
    expect(nodes.get('node-s')?.fresh).toBe(false);
    expect(nodes.get('node-c')?.fresh).toBe(true);
    expect(
      Object.fromEntries([...nodes.values()].filter((n) => !n.fits).map((n) => [n.node, n.reason])),
    ).toEqual({
      'node-d': 'insufficient',
      'node-a': 'exceedsCapacity',
      'node-m': 'unmeasured',
      'node-s': 'stale',
      'node-e': 'unknown',
    });
    // Scores by hand (see seed): spread prefers the emptiest node, pack the fullest that fits.
    //   spread: c = (800/900 + 850/900 + 35/45) / 3 = 0.87 -> 9; f = (300/900 + 550/900 + 10/45) / 3 = 0.39 -> 4;
    //           g = (100/900 + 850/900 + 35/45) / 3 = 0.61 -> 6
    //   pack:   1 - each share: c 0.13 -> 1; f 0.61 -> 6; g 0.39 -> 4
    const expected = strategy === 'spread' ? [9, 4, 6] : [1, 6, 4];
    expect([scores.get('node-c'), scores.get('node-f'), scores.get('node-g')]).toEqual(expected);
    // Nodes come best first: fitting nodes by score, then the rest.
    expect(explanation.nodes.slice(0, 3).map((n) => n.node)).toEqual(
      strategy === 'spread' ? ['node-c', 'node-g', 'node-f'] : ['node-f', 'node-g', 'node-c'],
    );
  });

  it('with inventory.unknownNodes allow, where unknown, stale and unmeasured nodes pass', async () => {
    server = await startTestServer({ inventory: { unknownNodes: 'allow' } });
    await seed(server);
    const { filtered } = await expectAgreement(server, capturedPod(), ALL);
    expect([...filtered.NodeNames].sort()).toEqual([
      'node-c',
      'node-e',
      'node-f',
      'node-g',
      'node-m',
      'node-s',
    ]);
  });

  it('for a pod that asks for nothing, with and without scoring.scoreAllPods', async () => {
    const plain = capture<CapturedArgs>('filter-nodecache-true-plainpod').Pod;
    server = await startTestServer();
    await seed(server);
    const neutral = await expectAgreement(server, plain, ALL);
    expect(neutral.filtered.NodeNames).toEqual(ALL);
    expect([...neutral.scores.values()].every((v) => v === 0)).toBe(true);
    await server.close();

    server = await startTestServer({ scoring: { scoreAllPods: true } });
    await seed(server);
    const scored = await expectAgreement(server, plain, ALL);
    expect(scored.scores.get('node-c')).toBe(10);
    expect(scored.scores.get('node-e')).toBe(0);
  });

  it('answers a YAML pod, as kubectl prints it, exactly as the same pod in JSON', async () => {
    server = await startTestServer();
    await seed(server);
    const kubectlPod = { apiVersion: 'v1', kind: 'Pod', ...capturedPod() };
    const yamlText = toYaml(kubectlPod);
    expect(yamlText).toContain('ioplace.io/iops: 10k');

    const fromYaml = await call<Explanation>(`${server.url}/v1/explain`, 'POST', undefined, {
      raw: yamlText,
      contentType: 'application/yaml',
    });
    expect(fromYaml.status, fromYaml.text).toBe(200);
    const fromJson = await explain(server, kubectlPod);
    expect(fromJson.status).toBe(200);
    expect(fromYaml.body).toEqual(fromJson.body);
    // The bare pod and {pod} say the same.
    expect((await explain(server, { pod: kubectlPod })).body).toEqual(fromJson.body);
    expect(fromYaml.body.demand).toEqual({
      ingressBandwidth: 100 * M,
      egressBandwidth: 50 * M,
      iops: 10_000,
    });
    // Without `nodes`, every node the inventory knows.
    expect(fromYaml.body.nodes.map((n) => n.node).sort()).toEqual(ALL.filter((n) => n !== 'node-e').sort());
  });

  it('previews other tunables without changing the live config', async () => {
    server = await startTestServer();
    await seed(server);
    const p = capturedPod();
    const before = await prioritize(server, p, ALL);
    const plain = await explain(server, { pod: p, nodes: ALL });

    const res = await explain(server, {
      pod: p,
      nodes: ALL,
      preview: { strategy: 'pack', weights: { iops: 5 }, reserveFraction: 0.3 },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.settings).toEqual(plain.body.settings);
    expect(res.body.settings).toMatchObject({ strategy: 'spread', reserveFraction: 0.1 });
    expect(res.body.preview).toEqual({
      strategy: 'pack',
      weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 5 },
      reserveFraction: 0.3,
      unknownNodes: 'reject',
      staleAfterSeconds: 30,
      scoreAllPods: false,
    });
    const nodes = byNode(res.body);
    const live = (n: string) => {
      const { preview: _p, ...rest } = nodes.get(n) as NodeExplanation;
      return rest;
    };
    // The live columns are those of an explain without preview.
    for (const n of plain.body.nodes) expect(live(n.node)).toEqual(n);

    // Under reserve 0.3, allocatable is 700M/700M/35k. pack, weights 1/1/5:
    //   node-c: s = 1-600/700, 1-650/700, 1-25/35 -> (0.143 + 0.071 + 5 x 0.286) / 7 = 0.235 -> 2
    //   node-f: free 200M/400M/10k; s = 1-100/700, 1-350/700, 1-0 -> (0.857 + 0.5 + 5) / 7 = 0.908 -> 9
    const c = nodes.get('node-c') as NodeExplanation;
    const f = nodes.get('node-f') as NodeExplanation;
    const g = nodes.get('node-g') as NodeExplanation;
    const d = nodes.get('node-d') as NodeExplanation;
    expect([c.fits, c.score, c.preview?.fits, c.preview?.score]).toEqual([true, 9, true, 2]);
    expect([f.fits, f.score, f.preview?.fits, f.preview?.score]).toEqual([true, 4, true, 9]);
    expect(f.preview?.allocatable).toEqual({
      ingressBandwidth: 700 * M,
      egressBandwidth: 700 * M,
      iops: 35_000,
    });
    expect(f.preview?.free.iops).toBeCloseTo(10_000, 6);
    // node-g fits now, but 700M in use leaves nothing of 700M allocatable.
    expect(g.fits).toBe(true);
    expect(g.preview).toMatchObject({
      fits: false,
      reason: 'insufficient',
      unresolvable: false,
      message: 'ioplace: not enough ingressBandwidth: needs 100M, 0 free of 700M allocatable',
    });
    expect(d.message).toBe('ioplace: not enough ingressBandwidth: needs 100M, 20M free of 900M allocatable');
    expect(d.preview?.message).toBe(
      'ioplace: not enough ingressBandwidth: needs 100M, 0 free of 700M allocatable',
    );
    expect(nodes.get('node-e')?.preview).toMatchObject({ fits: false, reason: 'unknown', score: 0 });

    // Nothing changed: the scheduler gets the same answers as before.
    expect(await prioritize(server, p, ALL)).toEqual(before);
    const after = await explain(server, { pod: p, nodes: ALL });
    expect(after.body).toEqual(plain.body);
  });

  it('previews staleness and the unknown-node policy', async () => {
    server = await startTestServer();
    await seed(server);
    const res = await explain(server, {
      pod: capturedPod(),
      nodes: ['node-s', 'node-e', 'node-m'],
      preview: { staleAfterSeconds: 60 },
    });
    expect(res.status, res.text).toBe(200);
    const nodes = byNode(res.body);
    // node-s reported 31 s ago: stale now, fresh under 60 s, and roomy.
    expect(nodes.get('node-s')).toMatchObject({ fresh: false, fits: false, reason: 'stale' });
    expect(nodes.get('node-s')?.preview).toMatchObject({ fits: true });
    expect(nodes.get('node-s')?.preview?.score).toBeGreaterThan(0);
    expect(nodes.get('node-e')?.preview).toMatchObject({ fits: false, reason: 'unknown' });

    const lenient = await explain(server, {
      pod: capturedPod(),
      nodes: ['node-s', 'node-e', 'node-m'],
      preview: { unknownNodes: 'allow' },
    });
    for (const n of lenient.body.nodes) {
      expect(n.fits, n.node).toBe(false);
      expect(n.preview, n.node).toMatchObject({
        fits: true,
        score: n.node === 'node-m' ? expect.any(Number) : 0,
      });
    }
  });

  it('limits the answer to `nodes`, in the order of fit and score', async () => {
    server = await startTestServer();
    await seed(server);
    const res = await explain(server, { pod: capturedPod(), nodes: ['node-e', 'node-c'] });
    expect(res.status).toBe(200);
    expect(res.body.nodes.map((n) => n.node)).toEqual(['node-c', 'node-e']);
    expect(res.body.nodes[1]).toMatchObject({
      fits: false,
      message: 'ioplace: no report from this node',
      unresolvable: true,
    });
  });

  it('reports a malformed quantity as the demand error, and every node as not fitting', async () => {
    server = await startTestServer();
    await seed(server);
    const p = capturedPod();
    p.metadata.annotations = { ...p.metadata.annotations, 'kubernetes.io/ingress-bandwidth': '10 Mbit' };
    const res = await explain(server, { pod: p, nodes: ['node-c'] });
    expect(res.status).toBe(200);
    expect(res.body.demand).toBeNull();
    expect(res.body.demandError).toBe(
      'annotation kubernetes.io/ingress-bandwidth "10 Mbit" is not a quantity',
    );
    expect(res.body.nodes[0]).toMatchObject({ fits: false, reason: 'invalidDemand', score: 0 });
  });
});

describe('POST /v1/explain refuses what it cannot read', () => {
  it('answers 400 {error} to YAML that does not parse', async () => {
    server = await startTestServer();
    const res = await call<{ error: string }>(`${server.url}/v1/explain`, 'POST', undefined, {
      raw: 'metadata: [\n  name: x\n',
      contentType: 'application/yaml',
    });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body)).toEqual(['error']);
    expect(res.body.error).toMatch(/^body is not valid YAML: /);
  });

  it('does not explain a body that is neither a pod nor {pod} as an empty pod', async () => {
    // The scheduler's ExtenderArgs spelling ({Pod, NodeNames}), as someone might paste it from a
    // capture: the pod needs 50k iops, n1 has 900 free. Either refuse the body (400) or read the
    // pod; answering that a pod with no demand fits everywhere misleads the operator.
    server = await startTestServer();
    await put(server, 'n1', { capacity: { iops: 1000 } });
    const demanding = {
      metadata: { name: 'db', namespace: 'default' },
      spec: { containers: [{ name: 'db', resources: { requests: { 'ioplace.io/iops': '50k' } } }] },
    };
    const res = await call<Explanation>(`${server.url}/v1/explain`, 'POST', {
      Pod: demanding,
      NodeNames: ['n1'],
    });
    if (res.status === 200) {
      expect(res.body.demand).toEqual({ iops: 50_000 });
      expect(res.body.nodes.find((n) => n.node === 'n1')?.fits).toBe(false);
    } else {
      expect(res.status).toBe(400);
    }
  });

  it.each([
    ['an out-of-range reserveFraction', { reserveFraction: 1 }, 'reserveFraction'],
    ['a strategy that does not exist', { strategy: 'random' }, 'strategy'],
    ['a negative weight', { weights: { iops: -1 } }, 'iops'],
  ])('answers 400 naming the field to a preview with %s', async (_what, preview, field) => {
    server = await startTestServer();
    const res = await call<{ error: string }>(`${server.url}/v1/explain`, 'POST', {
      pod: capturedPod(),
      preview,
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toContain('preview');
    expect(res.body.error).toContain(field);
  });

  it('answers 400 to a preview strategy that does not exist, with the ones that do', async () => {
    server = await startTestServer();
    const res = await call<{ error: string }>(`${server.url}/v1/explain`, 'POST', {
      pod: capturedPod(),
      preview: { strategy: 'random' },
    });
    expect(res.body).toEqual({ error: 'body/preview/strategy must be one of spread, pack' });
  });

  it('answers 400 to an unknown preview field, naming it and the known ones', async () => {
    server = await startTestServer();
    const res = await call<{ error: string }>(`${server.url}/v1/explain`, 'POST', {
      pod: capturedPod(),
      preview: { wieghts: { iops: 2 } },
    });
    expect(res.status).toBe(400);
    // As everywhere in the HTTP API (see inventory-api.test.ts), the message names the key and the known ones.
    expect(res.body).toEqual({
      error:
        'body/preview must NOT have additional properties: "wieghts" is not one (known: strategy, weights, reserveFraction, scoreAllPods, unknownNodes, staleAfterSeconds)',
    });
  });
});

describe('GET /v1/explain/{namespace}/{pod}', () => {
  it('reads the pod from the API server and explains it against every known node', async () => {
    cluster = await startCluster({}, (api) => {
      api.addNode(node('n1'));
      api.addNode(node('n2'));
      api.addPod(pod('web', { iops: '3k' }));
    });
    expect(await report(cluster.server, 'n1', { capacity: { iops: 10_000 } })).toBe(200);

    const res = await call<Explanation>(`${cluster.server.url}/v1/explain/default/web`, 'GET');
    expect(res.status, res.text).toBe(200);
    expect(res.body.pod).toBe('default/web');
    expect(res.body.demand).toEqual({ iops: 3000 });
    expect(res.body.preview).toBeUndefined();
    expect(res.body.nodes.map((n) => [n.node, n.fits, n.message])).toEqual([
      ['n1', true, undefined],
      ['n2', false, 'ioplace: no report from this node'],
    ]);
    // It agrees with filter for the same pod.
    const filtered = await call<FilterResult>(`${cluster.server.url}/scheduler/filter`, 'POST', {
      Pod: cluster.api.getPod('default', 'web'),
      NodeNames: ['n1', 'n2'],
    });
    expect(filtered.body.NodeNames).toEqual(['n1']);

    const packed = await call<Explanation>(
      `${cluster.server.url}/v1/explain/default/web?strategy=pack&reserveFraction=0.5`,
      'GET',
    );
    expect(packed.status).toBe(200);
    expect(packed.body.preview).toMatchObject({ strategy: 'pack', reserveFraction: 0.5 });
    expect(packed.body.settings.strategy).toBe('spread');
  });

  it('answers 404 for a pod the API server does not have', async () => {
    cluster = await startCluster({}, (api) => api.addNode(node('n1')));
    const res = await call<{ error: string }>(`${cluster.server.url}/v1/explain/default/ghost`, 'GET');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'pod default/ghost not found' });
  });

  it('answers 501 when standalone', async () => {
    server = await startTestServer({ cluster: { mode: 'off' } });
    const res = await call<{ error: string }>(`${server.url}/v1/explain/default/web`, 'GET');
    expect(res.status).toBe(501);
    expect(res.body.error).toMatch(/needs cluster access/);
  });
});
