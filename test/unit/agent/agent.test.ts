import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent/agent.js';
import { Reporter } from '../../../src/agent/reporter.js';
import type { CounterSample } from '../../../src/agent/sample.js';

interface Line {
  level: number;
  msg: string;
  dimensions?: string[];
  problems?: { replica: string; reason: string }[];
}

/** An agent on a node with one 10G NIC and one disk, run for `rounds` rounds, and its log. */
async function runAgent(opts: {
  iopsCapacity: (round: number) => number | undefined;
  rounds: number;
  status?: number;
  servers?: string[];
}): Promise<Line[]> {
  const lines: Line[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Line);
        done();
      },
    }),
  );
  let now = 0;
  let round = 0;
  const stop = new AbortController();
  const sample = async (at: number): Promise<CounterSample> => ({
    at,
    interfaces: new Map([['eth0', { rxBytes: BigInt(at), txBytes: 0n, speedMbps: 10_000, up: true }]]),
    devices: new Map([['sda', { ios: BigInt(at) }]]),
  });
  const reporter = new Reporter({
    servers: (opts.servers ?? ['http://ioplace:8080']).map((s) => new URL(s)),
    nodeName: 'node-1',
    tokenFile: undefined,
    timeoutMs: 1000,
    resolve: async () => ['10.0.0.1'],
    logger,
    now: () => now,
    maxBackoffMs: 0,
    send: async () => ({ status: opts.status ?? 200, body: '{"error":"down"}' }),
  });
  const agent = new Agent({
    options: { intervalMs: 1000, iopsCapacity: undefined, networkCapacityBps: undefined, nodeName: 'node-1' },
    sample,
    nodeIopsCapacity: async () => opts.iopsCapacity(round),
    reporter,
    clock: () => now,
    delay: async (ms) => {
      now += ms;
      if (++round >= opts.rounds) stop.abort();
    },
    random: () => 0.5,
    logger,
  });
  await agent.run(stop.signal);
  return lines;
}

describe('the agent', () => {
  it('warns once when a capacity is unknown, and says when it is known again', async () => {
    const lines = await runAgent({ iopsCapacity: (round) => (round < 5 ? undefined : 50_000), rounds: 8 });
    const warned = lines.filter((l) => l.msg.startsWith('capacity unknown'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, dimensions: ['iops'] });
    expect(warned[0]?.msg).toContain('--iops-capacity');
    expect(lines.filter((l) => l.msg === 'capacity known again')).toMatchObject([{ dimensions: ['iops'] }]);
  });

  it('says nothing of capacity when every one is known', async () => {
    const lines = await runAgent({ iopsCapacity: () => 50_000, rounds: 4 });
    expect(lines).toEqual([]);
  });

  it('logs a failed round in one line, with each replica and why', async () => {
    const lines = await runAgent({ iopsCapacity: () => 50_000, rounds: 2, status: 503 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      msg: 'no ioplace replica took the report',
      problems: [
        { replica: expect.stringContaining('10.0.0.1'), reason: expect.stringContaining('HTTP 503') },
      ],
    });
  });
});
