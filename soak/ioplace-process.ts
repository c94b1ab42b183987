/**
 * ioplace as the real process under soak: `node --import tsx src/main.ts` on 127.0.0.1 and a free
 * port, standalone (cluster.mode off, HOME a temporary directory, KUBECONFIG empty), its output in
 * a log file, read as it comes for pino lines at level error or above. With `inspect`, the
 * inspector listens on another free port of 127.0.0.1 (see inspector.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify as toYaml } from 'yaml';
import { freePort, ROOT } from '../bench/ioplace-process.js';

// One way to find a free port and the repository root, shared with the benchmark.
export { freePort, ROOT };

export interface ServerErrorLine {
  /** performance.now() of the soak process when the line was read. */
  readonly at: number;
  readonly level: number;
  readonly msg: string;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** performance.now() of the soak process when the exit was seen. */
  readonly at: number;
}

/** USER_HZ: the unit of /proc/<pid>/stat times (100 on every mainstream Linux build). */
const CLOCK_TICKS = 100;

/** CPU seconds the whole machine has spent busy (all cores, everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.slice(0, 8).reduce((s, n) => s + n, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return (total - idle) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

export interface StartOptions {
  readonly dir: string;
  readonly config: Record<string, unknown>;
  /** Open the inspector on 127.0.0.1 and expose gc(), for forced GCs and heap readings. */
  readonly inspect: boolean;
  /** Extra arguments for node, before the entry point (e.g. --cpu-prof). */
  readonly nodeArgs: readonly string[];
}

export class IoplaceProcess {
  readonly origin: string;
  readonly logFile: string;
  /** The inspector's port, when started with `inspect`. */
  readonly inspectPort: number | undefined;
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
    child.stderr?.on('data', (chunk: Buffer) => this.#log.write(chunk));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.#exit = { code, signal, at: performance.now() };
        resolve(this.#exit);
      }),
    );
  }

  static async start(options: StartOptions): Promise<IoplaceProcess> {
    const port = await freePort();
    const inspectPort = options.inspect ? await freePort() : undefined;
    const configFile = join(options.dir, 'ioplace.yaml');
    writeFileSync(configFile, toYaml(options.config));
    const env: Record<string, string | undefined> = {
      ...process.env,
      IOPLACE_CONFIG: configFile,
      PORT: String(port),
      HOST: '127.0.0.1',
      HOME: options.dir,
      KUBECONFIG: '',
      KUBERNETES_SERVICE_HOST: '',
      KUBERNETES_SERVICE_PORT: '',
    };
    delete env.NODE_OPTIONS;
    const args = [
      ...(inspectPort === undefined ? [] : [`--inspect=127.0.0.1:${inspectPort}`, '--expose-gc']),
      ...options.nodeArgs,
      '--import',
      'tsx',
      'src/main.ts',
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new IoplaceProcess(
      child,
      `http://127.0.0.1:${port}`,
      join(options.dir, 'ioplace.log'),
      inspectPort,
    );
  }

  #output(chunk: Buffer): void {
    this.#log.write(chunk);
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
          `ioplace exited (code ${this.#exit.code}) before ${path} answered 200:\n${this.logTail()}`,
        );
      }
      try {
        const res = await fetch(`${this.origin}${path}`, { signal: AbortSignal.timeout(5_000) });
        const text = await res.text();
        if (res.status === 200) return;
        last = `HTTP ${res.status} ${text.slice(0, 200)}`;
      } catch (err) {
        last = String(err);
      }
      await sleep(100);
    }
    throw new Error(`${this.origin}${path} not 200 after ${timeoutMs} ms (last: ${last})`);
  }

  /** VmRSS and VmHWM (peak RSS) from /proc/<pid>/status, in bytes; undefined once gone. */
  memory(): { rss: number; peakRss: number } | undefined {
    let status: string;
    try {
      status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return undefined;
    }
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    const rss = kb('VmRSS');
    if (Number.isNaN(rss)) return undefined;
    return { rss: rss * 1024, peakRss: kb('VmHWM') * 1024 };
  }

  /** CPU time (user + system) the process has used, in seconds, from /proc/<pid>/stat. */
  cpuSeconds(): number | undefined {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // After the command name (which may hold spaces): state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      return undefined;
    }
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

  kill(): void {
    if (this.#exit === undefined) this.#child.kill('SIGKILL');
  }

  async closeLog(): Promise<void> {
    await new Promise<void>((resolve) => this.#log.end(resolve));
  }
}
