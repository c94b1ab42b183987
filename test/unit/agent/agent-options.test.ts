import { describe, expect, it } from 'vitest';
import { AgentUsageError, parseAgentOptions } from '../../../src/agent/agent-options.js';

const base = ['--server', 'http://ioplace-agents.ioplace-system.svc:8080', '--node-name', 'n1'];

describe('parseAgentOptions', () => {
  it('has sane defaults', () => {
    const o = parseAgentOptions(base, {});
    if (o === 'help') throw new Error('help');
    expect(o).toMatchObject({
      intervalMs: 10_000,
      nodeName: 'n1',
      iopsCapacity: undefined,
      networkCapacityBps: undefined,
      tokenFile: undefined,
      procRoot: '/proc',
      sysRoot: '/sys',
      once: false,
      print: false,
      requestTimeoutMs: 5_000,
      nodeCapacityFromApi: true,
    });
    expect(o.servers.map((s) => s.href)).toEqual(['http://ioplace-agents.ioplace-system.svc:8080/']);
  });

  it('takes repeated --server flags, quantities, lists and roots', () => {
    const o = parseAgentOptions(
      [
        ...base,
        '--server',
        'https://10.0.0.7:8443',
        '--interval',
        '2.5',
        '--iops-capacity',
        '50k',
        '--network-capacity',
        '25G',
        '--interfaces',
        'eth*, bond0',
        '--exclude-devices',
        'sdz',
        '--proc-root',
        '/host/proc',
        '--sys-root',
        '/host/sys',
        '--no-node-capacity',
      ],
      {},
    );
    if (o === 'help') throw new Error('help');
    expect(o.servers).toHaveLength(2);
    expect(o).toMatchObject({
      intervalMs: 2_500,
      iopsCapacity: 50_000,
      networkCapacityBps: 25e9,
      interfaces: { include: ['eth*', 'bond0'], exclude: [] },
      devices: { include: [], exclude: ['sdz'] },
      procRoot: '/host/proc',
      sysRoot: '/host/sys',
      nodeCapacityFromApi: false,
    });
  });

  it('reads the environment twins when a flag is absent, and prefers the flag', () => {
    const env = {
      IOPLACE_SERVER: 'http://a:8080, http://b:8080',
      NODE_NAME: 'from-env',
      IOPLACE_INTERVAL: '30',
      IOPLACE_IOPS_CAPACITY: '10k',
      IOPLACE_NETWORK_CAPACITY: '1G',
      IOPLACE_TOKEN_FILE: '/var/run/secrets/tokens/ioplace',
      IOPLACE_PROC_ROOT: '/host/proc',
    };
    const o = parseAgentOptions(['--interval', '5'], env);
    if (o === 'help') throw new Error('help');
    expect(o.servers.map((s) => s.host)).toEqual(['a:8080', 'b:8080']);
    expect(o).toMatchObject({
      nodeName: 'from-env',
      intervalMs: 5_000,
      iopsCapacity: 10_000,
      networkCapacityBps: 1e9,
      tokenFile: '/var/run/secrets/tokens/ioplace',
      procRoot: '/host/proc',
    });
  });

  it('takes IOPLACE_NO_NODE_CAPACITY as the twin of --no-node-capacity', () => {
    const capacityFromApi = (argv: string[], env: Record<string, string>) => {
      const o = parseAgentOptions([...base, ...argv], env);
      return o === 'help' ? undefined : o.nodeCapacityFromApi;
    };
    expect(capacityFromApi([], {})).toBe(true);
    expect(capacityFromApi([], { IOPLACE_NO_NODE_CAPACITY: '1' })).toBe(false);
    expect(capacityFromApi([], { IOPLACE_NO_NODE_CAPACITY: 'true' })).toBe(false);
    expect(capacityFromApi([], { IOPLACE_NO_NODE_CAPACITY: '0' })).toBe(true);
    expect(capacityFromApi([], { IOPLACE_NO_NODE_CAPACITY: '' })).toBe(true);
    expect(capacityFromApi(['--no-node-capacity'], { IOPLACE_NO_NODE_CAPACITY: '0' })).toBe(false);
    expect(() => parseAgentOptions(base, { IOPLACE_NO_NODE_CAPACITY: 'yes' })).toThrow(
      'IOPLACE_NO_NODE_CAPACITY: must be 1 or 0 (true or false), got "yes"',
    );
  });

  it('enforces nothing by default, with cgroups under the sys root and metrics on 9102', () => {
    const o = parseAgentOptions([...base, '--sys-root', '/host/sys/'], {});
    expect(o).toMatchObject({
      command: 'run',
      enforce: 'off',
      cgroupRoot: '/host/sys/fs/cgroup',
      iopsSplit: 'even',
      metricsPort: 9102,
      json: false,
    });
  });

  it('takes the enforcement flags, and their environment twins when a flag is absent', () => {
    const flags = parseAgentOptions(
      [
        ...base,
        '--enforce',
        'iops',
        '--cgroup-root',
        '/host/cgroup',
        '--iops-split',
        'each',
        '--metrics-port',
        '0',
      ],
      { IOPLACE_ENFORCE: 'all', IOPLACE_METRICS_PORT: '9200' },
    );
    expect(flags).toMatchObject({
      enforce: 'iops',
      cgroupRoot: '/host/cgroup',
      iopsSplit: 'each',
      metricsPort: 0,
    });
    const env = parseAgentOptions(base, {
      IOPLACE_ENFORCE: 'all',
      IOPLACE_CGROUP_ROOT: '/host/cgroup',
      IOPLACE_IOPS_SPLIT: 'each',
      IOPLACE_METRICS_PORT: '9200',
    });
    expect(env).toMatchObject({
      enforce: 'all',
      cgroupRoot: '/host/cgroup',
      iopsSplit: 'each',
      metricsPort: 9200,
    });
  });

  it('takes limits --print [--json], with a node name but no server', () => {
    expect(parseAgentOptions(['limits', '--print', '--json'], { NODE_NAME: 'n1' })).toMatchObject({
      command: 'limits',
      print: true,
      json: true,
      nodeName: 'n1',
      servers: [],
    });
    expect(parseAgentOptions(['limits'], { NODE_NAME: 'n1' })).toMatchObject({
      command: 'limits',
      json: false,
    });
  });

  it('needs no server or node name to --once --print', () => {
    const o = parseAgentOptions(['--once', '--print'], {});
    expect(o).toMatchObject({ once: true, print: true, servers: [] });
  });

  it('answers help', () => {
    expect(parseAgentOptions(['--help'], {})).toBe('help');
  });

  it.each([
    [['--node-name', 'n1'], '--server: at least one ioplace URL is needed'],
    [['--server', 'http://a'], '--node-name (or NODE_NAME) is required'],
    [[...base, '--server', 'ftp://a'], '--server: "ftp://a" must be http or https'],
    [[...base, '--server', 'not a url'], '--server: "not a url" is not a URL'],
    [[...base, '--interval', '0'], '--interval: must be a positive number, got "0"'],
    [[...base, '--iops-capacity', 'fast'], '--iops-capacity: "fast" is not a quantity'],
    [[...base, '--network-capacity=-1G'], '--network-capacity: "-1G" is negative'],
    [['--print'], '--print goes with --once'],
    [[...base, '--enforce', 'bandwidth'], '--enforce: must be one of off, iops, all, got "bandwidth"'],
    [[...base, '--iops-split', 'half'], '--iops-split: must be one of even, each, got "half"'],
    [[...base, '--metrics-port', '65536'], '--metrics-port: must be a port from 0 to 65535, got "65536"'],
    [[...base, '--metrics-port=-1'], '--metrics-port: must be a port from 0 to 65535, got "-1"'],
    [[...base, '--metrics-port', '9.5'], '--metrics-port: must be a port from 0 to 65535, got "9.5"'],
    [[...base, '--json'], '--json goes with limits'],
    [['limits', '--once'], '--once does not go with limits'],
    [['limits'], '--node-name (or NODE_NAME) is required'],
    [[...base, 'enforce'], 'unknown command "enforce" (the only one is limits)'],
    [['limits', 'now', '--node-name', 'n1'], 'unexpected argument "now"'],
    [[...base, '--bogus'], "Unknown option '--bogus'"],
  ])('refuses %j with one clear line', (argv, message) => {
    expect(() => parseAgentOptions(argv, {})).toThrow(AgentUsageError);
    expect(() => parseAgentOptions(argv, {})).toThrow(message);
  });
});
