import { isAscii, isUtf8 } from 'node:buffer';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { parse as secureJsonParse } from 'secure-json-parse';

/*
 * The JSON body parser of the scheduler routes. It accepts and refuses exactly what Fastify's own
 * parser does: the same errors, and the same parse, secure-json-parse's, which refuses
 * `__proto__` and `constructor.prototype` keys. In addition it keeps the body as received for the
 * handler: a Nodes-mode filter echoes the passing Node objects by copying their bytes (see
 * node-list-spans.ts).
 */

/** As Fastify's parser is configured by default (onProtoPoisoning, onConstructorPoisoning). */
const POISONING = { protoAction: 'error', constructorAction: 'error' } as const;

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
    let value: unknown;
    try {
      value = secureJsonParse(ascii ?? bytes.toString('utf8'), POISONING);
    } catch {
      done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
      return;
    }
    if (keepBody) rawBodies.set(request, new RawJsonBody(bytes, ascii));
    done(null, value);
  });
}
