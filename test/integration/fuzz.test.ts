/**
 * Fuzzing every HTTP endpoint over a real socket. Bodies are random JSON, random bytes, truncated
 * JSON and, most of all, mutations of the real kube-scheduler captures (a key deleted, a value of
 * another type, keys in another case or twice, huge numbers, long strings, odd node names), sent
 * with wrong content types too; and, place by place, 5000 levels of nesting in every value of the
 * captures. Whatever arrives:
 *  - the answer is never a 5xx;
 *  - a 4xx carries exactly `{"error": "..."}`, a 2xx the endpoint's own shape;
 *  - a refused PUT or DELETE leaves the inventory as it was (GET /v1/nodes before and after);
 *  - the same server still answers a known-good request after every batch.
 * Each server logs at `error` into a buffer; a failure quotes the request, the answer and the log
 * lines it caused (with the stack of a 500). fast-check prints the seed and path of a failure, and
 * `{ seed, path }` in the assert's parameters replays it.
 * The servers, the checks of an answer, the endpoints and the mutations are in test/support/fuzz-*.ts.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { baseFor, CAPTURES, podDemandEdit, SCAN_BASES, withDemand } from '../support/fuzz-bases.js';
import { BODY_VERBS, methodOf, pathOf, safeEncode, type Verb } from '../support/fuzz-endpoints.js';
import {
  type Json,
  mutate,
  mutation,
  put,
  Raw,
  serialize,
  slots,
  type Tree,
  valueAt,
  weirdString,
} from '../support/fuzz-json-mutations.js';
import {
  CAPTURED_NODES,
  exercise,
  expectStillServing,
  seedInventory,
  startClusterMode,
  startStandalone,
  type Target,
  VICTIMS,
  volume,
} from '../support/fuzz-target.js';

/** Ample for the few thousand requests below on 2 cores; each batch takes a few seconds. */
const BATCH_TIMEOUT_MS = 120_000;

const NODE_NAMES = ['node-a', 'node-b', 'node-c', 'fuzz-1', 'fuzz-2'];
/** The server's routerOptions.maxParamLength (src/http/create-server.ts). */
const MAX_PARAM_LENGTH = 300;

// ---------------------------------------------------------------------------------------------
// Properties

describe.each([
  ['standalone', startStandalone],
  ['cluster mode', startClusterMode],
] as const)('fuzzing a server (%s)', (mode, start) => {
  let target: Target;
  const standalone = mode === 'standalone';
  /** Cluster mode repeats the batches that differ there (bind, preempt, reports) at a smaller volume. */
  const runs = (n: number) => (standalone ? n : Math.ceil(n / 2));
  const verbsHere = standalone ? BODY_VERBS : (['bind', 'preempt', 'report', 'filter'] as const);
  /** The deep scan in cluster mode: only what reads the cluster's state differently. */
  const scanVerbs = standalone ? BODY_VERBS.filter((v) => v !== 'forget') : (['bind', 'preempt'] as const);

  beforeAll(async () => {
    target = await start();
    await seedInventory(target);
  });
  afterAll(async () => {
    await target?.close();
  });

  it(
    'survives mutations of the captured requests',
    async () => {
      const verbs = verbsHere.filter((v) => v !== 'forget');
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...verbs).chain((verb) =>
            fc.record({
              verb: fc.constant(verb),
              base: baseFor(verb),
              mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
              nodeName: fc.constantFrom(...NODE_NAMES),
            }),
          ),
          async ({ verb, base, mutations, nodeName }) => {
            await exercise(target, verb, {
              method: methodOf(verb),
              path: pathOf(verb, nodeName),
              body: mutate(base, mutations),
            });
          },
        ),
        { numRuns: runs(900) },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives well-formed bind and preempt requests with odd names, uids and victims',
    async () => {
      const pods = ['bind-1', ...Object.keys(VICTIMS).map((n) => `victim-${n}`)];
      const uids = ['c6067e08-5450-43c3-babd-6d977d677c73', ...Object.values(VICTIMS)];
      const podName = fc.oneof(
        fc.constantFrom(...pods),
        weirdString.filter((t) => t.length > 0 && t.length <= 253),
      );
      const namespace = fc.oneof(
        fc.constant('default'),
        weirdString.filter((t) => t.length > 0 && t.length <= 63),
      );
      const uid = fc.oneof(
        fc.constantFrom('', ...uids),
        weirdString.filter((t) => t.length <= 128),
      );
      const nodeName = fc.oneof(
        fc.constantFrom(...CAPTURED_NODES),
        weirdString.filter((t) => t.length > 0 && t.length <= 253),
      );
      const bindArgs = fc.record({ PodName: podName, PodNamespace: namespace, PodUID: uid, Node: nodeName });
      const victims = fc.dictionary(
        nodeName,
        fc.record(
          {
            Pods: fc.array(fc.record({ UID: uid.filter((t) => t.length > 0) }), { maxLength: 3 }),
            NumPDBViolations: fc.nat(3),
          },
          { requiredKeys: [] },
        ),
        { maxKeys: 4 },
      );
      const preemptArgs = fc
        .tuple(
          fc.constantFrom(...CAPTURES.filter.map((c) => (c as { Pod: Json }).Pod)),
          podDemandEdit,
          victims,
        )
        .map(([p, demand, meta]) => ({
          ...(withDemand({ Pod: p }, demand) as { Pod: Json }),
          NodeNameToVictims: null,
          NodeNameToMetaVictims: meta,
        }));
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            bindArgs.map((args) => ['bind', args] as const),
            preemptArgs.map((args) => ['preempt', args] as const),
          ),
          async ([verb, args]) => {
            await exercise(target, verb, { method: 'POST', path: pathOf(verb), body: JSON.stringify(args) });
          },
        ),
        { numRuns: 300 },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives random JSON of any shape',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...verbsHere),
          fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.anything({ maxDepth: 3 })),
          async (verb, value) => {
            // fc.anything goes through JSON.stringify, as any client's would; what it cannot write is sent as nothing.
            const body = JSON.stringify(value) ?? '';
            await exercise(target, verb, { method: methodOf(verb), path: pathOf(verb), body });
          },
        ),
        { numRuns: runs(400) },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives random bytes, noise and truncated JSON',
    async () => {
      const noise = fc.oneof(
        fc.uint8Array({ maxLength: 2048 }),
        fc.string({
          unit: fc.constantFrom(...'{}[]",:0123456789.eE+-truefalsenul \\u\n'.split('')),
          maxLength: 200,
        }),
        fc.string({ unit: 'binary', maxLength: 200 }),
      );
      const truncated = fc
        .tuple(fc.constantFrom(...BODY_VERBS.filter((v) => v !== 'forget')), fc.integer({ min: 0, max: 999 }))
        .chain(([verb, permille]) =>
          baseFor(verb).map((base) => {
            const text = JSON.stringify(base);
            return text.slice(0, Math.floor((text.length * permille) / 1000));
          }),
        );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...verbsHere), fc.oneof(noise, truncated), async (verb, body) => {
          await exercise(target, verb, { method: methodOf(verb), path: pathOf(verb), body });
        }),
        { numRuns: runs(400) },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives wrong, odd and missing content types',
    async () => {
      const contentType = fc.oneof(
        fc.constantFrom(
          null,
          '',
          'text/plain',
          'text/json',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/octet-stream',
          'application/JSON',
          'APPLICATION/JSON; CHARSET=UTF-8',
          'application/json;',
          'application/json; charset=utf-16',
          'application/json; charset=latin1',
          'application/json; charset="utf-8"',
          'application/json, text/plain',
          'application/problem+json',
          'application/merge-patch+json',
          'application/yaml',
          'text/yaml',
          'application/x-yaml',
          '*/*',
          'application/json; boundary=\u0001',
          `application/json; x=${'a'.repeat(2000)}`,
        ),
        fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...verbsHere).chain((verb) =>
            fc.record({
              verb: fc.constant(verb),
              base: verb === 'forget' ? fc.constant<Json>({}) : baseFor(verb),
              contentType,
            }),
          ),
          async ({ verb, base, contentType: type }) => {
            const body = type?.includes('yaml') ? toYaml(base) : JSON.stringify(base);
            // Header values fetch refuses (control characters) are a client-side error, not a request.
            const sendable = type === null || /^[\t\x20-\x7e]*$/.test(type);
            await exercise(target, verb, {
              method: methodOf(verb),
              path: pathOf(verb),
              body,
              contentType: sendable ? type : 'text/plain',
            });
          },
        ),
        { numRuns: runs(200) },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives odd node names in the inventory paths, and refusals change nothing',
    async () => {
      const name = fc
        .oneof(
          fc.constantFrom(...NODE_NAMES),
          fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/),
          weirdString,
          fc.constantFrom('a'.repeat(300), 'a/b', 'a?b=c', 'a#b', '.', '..', '-', 'a..b', 'A'),
        )
        // Longer path parameters meet Fastify's router limit: see "found by fuzzing" below.
        .filter((n) => safeEncode(n).length <= MAX_PARAM_LENGTH);
      const verb = fc.constantFrom<Verb>('report', 'node', 'forget');
      await fc.assert(
        fc.asyncProperty(
          verb,
          name,
          baseFor('report'),
          fc.array(mutation, { maxLength: 2 }),
          async (v, n, base, mutations) => {
            const body = v === 'report' ? mutate(base, mutations) : undefined;
            await exercise(target, v, { method: methodOf(v), path: pathOf(v, n), body });
          },
        ),
        { numRuns: runs(400) },
      );
      await exercise(target, 'list', { method: 'GET', path: '/v1/nodes' });
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it.runIf(standalone)(
    'survives YAML of any kind sent to explain',
    async () => {
      const yamlText = fc.oneof(
        baseFor('explain').map((base) => toYaml(base)),
        fc
          .tuple(baseFor('explain'), fc.array(mutation, { minLength: 1, maxLength: 3 }))
          .map(([base, mutations]) => {
            // The mutated text is JSON, which is YAML too.
            return mutate(base, mutations);
          }),
        fc.constantFrom(
          'metadata: &m {name: x, self: *m}',
          'spec: &s {containers: [{name: c, x: *s}]}',
          'a: &a [*a, *a]',
          `a: ${'['.repeat(5000)}`,
          `${'- '.repeat(2000)}x`,
          '!!binary aGVsbG8=',
          'metadata: {name: !!js/function "f"}',
          '---\na: 1\n---\nb: 2',
          '? [a, b]\n: c',
          '__proto__: {polluted: 1}\nmetadata: {name: x}',
          'preview: {reserveFraction: .nan, weights: {iops: .inf}}',
          'metadata: {name: 0x1F}',
          'nodes: [node-a, ~, 1]',
          '\t- bad indent',
          `a: ${'&x '.repeat(10)}1`,
          `x: ${'*y '.repeat(100)}`,
        ),
        fc.string({ maxLength: 200 }),
      );
      await fc.assert(
        fc.asyncProperty(
          yamlText,
          fc.constantFrom('application/yaml', 'text/yaml', 'application/x-yaml'),
          async (body, type) => {
            await exercise(target, 'explain', {
              method: 'POST',
              path: '/v1/explain',
              body,
              contentType: type,
            });
          },
        ),
        { numRuns: 200 },
      );
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );

  it(
    'survives 5000 levels of nesting in every place of every captured request, and 100k as the whole body',
    async () => {
      // Exhaustive rather than random: every value of every base, in turn, becomes a deep array
      // (even places) or a deep object (odd places).
      const deepArray = new Raw(`${'['.repeat(5000)}${']'.repeat(5000)}`);
      const deepObject = new Raw(`${'{"a":'.repeat(5000)}0${'}'.repeat(5000)}`);
      const failures: string[] = [];
      let first: unknown;
      let place = 0;
      const attempt = async (verb: Verb, body: string, where: string) => {
        try {
          await exercise(target, verb, { method: methodOf(verb), path: pathOf(verb), body });
        } catch (err) {
          failures.push(`${verb} ${where}: ${String(err).split('\n')[0]}`);
          first ??= err;
        }
      };
      for (const verb of scanVerbs) {
        for (const [name, base] of SCAN_BASES[verb] ?? []) {
          const root = structuredClone(base) as Tree;
          for (const slot of slots(root)) {
            const original = valueAt(slot);
            put(slot, place++ % 2 === 0 ? deepArray : deepObject);
            await attempt(verb, serialize(root, new WeakMap()), `${name} at ${slot.path.join('.')}`);
            put(slot, original);
          }
        }
        await attempt(verb, `${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'whole body, 100k arrays');
        await attempt(verb, `${'{"a":'.repeat(100_000)}0${'}'.repeat(100_000)}`, 'whole body, 100k objects');
      }
      if (first !== undefined) {
        const places = new Set(failures.map((f) => f.replace(/\.\d+\..*?:/, '.N...:').replace(/:.*/, '')));
        throw new Error(
          `${failures.length} deep requests failed, in ${[...places].join(', ')}:\n${failures.slice(0, 30).join('\n')}\n\nThe first in full:\n${String(first)}`,
        );
      }
      await expectStillServing(target);
    },
    BATCH_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------
// What fuzzing found, minimized

describe('found by fuzzing', () => {
  let target: Target;
  beforeAll(async () => {
    target = await startStandalone();
  });
  afterAll(async () => {
    await target?.close();
  });

  it.each([
    [
      'Nodes.metadata',
      `{"Pod":{},"Nodes":{"metadata":{"x":${'['.repeat(5000)}${']'.repeat(5000)}},"items":[]}}`,
    ],
    [
      'a passing Node',
      `{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"n"},"x":${'['.repeat(5000)}${']'.repeat(5000)}}]}}`,
    ],
  ])('filter in Nodes mode echoes %s nested 5000 deep without a 500', async (_where, body) => {
    // JSON.parse takes any depth, but the answer echoes Nodes.metadata and the passing Node
    // objects through JSON.stringify (fast-json-stringify's path for untyped values), which
    // overflows the stack from about 4100 levels (Node 20, default stack): 500 "internal error",
    // RangeError: Maximum call stack size exceeded.
    await exercise(target, 'filter', { method: 'POST', path: '/scheduler/filter', body });
  });

  it.each([
    ['a malformed percent-escape (400 FST_ERR_BAD_URL)', '/v1/nodes/%E0%A4%A/report'],
    [
      `a node name over ${MAX_PARAM_LENGTH} characters (414 FST_ERR_MAX_PARAM_LENGTH)`,
      `/v1/nodes/${'a'.repeat(301)}/report`,
    ],
  ])('answers %s with {"error"} only, as every other refusal', async (_what, path) => {
    // Fastify's router answers these itself, past the app's error handler, with its own body:
    // {"error":"Bad Request","code":"FST_...","message":"...","statusCode":...}.
    await exercise(target, 'report', { method: 'PUT', path, body: '{"capacity":{}}' });
  });
});

afterAll(() => {
  const statuses = [...volume.byStatus.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
  const outcomes = [...volume.byVerb.entries()].sort().map(([k, n]) => `${k}: ${n}`);
  console.info(`fuzz: ${volume.requests} requests (${statuses.join(', ')})\n${outcomes.join('\n')}`);
});
