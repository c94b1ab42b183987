/**
 * ioplace as the real process, for the benchmark and the soak: `node dist/main.js` (or
 * `node --import tsx src/main.ts`) with a temporary config file, on 127.0.0.1 and a free port,
 * standalone unless told otherwise (HOME a temporary directory, KUBECONFIG empty, no
 * KUBERNETES_SERVICE_HOST, NODE_OPTIONS unset). Its output goes to a log file and is read as it
 * comes for pino lines at level error or above. With `inspect`, the inspector listens on another
 * free port of 127.0.0.1 and gc() is exposed (see bench/soak/inspector.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { ConfigSchema } from '../../src/config/schema.js';
import { send } from './closed-loop-load.js';
import { type ProcessMemory, processCpuSeconds, processMemory } from './proc-stats.js';
import { parseMetrics, type Sample, sampleValue } from './prometheus.js';
import { waitUntil } from './wait-until.js';

/** The repository's root: the server's working directory. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

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
  /** Names its files in `dir`: `<name>.yaml` (the config) and `<name>.log` (its output). */
  readonly name: string;
  readonly entry: ServerEntry;
  readonly config: ConfigTree;
  /** A temporary directory: the config, the log, and the server's HOME. */
  readonly dir: string;
  /** Added to (or replacing) the environment above, e.g. KUBECONFIG. */
  readonly env?: Record<string, string>;
  /** Extra arguments for node, before the entry point (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** Open the inspector on 127.0.0.1 and expose gc(), for forced GCs and heap readings. */
  readonly inspect?: boolean;
}

export interface ServerErrorLine {
  /** performance.now() of this process when the line was read. */
  readonly at: number;
  readonly level: number;
  readonly msg: string;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** performance.now() of this process when the exit was seen. */
  readonly at: number;
}

export class IoplaceProcess {
  readonly origin: string;
  readonly logFile: string;
  /** The inspector's port, when started with `inspect`. */
  readonly inspectPort: number | undefined;
  /** The lines it logged at level error (50) or above. */
  readonly errorLines: ServerErrorLine[] = [];
  readonly exited: Promise<Exit>;
  readonly #child: ChildProcess;
  readonly #log: WriteStream;
  #exit: Exit | undefined;
  #partial = '';

  private constructor(child: ChildProcess, origin: string, logFile: string, inspectPort: number | undefined) {
    this.#child = child;
    this.origin = origin;
    this.logFile = logFile;
    this.inspectPort = inspectPort;
    this.#log = createWriteStream(logFile);
    child.stdout?.on('data', (chunk: Buffer) => this.#output(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.#write(chunk));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.#exit = { code, signal, at: performance.now() };
        resolve(this.#exit);
      }),
    );
  }

  /** Starts the process and returns at once: wait for it with `waitFor('/healthz', ...)`. */
  static async spawn(options: StartOptions): Promise<IoplaceProcess> {
    const port = await freePort();
    const inspectPort = options.inspect ? await freePort() : undefined;
    const config: ConfigTree = structuredClone(options.config);
    config.server = { ...(config.server as ConfigTree | undefined), host: '127.0.0.1', port };
    const configFile = join(options.dir, `${options.name}.yaml`);
    writeFileSync(configFile, toYaml(config));
    const env: Record<string, string | undefined> = {
      ...process.env,
      IOPLACE_CONFIG: configFile,
      PORT: String(port),
      HOST: '127.0.0.1',
      HOME: options.dir,
      KUBECONFIG: '',
      KUBERNETES_SERVICE_HOST: '',
      KUBERNETES_SERVICE_PORT: '',
      ...options.env,
    };
    delete env.NODE_OPTIONS;
    const entry = options.entry === 'dist' ? ['dist/main.js'] : ['--import', 'tsx', 'src/main.ts'];
    const args = [
      ...(inspectPort === undefined ? [] : [`--inspect=127.0.0.1:${inspectPort}`, '--expose-gc']),
      ...(options.nodeArgs ?? []),
      ...entry,
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const logFile = join(options.dir, `${options.name}.log`);
    return new IoplaceProcess(child, `http://127.0.0.1:${port}`, logFile, inspectPort);
  }

  /** Starts the process and waits until /healthz answers 200 (killing it if it does not). */
  static async start(options: StartOptions & { readonly readyTimeoutMs?: number }): Promise<IoplaceProcess> {
    const proc = await IoplaceProcess.spawn(options);
    try {
      await proc.waitFor('/healthz', options.readyTimeoutMs ?? 30_000);
    } catch (err) {
      proc.kill();
      throw err;
    }
    return proc;
  }

  /** To the log file; output that comes after closeLog (the pipes drain after the exit) is dropped. */
  #write(chunk: Buffer): void {
    if (!this.#log.writableEnded) this.#log.write(chunk);
  }

  #output(chunk: Buffer): void {
    this.#write(chunk);
    const text = this.#partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    const now = performance.now();
    for (const line of lines) {
      if (!line.startsWith('{') || (!line.includes('"level":5') && !line.includes('"level":6'))) continue;
      try {
        const entry = JSON.parse(line) as { level?: number };
        if ((entry.level ?? 0) >= 50) this.errorLines.push({ at: now, level: entry.level ?? 50, msg: line });
      } catch {
        // not a pino line
      }
    }
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get exit(): Exit | undefined {
    return this.#exit;
  }

  /** Polls `path` until it answers 200; throws if the process exits first. */
  async waitFor(path: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (this.#exit !== undefined) {
        throw new Error(
          `ioplace exited (code ${this.#exit.code}) before ${path} answered 200; see ${this.logFile}:\n${this.logTail()}`,
        );
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

  /** GET /metrics, parsed; with `families`, only those (see parseMetrics). */
  async metrics(families?: readonly string[]): Promise<Sample[]> {
    const res = await send(this.origin, { method: 'GET', path: '/metrics' });
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    return parseMetrics(res.text, families);
  }

  /** In cluster mode: polls /metrics every `everyMs` until `ioplace_cluster_synced` is 1. */
  async waitForClusterSync(timeoutMs: number, everyMs = 100): Promise<void> {
    const synced = async () => sampleValue(await this.metrics(), 'ioplace_cluster_synced') === 1;
    await waitUntil(synced, timeoutMs, everyMs);
  }

  /** VmRSS and VmHWM (peak RSS), in bytes; undefined once the process is gone. */
  memory(): ProcessMemory | undefined {
    return processMemory(this.pid);
  }

  /** As `memory`, for a process that must be running. */
  runningMemory(): ProcessMemory {
    const memory = this.memory();
    if (memory === undefined) throw new Error(`ioplace (pid ${this.pid}) is gone; see ${this.logFile}`);
    return memory;
  }

  /** CPU time (user + system) the process has used, in seconds. */
  cpuSeconds(): number | undefined {
    return processCpuSeconds(this.pid);
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Sends SIGTERM; returns performance.now() at the moment it was sent. */
  terminate(): number {
    const at = performance.now();
    this.#child.kill('SIGTERM');
    return at;
  }

  /** SIGTERM, then SIGKILL if it has not exited within 10 s; then closes the log. */
  async stop(): Promise<void> {
    if (this.#exit === undefined) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    await this.closeLog();
  }

  /** For watchdogs and failures: no waiting. */
  kill(): void {
    if (this.#exit === undefined) this.#child.kill('SIGKILL');
  }

  async closeLog(): Promise<void> {
    if (this.#log.writableEnded) return;
    await new Promise<void>((resolve) => this.#log.end(resolve));
  }
}
