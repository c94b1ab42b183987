import type { FastifyRequest } from 'fastify';
import { canonicalizeKeys, type KeyShape } from './go-json-keys.js';

/** A preValidation hook that gives the body Go's key spelling before the schema sees it. */
export function canonicalizeBody(shape: KeyShape) {
  return async (request: FastifyRequest): Promise<void> => {
    request.body = canonicalizeKeys(request.body, shape);
  };
}
