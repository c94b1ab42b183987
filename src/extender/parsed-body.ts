import type { FastifyRequest } from 'fastify';
import { arrayOf, canonicalizeKeys, canonicalizeKeysTelling, type KeyShape } from './go-json-keys.js';
import { ExtenderArgsKeysAboveNodes, NodeKeys } from './wire-schemas.js';

/** A preValidation hook that gives the body Go's key spelling before the schema sees it. */
export function canonicalizeBody(shape: KeyShape) {
  return async (request: FastifyRequest): Promise<void> => {
    request.body = canonicalizeKeys(request.body, shape);
  };
}

const nodesAsSent = new WeakSet<FastifyRequest>();

/**
 * Whether canonicalizeExtenderArgs found every Node of the request's NodeList already in Go's
 * spelling, so that the parsed Nodes are what their bytes in the body say.
 */
export function nodesKeptAsSent(request: FastifyRequest): boolean {
  return nodesAsSent.has(request);
}

const NODE_ITEMS = arrayOf(NodeKeys);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * canonicalizeBody(ExtenderArgsKeys) for filter and prioritize, in two steps, so as to tell
 * whether the Nodes were left as sent: the Nodes kube-scheduler sends are in Go's spelling
 * already, and then the parsed Nodes are what their bytes say. Remembers it for nodesKeptAsSent.
 */
export function canonicalizeExtenderArgs() {
  return async (request: FastifyRequest): Promise<void> => {
    const body = canonicalizeKeys(request.body, ExtenderArgsKeysAboveNodes);
    const list = isPlainObject(body) ? body.Nodes : undefined;
    const items = isPlainObject(list) ? list.items : undefined;
    if (Array.isArray(items) && !canonicalizeKeysTelling(items, NODE_ITEMS).changed) nodesAsSent.add(request);
    request.body = body;
  };
}
