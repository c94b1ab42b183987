#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatAmount } from '../domain/human-units.js';
import type { Amounts } from '../domain/resources.js';
import { table } from './table.js';

const USAGE = `Usage:
  ioplace nodes [--server URL] [--json]
      The inventory: capacity, usage, committed and free per node, and what its agent enforces
      (mode, pods with their limits in force, pods whose limits failed). A capacity the node's
      agent does not know is shown as ? and named under the table.
  ioplace explain POD.yaml|- [--server URL] [--json] [--strategy spread|pack]
                 [--weight DIMENSION=N]... [--reserve-fraction F] [--node NAME]...
      For every node: whether the pod fits and why not, free capacity, and its score per
      dimension. --strategy, --weight and --reserve-fraction preview other tunables without
      changing the server's config.

--server defaults to IOPLACE_SERVER (as the agent reads it; the first URL of a comma-separated
list), else http://localhost:8080; IOPLACE_SERVER_URL is still read, and deprecated. Dimensions: ingressBandwidth,
egressBandwidth, iops. Bandwidth is shown in bits per second with decimal prefixes.
`;

class UsageError extends Error {}

/**
 * The server named by the environment: IOPLACE_SERVER, the agent's name for it (the first of a
 * comma-separated list), else IOPLACE_SERVER_URL, the name the CLI used before, with a note.
 */
function serverFromEnvironment(env: NodeJS.ProcessEnv): string | undefined {
  const first = env.IOPLACE_SERVER?.split(',')[0]?.trim();
  if (first) return first;
  const old = env.IOPLACE_SERVER_URL;
  if (old) {
    process.stderr.write('ioplace: IOPLACE_SERVER_URL is deprecated; set IOPLACE_SERVER instead\n');
    return old;
  }
  return undefined;
}

interface NodeView {
  node: string;
  fresh: boolean;
  ageSeconds: number;
  capacity: Amounts;
  usage: Amounts;
  committed: Amounts;
  free: Amounts;
  /** Absent from servers before it: then read from `capacity`. */
  capacityUnknown?: (typeof DIMS)[number][];
  enforcement?: { mode?: string; pods: number; errors: number };
}

interface Verdict {
  fits: boolean;
  message?: string;
  free: Amounts;
  score: number;
  dimensions: Amounts;
}

interface Explanation {
  pod: string;
  demand: Amounts | null;
  demandError?: string;
  settings: { strategy: string; reserveFraction: number; weights: Record<string, number> };
  preview?: { strategy: string; reserveFraction: number; weights: Record<string, number> };
  nodes: (Verdict & { node: string; fresh: boolean; preview?: Verdict })[];
}

const DIMS = ['ingressBandwidth', 'egressBandwidth', 'iops'] as const;
const SHORT: Record<(typeof DIMS)[number], string> = {
  ingressBandwidth: 'in',
  egressBandwidth: 'out',
  iops: 'iops',
};

const amount = (v: number | undefined) => (v === undefined ? '-' : formatAmount(v));
const triple = (a: Amounts) => DIMS.map((d) => amount(a[d])).join('/');

async function request<T>(
  server: string,
  method: string,
  path: string,
  body?: string,
  type?: string,
): Promise<T> {
  let url: URL;
  try {
    url = new URL(path, server.endsWith('/') ? server : `${server}/`);
  } catch {
    throw new UsageError(`--server: ${JSON.stringify(server)} is not a URL (e.g. http://localhost:8080)`);
  }
  let response: Response;
  try {
    response = await fetch(url, { method, body, headers: type ? { 'content-type': type } : {} });
  } catch (err) {
    throw new UsageError(
      `cannot reach ${server}: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`,
    );
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON
    }
    throw new UsageError(`${server} answered ${response.status}: ${message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UsageError(
      `${server} answered ${response.status} with something that is not JSON: is it ioplace?`,
    );
  }
}

/** `all 12`, `iops 3 (1 failing)`, `off`; `-` when the agent does not say (it predates enforcement). */
function enforcedCell(e: NodeView['enforcement']): string {
  if (e === undefined) return '-';
  if (e.mode === 'off') return 'off';
  const failing = e.errors > 0 ? ` (${e.errors} failing)` : '';
  return `${e.mode ?? '?'} ${e.pods}${failing}`;
}

const capacityUnknown = (n: NodeView) => n.capacityUnknown ?? DIMS.filter((d) => n.capacity[d] === undefined);

/** What to do about each dimension whose capacity a node's agent does not know. */
const CAPACITY_HINT: Record<(typeof DIMS)[number], string> = {
  ingressBandwidth: "the agent's --network-capacity",
  egressBandwidth: "the agent's --network-capacity",
  iops: "the agent's --iops-capacity or the node's ioplace.io/iops-capacity annotation",
};

/** The table; `?` for a capacity the node's agent does not report, explained under the table. */
function nodesTable(nodes: NodeView[]): string {
  const notes = nodes
    .filter((n) => capacityUnknown(n).length > 0)
    .map((n) => {
      const dims = capacityUnknown(n);
      const hints = [...new Set(dims.map((d) => CAPACITY_HINT[d]))].join('; ');
      return `${n.node}: capacity unknown for ${dims.join(', ')}: pods asking for it are not placed there (set ${hints})`;
    });
  const rows = table(
    ['NODE', 'FRESH', 'AGE', 'CAPACITY in/out/iops', 'USAGE', 'COMMITTED', 'FREE', 'ENFORCED'],
    nodes.map((n) => [
      n.node,
      n.fresh ? 'yes' : 'STALE',
      `${Math.round(n.ageSeconds)}s`,
      DIMS.map((d) => (capacityUnknown(n).includes(d) ? '?' : amount(n.capacity[d]))).join('/'),
      triple(n.usage),
      triple(n.committed),
      triple(n.free),
      enforcedCell(n.enforcement),
    ]),
  );
  return notes.length === 0 ? rows : `${rows}\n\n${notes.join('\n')}`;
}

function scoreCell(v: Verdict): string {
  const parts = DIMS.filter((d) => v.dimensions[d] !== undefined).map(
    (d) => `${SHORT[d]} ${Number(v.dimensions[d]).toFixed(2)}`,
  );
  return parts.length === 0 ? String(v.score) : `${v.score} (${parts.join(', ')})`;
}

function explainTable(e: Explanation): string {
  const head = [
    `pod ${e.pod}: demand ${e.demand === null ? `invalid (${e.demandError ?? ''})` : triple(e.demand)} (in/out/iops)`,
    `settings: ${e.settings.strategy}, reserve ${e.settings.reserveFraction}, weights ${JSON.stringify(e.settings.weights)}`,
  ];
  if (e.preview) {
    head.push(
      `preview:  ${e.preview.strategy}, reserve ${e.preview.reserveFraction}, weights ${JSON.stringify(e.preview.weights)}`,
    );
  }
  const header = [
    'NODE',
    'FITS',
    'SCORE',
    'FREE in/out/iops',
    ...(e.preview ? ['PREVIEW FITS', 'PREVIEW SCORE'] : []),
    'WHY NOT',
  ];
  const rows = e.nodes.map((n) => [
    n.node,
    n.fits ? 'yes' : 'no',
    scoreCell(n),
    triple(n.free),
    ...(n.preview ? [n.preview.fits ? 'yes' : 'no', scoreCell(n.preview)] : []),
    n.message ?? '',
  ]);
  return `${head.join('\n')}\n\n${table(header, rows)}`;
}

function weights(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const [dim, n] = v.split('=');
    const weight = n === undefined || n.trim() === '' ? Number.NaN : Number(n);
    if (!DIMS.includes(dim as (typeof DIMS)[number]) || !(weight >= 0 && weight <= 1000)) {
      throw new UsageError(
        `--weight ${v}: expected DIMENSION=N with DIMENSION one of ${DIMS.join(', ')} and N from 0 to 1000`,
      );
    }
    out[dim as string] = weight;
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: 'string' },
      json: { type: 'boolean' },
      strategy: { type: 'string' },
      weight: { type: 'string', multiple: true },
      'reserve-fraction': { type: 'string' },
      node: { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
  });
  const [command, file] = positionals;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  const server = values.server ?? serverFromEnvironment(process.env) ?? 'http://localhost:8080';
  if (command === 'nodes') {
    const list = await request<{ nodes: NodeView[] }>(server, 'GET', 'v1/nodes');
    process.stdout.write(`${values.json ? JSON.stringify(list, null, 2) : nodesTable(list.nodes)}\n`);
    return 0;
  }
  if (command === 'explain') {
    if (file === undefined) throw new UsageError('explain needs a pod file (or - for standard input)');
    const text =
      file === '-'
        ? await readStdin()
        : await readFile(file, 'utf8').catch(() => {
            throw new UsageError(`cannot read ${file}`);
          });
    const preview: Record<string, unknown> = {};
    if (values.strategy !== undefined) preview.strategy = values.strategy;
    if (values.weight !== undefined) preview.weights = weights(values.weight);
    if (values['reserve-fraction'] !== undefined)
      preview.reserveFraction = Number(values['reserve-fraction']);
    const { parse } = await import('yaml');
    let pod: unknown;
    try {
      pod = parse(text, { logLevel: 'error' });
    } catch (err) {
      throw new UsageError(`${file} is not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
    }
    const body = JSON.stringify({
      pod,
      ...(Object.keys(preview).length > 0 ? { preview } : {}),
      ...(values.node ? { nodes: values.node } : {}),
    });
    const explanation = await request<Explanation>(server, 'POST', 'v1/explain', body, 'application/json');
    process.stdout.write(
      `${values.json ? JSON.stringify(explanation, null, 2) : explainTable(explanation)}\n`,
    );
    return 0;
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}`);
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`ioplace: ${(err as Error).message}\n`);
    process.exitCode = 2;
  } else {
    throw err;
  }
}
