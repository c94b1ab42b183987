import type { FastifyRequest } from 'fastify';
import { arrayOf, canonicalizeKeys, type KeyShape } from './go-json-keys.js';
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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Whether canonicalizeKeys(object, shape of `field` only) would leave the object as it is: no key
 * spells the field in another case, and the field is not null. A key of another length cannot
 * lower-case to the field's name, so most keys cost a length comparison.
 */
function fieldAsSent(object: Record<string, unknown>, field: string): boolean {
  for (const key in object) {
    if (key === field) {
      if (object[key] === null) return false;
    } else if (key.length === field.length && key.toLowerCase() === field) return false;
  }
  return true;
}

/** Whether canonicalizeKeys(items, arrayOf(NodeKeys)) would change nothing. */
function itemsAsSent(items: readonly unknown[]): boolean {
  for (const node of items) {
    if (!isPlainObject(node)) continue;
    if (!fieldAsSent(node, 'metadata')) return false;
    const metadata = node.metadata;
    if (isPlainObject(metadata) && !fieldAsSent(metadata, 'name')) return false;
  }
  return true;
}

/**
 * canonicalizeBody(ExtenderArgsKeys) for filter and prioritize, cheaper on a NodeList: the Nodes
 * kube-scheduler sends are in Go's spelling already, and checking that costs about a length
 * comparison per key, where the rewrite lower-cases every key of every Node. Remembers the answer
 * for nodesKeptAsSent.
 */
export function canonicalizeExtenderArgs() {
  return async (request: FastifyRequest): Promise<void> => {
    const body = canonicalizeKeys(request.body, ExtenderArgsKeysAboveNodes);
    const list = isPlainObject(body) ? body.Nodes : undefined;
    const items = isPlainObject(list) ? list.items : undefined;
    if (Array.isArray(items)) {
      if (itemsAsSent(items)) nodesAsSent.add(request);
      else canonicalizeKeys(items, arrayOf(NodeKeys));
    }
    request.body = body;
  };
}
