import { describe, expect, it } from 'vitest';
import { podDemand } from '../../../src/domain/demand.js';
import type { ContainerLike, PodLike, QuantityValue, ResourceList } from '../../../src/domain/pod.js';

const INGRESS = 'ioplace.io/ingress-bandwidth';
const EGRESS = 'ioplace.io/egress-bandwidth';
const IOPS = 'ioplace.io/iops';
const CNI_INGRESS = 'kubernetes.io/ingress-bandwidth';
const CNI_EGRESS = 'kubernetes.io/egress-bandwidth';

/** A container that requests `requests` (and optionally limits). */
function c(name: string, requests?: ResourceList, limits?: ResourceList): ContainerLike {
  return { name, resources: { ...(requests && { requests }), ...(limits && { limits }) } };
}

/** A restartable init container (a sidecar) requesting `iops`. */
function sidecar(name: string, iops: QuantityValue): ContainerLike {
  return { name, restartPolicy: 'Always', resources: { requests: { [IOPS]: iops } } };
}

function pod(spec: PodLike['spec'], annotations?: Record<string, string>): PodLike {
  return { metadata: { name: 'p', namespace: 'ns', ...(annotations && { annotations }) }, spec };
}

describe('podDemand', () => {
  describe('pods that ask for nothing ioplace manages', () => {
    it.each<{ name: string; pod: PodLike }>([
      { name: 'a pod with no spec at all', pod: {} },
      { name: 'a pod with metadata but no spec', pod: { metadata: { name: 'p' } } },
      { name: 'an empty spec', pod: { spec: {} } },
      { name: 'containers without resources', pod: pod({ containers: [{ name: 'app' }] }) },
      {
        name: 'only core resources',
        pod: pod({ containers: [c('app', { cpu: '100m', memory: '1Gi' })] }),
      },
      {
        name: 'a malformed core resource, which is not ioplace business',
        pod: pod({ containers: [c('app', { cpu: 'lots' })] }),
      },
      { name: 'an explicit zero request', pod: pod({ containers: [c('app', { [IOPS]: '0' })] }) },
      {
        name: 'zero everywhere',
        pod: pod(
          {
            containers: [c('app', { [INGRESS]: '0', [EGRESS]: 0, [IOPS]: '-0' })],
            initContainers: [c('init', { [IOPS]: '0' })],
            overhead: { [IOPS]: '0' },
          },
          { [CNI_INGRESS]: '0', [CNI_EGRESS]: '0' },
        ),
      },
      {
        name: 'unrelated annotations',
        pod: pod({ containers: [c('app')] }, { 'example.com/iops': '5k' }),
      },
    ])('$name', ({ pod }) => {
      expect(podDemand(pod)).toEqual({ ok: true, demand: {}, none: true });
    });
  });

  describe('extended resources', () => {
    it('reads each dimension from its own resource name', () => {
      const result = podDemand(
        pod({ containers: [c('app', { [INGRESS]: '100M', [EGRESS]: '20M', [IOPS]: '1500' })] }),
      );
      expect(result).toEqual({
        ok: true,
        demand: { ingressBandwidth: 100_000_000, egressBandwidth: 20_000_000, iops: 1500 },
        none: false,
      });
    });

    it('leaves out the dimensions the pod does not ask for', () => {
      expect(podDemand(pod({ containers: [c('app', { [IOPS]: '2k' })] }))).toEqual({
        ok: true,
        demand: { iops: 2000 },
        none: false,
      });
    });

    it('accepts bare numbers as quantities', () => {
      expect(podDemand(pod({ containers: [c('app', { [IOPS]: 750 })] }))).toEqual({
        ok: true,
        demand: { iops: 750 },
        none: false,
      });
    });

    it('rounds a fractional request up', () => {
      expect(podDemand(pod({ containers: [c('app', { [IOPS]: '1500m' })] }))).toEqual({
        ok: true,
        demand: { iops: 2 },
        none: false,
      });
    });
  });

  describe('effective request, as k8s.io/component-helpers/resource.PodRequests computes it', () => {
    it.each<{ name: string; spec: NonNullable<PodLike['spec']>; iops: number }>([
      {
        // app = 100 + 200 + 300 = 600
        name: 'app containers are summed',
        spec: { containers: [c('a', { [IOPS]: 100 }), c('b', { [IOPS]: 200 }), c('c', { [IOPS]: 300 })] },
        iops: 600,
      },
      {
        // a container without the resource adds 0: app = 100 + 0 = 100
        name: 'containers without the resource add nothing',
        spec: { containers: [c('a', { [IOPS]: 100 }), c('b', { cpu: '1' })] },
        iops: 100,
      },
      {
        // app = 100 + 200 = 300; init = max(700, 200) = 700; max(300, 700) = 700
        name: 'init containers count by their maximum, not their sum',
        spec: {
          containers: [c('a', { [IOPS]: 100 }), c('b', { [IOPS]: 200 })],
          initContainers: [c('i1', { [IOPS]: 700 }), c('i2', { [IOPS]: 200 })],
        },
        iops: 700,
      },
      {
        // app = 200 + 300 = 500; init = max(400, 450) = 450; max(500, 450) = 500
        name: 'the app sum wins when it is larger than every init container',
        spec: {
          containers: [c('a', { [IOPS]: 200 }), c('b', { [IOPS]: 300 })],
          initContainers: [c('i1', { [IOPS]: 400 }), c('i2', { [IOPS]: 450 })],
        },
        iops: 500,
      },
      {
        // app = 0; init = 250; max(0, 250) = 250
        name: 'an init container alone',
        spec: { containers: [c('a')], initContainers: [c('i1', { [IOPS]: 250 })] },
        iops: 250,
      },
      {
        // sidecar s (100) runs beside the app: app = 300 + 100 = 400;
        // init_s = 100 (sidecars so far, itself included); max(400, 100) = 400
        name: 'a sidecar is added to the app sum',
        spec: { containers: [c('a', { [IOPS]: 300 })], initContainers: [sidecar('s', 100)] },
        iops: 400,
      },
      {
        // s (100) starts first and keeps running while i (500) initialises:
        // app = 300 + 100 = 400; init_s = 100; init_i = 500 + 100 = 600; max(400, 600) = 600
        name: 'a sidecar started before an init container adds to that init container',
        spec: {
          containers: [c('a', { [IOPS]: 300 })],
          initContainers: [sidecar('s', 100), c('i', { [IOPS]: 500 })],
        },
        iops: 600,
      },
      {
        // same containers, other order: i (500) runs before s (100) starts:
        // app = 300 + 100 = 400; init_i = 500 + 0 = 500; init_s = 100; max(400, 500) = 500
        name: 'a sidecar started after an init container does not add to it',
        spec: {
          containers: [c('a', { [IOPS]: 300 })],
          initContainers: [c('i', { [IOPS]: 500 }), sidecar('s', 100)],
        },
        iops: 500,
      },
      {
        // The KEP-753 example shape: s1 (100), i1 (500), s2 (200), i2 (450); app a (300).
        // app = 300 + 100 + 200 = 600
        // init_s1 = 100; init_i1 = 500 + 100 = 600; init_s2 = 100 + 200 = 300;
        // init_i2 = 450 + 300 = 750;  max(600, 750) = 750
        name: 'sidecars accumulate across the init sequence',
        spec: {
          containers: [c('a', { [IOPS]: 300 })],
          initContainers: [
            sidecar('s1', 100),
            c('i1', { [IOPS]: 500 }),
            sidecar('s2', 200),
            c('i2', { [IOPS]: 450 }),
          ],
        },
        iops: 750,
      },
      {
        // Only sidecars, no app request: app = 100 + 200 = 300; init = max(100, 300) = 300
        name: 'sidecars alone',
        spec: { containers: [c('a')], initContainers: [sidecar('s1', 100), sidecar('s2', 200)] },
        iops: 300,
      },
      {
        // restartPolicy other than Always is an ordinary init container:
        // app = 300; init = 100; max(300, 100) = 300 (a sidecar would have given 400)
        name: 'an init container with another restartPolicy is not a sidecar',
        spec: {
          containers: [c('a', { [IOPS]: 300 })],
          initContainers: [
            { name: 'i', restartPolicy: 'OnFailure', resources: { requests: { [IOPS]: 100 } } },
          ],
        },
        iops: 300,
      },
      {
        // app = 300; overhead 50 added after the max: 300 + 50 = 350
        name: 'overhead is added',
        spec: { containers: [c('a', { [IOPS]: 300 })], overhead: { [IOPS]: 50 } },
        iops: 350,
      },
      {
        // app = 100; init = 700; max(100, 700) + 50 = 750
        name: 'overhead is added on top of an init container maximum',
        spec: {
          containers: [c('a', { [IOPS]: 100 })],
          initContainers: [c('i', { [IOPS]: 700 })],
          overhead: { [IOPS]: 50 },
        },
        iops: 750,
      },
      {
        // no container names the resource; max(0, 0) + 80 = 80
        name: 'overhead alone',
        spec: { containers: [c('a')], overhead: { [IOPS]: 80 } },
        iops: 80,
      },
      {
        // a: no request, limit 400 -> 400; b: request 100 -> 100; app = 500
        name: 'a limit stands in for a missing request',
        spec: { containers: [c('a', undefined, { [IOPS]: 400 }), c('b', { [IOPS]: 100 })] },
        iops: 500,
      },
      {
        // request 100 is used, limit 400 ignored
        name: 'a request takes precedence over its limit',
        spec: { containers: [c('a', { [IOPS]: 100 }, { [IOPS]: 400 })] },
        iops: 100,
      },
      {
        // request for another resource does not hide the limit for this one: limit 250
        name: 'a request for another resource does not hide the limit',
        spec: { containers: [c('a', { cpu: '1' }, { [IOPS]: 250 })] },
        iops: 250,
      },
      {
        // app = 300; sidecar limit 100 (no request) -> app = 400; init_i = 500 + 100 = 600
        name: 'limits are read for init containers and sidecars too',
        spec: {
          containers: [c('a', { [IOPS]: 300 })],
          initContainers: [
            { name: 's', restartPolicy: 'Always', resources: { limits: { [IOPS]: 100 } } },
            c('i', undefined, { [IOPS]: 500 }),
          ],
        },
        iops: 600,
      },
    ])('$name: iops $iops', ({ spec, iops }) => {
      expect(podDemand(pod(spec))).toEqual({ ok: true, demand: { iops }, none: false });
    });

    it('computes each dimension on its own', () => {
      // ingress: app = 10M + 0 = 10M; init = 30M; max = 30M
      // egress:  app = 0 + 5M = 5M; no init; = 5M
      // iops:    app = 100 + 0 = 100; sidecar 50 -> app 150; init = 50; = 150
      const result = podDemand(
        pod({
          containers: [
            c('web', { [INGRESS]: '10M' }),
            c('log', { [EGRESS]: '5M' }),
            c('db', { [IOPS]: 100 }),
          ],
          initContainers: [c('fetch', { [INGRESS]: '30M' }), sidecar('agent', 50)],
        }),
      );
      expect(result).toEqual({
        ok: true,
        demand: { ingressBandwidth: 30_000_000, egressBandwidth: 5_000_000, iops: 150 },
        none: false,
      });
    });
  });

  describe('CNI bandwidth annotations', () => {
    it('give the bandwidth when no extended resource does', () => {
      const result = podDemand(pod({ containers: [c('app')] }, { [CNI_INGRESS]: '10M', [CNI_EGRESS]: '1G' }));
      expect(result).toEqual({
        ok: true,
        demand: { ingressBandwidth: 10_000_000, egressBandwidth: 1_000_000_000 },
        none: false,
      });
    });

    it('count for a pod with no spec at all', () => {
      expect(podDemand({ metadata: { annotations: { [CNI_EGRESS]: '2M' } } })).toEqual({
        ok: true,
        demand: { egressBandwidth: 2_000_000 },
        none: false,
      });
    });

    it('are ignored for a dimension an extended resource gives', () => {
      const result = podDemand(
        pod({ containers: [c('app', { [INGRESS]: '5M' })] }, { [CNI_INGRESS]: '10M', [CNI_EGRESS]: '1G' }),
      );
      // ingress from the extended resource; egress still from its annotation.
      expect(result).toEqual({
        ok: true,
        demand: { ingressBandwidth: 5_000_000, egressBandwidth: 1_000_000_000 },
        none: false,
      });
    });

    it('are ignored, even malformed, for a dimension an extended resource gives', () => {
      const result = podDemand(
        pod({ containers: [c('app', { [INGRESS]: '5M' })] }, { [CNI_INGRESS]: 'fast' }),
      );
      expect(result).toEqual({ ok: true, demand: { ingressBandwidth: 5_000_000 }, none: false });
    });

    it('combine with an extended resource for iops', () => {
      const result = podDemand(pod({ containers: [c('app', { [IOPS]: '3k' })] }, { [CNI_INGRESS]: '10M' }));
      expect(result).toEqual({
        ok: true,
        demand: { ingressBandwidth: 10_000_000, iops: 3000 },
        none: false,
      });
    });

    it('have no iops counterpart', () => {
      expect(podDemand(pod({ containers: [c('app')] }, { 'kubernetes.io/iops': '5k' }))).toEqual({
        ok: true,
        demand: {},
        none: true,
      });
    });
  });

  describe('malformed and negative quantities', () => {
    it.each<{ name: string; pod: PodLike; problem: string }>([
      {
        name: 'a negative request',
        pod: pod({ containers: [c('app', { [IOPS]: '-5' })] }),
        problem: 'container "app" ioplace.io/iops "-5" is negative',
      },
      {
        name: 'a negative number',
        pod: pod({ containers: [c('app', { [EGRESS]: -5 })] }),
        problem: 'container "app" ioplace.io/egress-bandwidth "-5" is negative',
      },
      {
        name: 'a malformed request in the second container',
        pod: pod({ containers: [c('ok', { [IOPS]: '1k' }), c('bad', { [IOPS]: '1.2.3' })] }),
        problem: 'container "bad" ioplace.io/iops "1.2.3" is not a quantity',
      },
      {
        name: 'an empty request',
        pod: pod({ containers: [c('app', { [INGRESS]: '' })] }),
        problem: 'container "app" ioplace.io/ingress-bandwidth "" is empty',
      },
      {
        name: 'a request that is too large',
        pod: pod({ containers: [c('app', { [IOPS]: '2E' })] }),
        problem: 'container "app" ioplace.io/iops "2E" is too large',
      },
      {
        name: 'a malformed limit standing in for a missing request',
        pod: pod({ containers: [c('app', undefined, { [IOPS]: '1 k' })] }),
        problem: 'container "app" ioplace.io/iops "1 k" is not a quantity',
      },
      {
        name: 'a malformed init container request',
        pod: pod({ containers: [c('app')], initContainers: [c('setup', { [INGRESS]: '1KB' })] }),
        problem: 'init container "setup" ioplace.io/ingress-bandwidth "1KB" is not a quantity',
      },
      {
        name: 'a malformed sidecar request',
        pod: pod({ containers: [c('app')], initContainers: [sidecar('proxy', 'lots')] }),
        problem: 'init container "proxy" ioplace.io/iops "lots" is not a quantity',
      },
      {
        name: 'a container without a name',
        pod: pod({ containers: [{ resources: { requests: { [IOPS]: '-1' } } }] }),
        problem: 'container "" ioplace.io/iops "-1" is negative',
      },
      {
        name: 'a malformed overhead',
        pod: pod({ containers: [c('app')], overhead: { [EGRESS]: 'x' } }),
        problem: 'overhead ioplace.io/egress-bandwidth "x" is not a quantity',
      },
      {
        name: 'a malformed annotation',
        pod: pod({ containers: [c('app')] }, { [CNI_INGRESS]: 'fast' }),
        problem: 'annotation kubernetes.io/ingress-bandwidth "fast" is not a quantity',
      },
      {
        name: 'a negative annotation',
        pod: pod({ containers: [c('app')] }, { [CNI_EGRESS]: '-10M' }),
        problem: 'annotation kubernetes.io/egress-bandwidth "-10M" is negative',
      },
      {
        name: 'a value that needs quoting',
        pod: pod({ containers: [c('app "x"', { [IOPS]: '"5"' })] }),
        problem: 'container "app \\"x\\"" ioplace.io/iops "\\"5\\"" is not a quantity',
      },
    ])('$name', ({ pod, problem }) => {
      expect(podDemand(pod)).toEqual({ ok: false, problem });
    });

    it('refuses the whole pod even when other dimensions are valid', () => {
      const result = podDemand(pod({ containers: [c('app', { [INGRESS]: '10M', [IOPS]: '-1' })] }));
      expect(result.ok).toBe(false);
    });
  });
});
