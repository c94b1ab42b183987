import { freeAmount } from './free-capacity.js';
import type { NodeAssessment } from './node-assessment.js';
import type { PlacementSettings } from './placement-settings.js';
import { type Amounts, DIMENSIONS } from './resources.js';

/**
 * Would evicting victims holding `freed` make room for `demand` on the node? Evicted pods stop
 * holding their commitment and, we assume, stop using what they asked for, so both the bound
 * pods' demand and the measured usage (with the unmeasured pods on top) drop by their demand:
 *   free'_d = max(0, allocatable_d - reserved_d - max(usage_d + unmeasured_d - freed_d, pods_d - freed_d))
 * and the node helps when demand_d <= free'_d for every dimension the preemptor asks for. A node
 * without a fresh report helps only when unknown nodes are allowed.
 */
export function evictionMakesRoom(
  demand: Amounts,
  node: NodeAssessment,
  freed: Amounts,
  settings: Pick<PlacementSettings, 'unknownNodes'>,
): boolean {
  const lenient = settings.unknownNodes === 'allow';
  if (!node.fresh) return lenient;
  const { pods, unmeasured, reserved } = node.parts;
  for (const d of DIMENSIONS) {
    const need = demand[d];
    if (need === undefined) continue;
    const allocatable = node.allocatable[d];
    if (allocatable === undefined) {
      if (lenient) continue;
      return false;
    }
    const released = freed[d] ?? 0;
    const used = Math.max(0, (node.usage[d] ?? 0) + (unmeasured[d] ?? 0) - released);
    const held = Math.max(0, (pods[d] ?? 0) - released);
    if (need > freeAmount(allocatable, used, held, 0, reserved[d] ?? 0)) return false;
  }
  return true;
}
