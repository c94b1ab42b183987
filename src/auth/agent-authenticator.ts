import { readFileSync } from 'node:fs';
import type { ApiClient } from '../cluster/api-client.js';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../domain/clock.js';
import { StaticTokens, type TokenAuthenticator } from './agent-auth.js';
import { parseAgentTokens } from './agent-tokens.js';

/**
 * Picks how agents prove who they are. `auto`: the TokenReview API in cluster mode, else the
 * tokens file when one is configured, else nobody is asked (open), which is only sane on a
 * laptop. Returns undefined for open.
 */
export async function agentAuthenticator(
  config: Config,
  /** The cluster's API; undefined without cluster access. */
  api: ApiClient | undefined,
  clock: Clock,
): Promise<TokenAuthenticator | undefined> {
  const { auth } = config;
  const mode =
    auth.agents === 'auto' ? (api ? 'tokenreview' : auth.agentTokensFile ? 'file' : 'open') : auth.agents;
  if (mode === 'open') return undefined;
  if (mode === 'file') {
    let text: string;
    try {
      text = readFileSync(auth.agentTokensFile, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `auth.agentTokensFile: cannot read ${auth.agentTokensFile}: ${(err as NodeJS.ErrnoException).code}`,
      );
    }
    try {
      return new StaticTokens(parseAgentTokens(text, auth.agentTokensFile));
    } catch (err) {
      throw new ConfigError(`auth.agentTokensFile: ${(err as Error).message}`);
    }
  }
  if (api === undefined) throw new ConfigError('auth.agents: tokenreview needs cluster access');
  // Loaded only here: a standalone ioplace or one with agent tokens in a file never needs it.
  const { TokenReviewer } = await import('./token-review.js');
  return new TokenReviewer(api, {
    serviceAccounts: auth.agentServiceAccounts,
    audience: auth.audience,
    cacheMs: auth.cacheSeconds * 1000,
    clock,
  });
}
