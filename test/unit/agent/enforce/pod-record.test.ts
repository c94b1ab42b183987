import { describe, expect, it } from 'vitest';
import { decodeNodePod, hasTerminated, podName } from '../../../../src/agent/enforce/pod-record.js';

const base = {
  metadata: { name: 'db-0', namespace: 'shop', uid: 'u-1' },
  spec: { containers: [{ name: 'db', resources: { requests: { 'ioplace.io/iops': '2k' } } }] },
  status: { phase: 'Running', qosClass: 'Guaranteed', startTime: '2026-11-25T20:00:00Z' },
};

describe('decodeNodePod', () => {
  it('keeps what enforcement needs, with the demand as the extender computes it', () => {
    const pod = decodeNodePod({
      ...base,
      metadata: {
        ...base.metadata,
        annotations: { 'kubernetes.io/ingress-bandwidth': '50M', 'kubectl.kubernetes.io/last-applied': '{}' },
      },
      spec: {
        ...base.spec,
        hostNetwork: true,
        initContainers: [
          { name: 'sidecar', restartPolicy: 'Always', resources: { requests: { 'ioplace.io/iops': '500' } } },
        ],
        overhead: { 'ioplace.io/iops': '100' },
      },
    });
    expect(pod).toEqual({
      uid: 'u-1',
      namespace: 'shop',
      name: 'db-0',
      qosClass: 'Guaranteed',
      hostNetwork: true,
      annotations: { 'kubernetes.io/ingress-bandwidth': '50M' },
      phase: 'Running',
      startedAt: Date.parse('2026-11-25T20:00:00Z'),
      // app 2k + sidecar 500, plus overhead 100; ingress from the CNI annotation.
      demand: { ok: true, demand: { iops: 2_600, ingressBandwidth: 50e6 } },
    });
    expect(podName(pod as NonNullable<typeof pod>)).toBe('shop/db-0');
  });

  it.each([
    ['no status yet', { status: undefined }, { phase: 'Pending', qosClass: undefined, startedAt: undefined }],
    ['an unreadable start time', { status: { startTime: 'soon' } }, { startedAt: undefined }],
    ['hostNetwork not a boolean', { spec: { ...base.spec, hostNetwork: 'yes' } }, { hostNetwork: false }],
  ])('reads %s safely', (_name, change, expected) => {
    expect(decodeNodePod({ ...base, ...change })).toMatchObject(expected);
  });

  it('keeps a pod whose demand does not parse, with the problem', () => {
    const pod = decodeNodePod({
      ...base,
      spec: { containers: [{ name: 'db', resources: { requests: { 'ioplace.io/iops': '-5' } } }] },
    });
    expect(pod?.demand).toEqual({ ok: false, problem: 'container "db" ioplace.io/iops "-5" is negative' });
  });

  it.each([null, 'pod', [], {}, { metadata: {} }, { metadata: { uid: '' } }, { metadata: { uid: 7 } }])(
    'is undefined for %j',
    (object) => {
      expect(decodeNodePod(object)).toBeUndefined();
    },
  );

  it('says which phases are over', () => {
    expect(
      ['Pending', 'Running', 'Unknown', 'Succeeded', 'Failed'].map((phase) => hasTerminated({ phase })),
    ).toEqual([false, false, false, true, true]);
  });
});
