import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ClusterHarness,
  clusterSynced,
  FAST_CLUSTER,
  kubeletNode,
  report,
  startCluster,
} from '../support/cluster-harness.js';
import { waitFor } from '../support/fake-apiserver.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const IOPS = 'ioplace.io/iops';
const INGRESS = 'ioplace.io/ingress-bandwidth';
const EGRESS = 'ioplace.io/egress-bandwidth';

const FULL_REPORT = {
  capacity: { iops: 50_000, ingressBandwidth: 10e9, egressBandwidth: 10e9 },
  usage: { iops: 1_000 },
};

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

let h: ClusterHarness | undefined;
const extra: TestServer[] = [];
let dir: string | undefined;
afterEach(async () => {
  for (const s of extra.splice(0)) await s.close();
  await h?.close();
  h = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('advertising ioplace resources in the Node status', () => {
  it('sets capacity and allocatable to capacity x (1 - reserve) through nodes/status, once', async () => {
    h = await startCluster({}, (api) => api.addNode(kubeletNode('io-1')));
    expect(await report(h.server, 'io-1', FULL_REPORT)).toBe(200);
    await waitFor(() => h?.api.getNode('io-1')?.status?.allocatable?.[IOPS], 5000, 'the advertised IOPS');

    // The API server stores canonical quantities: 45000 reads back as 45k.
    const status = h.api.getNode('io-1')?.status;
    expect(status?.capacity).toEqual({
      cpu: '8',
      memory: '32Gi',
      pods: '110',
      [IOPS]: '45k',
      [INGRESS]: '9G',
      [EGRESS]: '9G',
    });
    expect(status?.allocatable).toEqual(status?.capacity);
    expect(h.api.patches).toEqual([
      {
        name: 'io-1',
        subresource: 'status',
        contentType: 'application/json-patch+json',
        patch: [
          { op: 'add', path: '/status/capacity/ioplace.io~1ingress-bandwidth', value: '9000000000' },
          { op: 'add', path: '/status/capacity/ioplace.io~1egress-bandwidth', value: '9000000000' },
          { op: 'add', path: '/status/capacity/ioplace.io~1iops', value: '45000' },
          { op: 'add', path: '/status/allocatable/ioplace.io~1ingress-bandwidth', value: '9000000000' },
          { op: 'add', path: '/status/allocatable/ioplace.io~1egress-bandwidth', value: '9000000000' },
          { op: 'add', path: '/status/allocatable/ioplace.io~1iops', value: '45000' },
        ],
      },
    ]);

    // Reports go on with the same capacity (other usage): nothing more is written.
    for (let i = 0; i < 5; i++) {
      h.server.clock.now += 10_000;
      await report(h.server, 'io-1', { ...FULL_REPORT, usage: { iops: 1_000 * i } });
    }
    await settle();
    expect(h.api.patches).toHaveLength(1);
    const metrics = await (await fetch(`${h.server.url}/metrics`)).text();
    expect(metrics).toContain('ioplace_advertise_patches_total{result="sent"} 1');
  });

  it('writes only the dimensions a node reports, and nothing for a node that never reported', async () => {
    h = await startCluster({}, (api) => {
      api.addNode(kubeletNode('io-1'));
      api.addNode(kubeletNode('quiet'));
    });
    await report(h.server, 'io-1', { capacity: { iops: 1_000 } });
    await waitFor(() => h?.api.patches.length, 5000, 'the patch');
    await settle();
    expect(h.api.patches.map((p) => p.name)).toEqual(['io-1']);
    expect(h.api.getNode('io-1')?.status?.capacity?.[IOPS]).toBe('900');
    expect(h.api.getNode('io-1')?.status?.capacity?.[INGRESS]).toBeUndefined();
    expect(h.api.getNode('quiet')?.status?.capacity?.[IOPS]).toBeUndefined();
  });

  it('puts the figure back when the Node loses it (a kubelet that registered the node anew)', async () => {
    h = await startCluster({}, (api) => api.addNode(kubeletNode('io-1')));
    await report(h.server, 'io-1', { capacity: { iops: 10_000 } });
    await waitFor(
      () => h?.api.getNode('io-1')?.status?.capacity?.[IOPS] === '9k',
      5000,
      'the advertised IOPS',
    );
    // Past advertise.minIntervalSeconds (5 s), which spaces two patches of one node.
    h.server.clock.now += 6_000;
    h.api.updateNode('io-1', (n) => {
      n.status = kubeletNode('io-1').status;
    });
    await waitFor(() => h?.api.getNode('io-1')?.status?.capacity?.[IOPS] === '9k', 5000, 'the figure back');
    expect(h.api.patches).toHaveLength(2);
  });

  it('keeps the figure when reports stop: the extender rejects the stale node itself', async () => {
    h = await startCluster({}, (api) => api.addNode(kubeletNode('io-1')));
    await report(h.server, 'io-1', { capacity: { iops: 10_000 } });
    await waitFor(() => h?.api.patches.length, 5000, 'the patch');
    h.server.clock.now += 10 * 60_000;
    // A Node update makes the advertiser look again; with no fresh report it writes nothing.
    h.api.updateNode('io-1', (n) => {
      n.metadata = { ...n.metadata, labels: { touched: 'yes' } };
      n.status = kubeletNode('io-1').status;
    });
    await settle();
    expect(h.api.patches).toHaveLength(1);
  });

  it('advertises every node again when a reload changes scoring.reserveFraction', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ioplace-advertise-'));
    const configPath = join(dir, 'ioplace.yaml');
    const write = (reserve: number) => writeFileSync(configPath, `scoring:\n  reserveFraction: ${reserve}\n`);
    write(0.1);
    h = await startCluster(
      {},
      (api) => {
        api.addNode(kubeletNode('a'));
        api.addNode(kubeletNode('b'));
      },
      { configPath },
    );
    await report(h.server, 'a', { capacity: { iops: 10_000 } });
    await report(h.server, 'b', { capacity: { iops: 20_000 } });
    await waitFor(() => h?.api.patches.length === 2, 5000, 'two patches');

    write(0.5);
    h.server.clock.now += 6_000;
    expect(h.server.app.reloadConfig('test').result).toBe('success');
    await waitFor(
      () =>
        h?.api.getNode('a')?.status?.allocatable?.[IOPS] === '5k' &&
        h?.api.getNode('b')?.status?.allocatable?.[IOPS] === '10k',
      5000,
      'the new figures',
    );
    expect(h.api.patches).toHaveLength(4);
  });

  it('two replicas given the same reports write each figure at most once each, and never fight', async () => {
    h = await startCluster({}, (api) => {
      for (let i = 0; i < 5; i++) api.addNode(kubeletNode(`io-${i}`));
    });
    const second = await startTestServer(FAST_CLUSTER, { kubeConfig: h.api.kubeConfig() });
    extra.push(second);
    await waitFor(() => clusterSynced(second), 5000, 'the second replica to sync');
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) {
        await report(h.server, `io-${i}`, { capacity: { iops: 10_000 } });
        await report(second, `io-${i}`, { capacity: { iops: 10_000 } });
      }
      h.server.clock.now += 10_000;
      second.clock.now += 10_000;
    }
    await waitFor(
      () => [0, 1, 2, 3, 4].every((i) => h?.api.getNode(`io-${i}`)?.status?.capacity?.[IOPS] === '9k'),
      5000,
      'every node',
    );
    await settle();
    const perNode = new Map<string, number>();
    for (const p of h.api.patches) perNode.set(p.name, (perNode.get(p.name) ?? 0) + 1);
    for (const count of perNode.values()) expect(count).toBeLessThanOrEqual(2);
  });

  it('writes nothing with advertise.enabled false', async () => {
    h = await startCluster({ advertise: { enabled: false } }, (api) => api.addNode(kubeletNode('io-1')));
    await report(h.server, 'io-1', FULL_REPORT);
    await settle();
    expect(h.api.patches).toEqual([]);
  });
});
