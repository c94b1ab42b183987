/**
 * The servers the fuzz test (test/integration/fuzz.test.ts) runs against, and `exercise`, which
 * sends one request and checks the answer against the invariants every answer must keep:
 *  - never a 5xx, nothing logged at error level;
 *  - a 4xx carries exactly `{"error": "..."}`, a 2xx the endpoint's own shape (fuzz-endpoints.ts);
 *  - a refused PUT or DELETE leaves the inventory as it was (GET /v1/nodes before and after).
 * A broken invariant is thrown as an Error quoting the request, the answer and the server's log
 * lines at `error`, which fast-check reports with the shrunk input.
 */
import { pino } from 'pino';
import { expect } from 'vitest';
import { capture } from './captures.js';
import { clusterSynced, FAST_CLUSTER, node, pod, reservationsHeld } from './cluster-harness.js';
import { FakeApiServer, waitFor } from './fake-apiserver.js';
import { errorShape, type FuzzRequest, SUCCESS, type Verb } from './fuzz-endpoints.js';
import { startTestServer, type TestServer } from './test-server.js';

/** Counts requests, for the report at the end. */
export const volume = { requests: 0, byStatus: new Map<number, number>(), byVerb: new Map<string, number>() };

// ---------------------------------------------------------------------------------------------
// Servers under test

export interface Target {
  readonly name: string;
  readonly server: TestServer;
  /** Lines the server logged at `error` (500s log their stack here). */
  readonly log: string[];
  /** Clock time of the last seedInventory: reports go stale 30 s later. */
  readonly seeded: { at: number };
  close(): Promise<void>;
}

function bufferLogger() {
  const log: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void log.push(line) });
  return { log, logger };
}

export async function startStandalone(): Promise<Target> {
  const { log, logger } = bufferLogger();
  const server = await startTestServer({}, { logger });
  return { name: 'standalone', server, log, seeded: { at: 0 }, close: () => server.close() };
}

/** The scheduler's node names in the captures, and the victims of preempt-nodecache-true. */
export const CAPTURED_NODES = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'];
export const VICTIMS: Record<string, string> = {
  'node-a': '3537e209-a7a8-4e89-874c-b63a3d042181',
  'node-b': '6aa96f05-e931-4ee8-a0b1-a955a5e9f1d4',
  'node-c': 'dd917100-c2e2-4cb0-a089-70eb65836f47',
};

/**
 * As startCluster (test/support/cluster-harness.ts), with the buffer logger the checks read: a fake API
 * server with the captured nodes, victims that ask for I/O bound to three of them, and the
 * captured bind's pod waiting to be bound.
 */
export async function startClusterMode(): Promise<Target> {
  const api = await FakeApiServer.start();
  for (const name of CAPTURED_NODES) api.addNode(node(name));
  for (const [nodeName, uid] of Object.entries(VICTIMS)) {
    api.addPod(pod(`victim-${nodeName}`, { node: nodeName, iops: '2k', ingress: '100M', uid }));
  }
  api.addPod(pod('bind-1', { iops: '1k', uid: 'c6067e08-5450-43c3-babd-6d977d677c73' }));
  const { log, logger } = bufferLogger();
  const server = await startTestServer(FAST_CLUSTER, { kubeConfig: api.kubeConfig(), logger });
  await waitFor(() => clusterSynced(server), 5000, 'the initial list');
  return {
    name: 'cluster',
    server,
    log,
    seeded: { at: 0 },
    close: async () => {
      await server.close();
      await api.close();
    },
  };
}

/** Gives the captured nodes figures, so that filter, prioritize and preempt get past "no report". */
export async function seedInventory(target: Target): Promise<void> {
  for (const [i, name] of CAPTURED_NODES.entries()) {
    target.server.clock.now += 1000;
    const res = await send(target, {
      method: 'PUT',
      path: `/v1/nodes/${name}/report`,
      body: JSON.stringify({
        capacity: { ingressBandwidth: 1e9 * (i + 1), egressBandwidth: 1e9, iops: 10_000 * i },
        usage: { ingressBandwidth: 1e8, iops: 1000 },
      }),
    });
    expect(res.status, res.text).toBe(200);
    volume.requests++;
  }
  target.seeded.at = target.server.clock.now;
}
// ---------------------------------------------------------------------------------------------
// Requests, and the invariants every answer is checked against

export interface Answer {
  readonly status: number;
  readonly text: string;
  readonly contentType: string | null;
}

export async function send(target: Target, request: FuzzRequest): Promise<Answer> {
  const headers: Record<string, string> = {};
  const { body } = request;
  const contentType = request.contentType === undefined ? 'application/json' : request.contentType;
  if (body !== undefined && contentType !== null) headers['content-type'] = contentType;
  // Bytes, so that fetch adds no content type of its own.
  const payload = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const response = await fetch(`${target.server.url}${request.path}`, {
    method: request.method,
    headers,
    body: payload,
  });
  return {
    status: response.status,
    text: await response.text(),
    contentType: response.headers.get('content-type'),
  };
}

function preview(body: FuzzRequest['body']): string {
  if (body === undefined) return '(none)';
  const text = typeof body === 'string' ? body : `bytes ${Buffer.from(body).toString('hex')}`;
  return text.length <= 600
    ? JSON.stringify(text)
    : `${JSON.stringify(text.slice(0, 600))}... (${text.length} chars)`;
}

/** Thrown from a property: fast-check reports it with the shrunk input. */
function failure(
  target: Target,
  request: FuzzRequest,
  answer: Answer,
  problem: string,
  logFrom: number,
): Error {
  const log = target.log.slice(logFrom).join('').trim();
  return new Error(
    [
      `${problem}`,
      `server: ${target.name}`,
      `request: ${request.method} ${request.path} content-type ${JSON.stringify(request.contentType ?? 'application/json')}`,
      `body: ${preview(request.body)}`,
      `answer: ${answer.status} ${answer.contentType ?? ''} ${answer.text.slice(0, 600)}`,
      `server log:\n${log === '' ? '(nothing at error level)' : log}`,
    ].join('\n'),
  );
}

/**
 * Sends one request and checks the answer against the invariants; a refused PUT or DELETE must
 * leave GET /v1/nodes exactly as it was.
 */
export async function exercise(target: Target, verb: Verb, request: FuzzRequest): Promise<Answer> {
  // Reports age with every PUT below: give the captured nodes fresh figures again now and then.
  if (target.server.clock.now - target.seeded.at > 20_000) await seedInventory(target);
  const changes = request.method === 'PUT' || request.method === 'DELETE';
  // A second of the fake clock per report keeps the per-node rate limit out of the way.
  if (request.method === 'PUT') target.server.clock.now += 1000;
  const before = changes ? await send(target, { method: 'GET', path: '/v1/nodes' }) : undefined;
  const logFrom = target.log.length;
  const answer = await send(target, request);
  volume.requests += before === undefined ? 1 : 3;
  volume.byStatus.set(answer.status, (volume.byStatus.get(answer.status) ?? 0) + 1);
  const bound =
    verb === 'bind' && answer.status === 200 ? (answer.text === '{"Error":""}' ? ' bound' : ' Error') : '';
  const outcome = `${target.name} ${verb} ${answer.status}${bound}`;
  volume.byVerb.set(outcome, (volume.byVerb.get(outcome) ?? 0) + 1);
  const fail = (problem: string) => failure(target, request, answer, problem, logFrom);

  if (answer.status >= 500) throw fail(`answered ${answer.status}`);
  if (answer.status < 200 || (answer.status >= 300 && answer.status < 400)) throw fail('unexpected status');
  const isJson = answer.contentType?.includes('application/json') ?? false;
  let body: unknown;
  if (answer.status === 204) {
    if (answer.text !== '') throw fail('204 with a body');
  } else {
    if (!isJson) throw fail('answer is not JSON');
    try {
      body = JSON.parse(answer.text);
    } catch {
      throw fail('answer does not parse');
    }
  }
  if (answer.status >= 400) {
    const problem = errorShape(body);
    if (problem) throw fail(`error body: ${problem}`);
  } else {
    const success = SUCCESS[verb];
    if (answer.status !== success.status) throw fail(`status ${answer.status} from ${verb}`);
    const problem = success.shape(body);
    if (problem) throw fail(`${verb} answer: ${problem}`);
  }

  const errors = target.log.slice(logFrom).filter((line) => /"level":(50|60)/.test(line));
  if (errors.length > 0) throw fail('an error was logged');
  // A pod really bound (cluster mode): let the pod watch catch up before the next inventory
  // snapshot, so that only the requests under test change what GET /v1/nodes shows.
  if (bound === ' bound') {
    const { server } = target;
    await waitFor(
      async () => (await reservationsHeld(server)) === 0,
      5000,
      'the pod watch to show the bound pod',
    );
  }

  if (before !== undefined) {
    const after = await send(target, { method: 'GET', path: '/v1/nodes' });
    if (answer.status >= 400 && after.text !== before.text) {
      throw fail(
        `a refused ${request.method} changed the inventory:\nbefore ${before.text}\nafter  ${after.text}`,
      );
    }
    // An accepted one shows at once: the stored entry as the PUT answered it, or none after DELETE.
    const entryPath = request.path.replace(/\/report$/, '');
    if (answer.status < 300) {
      const entry = await send(target, { method: 'GET', path: entryPath });
      volume.requests++;
      const expected = request.method === 'PUT' ? `200 ${answer.text}` : '404';
      const got = request.method === 'PUT' ? `${entry.status} ${entry.text}` : String(entry.status);
      if (got !== expected) throw fail(`GET ${entryPath} then answered ${got}`);
    }
  }
  return answer;
}

/** The known-good request: the server still stores a report and filters by it. */
export async function expectStillServing(target: Target): Promise<void> {
  target.server.clock.now += 1000;
  const report = await send(target, {
    method: 'PUT',
    path: '/v1/nodes/node-a/report',
    body: JSON.stringify({ capacity: { ingressBandwidth: 1e10, egressBandwidth: 1e10, iops: 50_000 } }),
  });
  expect(report.status, report.text).toBe(200);
  const args = capture<Record<string, unknown>>('filter-nodecache-true'); // asks 100M in, 50M out
  const res = await send(target, {
    method: 'POST',
    path: '/scheduler/filter',
    body: JSON.stringify({ ...args, NodeNames: ['node-a'] }),
  });
  expect(res.status, res.text).toBe(200);
  expect(JSON.parse(res.text)).toMatchObject({ NodeNames: ['node-a'], FailedNodes: {}, Error: '' });
}
