import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { podNetns } from '../../../../src/agent/enforce/pod-netns.js';
import { fileTrees } from '../../../support/file-tree.js';

const trees = fileTrees('ioplace-netns-');
afterEach(() => trees.cleanup());

const POD = 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podu_1.slice';

/** A host: cgroups under cg/, and /proc under proc/ with the namespace files of `pids`. */
function host(files: Record<string, string | null>, pids: number[]): string {
  const root = trees.make({ ...files, proc: null });
  for (const pid of pids) {
    const dir = join(root, 'proc', String(pid), 'ns');
    mkdirSync(dir, { recursive: true });
    // On a real /proc the namespace file is a symlink to `net:[inode]`, which does not resolve.
    symlinkSync(`net:[40265${pid}]`, join(dir, 'net'));
  }
  return root;
}

describe('podNetns', () => {
  it('finds a process in a container cgroup below the pod’s (cgroup v2 keeps none in the pod’s own)', async () => {
    const root = host(
      {
        [`cg/${POD}/cgroup.procs`]: '',
        [`cg/${POD}/cri-containerd-aaa.scope/cgroup.procs`]: '',
        [`cg/${POD}/cri-containerd-bbb.scope/cgroup.procs`]: '4242\n4243\n',
      },
      [4242],
    );
    expect(await podNetns(join(root, 'cg', POD), join(root, 'proc'))).toEqual({
      ok: true,
      pid: 4242,
      netns: join(root, 'proc', '4242', 'ns', 'net'),
    });
  });

  it('skips a PID gone since cgroup.procs was read, and PIDs of another PID namespace (0)', async () => {
    const root = host({ [`cg/${POD}/cgroup.procs`]: '0\n77\n78\n' }, [78]);
    expect(await podNetns(join(root, 'cg', POD), join(root, 'proc'))).toMatchObject({ ok: true, pid: 78 });
  });

  it('says no-process, with the cgroup, when there is none yet', async () => {
    const root = host({ [`cg/${POD}/cgroup.procs`]: '', [`cg/${POD}/sandbox/cgroup.procs`]: '' }, []);
    const dir = join(root, 'cg', POD);
    expect(await podNetns(dir, join(root, 'proc'))).toEqual({
      ok: false,
      reason: 'no-process',
      path: dir,
      message: expect.stringContaining(dir),
    });
    expect(await podNetns(join(root, 'cg', 'gone'), join(root, 'proc'))).toMatchObject({ ok: false });
  });
});
