import type { NodeAssessment } from '../domain/node-assessment.js';
import type { NodeEntry } from '../domain/node-book.js';
import { DIMENSIONS } from '../domain/resources.js';
import type { NodeView } from './schemas.js';

/**
 * How the inventory API shows a node: the assessment with times as people read them, and what its
 * last report (`entry`) says of enforcement.
 */
export function nodeView(a: NodeAssessment, entry?: NodeEntry): NodeView {
  const enforcement = entry?.enforcement;
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
    capacityUnknown: DIMENSIONS.filter((d) => a.capacity[d] === undefined),
    ...(enforcement === undefined
      ? {}
      : {
          enforcement: {
            ...(enforcement.mode === undefined ? {} : { mode: enforcement.mode }),
            pods: enforcement.pods,
            errors: enforcement.errors,
          },
        }),
  };
}
