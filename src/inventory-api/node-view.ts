import type { NodeAssessment } from '../domain/node-assessment.js';
import type { NodeView } from './schemas.js';

/** How the inventory API shows a node: the assessment with times as people read them. */
export function nodeView(a: NodeAssessment): NodeView {
  return {
    node: a.node,
    fresh: a.fresh,
    receivedAt: new Date(a.receivedAt ?? 0).toISOString(),
    ageSeconds: Math.round((a.ageSeconds ?? 0) * 1000) / 1000,
    capacity: a.capacity,
    usage: a.usage,
    committed: a.committed,
    commitments: a.parts,
    allocatable: a.allocatable,
    free: a.free,
  };
}
