/**
 * Summarizes a V8 .cpuprofile (from `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"`): the
 * functions with the most self time, and those with the most inclusive time (themselves and callees).
 *
 *   npx tsx bench/profile-summary.ts DIR/CPU.*.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT } from './harness/ioplace-process.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url === '' ? '' : relative(ROOT, url.replace(/^file:\/\//, ''));
  return `${functionName || '(anonymous)'}${file === '' ? '' : ` ${file}:${lineNumber + 1}`}`;
}

const [file, topText = '25'] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: tsx bench/profile-summary.ts PROFILE.cpuprofile [top]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const top = Number(topText);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node id, from the samples and the time between them (microseconds).
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
});
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)');
const idleUs = idle.reduce((a, [, us]) => a + us, 0);
const busyUs = totalUs - idleUs;

const bySelf = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (node === undefined || node.callFrame.functionName === '(idle)') continue;
  const name = frameName(node);
  bySelf.set(name, (bySelf.get(name) ?? 0) + us);
}
const pct = (us: number) => `${((us / busyUs) * 100).toFixed(1).padStart(5)}%`;
process.stdout.write(
  `profile: ${(totalUs / 1e6).toFixed(1)} s sampled, ${(busyUs / 1e6).toFixed(1)} s busy (percentages of busy)\n\nself time:\n`,
);
for (const [name, us] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}\n`);
}

// Inclusive time: each sample counts once for every distinct frame name on its stack.
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at);
    if (node === undefined) break;
    const name = frameName(node);
    if (!seen.has(name)) {
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
}
process.stdout.write('\ninclusive time:\n');
for (const [name, us] of [...inclusive]
  .filter(([name]) => !name.startsWith('(root)') && !name.startsWith('(idle)'))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top)) {
  process.stdout.write(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}\n`);
}
