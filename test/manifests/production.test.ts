import { describe, expect, it } from 'vitest';
import { find, render, type Workload, workloads } from '../support/manifests.js';

describe('manifests/overlays/production', () => {
  it('is manifests/base with 3 replicas, a budget of 2, and a registry image, nothing else', () => {
    const expected = render('base');
    find<Workload>(expected, 'Deployment', 'ioplace').spec.replicas = 3;
    (find(expected, 'PodDisruptionBudget', 'ioplace').spec as { minAvailable: number }).minAvailable = 2;
    // The server and the agent, the same image.
    const images = workloads(expected).flatMap((w) => w.spec.template.spec.containers);
    expect(images.map((c) => c.image)).toEqual(['ioplace:dev', 'ioplace:dev']);
    for (const c of images) c.image = 'registry.example.com/ioplace:0.1.0';
    expect(render('overlays/production')).toEqual(expected);
  });

  it('keeps a replica to spare beyond the budget, so that a node can always be drained', () => {
    const objects = render('overlays/production');
    const replicas = find<Workload>(objects, 'Deployment', 'ioplace').spec.replicas as number;
    const minAvailable = (find(objects, 'PodDisruptionBudget', 'ioplace').spec as { minAvailable: number })
      .minAvailable;
    expect(minAvailable).toBe(replicas - 1);
  });
});
