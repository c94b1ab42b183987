import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * A fresh clone is set up with `npm ci` alone (.ci/run does just that before `npm test`): its
 * prepare script builds dist/, so that `npm start`, `npm run agent` and the bins `ioplace` and
 * `ioplace-agent` run the build at once, without compiling at every start.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  bin: Record<string, string>;
};
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('set-up from a clone', () => {
  it('builds on npm ci (prepare), and starts from the build without compiling', () => {
    expect(pkg.scripts.prepare).toBe('npm run build');
    expect(pkg.scripts.start).toBe('node dist/main.js');
    expect(pkg.scripts.agent).toBe('node dist/agent/main.js');
    for (const script of ['start', 'agent']) expect(pkg.scripts[script], script).not.toMatch(/build|tsc|tsx/);
  });

  it('has bins that run from node_modules/.bin links: a node shebang and the exec bit', () => {
    expect(Object.keys(pkg.bin).sort()).toEqual(['ioplace', 'ioplace-agent']);
    for (const [name, file] of Object.entries(pkg.bin)) {
      const path = join(ROOT, file);
      expect(readFileSync(path, 'utf8').split('\n')[0], `${name}: ${file} (npm run build)`).toBe(
        '#!/usr/bin/env node',
      );
      expect(statSync(path).mode & 0o111, `${name}: ${file} is executable`).toBe(0o111);
    }
  });

  it('runs `npx ioplace` and `npm run agent` from the build', () => {
    const cli = spawnSync('npx', ['--no-install', 'ioplace', '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('ioplace nodes');
    const agent = spawnSync('npm', ['run', 'agent', '--silent', '--', '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(agent.status, agent.stderr).toBe(0);
    expect(agent.stdout).toContain('Usage: ioplace-agent');
  });

  it('says what to do when dist/ is missing, instead of a module-not-found stack', () => {
    const root = mkdtempSync(join(tmpdir(), 'ioplace-setup-'));
    dirs.push(root);
    mkdirSync(join(root, 'scripts'));
    copyFileSync(join(ROOT, 'scripts/dist.mjs'), join(root, 'scripts/dist.mjs'));
    for (const [script, entry] of [
      ['prestart', 'dist/main.js'],
      ['preagent', 'dist/agent/main.js'],
    ] as const) {
      expect(pkg.scripts[script]).toBe(`node scripts/dist.mjs check ${entry}`);
      const run = spawnSync(process.execPath, ['scripts/dist.mjs', 'check', entry], {
        cwd: root,
        encoding: 'utf8',
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toBe(
        `ioplace: ${entry} is missing: build first with \`npm run build\` (\`npm ci\` and \`npm install\` build too)\n`,
      );
    }
  });
});
