import { parseArgs } from 'node:util';
import { parseQuantity } from '../domain/quantity.js';

/** Everything the agent is told, from its command line and environment. */
export interface AgentOptions {
  readonly servers: readonly URL[];
  readonly intervalMs: number;
  readonly nodeName: string;
  readonly iopsCapacity: number | undefined;
  readonly networkCapacityBps: number | undefined;
  readonly tokenFile: string | undefined;
  /** CA bundle to verify an https --server with (ioplace with tls.certFile). */
  readonly caFile: string | undefined;
  readonly procRoot: string;
  readonly sysRoot: string;
  readonly interfaces: { readonly include: string[]; readonly exclude: string[] };
  readonly devices: { readonly include: string[]; readonly exclude: string[] };
  readonly once: boolean;
  readonly print: boolean;
  readonly logLevel: string;
  readonly requestTimeoutMs: number;
  /** Read the node's ioplace.io/iops-capacity annotation or label through the API. */
  readonly nodeCapacityFromApi: boolean;
}

export class AgentUsageError extends Error {
  override name = 'AgentUsageError';
}

export const AGENT_USAGE = `Usage: ioplace-agent [options]

Measures this node's network bandwidth and IOPS and reports them to every ioplace replica.

Options (each has an environment twin, used when the flag is absent):
  --server URL               ioplace to report to; repeatable. Its host name is resolved at
                             every round and each address gets the report.   IOPLACE_SERVER (comma-separated)
  --interval SECONDS         seconds between reports (default 10, with +-10% jitter)  IOPLACE_INTERVAL
  --node-name NAME           this node's name (from the downward API)         NODE_NAME
  --iops-capacity N          IOPS this node's disks can do (e.g. 50k); the node's
                             ioplace.io/iops-capacity annotation or label wins  IOPLACE_IOPS_CAPACITY
  --network-capacity BPS     link capacity in bits/s (e.g. 10G) for NICs that report
                             no speed (virtio reports -1)                     IOPLACE_NETWORK_CAPACITY
  --token-file PATH          bearer token sent with each report, re-read each time  IOPLACE_TOKEN_FILE
  --ca-file PATH             CA to verify an https --server with              IOPLACE_CA_FILE
  --proc-root PATH           where the host's /proc is mounted (default /proc)  IOPLACE_PROC_ROOT
  --sys-root PATH            where the host's /sys is mounted (default /sys)    IOPLACE_SYS_ROOT
  --interfaces LIST          only these interfaces (comma-separated, * globs)  IOPLACE_INTERFACES
  --exclude-interfaces LIST  never these interfaces                         IOPLACE_EXCLUDE_INTERFACES
  --devices LIST             only these block devices                       IOPLACE_DEVICES
  --exclude-devices LIST     never these block devices                      IOPLACE_EXCLUDE_DEVICES
  --no-node-capacity         do not read the node's annotation or label through the API
  --timeout SECONDS          timeout of each report request (default 5)     IOPLACE_TIMEOUT
  --log-level LEVEL          pino level (default info)                      IOPLACE_LOG_LEVEL
  --once                     measure once (over one second), report, and exit
  --print                    with --once: print the measurement instead of reporting it
  --help                     this text
`;

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new AgentUsageError(`${name}: must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

function quantity(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const parsed = parseQuantity(raw);
  if (!parsed.ok) throw new AgentUsageError(`${name}: ${JSON.stringify(raw)} ${parsed.problem}`);
  return parsed.value;
}

function url(raw: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new AgentUsageError(`--server: ${JSON.stringify(raw)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new AgentUsageError(`--server: ${JSON.stringify(raw)} must be http or https`);
  }
  return parsed;
}

/** Parses the command line, with environment twins; throws AgentUsageError with one clear line. */
export function parseAgentOptions(argv: readonly string[], env: NodeJS.ProcessEnv): AgentOptions | 'help' {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    throw new AgentUsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const servers = (values.server?.length ? values.server : list(env.IOPLACE_SERVER)).map(url);
  const print = values.print ?? false;
  if (print && !values.once) throw new AgentUsageError('--print goes with --once');
  if (servers.length === 0 && !print)
    throw new AgentUsageError('--server: at least one ioplace URL is needed');
  const nodeName = values['node-name'] ?? env.NODE_NAME ?? '';
  if (nodeName === '' && !print) throw new AgentUsageError('--node-name (or NODE_NAME) is required');
  return {
    servers,
    intervalMs: positive('--interval', values.interval ?? env.IOPLACE_INTERVAL, 10) * 1000,
    nodeName,
    iopsCapacity: quantity('--iops-capacity', values['iops-capacity'] ?? env.IOPLACE_IOPS_CAPACITY),
    networkCapacityBps: quantity(
      '--network-capacity',
      values['network-capacity'] ?? env.IOPLACE_NETWORK_CAPACITY,
    ),
    tokenFile: values['token-file'] ?? (env.IOPLACE_TOKEN_FILE || undefined),
    caFile: values['ca-file'] ?? (env.IOPLACE_CA_FILE || undefined),
    procRoot: values['proc-root'] ?? (env.IOPLACE_PROC_ROOT || '/proc'),
    sysRoot: values['sys-root'] ?? (env.IOPLACE_SYS_ROOT || '/sys'),
    interfaces: {
      include: list(values.interfaces ?? env.IOPLACE_INTERFACES),
      exclude: list(values['exclude-interfaces'] ?? env.IOPLACE_EXCLUDE_INTERFACES),
    },
    devices: {
      include: list(values.devices ?? env.IOPLACE_DEVICES),
      exclude: list(values['exclude-devices'] ?? env.IOPLACE_EXCLUDE_DEVICES),
    },
    once: values.once ?? false,
    print,
    logLevel: values['log-level'] ?? (env.IOPLACE_LOG_LEVEL || 'info'),
    requestTimeoutMs: positive('--timeout', values.timeout ?? env.IOPLACE_TIMEOUT, 5) * 1000,
    nodeCapacityFromApi: !(values['no-node-capacity'] ?? false),
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      server: { type: 'string', multiple: true },
      interval: { type: 'string' },
      'node-name': { type: 'string' },
      'iops-capacity': { type: 'string' },
      'network-capacity': { type: 'string' },
      'token-file': { type: 'string' },
      'ca-file': { type: 'string' },
      'proc-root': { type: 'string' },
      'sys-root': { type: 'string' },
      interfaces: { type: 'string' },
      'exclude-interfaces': { type: 'string' },
      devices: { type: 'string' },
      'exclude-devices': { type: 'string' },
      'no-node-capacity': { type: 'boolean' },
      timeout: { type: 'string' },
      'log-level': { type: 'string' },
      once: { type: 'boolean' },
      print: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
}
