import { execFile } from 'node:child_process';

/**
 * How the shaper runs `tc`, `ip` and `nsenter`: a program and its arguments, never a shell. The
 * promise resolves with the output when the program exits 0 and rejects with a CommandError
 * otherwise. Injected so that unit tests answer with captured outputs, and so that the real-kernel
 * test runs every command inside a network namespace of its own.
 */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandOutput>;

export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** A command that could not run or exited non-zero; `stderr` holds what it said. */
export class CommandError extends Error {
  readonly file: string;
  readonly args: readonly string[];
  /** The exit status, a signal name, or an errno code (ENOENT: the program is not installed). */
  readonly exitCode: number | string | undefined;
  readonly stderr: string;

  constructor(file: string, args: readonly string[], exitCode: number | string | undefined, stderr: string) {
    const said = firstLine(stderr);
    super(`${[file, ...args].join(' ')}: ${said === '' ? `exit ${String(exitCode)}` : said}`);
    this.name = 'CommandError';
    this.file = file;
    this.args = args;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export function firstLine(text: string): string {
  return text.trim().split('\n', 1)[0]?.trim() ?? '';
}

/** Outputs of `tc -j … show` for a few hundred filters stay far below this. */
const MAX_BUFFER = 8 * 1024 * 1024;

/**
 * The real runner: execFile (no shell), `LC_ALL=C` so that messages are the English ones the
 * shaper recognises, killed after `timeoutMs` (a wedged netlink call must not stall the loop).
 */
export function execFileRunner(timeoutMs = 10_000): CommandRunner {
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new Error(`bad command timeout ${timeoutMs}`);
  const env = { ...process.env, LC_ALL: 'C' };
  return (file, args) =>
    new Promise((resolve, reject) => {
      execFile(
        file,
        [...args],
        { encoding: 'utf8', timeout: timeoutMs, maxBuffer: MAX_BUFFER, env },
        (err, stdout, stderr) => {
          if (err === null) {
            resolve({ stdout, stderr });
            return;
          }
          const e = err as NodeJS.ErrnoException & { code?: number | string; signal?: string | null };
          const exit = e.code === 'ENOENT' ? 'ENOENT' : (e.signal ?? e.code ?? undefined);
          const said = e.code === 'ENOENT' ? `${file}: not found (is it installed?)` : stderr;
          reject(new CommandError(file, args, exit, said));
        },
      );
    });
}

/** The kernel (through tc or ip) saying that a network device does not exist. */
export function isNoSuchDevice(err: unknown): boolean {
  return err instanceof CommandError && /does not exist|Cannot find device|No such device/i.test(err.stderr);
}
