import type { ApiClient } from '../cluster/api-client.js';
import { apiErrorMessage } from '../cluster/api-errors.js';
import type { Clock } from '../domain/clock.js';
import { type AgentIdentity, type TokenAuthenticator, tokenKey } from './agent-auth.js';

/** Set by the API server on bound service account tokens (Kubernetes 1.30+). */
export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';
const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';

export interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; extra?: Record<string, string[]> };
}

/**
 * What a TokenReview answer means for an agent report: the token must be authenticated, carry
 * the expected audience, belong to one of the agents' service accounts, and be bound to a pod on
 * a node, which is the only node it may report for.
 */
export function agentIdentityFromReview(
  status: TokenReviewStatus | undefined,
  serviceAccounts: readonly string[],
  audience: string,
): AgentIdentity {
  if (status?.authenticated !== true) return { ok: false, reason: status?.error || 'not authenticated' };
  if (audience !== '' && !(status.audiences ?? []).includes(audience)) {
    return { ok: false, reason: `token audience is not ${audience}` };
  }
  const username = status.user?.username ?? '';
  const account = username.startsWith(SERVICE_ACCOUNT_PREFIX)
    ? username.slice(SERVICE_ACCOUNT_PREFIX.length)
    : '';
  if (!serviceAccounts.includes(account))
    return { ok: false, reason: `${username || 'the token'} is not an agent` };
  const node = status.user?.extra?.[NODE_NAME_EXTRA]?.[0];
  if (node === undefined || node === '') {
    return {
      ok: false,
      reason: 'the token is not bound to a pod on a node (use a projected service account token)',
    };
  }
  return { ok: true, name: username, nodes: new Set([node]) };
}

interface Cached {
  readonly identity: AgentIdentity;
  readonly until: number;
}

/** Refusals are cached shortly, so that a bad token cannot make us hammer the API server. */
const REFUSAL_CACHE_MS = 10_000;
const MAX_CACHED = 50_000;

/** Agent tokens checked with the Kubernetes TokenReview API, answers cached for `cacheMs`. */
export class TokenReviewer implements TokenAuthenticator {
  readonly kind = 'tokenreview';
  readonly #api: ApiClient;
  readonly #cache = new Map<string, Cached>();
  readonly #o: {
    serviceAccounts: readonly string[];
    audience: string;
    cacheMs: number;
    clock: Clock;
  };

  /** `api`'s timeout is the review's. */
  constructor(
    api: ApiClient,
    options: {
      serviceAccounts: readonly string[];
      audience: string;
      cacheMs: number;
      clock: Clock;
    },
  ) {
    this.#api = api;
    this.#o = options;
  }

  async identify(token: string): Promise<AgentIdentity> {
    const key = tokenKey(token);
    const now = this.#o.clock();
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.until > now) return cached.identity;
    let status: TokenReviewStatus | undefined;
    try {
      const review = await this.#api.request<{ status?: TokenReviewStatus }>({
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, ...(this.#o.audience === '' ? {} : { audiences: [this.#o.audience] }) },
        },
      });
      status = review?.status;
    } catch (err) {
      // The API server is away: an agent known a moment ago stays known, so that reports keep
      // flowing through an API outage; anything else cannot be decided now.
      if (cached?.identity.ok) return cached.identity;
      throw new Error(apiErrorMessage(err));
    }
    const identity = agentIdentityFromReview(status, this.#o.serviceAccounts, this.#o.audience);
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(key, { identity, until: now + (identity.ok ? this.#o.cacheMs : REFUSAL_CACHE_MS) });
    return identity;
  }
}
