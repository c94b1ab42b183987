import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Throwaway directory trees for tests of code that reads files (/proc, /sys): `make` builds one
 * from path -> content (null for an empty directory) and returns its root; `cleanup` removes all.
 */
export function fileTrees(prefix: string): {
  make(files: Record<string, string | null>): string;
  cleanup(): void;
} {
  let roots: string[] = [];
  return {
    make(files) {
      const root = mkdtempSync(join(tmpdir(), prefix));
      roots.push(root);
      for (const [path, content] of Object.entries(files)) {
        const full = join(root, path);
        if (content === null) {
          mkdirSync(full, { recursive: true });
        } else {
          mkdirSync(dirname(full), { recursive: true });
          writeFileSync(full, content);
        }
      }
      return root;
    },
    cleanup() {
      for (const r of roots) rmSync(r, { recursive: true, force: true });
      roots = [];
    },
  };
}
