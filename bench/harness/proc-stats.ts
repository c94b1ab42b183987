/**
 * What Linux's /proc says about a process and the machine: a process's resident memory and CPU
 * time, and the CPU time the whole machine has been busy (to tell a shared machine).
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc/<pid>/stat times (100 on every mainstream Linux build). */
const CLOCK_TICKS = 100;

export interface ProcessMemory {
  /** VmRSS, in bytes. */
  readonly rss: number;
  /** VmHWM, the peak RSS, in bytes. */
  readonly peakRss: number;
}

/** VmRSS and VmHWM from /proc/<pid>/status, in bytes; undefined once the process is gone. */
export function processMemory(pid: number): ProcessMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
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
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

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
