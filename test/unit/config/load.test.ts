import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadConfigFile, placementSettings, validateConfig } from '../../../src/config/load.js';

const REPO_CONFIG = fileURLToPath(new URL('../../../config/ioplace.yaml', import.meta.url));

const DEFAULT_SERVER = {
  host: '0.0.0.0',
  port: 8080,
  bodyLimitBytes: 64 * 1024 * 1024,
  logLevel: 'info',
  requestTimeoutSeconds: 30,
  headersTimeoutSeconds: 10,
  keepAliveTimeoutSeconds: 75,
};
const DEFAULT_INVENTORY = {
  staleAfterSeconds: 30,
  unknownNodes: 'reject',
  maxNodes: 50_000,
  reportsPerSecond: 1,
  reportBurst: 5,
};
const DEFAULT_SCORING = {
  strategy: 'spread',
  reserveFraction: 0.1,
  weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 1 },
  scoreAllPods: false,
};

/** The ConfigError message validateConfig throws for `raw`, or fails the test. */
function problem(raw: unknown): string {
  try {
    validateConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be refused`);
}

/** Every nested object of `value`, itself included. */
function objectsIn(value: unknown): object[] {
  if (value === null || typeof value !== 'object') return [];
  return [value, ...Object.values(value).flatMap(objectsIn)];
}

describe('validateConfig', () => {
  describe('defaults', () => {
    it.each([
      { name: '{}', raw: {} },
      { name: 'undefined (an empty YAML file)', raw: undefined },
      { name: 'null', raw: null },
      { name: 'empty sections', raw: { server: {}, inventory: {}, scoring: { weights: {} } } },
    ])('fills in every default for $name', ({ raw }) => {
      const config = validateConfig(raw);
      expect(config.server).toEqual(DEFAULT_SERVER);
      expect(config.inventory).toEqual(DEFAULT_INVENTORY);
      expect(config.scoring).toEqual(DEFAULT_SCORING);
      expect(config).toEqual(validateConfig({}));
    });

    it('keeps the defaults of every field not given', () => {
      const config = validateConfig({
        scoring: { strategy: 'pack', weights: { iops: 0 } },
        server: { port: 9000 },
      });
      expect(config.scoring).toEqual({
        ...DEFAULT_SCORING,
        strategy: 'pack',
        weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 0 },
      });
      expect(config.server).toEqual({ ...DEFAULT_SERVER, port: 9000 });
      expect(config.inventory).toEqual(DEFAULT_INVENTORY);
    });
  });

  describe('accepts values at the edges of their range', () => {
    it.each([
      { name: 'reserveFraction 0', raw: { scoring: { reserveFraction: 0 } } },
      { name: 'reserveFraction 0.99', raw: { scoring: { reserveFraction: 0.99 } } },
      { name: 'port 0', raw: { server: { port: 0 } } },
      { name: 'port 65535', raw: { server: { port: 65535 } } },
      { name: 'bodyLimitBytes 1 KiB', raw: { server: { bodyLimitBytes: 1024 } } },
      { name: 'bodyLimitBytes 1 GiB', raw: { server: { bodyLimitBytes: 1024 ** 3 } } },
      { name: 'staleAfterSeconds 0.001', raw: { inventory: { staleAfterSeconds: 0.001 } } },
      { name: 'staleAfterSeconds 86400', raw: { inventory: { staleAfterSeconds: 86_400 } } },
      { name: 'maxNodes 1', raw: { inventory: { maxNodes: 1 } } },
      { name: 'maxNodes 1,000,000', raw: { inventory: { maxNodes: 1_000_000 } } },
      { name: 'weights 0 and 1000', raw: { scoring: { weights: { ingressBandwidth: 0, iops: 1000 } } } },
      { name: 'logLevel silent', raw: { server: { logLevel: 'silent' } } },
      { name: 'unknownNodes allow', raw: { inventory: { unknownNodes: 'allow' } } },
    ])('$name', ({ raw }) => {
      const config = validateConfig(raw);
      expect(config).toMatchObject(raw);
    });
  });

  describe('refuses bad input with a ConfigError naming the field', () => {
    it.each([
      // unknown fields, at every depth
      { raw: { scoring: { foo: 1 } }, message: 'scoring.foo: unknown field' },
      { raw: { bar: 1 }, message: 'bar: unknown field' },
      { raw: { scoring: { weights: { cpu: 1 } } }, message: 'scoring.weights.cpu: unknown field' },
      { raw: { server: { Port: 8080 } }, message: 'server.Port: unknown field' },
      { raw: { scoring: { foo: 1, strategy: 'x' } }, message: 'scoring.foo: unknown field' },
      // ranges
      { raw: { scoring: { reserveFraction: 1 } }, message: 'scoring.reserveFraction: must be < 1' },
      { raw: { scoring: { reserveFraction: -0.1 } }, message: 'scoring.reserveFraction: must be >= 0' },
      { raw: { server: { port: 70_000 } }, message: 'server.port: must be <= 65535' },
      { raw: { server: { port: -1 } }, message: 'server.port: must be >= 0' },
      { raw: { server: { bodyLimitBytes: 1 } }, message: 'server.bodyLimitBytes: must be >= 1024' },
      { raw: { server: { host: '' } }, message: 'server.host: must not have fewer than 1 characters' },
      { raw: { inventory: { staleAfterSeconds: 0 } }, message: 'inventory.staleAfterSeconds: must be > 0' },
      {
        raw: { inventory: { staleAfterSeconds: 86_401 } },
        message: 'inventory.staleAfterSeconds: must be <= 86400',
      },
      { raw: { inventory: { maxNodes: 0 } }, message: 'inventory.maxNodes: must be >= 1' },
      { raw: { scoring: { weights: { iops: -1 } } }, message: 'scoring.weights.iops: must be >= 0' },
      { raw: { scoring: { weights: { iops: 1001 } } }, message: 'scoring.weights.iops: must be <= 1000' },
      // enums name the allowed values
      { raw: { scoring: { strategy: 'random' } }, message: 'scoring.strategy: must be one of spread, pack' },
      {
        raw: { server: { logLevel: 'loud' } },
        message: 'server.logLevel: must be one of fatal, error, warn, info, debug, trace, silent',
      },
      {
        raw: { inventory: { unknownNodes: 'maybe' } },
        message: 'inventory.unknownNodes: must be one of reject, allow',
      },
      // wrong types
      { raw: { server: { port: '8080' } }, message: 'server.port: must be integer' },
      { raw: { server: { port: 80.5 } }, message: 'server.port: must be integer' },
      { raw: { server: { port: null } }, message: 'server.port: must be integer' },
      {
        raw: { inventory: { staleAfterSeconds: '30' } },
        message: 'inventory.staleAfterSeconds: must be number',
      },
      { raw: { scoring: { weights: { iops: '1' } } }, message: 'scoring.weights.iops: must be number' },
      { raw: { scoring: { scoreAllPods: 'yes' } }, message: 'scoring.scoreAllPods: must be boolean' },
      { raw: { scoring: null }, message: 'scoring: must be object' },
      { raw: { scoring: { weights: [1, 1, 1] } }, message: 'scoring.weights: must be object' },
      { raw: 'hello', message: '(top level): must be object' },
      { raw: [], message: '(top level): must be object' },
      { raw: 42, message: '(top level): must be object' },
    ])('$message', ({ raw, message }) => {
      expect(problem(raw)).toBe(message);
    });

    it('refuses a backoff maximum below the initial backoff', () => {
      expect(problem({ cluster: { backoffInitialSeconds: 10, backoffMaxSeconds: 5 } })).toBe(
        'cluster.backoffMaxSeconds: must be >= cluster.backoffInitialSeconds',
      );
    });

    it('ConfigError is an Error named ConfigError', () => {
      const err = new ConfigError('x');
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe('ConfigError');
    });
  });

  it('freezes the result, deeply', () => {
    const config = validateConfig({ scoring: { strategy: 'pack' } });
    const objects = objectsIn(config);
    expect(objects.length).toBeGreaterThanOrEqual(5);
    for (const object of objects) expect(Object.isFrozen(object)).toBe(true);
    expect(() => {
      (config.scoring as { strategy: string }).strategy = 'spread';
    }).toThrow(TypeError);
    expect(() => {
      (config.scoring.weights as { iops: number }).iops = 5;
    }).toThrow(TypeError);
    expect(config.scoring.strategy).toBe('pack');
  });

  it('neither changes nor freezes its input', () => {
    const raw = { scoring: { strategy: 'pack', weights: { iops: 2 } } };
    const copy = structuredClone(raw);
    validateConfig(raw);
    expect(raw).toEqual(copy);
    expect(Object.isFrozen(raw)).toBe(false);
    expect(Object.isFrozen(raw.scoring.weights)).toBe(false);
  });
});

describe('loadConfigFile', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ioplace-config-test-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function file(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** The ConfigError message loadConfigFile throws for `path`, or fails the test. */
  function loadProblem(path: string): string {
    try {
      loadConfigFile(path);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).message;
    }
    throw new Error(`expected ${path} to be refused`);
  }

  describe('config/ioplace.yaml in the repository', () => {
    it('loads and equals the defaults', () => {
      expect(loadConfigFile(REPO_CONFIG)).toEqual(validateConfig({}));
    });

    it('lists every field with its default, and nothing else', () => {
      // Compared before defaults are filled in, so a field missing from the file is caught too.
      expect(parseYaml(readFileSync(REPO_CONFIG, 'utf8'))).toEqual(validateConfig({}));
    });
  });

  it('fills in defaults around the fields a file gives', () => {
    const path = file('partial.yaml', 'scoring:\n  strategy: pack\ninventory:\n  staleAfterSeconds: 10\n');
    const config = loadConfigFile(path);
    expect(config.scoring).toEqual({ ...DEFAULT_SCORING, strategy: 'pack' });
    expect(config.inventory).toEqual({ ...DEFAULT_INVENTORY, staleAfterSeconds: 10 });
    expect(config.server).toEqual(DEFAULT_SERVER);
  });

  it.each([
    { name: 'an empty file', text: '' },
    { name: 'only comments', text: '# nothing here\n' },
    { name: 'an explicit empty document', text: '---\n' },
  ])('gives the defaults for $name', ({ text }) => {
    expect(loadConfigFile(file('empty.yaml', text))).toEqual(validateConfig({}));
  });

  it('reads JSON, which is YAML too', () => {
    const config = loadConfigFile(file('config.json', '{"scoring": {"reserveFraction": 0.25}}'));
    expect(config.scoring.reserveFraction).toBe(0.25);
  });

  it('returns a frozen config', () => {
    const config = loadConfigFile(file('c.yaml', 'server:\n  port: 1234\n'));
    expect(config.server.port).toBe(1234);
    for (const object of objectsIn(config)) expect(Object.isFrozen(object)).toBe(true);
  });

  describe('refuses a bad file with one line that names the file', () => {
    it.each([
      { name: 'an unknown field', text: 'scoring:\n  foo: 1\n', message: 'scoring.foo: unknown field' },
      {
        name: 'reserveFraction 1',
        text: 'scoring:\n  reserveFraction: 1\n',
        message: 'scoring.reserveFraction: must be < 1',
      },
      {
        name: 'a bad enum value',
        text: 'scoring:\n  strategy: Spread\n',
        message: 'scoring.strategy: must be one of spread, pack',
      },
      {
        name: 'a field left empty (YAML null)',
        text: 'server:\n  port:\n',
        message: 'server.port: must be integer',
      },
      { name: 'a quoted number', text: 'server:\n  port: "8080"\n', message: 'server.port: must be integer' },
      { name: 'a YAML scalar', text: 'just some text\n', message: '(top level): must be object' },
      { name: 'a YAML list', text: '- server\n- scoring\n', message: '(top level): must be object' },
    ])('$name', ({ text, message }) => {
      const path = file('bad.yaml', text);
      expect(loadProblem(path)).toBe(`${path}: ${message}`);
    });

    it.each([
      { name: 'broken YAML', text: 'server: {port: 8080\n', detail: '' },
      { name: 'a tab-indented block', text: 'server:\n\tport: 8080\n', detail: '' },
      { name: 'duplicate keys', text: 'server:\n  port: 1\n  port: 2\n', detail: 'Map keys must be unique' },
      {
        name: 'an alias bomb',
        text: [
          'a: &a [x, x, x, x, x, x, x, x, x, x]',
          'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
          'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
          'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
          'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
        ].join('\n'),
        detail: 'Excessive alias count',
      },
    ])('$name is not valid YAML', ({ text, detail }) => {
      const path = file('broken.yaml', text);
      const message = loadProblem(path);
      expect(message.startsWith(`${path} is not valid YAML: `)).toBe(true);
      expect(message.length).toBeGreaterThan(`${path} is not valid YAML: `.length);
      expect(message).toContain(detail);
      expect(message).not.toContain('\n');
    });

    it('a missing file', () => {
      const path = join(dir, 'does-not-exist.yaml');
      expect(loadProblem(path)).toBe(`cannot read ${path}: ENOENT`);
    });

    it('a directory', () => {
      const path = join(dir, 'a-directory');
      mkdirSync(path);
      expect(loadProblem(path)).toBe(`cannot read ${path}: EISDIR`);
    });
  });
});

describe('placementSettings', () => {
  it('converts the defaults', () => {
    expect(placementSettings(validateConfig({}))).toEqual({
      staleAfterMs: 30_000,
      reserveFraction: 0.1,
      unknownNodes: 'reject',
      strategy: 'spread',
      weights: { ingressBandwidth: 1, egressBandwidth: 1, iops: 1 },
      scoreAllPods: false,
    });
  });

  it('carries every placement field over, seconds to milliseconds', () => {
    const config = validateConfig({
      inventory: { staleAfterSeconds: 2.5, unknownNodes: 'allow' },
      scoring: {
        strategy: 'pack',
        reserveFraction: 0.25,
        weights: { ingressBandwidth: 2, egressBandwidth: 0, iops: 7 },
        scoreAllPods: true,
      },
    });
    const settings = placementSettings(config);
    expect(settings).toEqual({
      staleAfterMs: 2500,
      reserveFraction: 0.25,
      unknownNodes: 'allow',
      strategy: 'pack',
      weights: { ingressBandwidth: 2, egressBandwidth: 0, iops: 7 },
      scoreAllPods: true,
    });
    expect(Object.isFrozen(settings)).toBe(true);
    expect(Object.isFrozen(settings.weights)).toBe(true);
  });
});

describe('config/standalone.yaml', () => {
  it('loads, and runs standalone with open reports on loopback', () => {
    const config = loadConfigFile(fileURLToPath(new URL('../../../config/standalone.yaml', import.meta.url)));
    expect(config.cluster.mode).toBe('off');
    expect(config.auth.agents).toBe('open');
    expect(config.server.host).toBe('127.0.0.1');
  });
});
