import { readFileSync } from 'node:fs';
import Value from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import type { PlacementSettings } from '../domain/placement-settings.js';
import { type Config, ConfigSchema } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

interface SchemaError {
  readonly instancePath: string;
  readonly keyword: string;
  readonly message: string;
  readonly params: Record<string, unknown>;
}

function fieldName(instancePath: string): string {
  return instancePath === '' ? '(top level)' : instancePath.slice(1).replaceAll('/', '.');
}

/** One line that names the field and what is wrong with it. */
function describe(error: SchemaError): string {
  const extra = error.params.additionalProperties;
  if (error.keyword === 'additionalProperties' && Array.isArray(extra)) {
    const path = error.instancePath === '' ? '' : `${fieldName(error.instancePath)}.`;
    return `${path}${String(extra[0])}: unknown field`;
  }
  const allowed = error.params.allowedValues;
  if (error.keyword === 'enum' && Array.isArray(allowed)) {
    return `${fieldName(error.instancePath)}: must be one of ${allowed.join(', ')}`;
  }
  return `${fieldName(error.instancePath)}: ${error.message}`;
}

/** Validates raw config data (already parsed), fills in defaults, and freezes the result. */
export function validateConfig(raw: unknown): Config {
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(raw ?? {}));
  const errors = Value.Errors(ConfigSchema, withDefaults) as SchemaError[];
  // "schema is false" repeats an additionalProperties error in a less helpful way.
  const first = errors.find((e) => e.keyword !== 'boolean') ?? errors[0];
  if (first !== undefined) throw new ConfigError(describe(first));
  const config = withDefaults as Config;
  if (config.cluster.backoffMaxSeconds < config.cluster.backoffInitialSeconds) {
    throw new ConfigError('cluster.backoffMaxSeconds: must be >= cluster.backoffInitialSeconds');
  }
  const tls = config.tls;
  if ((tls.certFile === '') !== (tls.keyFile === '')) {
    throw new ConfigError('tls: certFile and keyFile go together');
  }
  if (tls.clientCAFile !== '' && tls.certFile === '') {
    throw new ConfigError('tls.clientCAFile: needs tls.certFile and tls.keyFile');
  }
  if (tls.certFile !== '' && config.ops.port === config.server.port && config.ops.port !== 0) {
    throw new ConfigError('ops.port: must differ from server.port when TLS is on');
  }
  if (config.auth.agents === 'file' && config.auth.agentTokensFile === '') {
    throw new ConfigError('auth.agentTokensFile: needed when auth.agents is file');
  }
  return deepFreeze(config);
}

export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(`${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${path}: ${err.message}`);
    throw err;
  }
}

/** Applies the PORT and HOST overrides of the environment on top of the file. */
export function applyEnvironment(config: Config, env: NodeJS.ProcessEnv): Config {
  const server = { ...config.server };
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(`PORT: must be an integer from 0 to 65535, got ${JSON.stringify(env.PORT)}`);
    }
    server.port = port;
  }
  if (env.HOST !== undefined && env.HOST !== '') server.host = env.HOST;
  return Object.freeze({ ...config, server: Object.freeze(server) });
}

export function placementSettings(config: Config): PlacementSettings {
  return Object.freeze({
    staleAfterMs: config.inventory.staleAfterSeconds * 1000,
    reserveFraction: config.scoring.reserveFraction,
    unknownNodes: config.inventory.unknownNodes,
    strategy: config.scoring.strategy,
    weights: config.scoring.weights,
    scoreAllPods: config.scoring.scoreAllPods,
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
