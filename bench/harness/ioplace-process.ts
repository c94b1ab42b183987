/**
 * ioplace as the real process: `node dist/main.js` (or `node --import tsx src/main.ts`) with a
 * temporary config file, on 127.0.0.1 and a free port, NODE_OPTIONS unset, logs to a file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { ConfigSchema } from '../src/config/schema.js';
import { send } from './load.js';
import { parseMetrics, type Sample } from './prometheus.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export type ServerEntry = 'dist' | 'tsx';

/** A port nothing listens on right now (the kernel's pick on 127.0.0.1). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

type ConfigTree = { [key: string]: unknown };

function schemaFields(path: readonly string[]): Record<string, unknown> | undefined {
  let node: unknown = ConfigSchema;
  for (const key of path) {
    const properties = (node as { properties?: Record<string, unknown> }).properties;
    node = properties?.[key];
    if (node === undefined) return undefined;
  }
  return (node as { properties?: Record<string, unknown> }).properties;
}

/**
 * Sets `section.field` only when this version of ioplace knows the field: config files with an
 * unknown field are refused, and fields come and go while the service is being worked on.
 */
export function setIfKnown(config: ConfigTree, section: string, field: string, value: unknown): boolean {
  if (schemaFields([section])?.[field] === undefined) return false;
  config[section] ??= {};
  (config[section] as ConfigTree)[field] = value;
  return true;
}

export interface StartOptions {
  readonly name: string;
  readonly entry: ServerEntry;
  readonly config: ConfigTree;
  readonly dir: string;
  readonly env?: Record<string, string>;
  readonly readyTimeoutMs?: number;
  /** Extra arguments for node, before the entry point. */
  readonly nodeArgs?: readonly string[];
}

export class IoplaceProcess {
  readonly origin: string;
  readonly logFile: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  private constructor(child: ChildProcess, origin: string, logFile: string) {
    this.#child = child;
    this.origin = origin;
    this.logFile = logFile;
    this.#exited = new Promise((resolve) =>
      child.on('exit', (code) => {
        this.#exitCode = code;
        resolve(code);
      }),
    );
  }

  /** Starts the process and waits until /healthz answers 200. */
  static async start(options: StartOptions): Promise<IoplaceProcess> {
    const port = await freePort();
    const config: ConfigTree = structuredClone(options.config);
    config.server = { ...(config.server as ConfigTree | undefined), host: '127.0.0.1', port };
    const configFile = join(options.dir, `${options.name}.yaml`);
    writeFileSync(configFile, toYaml(config));
    const logFile = join(options.dir, `${options.name}.log`);
    const env: Record<string, string | undefined> = {
      ...process.env,
      IOPLACE_CONFIG: configFile,
      PORT: String(port),
      HOST: '127.0.0.1',
      KUBECONFIG: '',
      KUBERNETES_SERVICE_HOST: '',
      ...options.env,
    };
    delete env.NODE_OPTIONS;
    const entry = options.entry === 'dist' ? ['dist/main.js'] : ['--import', 'tsx', 'src/main.ts'];
    const args = [...(options.nodeArgs ?? []), ...entry];
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(logFile);
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const proc = new IoplaceProcess(child, `http://127.0.0.1:${port}`, logFile);
    await proc.waitFor('/healthz', options.readyTimeoutMs ?? 30_000);
    return proc;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Polls `path` until it answers 200. */
  async waitFor(path: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (this.#exitCode !== undefined) {
        throw new Error(`ioplace exited with ${this.#exitCode}; see ${this.logFile}:\n${this.logTail()}`);
      }
      try {
        const res = await send(this.origin, { method: 'GET', path }, 5_000);
        if (res.status === 200) return;
        last = `HTTP ${res.status} ${res.text.slice(0, 200)}`;
      } catch (err) {
        last = String(err);
      }
      await sleep(100);
    }
    throw new Error(`${this.origin}${path} not 200 after ${timeoutMs} ms (last: ${last})`);
  }

  async metrics(): Promise<Sample[]> {
    const res = await send(this.origin, { method: 'GET', path: '/metrics' });
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    return parseMetrics(res.text);
  }

  /** VmRSS and VmHWM (peak) of the process, in bytes, from /proc/<pid>/status. */
  memory(): { rss: number; peakRss: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rss: kb('VmRSS') * 1024, peakRss: kb('VmHWM') * 1024 };
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
  async stop(): Promise<void> {
    if (this.#exitCode !== undefined) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** For the watchdog: no waiting. */
  kill(): void {
    if (this.#exitCode === undefined) this.#child.kill('SIGKILL');
  }
}
