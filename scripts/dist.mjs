// dist/ helpers for package.json's scripts (plain Node, no dependency: it runs before and after
// the build).
//   node scripts/dist.mjs bins           after the build: make package.json's bin entries executable
//   node scripts/dist.mjs check ENTRY    before npm start / npm run agent: is dist/ built?
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const [command, entry] = process.argv.slice(2);

/** The newest modification time of the files under dir, in ms (0 when there are none). */
function newest(dir) {
  let latest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    latest = Math.max(latest, stat.isDirectory() ? newest(path) : stat.mtimeMs);
  }
  return latest;
}

if (command === 'bins') {
  // npm links bin entries into node_modules/.bin of the projects that install this package; a
  // linked file needs its shebang and, from a fresh build, the exec bit tsc does not set.
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  for (const [name, file] of Object.entries(pkg.bin ?? {})) {
    const path = join(ROOT, file);
    if (!readFileSync(path, 'utf8').startsWith('#!/usr/bin/env node\n')) {
      process.stderr.write(`${file} (bin ${name}) does not start with #!/usr/bin/env node\n`);
      process.exit(1);
    }
    chmodSync(path, 0o755);
  }
} else if (command === 'check' && entry !== undefined) {
  if (!existsSync(join(ROOT, entry))) {
    process.stderr.write(
      `ioplace: ${entry} is missing: build first with \`npm run build\` (\`npm ci\` and \`npm install\` build too)\n`,
    );
    process.exit(1);
  }
  const src = join(ROOT, 'src');
  if (existsSync(src) && newest(src) > statSync(join(ROOT, entry)).mtimeMs) {
    process.stderr.write(
      `ioplace: warning: src/ changed since ${entry} was built; \`npm run build\` to use the changes\n`,
    );
  }
} else {
  process.stderr.write('usage: node scripts/dist.mjs bins | check ENTRY\n');
  process.exit(2);
}
