/**
 * The scheduler routes parse JSON with their own parser (it keeps the body's bytes for the
 * Nodes-mode echo). It must accept and refuse exactly what Fastify's own parser does: two servers,
 * one with each parser, answer the same bodies with the same status, error and parsed value.
 */

import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installJsonBodyParser, rawJsonBody } from '../../src/extender/json-body.js';

const LIMIT = 64 * 1024;

function echoServer(ours: boolean): FastifyInstance {
  const app = Fastify({ bodyLimit: LIMIT });
  app.register(async (scope) => {
    if (ours) installJsonBodyParser(scope, { keepBody: true });
    scope.post('/echo', async (request, reply) => {
      if (ours) reply.header('x-kept-bytes', String(rawJsonBody(request)?.bytes.length ?? 'none'));
      return reply.type('application/json').send(JSON.stringify({ body: request.body }));
    });
  });
  return app;
}

let theirs: FastifyInstance;
let ours: FastifyInstance;

beforeAll(async () => {
  theirs = echoServer(false);
  ours = echoServer(true);
  await Promise.all([theirs.ready(), ours.ready()]);
});
afterAll(async () => {
  await Promise.all([theirs.close(), ours.close()]);
});

async function answers(payload: string | Buffer, contentType = 'application/json') {
  const send = (app: FastifyInstance) =>
    app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': contentType }, payload });
  const [a, b] = await Promise.all([send(theirs), send(ours)]);
  return {
    theirs: { status: a.statusCode, body: a.body, connection: a.headers.connection },
    ours: { status: b.statusCode, body: b.body, connection: b.headers.connection },
  };
}

async function expectSameAnswer(payload: string | Buffer, contentType?: string) {
  const { theirs: a, ours: b } = await answers(payload, contentType);
  expect(b, String(payload).slice(0, 200)).toEqual(a);
  return b;
}

const PROTO_KEYS = [
  '__proto__',
  '\\u005f_proto__',
  '__pr\\u006Fto__',
  'constructor',
  'c\\u006fnstructor',
  'prototype',
  'proto',
  '__proto',
];

describe('the scheduler routes’ JSON body parser', () => {
  it.each([
    ['an empty body', ''],
    ['white space', ' \n'],
    ['truncated JSON', '{"Pod":{"metadata":'],
    ['a string', '"x"'],
    ['null', 'null'],
    ['a number', '-0.5e3'],
    ['a byte-order mark', '\ufeff{"a":1}'],
    ['two byte-order marks', '\ufeff\ufeff{"a":1}'],
    ['__proto__ at the top', '{"__proto__":{"x":1}}'],
    ['__proto__ deep down', '{"a":[{"b":{"__proto__":[]}}]}'],
    ['an escaped __proto__', '{"a":{"\\u005F\\u005Fproto__":1}}'],
    ['__proto__ as a value', '{"a":"__proto__","b":["__proto__"]}'],
    ['constructor with a prototype', '{"a":{"constructor":{"prototype":{}}}}'],
    ['constructor without one', '{"a":{"constructor":{"x":1}}}'],
    ['a constructor that is not an object', '{"constructor":"x","b":{"constructor":null}}'],
    ['deep nesting', `${'['.repeat(20_000)}${']'.repeat(20_000)}`],
    ['non-ASCII', '{"名":"節点 é 🚀","x":"\\ud83d\\ude80"}'],
  ])('answers %s as Fastify does', async (_what, payload) => {
    await expectSameAnswer(payload);
  });

  it('keeps the bytes of the body it parsed', async () => {
    const payload = '{"名":"節点"}';
    const res = await ours.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-kept-bytes']).toBe(String(Buffer.byteLength(payload)));
  });

  it('answers bytes that are not UTF-8 as Fastify does', async () => {
    await expectSameAnswer(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xc3, 0x28, 0x22, 0x7d]));
    await expectSameAnswer(Buffer.from([0xef, 0xbb, 0xbf, 0x5b, 0x5d]));
  });

  it('answers a body over the limit as Fastify does', async () => {
    const b = await expectSameAnswer(JSON.stringify({ a: 'x'.repeat(LIMIT) }));
    expect(b.status).toBe(413);
  });

  it.each([
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'application/json; charset=utf-16',
    'text/plain',
    'application/problem+json',
  ])('answers content type %s as Fastify does', async (contentType) => {
    await expectSameAnswer('{"a":1}', contentType);
  });

  it('answers any JSON, with or without prototype keys, as Fastify does', async () => {
    const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(...PROTO_KEYS));
    const value = fc.letrec<{ v: string }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 0 }).map((v) => JSON.stringify(v)),
        fc.array(tie('v'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
        fc
          .array(fc.tuple(key, tie('v')), { maxLength: 3 })
          // Keys written raw: the escaped ones stay escaped.
          .map(
            (members) =>
              `{${members.map(([k, v]) => `"${k.replace(/["\\](?!u0)/g, '\\$&')}" : ${v}`).join(',')}}`,
          ),
      ),
    })).v;
    await fc.assert(
      fc.asyncProperty(value, fc.boolean(), async (text, cut) => {
        await expectSameAnswer(cut ? text.slice(0, Math.ceil(text.length / 2)) : text);
      }),
      { numRuns: 500 },
    );
  });
});
