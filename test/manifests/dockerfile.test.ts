import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { find, REPO, readRepoFile, render, type Workload } from '../support/manifests.js';

/**
 * Docker cannot run here, so the Dockerfile's structure is checked instead: what the image is
 * built from, what it runs, and as whom.
 */

interface Instruction {
  readonly op: string;
  readonly args: string;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Instructions by stage; comments dropped and continuation lines joined. */
function stages(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const result: Stage[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      result.push({ from, name, instructions: [] });
    } else {
      const stage = result.at(-1);
      if (stage === undefined) throw new Error(`${op} before FROM`);
      stage.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return result;
}

const dockerfile = readRepoFile('Dockerfile');
const [build, runtime] = stages(dockerfile) as [Stage, Stage];
const runs = (s: Stage) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
const last = (s: Stage, op: string) => s.instructions.filter((i) => i.op === op).at(-1)?.args;

describe('the Dockerfile', () => {
  it('has two stages on node:24-bookworm-slim: build, then runtime', () => {
    expect(stages(dockerfile)).toHaveLength(2);
    expect([build.from, runtime.from]).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
    expect(build.name).toBe('build');
  });

  it('builds with every dependency from the lockfile, after copying only the package files', () => {
    const ci = runs(build).find((r) => /\bnpm ci\b/.test(r)) as string;
    expect(ci).not.toContain('--omit=dev');
    expect(runs(build)).toContain('npm run build');
    const firstCopy = build.instructions.find((i) => i.op === 'COPY')?.args;
    expect(firstCopy).toBe('package.json package-lock.json ./');
  });

  it('installs production dependencies only in the runtime stage, and takes dist/ from the build', () => {
    expect(runs(runtime).some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies).toContain('--from=build /app/dist ./dist');
    expect(copies).toContain('config ./config');
  });

  it('can skip install scripts: no production dependency needs one, and our prepare is the build it runs', () => {
    const pkg = JSON.parse(readRepoFile('package.json')) as { scripts: Record<string, string> };
    for (const hook of ['preinstall', 'install', 'postinstall'])
      expect(pkg.scripts[hook], hook).toBeUndefined();
    // prepare builds a clone on `npm ci`; the image skips it in both stages (it would run before
    // src/ is copied, or without the dev dependencies) and the build stage builds explicitly.
    expect(pkg.scripts.prepare).toBe('npm run build');
    for (const stage of [build, runtime]) {
      const ci = runs(stage).filter((r) => /\bnpm ci\b/.test(r));
      expect(ci.length, stage.name).toBeGreaterThan(0);
      for (const r of ci) expect(r, stage.name).toContain('--ignore-scripts');
    }
    const buildAt = build.instructions.findIndex((i) => i.op === 'RUN' && i.args === 'npm run build');
    const copied = build.instructions
      .slice(0, buildAt)
      .filter((i) => i.op === 'COPY')
      .map((i) => i.args.split(/\s+/)[0]);
    // What the build and its postbuild step read.
    expect(copied).toEqual(expect.arrayContaining(['src', 'scripts', 'tsconfig.json']));
    const lock = JSON.parse(readRepoFile('package-lock.json')) as {
      packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }>;
    };
    const needScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript && !p.dev)
      .map(([name]) => name);
    expect(needScripts).toEqual([]);
  });

  it('gives the agent iproute2 (tc, ip) for bandwidth shaping, in the runtime stage', () => {
    expect(runs(runtime).some((r) => /apt-get install .*\biproute2\b/.test(r))).toBe(true);
    expect(runs(build).some((r) => /iproute2/.test(r))).toBe(false);
  });

  it('runs ioplace from /app as a numeric non-root user, the one the manifests run it as', () => {
    expect(last(runtime, 'WORKDIR')).toBe('/app');
    const user = last(runtime, 'USER') as string;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    const [uid, gid] = user.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    const pod = find<Workload>(render('base'), 'Deployment', 'ioplace').spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsUser: uid, runAsGroup: gid });
  });

  it('exposes the port config/ioplace.yaml listens on and starts dist/main.js, the build of src/main.ts', () => {
    const config = parseYaml(readRepoFile('config/ioplace.yaml')) as { server: { port: number } };
    expect(last(runtime, 'EXPOSE')).toBe(String(config.server.port));
    expect(JSON.parse(last(runtime, 'CMD') as string)).toEqual(['node', 'dist/main.js']);
    const build = JSON.parse(readRepoFile('tsconfig.build.json')) as {
      compilerOptions: Record<string, string>;
    };
    expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(join(REPO, 'src/main.ts'))).toBe(true);
  });
});

describe('.dockerignore', () => {
  const patterns = readRepoFile('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('sends nothing but what the build copies', () => {
    expect(patterns[0]).toBe('*');
    const included = patterns.slice(1).map((p) => {
      expect(p.startsWith('!'), p).toBe(true);
      return p.slice(1);
    });
    const copied = [build, runtime]
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect([...new Set(copied)].sort()).toEqual([...included].sort());
    for (const path of included) expect(existsSync(join(REPO, path)), path).toBe(true);
  });
});
