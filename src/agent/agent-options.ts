import { parseArgs } from 'node:util';
import { parseQuantity } from '../domain/quantity.js';
import { ENFORCE_MODES, type EnforceMode } from './enforce/reconciler.js';

/** How a pod's IOPS become the kernel's read and write limits (see IopsLimiter's IopsSplit). */
export const IOPS_SPLITS = ['even', 'each'] as const;
export type IopsSplit = (typeof IOPS_SPLITS)[number];

/** The agent's own metrics port, next to node-exporter's 9100. */
export const DEFAULT_METRICS_PORT = 9102;

/** Everything the agent is told, from its command line and environment. */
export interface AgentOptions {
  /** `run`: measure, report and enforce; `limits`: print the pods' limits in force and exit. */
  readonly command: 'run' | 'limits';
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
  readonly enforce: EnforceMode;
  /** Where the host's cgroup v2 hierarchy is mounted (default <sysRoot>/fs/cgroup). */
  readonly cgroupRoot: string;
  readonly iopsSplit: IopsSplit;
  /** 0: no metrics listener. */
  readonly metricsPort: number;
  /** `limits`: JSON instead of a table. */
  readonly json: boolean;
}

export class AgentUsageError extends Error {
  override name = 'AgentUsageError';
}

export const AGENT_USAGE = `Usage: ioplace-agent [options]
       ioplace-agent limits --print [--json] [options]

Measures this node's network bandwidth and IOPS and reports them to every ioplace replica, and
puts each pod's ioplace.io/iops and bandwidth demand in force on this node (--enforce).
\`limits --print\` lists every pod of the node with its demand, its cgroup, the limits the kernel
holds for it and what is wrong, then exits (--json for JSON).

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
                                                                            IOPLACE_NO_NODE_CAPACITY=1
  --timeout SECONDS          timeout of each report request (default 5)     IOPLACE_TIMEOUT
  --enforce MODE             off, iops (cgroup io.max) or all (iops, and tc on the pods'
                             veths); default off                            IOPLACE_ENFORCE
  --cgroup-root PATH         the host's cgroup v2 mount (default <sys-root>/fs/cgroup)  IOPLACE_CGROUP_ROOT
  --iops-split POLICY        a pod's N IOPS as the kernel's read and write limits: even
                             (N/2 each, never more than N in all; the default) or each
                             (N each way), on every measured disk          IOPLACE_IOPS_SPLIT
  --metrics-port PORT        Prometheus metrics on this port, 0 for none (default 9102)  IOPLACE_METRICS_PORT
  --log-level LEVEL          pino level (default info)                      IOPLACE_LOG_LEVEL
  --once                     measure once (over one second), report, and exit
  --print                    with --once: print the measurement instead of reporting it;
                             with limits: print the limits in force
  --json                     with limits: print JSON
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

function oneOf<T extends string>(
  name: string,
  raw: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (raw === undefined || raw === '') return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new AgentUsageError(`${name}: must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
}

/** An on/off environment twin of a boolean flag: 1/true or 0/false (empty: the fallback). */
function flag(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new AgentUsageError(`${name}: must be 1 or 0 (true or false), got ${JSON.stringify(raw)}`);
}

function port(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n > 65_535)
    throw new AgentUsageError(`${name}: must be a port from 0 to 65535, got ${JSON.stringify(raw)}`);
  return n;
}

/** Parses the command line, with environment twins; throws AgentUsageError with one clear line. */
export function parseAgentOptions(argv: readonly string[], env: NodeJS.ProcessEnv): AgentOptions | 'help' {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new AgentUsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const [command = 'run', ...extra] = positionals;
  if (command !== 'run' && command !== 'limits')
    throw new AgentUsageError(`unknown command ${JSON.stringify(command)} (the only one is limits)`);
  if (extra.length > 0) throw new AgentUsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const limits = command === 'limits';
  const servers = (values.server?.length ? values.server : list(env.IOPLACE_SERVER)).map(url);
  const print = values.print ?? false;
  if (print && !values.once && !limits) throw new AgentUsageError('--print goes with --once or limits');
  if (limits && values.once) throw new AgentUsageError('--once does not go with limits');
  if (values.json && !limits) throw new AgentUsageError('--json goes with limits');
  if (servers.length === 0 && !print && !limits)
    throw new AgentUsageError('--server: at least one ioplace URL is needed');
  const nodeName = values['node-name'] ?? env.NODE_NAME ?? '';
  if (nodeName === '' && (limits || !print))
    throw new AgentUsageError('--node-name (or NODE_NAME) is required');
  const sysRoot = values['sys-root'] ?? (env.IOPLACE_SYS_ROOT || '/sys');
  return {
    command: limits ? 'limits' : 'run',
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
    sysRoot,
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
    nodeCapacityFromApi: !(
      values['no-node-capacity'] ?? flag('IOPLACE_NO_NODE_CAPACITY', env.IOPLACE_NO_NODE_CAPACITY, false)
    ),
    enforce: oneOf('--enforce', values.enforce ?? env.IOPLACE_ENFORCE, ENFORCE_MODES, 'off'),
    cgroupRoot:
      values['cgroup-root'] ?? (env.IOPLACE_CGROUP_ROOT || `${sysRoot.replace(/\/+$/, '')}/fs/cgroup`),
    iopsSplit: oneOf('--iops-split', values['iops-split'] ?? env.IOPLACE_IOPS_SPLIT, IOPS_SPLITS, 'even'),
    metricsPort: port(
      '--metrics-port',
      values['metrics-port'] ?? env.IOPLACE_METRICS_PORT,
      DEFAULT_METRICS_PORT,
    ),
    json: values.json ?? false,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
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
      enforce: { type: 'string' },
      'cgroup-root': { type: 'string' },
      'iops-split': { type: 'string' },
      'metrics-port': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
}
