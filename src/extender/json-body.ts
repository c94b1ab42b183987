import { isAscii, isUtf8 } from 'node:buffer';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';

/*
 * The JSON body parser of the scheduler routes. It accepts and refuses exactly what Fastify's own
 * parser does (the same errors, the same protection against `__proto__` and `constructor.prototype`
 * keys), and in addition keeps the body as received for the handler: a Nodes-mode filter echoes
 * the passing Node objects by copying their bytes (see node-list-spans.ts).
 */

// The two patterns of secure-json-parse, which Fastify's parser uses, in one expression (one
// pass over the body instead of two): a key that is, or is escaped into, "__proto__" or
// "constructor". Only a body that has one is walked to find such keys.
const SUSPECT_KEY = new RegExp(
  [
    /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/,
    /"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/,
  ]
    .map((pattern) => pattern.source)
    .join('|'),
);

const BYTE_ORDER_MARK = 0xfeff;

/** A JSON body as received, for a handler that answers with parts of it. */
export class RawJsonBody {
  #latin1: string | undefined;
  readonly #ascii: boolean;

  constructor(
    readonly bytes: Buffer,
    /** The body as decoded for JSON.parse, when it is all ASCII (and so the same as latin1()). */
    ascii: string | undefined,
  ) {
    this.#latin1 = ascii;
    this.#ascii = ascii !== undefined;
  }

  /** The bytes are well-formed UTF-8, and so the very text JSON.parse was given. */
  isUtf8(): boolean {
    // ASCII, which the parser checked already, is UTF-8: only other bodies need the scan.
    return this.#ascii || isUtf8(this.bytes);
  }

  /** The body one character per byte, so that string positions are byte offsets. */
  latin1(): string {
    this.#latin1 ??= this.bytes.toString('latin1');
    return this.#latin1;
  }
}

const rawBodies = new WeakMap<FastifyRequest, RawJsonBody>();

/** The request's JSON body as received, when a route in a scope with this parser read one. */
export function rawJsonBody(request: FastifyRequest): RawJsonBody | undefined {
  return rawBodies.get(request);
}

/** Whether a parsed value holds an object with an own `__proto__`, or `constructor` with `prototype`. */
function hasForbiddenKey(root: object): boolean {
  // Breadth first, with no recursion: a body may nest thousands of levels deep.
  let next: object[] = [root];
  while (next.length > 0) {
    const level = next;
    next = [];
    for (const node of level) {
      if (Object.hasOwn(node, '__proto__')) return true;
      const ctor = (node as { constructor?: unknown }).constructor;
      if (
        Object.hasOwn(node, 'constructor') &&
        ctor !== null &&
        typeof ctor === 'object' &&
        Object.hasOwn(ctor, 'prototype')
      )
        return true;
      for (const key in node) {
        const value = (node as Record<string, unknown>)[key];
        if (value !== null && typeof value === 'object') next.push(value);
      }
    }
  }
  return false;
}

/** JSON.parse of a body's text, or throws; as secure-json-parse with both actions set to 'error'. */
export function parseJsonText(text: string): unknown {
  if (text.charCodeAt(0) === BYTE_ORDER_MARK) text = text.slice(1);
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object') return value;
  if (!SUSPECT_KEY.test(text)) return value;
  if (hasForbiddenKey(value)) throw new SyntaxError('Object contains forbidden prototype property');
  return value;
}

/**
 * Replaces, in this plugin's scope, Fastify's application/json parser with one that behaves the
 * same, and with `keepBody` keeps the body as received for rawJsonBody (until the request is
 * gone: a NodeList body is tens of megabytes, so only a route that uses it should keep it).
 */
export function installJsonBodyParser(app: FastifyInstance, { keepBody }: { keepBody: boolean }): void {
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    if (bytes.length === 0) {
      done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined);
      return;
    }
    // An ASCII body decodes the same as latin1 and as UTF-8, and latin1 is a copy where UTF-8 is
    // a scan: several times faster on the megabytes of a NodeList.
    const ascii = isAscii(bytes) ? bytes.toString('latin1') : undefined;
    // As secure-json-parse does: a refused body costs no stack trace.
    const { stackTraceLimit } = Error;
    Error.stackTraceLimit = 0;
    let value: unknown;
    try {
      value = parseJsonText(ascii ?? bytes.toString('utf8'));
    } catch {
      done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
      return;
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    if (keepBody) rawBodies.set(request, new RawJsonBody(bytes, ascii));
    done(null, value);
  });
}
