import { createHash } from 'node:crypto';
import { ANY_NODE } from './agent-tokens.js';

/** Who a bearer token belongs to, as far as agent reports are concerned. */
export type AgentIdentity =
  | { readonly ok: true; readonly name: string; readonly nodes: ReadonlySet<string> }
  | { readonly ok: false; readonly reason: string };

export type AuthDecision =
  | { readonly allowed: true; readonly identity: string }
  | { readonly allowed: false; readonly status: 401 | 403 | 503; readonly message: string };

/** Turns a bearer token into an identity; may ask the API server (TokenReview). */
export interface TokenAuthenticator {
  readonly kind: string;
  identify(token: string): Promise<AgentIdentity>;
}

/**
 * May this request write `node`'s figures? No token is 401; a token that is not an agent's is
 * 401; an agent's token for another node is 403. An authenticator that cannot decide now (the
 * API server is away and the answer is not cached) throws, which is a 503.
 */
export async function authorizeAgent(
  authenticator: TokenAuthenticator | undefined,
  authorization: string | undefined,
  node: string,
): Promise<AuthDecision> {
  if (authenticator === undefined) return { allowed: true, identity: 'anonymous' };
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (token === undefined) return { allowed: false, status: 401, message: 'a bearer token is required' };
  let identity: AgentIdentity;
  try {
    identity = await authenticator.identify(token);
  } catch (err) {
    return { allowed: false, status: 503, message: `cannot verify the token now: ${(err as Error).message}` };
  }
  if (!identity.ok) return { allowed: false, status: 401, message: `token refused: ${identity.reason}` };
  if (!identity.nodes.has(ANY_NODE) && !identity.nodes.has(node)) {
    return { allowed: false, status: 403, message: `${identity.name} may not report for node ${node}` };
  }
  return { allowed: true, identity: identity.name };
}

/** A cache key that does not keep the token itself in memory. */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Static tokens from a file, for standalone use. */
export class StaticTokens implements TokenAuthenticator {
  readonly kind = 'file';
  readonly #byKey: Map<string, ReadonlySet<string>>;

  constructor(tokens: Map<string, Set<string>>) {
    this.#byKey = new Map([...tokens].map(([t, nodes]) => [tokenKey(t), nodes]));
  }

  async identify(token: string): Promise<AgentIdentity> {
    const nodes = this.#byKey.get(tokenKey(token));
    if (nodes === undefined) return { ok: false, reason: 'unknown token' };
    return { ok: true, name: 'static token', nodes };
  }
}
