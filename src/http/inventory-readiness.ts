import type { Clock } from '../domain/clock.js';
import type { ReadinessCheck } from './health-routes.js';

/**
 * After a restart the inventory is empty until the agents report again; a replica that answered
 * filters then would reject every node as unknown. Ready once fresh reports cover
 * `minCoverage` of the known nodes, or once `warmupMs` has passed since start, whichever is first.
 */
export function inventoryReadiness(options: {
  clock: Clock;
  startedAt: number;
  warmupMs: number;
  minCoverage: number;
  /** Fresh reports, and the nodes there are to cover (the cluster's, or the inventory's). */
  coverage: () => { fresh: number; known: number };
}): ReadinessCheck {
  let passed = false;
  return {
    name: `fresh reports from ${Math.round(options.minCoverage * 100)}% of the nodes (or the warm-up)`,
    ready: () => {
      if (passed) return true;
      if (options.clock() - options.startedAt >= options.warmupMs) passed = true;
      else {
        const { fresh, known } = options.coverage();
        passed = known === 0 || fresh / known >= options.minCoverage;
      }
      return passed;
    },
  };
}
