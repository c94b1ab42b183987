import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSafeName, pathExists } from '../net-interfaces.js';
import { CommandError, type CommandRunner } from './tc-command.js';
import { parseLink } from './tc-json.js';

/**
 * Finding the host end of a pod's veth pair. The pod's interface (eth0) knows its peer's ifindex
 * (`iflink`, printed by `ip -j link` as `link_index`), but only from inside the pod's network
 * namespace: sysfs shows the namespace of whoever mounted it, so reading
 * `/sys/class/net/eth0/iflink` after entering the namespace reads the agent's own eth0. Hence
 * `nsenter --net=<ns> ip -j link show dev eth0`, which asks the kernel over netlink from inside.
 * The peer is then the interface of the host's `<sysRoot>/class/net` with that ifindex, whose own
 * `iflink` is the pod interface's ifindex, and which is virtual (no `device`): ifindexes are per
 * namespace, and the checks make sure the match is the pair's other end, not a device that only
 * shares the index.
 *
 * Needs: the pod's namespace file (`<procRoot>/<pid>/ns/net`; the agent shares the host's PID
 * namespace), CAP_SYS_ADMIN for setns, and `nsenter` (util-linux) and `ip` (iproute2) on PATH.
 */

/** The pod's end of the pair, as its own namespace numbers it. */
export interface PodLink {
  readonly ifname: string;
  readonly ifindex: number;
  /** The host end's ifindex (in the host's namespace). */
  readonly peerIfindex: number;
}

/** The network namespace file of a process: `<procRoot>/<pid>/ns/net`. */
export function netnsOfPid(procRoot: string, pid: number): string {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`bad pid ${pid}`);
  return join(procRoot, String(pid), 'ns', 'net');
}

/** What nsenter and ip say when the namespace (its process gone) or the interface does not exist. */
const NOT_FOUND = /No such file or directory|does not exist|Cannot find device|No such device/i;

/**
 * The pod end of the veth whose namespace is at `netnsPath`; undefined when the namespace or the
 * interface is gone, or the interface has no peer (not a veth). Throws when nsenter or ip fail
 * otherwise (no permission to enter, not installed): a setup problem, not a pod state.
 */
export async function readPodLink(
  run: CommandRunner,
  netnsPath: string,
  ifName = 'eth0',
): Promise<PodLink | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await run('nsenter', [
      `--net=${netnsPath}`,
      '--',
      'ip',
      '-j',
      'link',
      'show',
      'dev',
      ifName,
    ]));
  } catch (err) {
    if (err instanceof CommandError && NOT_FOUND.test(err.stderr)) return undefined;
    throw err;
  }
  const link = parseLink(stdout, `ip link show dev ${ifName} in ${netnsPath}`);
  // Both ends of a pair made in fresh namespaces are often ifindex 2. Kernels without the 2020
  // fix "rtnetlink: always put IFLA_LINK for links with a link-netnsid" then leave link_index
  // out: a link whose other end is in another namespace but has no link_index has iflink = ifindex.
  const peerIfindex = link.linkIndex ?? (link.linkInOtherNs ? link.ifindex : undefined);
  if (peerIfindex === undefined) return undefined;
  return { ifname: link.ifname, ifindex: link.ifindex, peerIfindex };
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The interface of `<sysRoot>/class/net` that is the other end of `pod`: its `ifindex` is the
 * pod's peer index and its `iflink` the pod's ifindex. Undefined when none is.
 */
export async function findHostInterface(sysRoot: string, pod: PodLink): Promise<string | undefined> {
  const dir = join(sysRoot, 'class/net');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  for (const name of names.filter(isSafeName).sort()) {
    if ((await readNumber(join(dir, name, 'ifindex'))) !== pod.peerIfindex) continue;
    if ((await readNumber(join(dir, name, 'iflink'))) !== pod.ifindex) continue;
    // A NIC's iflink is its own ifindex; it could match a pod eth0 of the same index whose peer
    // is in a third namespace. A veth is virtual: it has no `device`.
    if (!(await pathExists(join(dir, name, 'device')))) return name;
  }
  return undefined;
}
