import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { findHostInterface, netnsOfPid, readPodLink } from '../../../../src/agent/enforce/netns.js';
import { CommandError, type CommandRunner } from '../../../../src/agent/enforce/tc-command.js';
import { fileTrees } from '../../../support/file-tree.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/agent/tc/${name}`, import.meta.url), 'utf8');

/** A runner that answers one command with `stdout`, or fails with `stderr`; it records the call. */
function oneCommand(answer: { stdout: string } | { stderr: string }) {
  const calls: string[][] = [];
  const run: CommandRunner = async (file, args) => {
    calls.push([file, ...args]);
    if ('stdout' in answer) return { stdout: answer.stdout, stderr: '' };
    throw new CommandError(file, args, 1, answer.stderr);
  };
  return { run, calls };
}

const trees = fileTrees('ioplace-netns-');
afterEach(() => trees.cleanup());

describe('netnsOfPid', () => {
  it('is <procRoot>/<pid>/ns/net', () => {
    expect(netnsOfPid('/host/proc', 4242)).toBe('/host/proc/4242/ns/net');
    expect(() => netnsOfPid('/proc', 0)).toThrow(/pid/);
    expect(() => netnsOfPid('/proc', 1.5)).toThrow(/pid/);
  });
});

describe('readPodLink', () => {
  it('asks ip inside the namespace, through nsenter, for eth0 and its peer index', async () => {
    const { run, calls } = oneCommand({ stdout: fixture('pod-eth0-link.json') });
    expect(await readPodLink(run, '/proc/42/ns/net')).toEqual({ ifname: 'eth0', ifindex: 2, peerIfindex: 2 });
    expect(calls).toEqual([
      ['nsenter', '--net=/proc/42/ns/net', '--', 'ip', '-j', 'link', 'show', 'dev', 'eth0'],
    ]);
  });

  it('takes another interface name', async () => {
    const { run, calls } = oneCommand({ stdout: fixture('pod-eth0-link.json') });
    await readPodLink(run, '/proc/42/ns/net', 'net1');
    expect(calls[0]?.at(-1)).toBe('net1');
  });

  it('takes ifindex as the peer index when an old kernel leaves link_index out (same index both ends)', async () => {
    const old = '[{"ifindex":3,"ifname":"eth0","flags":["UP"],"mtu":1500,"link_netnsid":0}]';
    expect(await readPodLink(oneCommand({ stdout: old }).run, '/x')).toEqual({
      ifname: 'eth0',
      ifindex: 3,
      peerIfindex: 3,
    });
  });

  it('finds nothing for an interface without a peer', async () => {
    const plain = '[{"ifindex":2,"ifname":"eth0","flags":["UP"],"mtu":1500}]';
    expect(await readPodLink(oneCommand({ stdout: plain }).run, '/x')).toBeUndefined();
  });

  const stderr = fixture('stderr-samples.txt').split('\n');
  it.each([
    ['a namespace whose process is gone', stderr[2] as string],
    ['no eth0 in it', stderr[4] as string],
  ])('finds nothing for %s', async (_what, said) => {
    expect(said).not.toBe('');
    expect(await readPodLink(oneCommand({ stderr: said }).run, '/x')).toBeUndefined();
  });

  it('throws when the namespace cannot be entered (no CAP_SYS_ADMIN)', async () => {
    const said = stderr[3] as string;
    expect(said).toMatch(/Operation not permitted/);
    await expect(readPodLink(oneCommand({ stderr: said }).run, '/x')).rejects.toThrow(
      /Operation not permitted/,
    );
  });
});

describe('findHostInterface', () => {
  /** A class/net tree: name -> [ifindex, iflink, has a device link]. */
  function sysTree(links: Record<string, [number, number, boolean?]>): string {
    const files: Record<string, string | null> = {};
    for (const [name, [ifindex, iflink, device]] of Object.entries(links)) {
      files[`class/net/${name}/ifindex`] = `${ifindex}\n`;
      files[`class/net/${name}/iflink`] = `${iflink}\n`;
      if (device === true) files[`class/net/${name}/device`] = '../../../0000:00:03.0\n';
    }
    return trees.make(files);
  }
  const pod = { ifname: 'eth0', ifindex: 3, peerIfindex: 17 };

  it('finds the interface with the peer index whose iflink is the pod interface', async () => {
    const sys = sysTree({
      lo: [1, 1],
      ens3: [2, 2, true],
      cali0a: [16, 3],
      cali1b: [17, 3],
      cali2c: [18, 3],
    });
    expect(await findHostInterface(sys, pod)).toBe('cali1b');
  });

  it('rejects a device with the peer index whose iflink is not the pod interface', async () => {
    expect(await findHostInterface(sysTree({ veth9: [17, 4] }), pod)).toBeUndefined();
  });

  it('rejects a NIC (it has a device) even when the indexes happen to match', async () => {
    const nic = { ifname: 'eth0', ifindex: 2, peerIfindex: 2 };
    expect(await findHostInterface(sysTree({ ens3: [2, 2, true] }), nic)).toBeUndefined();
    expect(await findHostInterface(sysTree({ vethbwt0: [2, 2] }), nic)).toBe('vethbwt0');
  });

  it('finds nothing in a tree without class/net, or with unreadable files', async () => {
    expect(await findHostInterface(trees.make({ 'block/': null }), pod)).toBeUndefined();
    expect(await findHostInterface(trees.make({ 'class/net/veth0/ifindex': 'x\n' }), pod)).toBeUndefined();
  });
});
