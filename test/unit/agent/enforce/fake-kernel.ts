import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { CgroupFileAccess } from '../../../../src/agent/enforce/cgroup-file.js';

/**
 * A stand-in for the kernel behind cgroup files on a plain directory tree: each write is parsed
 * as the kernel parses it (block/blk-throttle.c tg_set_limit for io.max, tg_set_conf for v1),
 * refused with the kernel's errno where the kernel refuses, and otherwise merged into the file,
 * which is then rewritten in the kernel's print format. Written on its own, not with the parsers
 * under test. Every accepted and refused write is recorded.
 */

const UINT_MAX = 2 ** 32 - 1;
const U64_MAX = 2n ** 64n - 1n;

function errno(code: string): Error {
  return Object.assign(new Error(`${code} (fake kernel)`), { code });
}

interface Throttle {
  rbps: bigint;
  wbps: bigint;
  riops: number;
  wiops: number;
}

export interface FakeKernel extends CgroupFileAccess {
  /** Every write the kernel accepted, in order. */
  readonly writes: { path: string; line: string }[];
  /** Every write refused, with the errno. */
  readonly refused: { path: string; line: string; code: string }[];
  /** Makes the next writes to paths matching `test` fail with `code`. */
  failWrites(test: (path: string) => boolean, code: string): void;
}

export function fakeKernel(devices: readonly string[] = ['8:0', '8:16', '259:0']): FakeKernel {
  const writes: { path: string; line: string }[] = [];
  const refused: { path: string; line: string; code: string }[] = [];
  const failures: { test: (path: string) => boolean; code: string }[] = [];

  function ioMax(path: string, line: string): void {
    const [device = '', ...tokens] = line.trim().split(/\s+/);
    if (!devices.includes(device)) throw errno('ENODEV');
    const table = new Map<string, Throttle>();
    for (const l of readFileSync(path, 'utf8').split('\n')) {
      const [d, ...kv] = l.trim().split(/\s+/);
      if (!d) continue;
      const get = (k: string) => kv.find((x) => x.startsWith(`${k}=`))?.slice(k.length + 1) ?? 'max';
      table.set(d, {
        rbps: get('rbps') === 'max' ? U64_MAX : BigInt(get('rbps')),
        wbps: get('wbps') === 'max' ? U64_MAX : BigInt(get('wbps')),
        riops: get('riops') === 'max' ? UINT_MAX : Number(get('riops')),
        wiops: get('wiops') === 'max' ? UINT_MAX : Number(get('wiops')),
      });
    }
    const t = {
      ...(table.get(device) ?? { rbps: U64_MAX, wbps: U64_MAX, riops: UINT_MAX, wiops: UINT_MAX }),
    };
    for (const token of tokens) {
      const [key, value] = token.split('=');
      if (value === undefined || !(value === 'max' || /^\d+$/.test(value))) throw errno('EINVAL');
      const v = value === 'max' ? U64_MAX : BigInt(value);
      if (v === 0n) throw errno('ERANGE');
      if (v === 1n) throw errno('EINVAL'); // 5.10 to 6.9
      const iops = Number(v > BigInt(UINT_MAX) ? BigInt(UINT_MAX) : v);
      if (key === 'rbps') t.rbps = v;
      else if (key === 'wbps') t.wbps = v;
      else if (key === 'riops') t.riops = iops;
      else if (key === 'wiops') t.wiops = iops;
      else throw errno('EINVAL');
    }
    table.set(device, t);
    const show = (n: bigint | number, none: bigint | number) => (n === none ? 'max' : String(n));
    const out = [...table]
      .filter(
        ([, x]) =>
          !(x.rbps === U64_MAX && x.wbps === U64_MAX && x.riops === UINT_MAX && x.wiops === UINT_MAX),
      )
      .map(
        ([d, x]) =>
          `${d} rbps=${show(x.rbps, U64_MAX)} wbps=${show(x.wbps, U64_MAX)} riops=${show(x.riops, UINT_MAX)} wiops=${show(x.wiops, UINT_MAX)}\n`,
      );
    writeFileSync(path, out.join(''));
  }

  function blkioIops(path: string, line: string): void {
    const m = /^\s*(\d+:\d+)\s+(\d+)\s*$/.exec(line);
    if (!m) throw errno('EINVAL');
    const [, device = '', value = ''] = m;
    if (!devices.includes(device)) throw errno('ENODEV');
    let v = BigInt(value);
    if (v === 0n) v = U64_MAX;
    const stored = Number(v & BigInt(UINT_MAX)); // an unsigned int field, truncated as C does
    const table = new Map<string, number>();
    for (const l of readFileSync(path, 'utf8').split('\n')) {
      const [d, n] = l.trim().split(/\s+/);
      if (d && n) table.set(d, Number(n));
    }
    table.set(device, stored);
    const out = [...table].filter(([, n]) => n !== UINT_MAX).map(([d, n]) => `${d} ${n}\n`);
    writeFileSync(path, out.join(''));
  }

  return {
    writes,
    refused,
    failWrites(test, code) {
      failures.push({ test, code });
    },
    async read(path) {
      return readFileSync(path, 'utf8');
    },
    async write(path, line) {
      try {
        const failure = failures.find((f) => f.test(path));
        if (failure) throw errno(failure.code);
        if (!statSync(path, { throwIfNoEntry: false })?.isFile()) throw errno('ENOENT');
        const name = basename(path);
        if (name === 'io.max') ioMax(path, line);
        else if (name === 'blkio.throttle.read_iops_device' || name === 'blkio.throttle.write_iops_device')
          blkioIops(path, line);
        else throw errno('EINVAL');
        writes.push({ path, line });
      } catch (err) {
        refused.push({ path, line, code: (err as NodeJS.ErrnoException).code ?? '?' });
        throw err;
      }
    },
  };
}
