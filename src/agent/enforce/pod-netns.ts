import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export type NetnsLookup =
  | { readonly ok: true; readonly pid: number; readonly netns: string }
  | { readonly ok: false; readonly reason: 'no-process'; readonly path: string; readonly message: string };

/** Container cgroups sit right under the pod's (cgroupfs and systemd layouts alike); a little slack. */
const MAX_DEPTH = 3;

async function pidsIn(dir: string): Promise<number[]> {
  try {
    const text = await readFile(join(dir, 'cgroup.procs'), 'utf8');
    return text
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((pid) => Number.isSafeInteger(pid) && pid > 0);
  } catch {
    return [];
  }
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name))
      .sort();
  } catch {
    return [];
  }
}

/**
 * The network namespace of a pod, from any process of it: all of a pod's containers share the
 * sandbox's namespace. A pod's cgroup holds no process itself under cgroup v2 (processes live in
 * the leaves: one cgroup per container, the sandbox's pause process included), so its tree is
 * searched breadth first for a `cgroup.procs` that lists one, and the first whose
 * `<procRoot>/<pid>/ns/net` exists wins (a process may exit between the two reads).
 *
 * `cgroup.procs` lists PIDs as the reader's PID namespace numbers them, and processes outside it
 * as 0: the agent must share the host's PID namespace (hostPID) for these to index the host's /proc.
 */
export async function podNetns(cgroupDir: string, procRoot: string): Promise<NetnsLookup> {
  let level = [cgroupDir];
  for (let depth = 0; depth <= MAX_DEPTH && level.length > 0; depth++) {
    for (const dir of level) {
      for (const pid of await pidsIn(dir)) {
        const netns = join(procRoot, String(pid), 'ns', 'net');
        try {
          await lstat(netns);
          return { ok: true, pid, netns };
        } catch {
          // gone since cgroup.procs was read, or not a PID of this /proc: try the next
        }
      }
    }
    const next: string[] = [];
    for (const dir of level) next.push(...(await subdirectories(dir)));
    level = next;
  }
  return {
    ok: false,
    reason: 'no-process',
    path: cgroupDir,
    message: `no process of the pod found under ${cgroupDir} (cgroup.procs empty, or PIDs not in ${procRoot})`,
  };
}
