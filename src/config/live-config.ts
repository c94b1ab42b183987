import { type FSWatcher, readFileSync, watch as watchPath } from 'node:fs';
import { dirname } from 'node:path';
import type { PlacementSettings } from '../domain/placement-settings.js';
import { ConfigError, loadConfigFile, placementSettings } from './load.js';
import type { Config } from './schema.js';

/** What can change without a restart; everything else is read once at start. */
const LIVE_FIELDS = [
  'scoring',
  'inventory.staleAfterSeconds',
  'inventory.unknownNodes',
  'metrics',
  'server.logLevel',
];

export type ReloadResult =
  | { readonly result: 'success'; readonly changed: string[]; readonly needRestart: string[] }
  | { readonly result: 'unchanged' }
  | { readonly result: 'failure'; readonly error: string };

function flatten(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}

const isLive = (field: string) => LIVE_FIELDS.some((f) => field === f || field.startsWith(`${f}.`));

/**
 * The configuration as it is now. Weights, strategy, reserve fraction, staleness, the unknown-node
 * policy, per-node metrics and the log level apply on the next request after the file changes
 * (Kubernetes updates a mounted ConfigMap by swapping a symlink, which a watch on the directory
 * sees) or on SIGHUP. An invalid new file keeps the old config and says why; a change to a field
 * that needs a restart is reported and not applied.
 */
export class LiveConfig {
  #config: Config;
  #settings: PlacementSettings;
  #text: string | undefined;
  #refused: string | undefined;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  readonly #path: string | undefined;
  readonly #transform: (config: Config) => Config;

  constructor(options: {
    initial: Config;
    /** The file to reload from; undefined for a config that never changes (tests, embedding). */
    path?: string;
    /** Applied to every loaded file (the environment overrides). */
    transform?: (config: Config) => Config;
  }) {
    this.#config = options.initial;
    this.#settings = placementSettings(options.initial);
    this.#path = options.path;
    this.#transform = options.transform ?? ((c) => c);
    this.#text = this.#readText();
  }

  get current(): Config {
    return this.#config;
  }

  get settings(): PlacementSettings {
    return this.#settings;
  }

  /** Reads the file again and takes what may change live; what it did is for the caller to act on. Never throws. */
  reload(): ReloadResult {
    if (this.#path === undefined) return { result: 'unchanged' };
    const text = this.#readText();
    if (text !== undefined && text === this.#text) return { result: 'unchanged' };
    if (text !== undefined && text === this.#refused) return { result: 'unchanged' };
    let next: Config;
    try {
      next = this.#transform(loadConfigFile(this.#path));
    } catch (err) {
      // Remembered, so that unrelated events in the directory do not refuse the same file again.
      this.#refused = text;
      return { result: 'failure', error: err instanceof ConfigError ? err.message : String(err) };
    }
    this.#refused = undefined;
    this.#text = text;
    const before = flatten(this.#config, '', new Map());
    const after = flatten(next, '', new Map());
    const differing = [...after.keys()].filter((k) => before.get(k) !== after.get(k));
    const changed = differing.filter(isLive);
    const needRestart = differing.filter((k) => !isLive(k));
    // Keep what needs a restart as it is, take the rest.
    const merged = structuredClone(next) as { -readonly [K in keyof Config]: Config[K] };
    for (const key of needRestart) {
      const [section, field] = key.split('.') as [keyof Config, string];
      (merged[section] as Record<string, unknown>)[field] = (
        this.#config[section] as Record<string, unknown>
      )[field];
    }
    this.#config = Object.freeze(merged) as Config;
    this.#settings = placementSettings(this.#config);
    return changed.length === 0 && needRestart.length === 0
      ? { result: 'unchanged' }
      : { result: 'success', changed, needRestart };
  }

  /**
   * Follows the file: a watch on its directory, debounced, since a ConfigMap update is a burst of
   * renames; each reload's outcome goes to `onReload`.
   */
  watch(onReload: (outcome: ReloadResult) => void, debounceMs = 200): void {
    if (this.#path === undefined || this.#watcher !== undefined) return;
    try {
      this.#watcher = watchPath(dirname(this.#path), () => {
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => onReload(this.reload()), debounceMs);
        this.#debounce.unref();
      });
      this.#watcher.unref();
      this.#watcher.on('error', () => this.close());
    } catch {
      // The directory cannot be watched (gone, or no inotify): SIGHUP still reloads.
    }
  }

  close(): void {
    clearTimeout(this.#debounce);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #readText(): string | undefined {
    if (this.#path === undefined) return undefined;
    try {
      return readFileSync(this.#path, 'utf8');
    } catch {
      return undefined;
    }
  }
}
