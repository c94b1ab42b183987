import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';

/**
 * The only code that touches a cgroup control file. A cgroup file is a command channel: each
 * write(2) is one command, answered by its return value, and nothing is ever created, truncated
 * or appended. Both opens refuse a symlink as the last component (O_NOFOLLOW), so a file planted
 * in a pod's cgroup directory cannot redirect a write (cgroupfs itself has no symlinks).
 */
export interface CgroupFileAccess {
  /** The file's text. Rejects with the errno error (ENOENT when the controller is not enabled). */
  read(path: string): Promise<string>;
  /** One write(2) of `line`. Rejects with the kernel's errno error (EINVAL, ENODEV, ERANGE...). */
  write(path: string, line: string): Promise<void>;
}

export const kernelCgroupFiles: CgroupFileAccess = Object.freeze({
  async read(path: string): Promise<string> {
    return readFile(path, { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW });
  },

  async write(path: string, line: string): Promise<void> {
    const handle = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      const bytes = Buffer.from(line, 'utf8');
      const { bytesWritten } = await handle.write(bytes, 0, bytes.length, null);
      if (bytesWritten !== bytes.length)
        throw new Error(`short write to ${path}: ${bytesWritten} of ${bytes.length} bytes`);
    } finally {
      await handle.close();
    }
  },
});
