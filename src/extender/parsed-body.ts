import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { arrayOf, canonicalizeKeys, canonicalizeKeysTelling, type KeyShape } from './go-json-keys.js';
import type { RawJsonBody } from './json-body.js';
import { type NodeSpans, nodeListSpans } from './node-list-spans.js';
import {
  type ExtenderArgs,
  ExtenderArgsKeysAboveNodes,
  ExtenderArgsSchema,
  NodeKeys,
} from './wire-schemas.js';

/** A preValidation hook that gives the body Go's key spelling before the schema sees it. */
export function canonicalizeBody(shape: KeyShape) {
  return async (request: FastifyRequest): Promise<void> => {
    request.body = canonicalizeKeys(request.body, shape);
  };
}

const NODE_ITEMS = arrayOf(NodeKeys);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The body of filter and prioritize as their JSON parser (installJsonBodyParser) leaves it: the
 * members of the ExtenderArgs, with Go's key spelling (go-json-keys.ts), for the schema to check,
 * and, when its Nodes can be echoed by copying their bytes, the body as received.
 *
 * The keys are respelled in two steps, the Nodes apart, to tell whether any key of a Node was: the
 * Nodes kube-scheduler sends are in Go's spelling already, and then the parsed Nodes are what
 * their bytes say, which lets a Nodes-mode filter echo the passing ones by copying them.
 */
export class ParsedExtenderArgs implements ExtenderArgs {
  declare readonly Pod: ExtenderArgs['Pod'];
  declare readonly Nodes?: ExtenderArgs['Nodes'];
  declare readonly NodeNames?: ExtenderArgs['NodeNames'];
  // Private, and read by a static function: the body's own members (any key a client sends)
  // cannot shadow it as they could a method.
  readonly #echoable: RawJsonBody | undefined;

  private constructor(members: Record<string, unknown>, echoable: RawJsonBody | undefined) {
    Object.assign(this, members);
    this.#echoable = echoable;
  }

  /**
   * The body for a parsed JSON value: a ParsedExtenderArgs when the value is an object (keeping
   * `raw` only when the Nodes can be echoed from it), else the value as it is, for the schema to
   * refuse. Without `raw` the Nodes are never echoed (prioritize).
   */
  static read(value: unknown, raw?: RawJsonBody): unknown {
    const body = canonicalizeKeys(value, ExtenderArgsKeysAboveNodes);
    if (!isPlainObject(body)) return body;
    const list = body.Nodes;
    const items = isPlainObject(list) ? list.items : undefined;
    const asSent = Array.isArray(items) && !canonicalizeKeysTelling(items, NODE_ITEMS).changed;
    return new ParsedExtenderArgs(body, asSent ? raw : undefined);
  }

  /**
   * The request's bytes and where its Nodes are, when the passing Nodes can be echoed by copying
   * them: no key of a Node was respelled on the way in (else the parsed Node is not its bytes),
   * the body is well-formed UTF-8 (else its bytes are not what was parsed), and the scan found as
   * many Nodes as were parsed. Otherwise undefined, and they are serialized.
   */
  static nodesAsSent(args: ParsedExtenderArgs): { bytes: Buffer; spans: NodeSpans } | undefined {
    const raw = args.#echoable;
    if (raw === undefined || !raw.isUtf8()) return undefined;
    const spans = nodeListSpans(raw.latin1());
    if (spans === undefined || spans.starts.length !== (args.Nodes?.items?.length ?? 0)) return undefined;
    return { bytes: raw.bytes, spans };
  }
}

/**
 * ExtenderArgsSchema, for a route whose JSON parser reads the body with ParsedExtenderArgs.read:
 * every object it passes is one, and the schema refuses anything else.
 */
export const ParsedExtenderArgsSchema = Type.Unsafe<ParsedExtenderArgs>(ExtenderArgsSchema);
