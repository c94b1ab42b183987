import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** One ioplace replica: the URL as configured, and the one address to send to. */
export interface ReplicaTarget {
  readonly server: URL;
  readonly address: string;
}

/** Resolves a host name to every address it has (a headless Service: one per replica). */
export type Resolve = (host: string) => Promise<string[]>;

export const dnsResolve: Resolve = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/**
 * Every address of every configured server, resolved afresh at each round so that replicas that
 * come and go are followed. A server whose name does not resolve is reported in `failed` and
 * does not stop the others.
 */
export async function resolveTargets(
  servers: readonly URL[],
  resolve: Resolve,
): Promise<{ targets: ReplicaTarget[]; failed: { server: URL; error: string }[] }> {
  const targets: ReplicaTarget[] = [];
  const failed: { server: URL; error: string }[] = [];
  await Promise.all(
    servers.map(async (server) => {
      const host = server.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0) {
        targets.push({ server, address: host });
        return;
      }
      try {
        const addresses = [...new Set(await resolve(host))];
        if (addresses.length === 0) failed.push({ server, error: 'no addresses' });
        for (const address of addresses) targets.push({ server, address });
      } catch (err) {
        failed.push({ server, error: (err as NodeJS.ErrnoException).code ?? String(err) });
      }
    }),
  );
  return { targets, failed };
}

export function targetKey(t: ReplicaTarget): string {
  return `${t.server.protocol}//${t.address}:${t.server.port}`;
}
