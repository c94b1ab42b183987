import { describe, expect, it } from 'vitest';
import { nodeName, PodDecoder } from '../../../src/cluster/pod-records.js';

function apiPod(
  uid: string,
  options: {
    node?: string;
    phase?: string;
    iops?: string;
    annotations?: Record<string, string>;
    priority?: unknown;
    startTime?: unknown;
  } = {},
) {
  const status = {
    ...(options.phase === undefined ? {} : { phase: options.phase }),
    ...(options.startTime === undefined ? {} : { startTime: options.startTime }),
  };
  return {
    metadata: { name: `pod-${uid}`, namespace: 'team', uid, annotations: options.annotations ?? {} },
    spec: {
      ...(options.node === undefined ? {} : { nodeName: options.node }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      containers: [
        {
          name: 'app',
          resources: { requests: options.iops === undefined ? {} : { 'ioplace.io/iops': options.iops } },
        },
      ],
    },
    ...(Object.keys(status).length === 0 ? {} : { status }),
  };
}

describe('PodDecoder', () => {
  it('keeps the uid, node, phase, demand, priority and start time of a pod, and nothing else', () => {
    const record = new PodDecoder().decode(
      apiPod('u1', {
        node: 'n1',
        phase: 'Running',
        iops: '2k',
        annotations: { 'kubernetes.io/ingress-bandwidth': '100M' },
        priority: 1000,
        startTime: '2026-11-25T20:20:17Z',
      }),
    );
    expect(record).toEqual({
      uid: 'u1',
      node: 'n1',
      phase: 'Running',
      demand: { ingressBandwidth: 1e8, iops: 2000 },
      priority: 1000,
      startedAt: Date.parse('2026-11-25T20:20:17Z') / 1000,
    });
    expect(Object.keys(record ?? {}).sort()).toEqual([
      'demand',
      'node',
      'phase',
      'priority',
      'startedAt',
      'uid',
    ]);
  });

  it.each<{ name: string; priority: unknown; expected: number }>([
    { name: 'absent', priority: undefined, expected: 0 },
    { name: 'negative', priority: -10, expected: -10 },
    { name: 'system-node-critical', priority: 2_000_001_000, expected: 2_000_001_000 },
    { name: 'a string', priority: '100', expected: 0 },
    { name: 'a fraction', priority: 1.5, expected: 0 },
    { name: 'null', priority: null, expected: 0 },
  ])('reads spec.priority $name as $expected', ({ priority, expected }) => {
    expect(new PodDecoder().decode(apiPod('u1', { priority }))?.priority).toBe(expected);
  });

  it.each<{ name: string; startTime: unknown; expected: number | undefined }>([
    { name: 'absent', startTime: undefined, expected: undefined },
    { name: 'RFC 3339', startTime: '1970-01-01T00:16:40Z', expected: 1000 },
    { name: 'with an offset', startTime: '1970-01-01T01:16:40+01:00', expected: 1000 },
    { name: 'with a fraction, rounded down', startTime: '1970-01-01T00:16:40.999Z', expected: 1000 },
    { name: 'unreadable', startTime: 'yesterday', expected: undefined },
    { name: 'a number', startTime: 1000, expected: undefined },
  ])('reads status.startTime $name as whole seconds: $expected', ({ startTime, expected }) => {
    expect(new PodDecoder().decode(apiPod('u1', { startTime }))?.startedAt).toBe(expected);
  });

  it('reads a pod not bound yet, without a phase, as Pending on no node', () => {
    expect(new PodDecoder().decode(apiPod('u1', { node: '' }))).toEqual({
      uid: 'u1',
      node: undefined,
      phase: 'Pending',
      demand: {},
      priority: 0,
      startedAt: undefined,
    });
  });

  it('shares one frozen demand between pods that ask the same, and a new one for a different ask', () => {
    const decoder = new PodDecoder();
    const a = decoder.decode(apiPod('a', { node: 'n1', iops: '100' }));
    const b = decoder.decode(apiPod('b', { node: 'n2', iops: '100' }));
    const c = decoder.decode(apiPod('c', { node: 'n1', iops: '200' }));
    expect(a?.demand).toBe(b?.demand);
    expect(c?.demand).not.toBe(a?.demand);
    expect(c?.demand).toEqual({ iops: 200 });
    expect(Object.isFrozen(a?.demand)).toBe(true);
    expect(Object.isFrozen(decoder.decode(apiPod('none'))?.demand)).toBe(true);
  });

  it('keeps a pod whose demand does not parse, with no demand', () => {
    expect(new PodDecoder().decode(apiPod('u1', { node: 'n1', iops: '-5' }))?.demand).toEqual({});
  });

  it('keeps a phase it does not know as it is', () => {
    expect(new PodDecoder().decode(apiPod('u1', { phase: 'Evicted' }))?.phase).toBe('Evicted');
  });

  it.each([null, 'pod', 42, {}, { metadata: null }, { metadata: {} }, { metadata: { uid: '' } }])(
    'skips what is not a pod with a uid: %j',
    (object) => {
      expect(new PodDecoder().decode(object)).toBeUndefined();
    },
  );

  it('goes on working past its table limits (it only forgets what it shares)', () => {
    const decoder = new PodDecoder();
    for (let i = 0; i < 70_000; i++) decoder.decode(apiPod(`u${i}`, { node: `n${i}`, iops: String(i + 1) }));
    expect(decoder.decode(apiPod('last', { node: 'n1', iops: '1' }))).toEqual({
      uid: 'last',
      node: 'n1',
      phase: 'Pending',
      demand: { iops: 1 },
      priority: 0,
      startedAt: undefined,
    });
  });
});

describe('nodeName', () => {
  it('is the name of a Node, or undefined for anything else', () => {
    expect(nodeName({ metadata: { name: 'n1' } })).toBe('n1');
    for (const object of [
      null,
      {},
      { metadata: {} },
      { metadata: { name: '' } },
      { metadata: { name: 7 } },
    ]) {
      expect(nodeName(object)).toBeUndefined();
    }
  });
});
