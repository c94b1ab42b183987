import { describe, expect, it } from 'vitest';
import { nodeName, PodDecoder } from '../../../src/cluster/pod-records.js';

function apiPod(
  uid: string,
  options: { node?: string; phase?: string; iops?: string; annotations?: Record<string, string> } = {},
) {
  return {
    metadata: { name: `pod-${uid}`, namespace: 'team', uid, annotations: options.annotations ?? {} },
    spec: {
      ...(options.node === undefined ? {} : { nodeName: options.node }),
      containers: [
        {
          name: 'app',
          resources: { requests: options.iops === undefined ? {} : { 'ioplace.io/iops': options.iops } },
        },
      ],
    },
    ...(options.phase === undefined ? {} : { status: { phase: options.phase } }),
  };
}

describe('PodDecoder', () => {
  it('keeps the uid, node, phase and demand of a pod, and nothing else', () => {
    const record = new PodDecoder().decode(
      apiPod('u1', {
        node: 'n1',
        phase: 'Running',
        iops: '2k',
        annotations: { 'kubernetes.io/ingress-bandwidth': '100M' },
      }),
    );
    expect(record).toEqual({
      uid: 'u1',
      node: 'n1',
      phase: 'Running',
      demand: { ingressBandwidth: 1e8, iops: 2000 },
    });
    expect(Object.keys(record ?? {}).sort()).toEqual(['demand', 'node', 'phase', 'uid']);
  });

  it('reads a pod not bound yet, without a phase, as Pending on no node', () => {
    expect(new PodDecoder().decode(apiPod('u1', { node: '' }))).toEqual({
      uid: 'u1',
      node: undefined,
      phase: 'Pending',
      demand: {},
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
