import type { DemandResult } from '../domain/demand.js';
import type { Placement } from '../domain/placement.js';
import type { PlacementSettings } from '../domain/placement-settings.js';
import type { Amounts, Dimension } from '../domain/resources.js';

export interface SettingsView {
  strategy: PlacementSettings['strategy'];
  weights: Record<Dimension, number>;
  reserveFraction: number;
  unknownNodes: PlacementSettings['unknownNodes'];
  staleAfterSeconds: number;
  scoreAllPods: boolean;
}

export interface NodeVerdictView {
  fits: boolean;
  reason?: string;
  message?: string;
  unresolvable?: boolean;
  free: Amounts;
  allocatable: Amounts;
  score: number;
  /** Each scored dimension's share s_d in [0, 1] (see the scoring formula). */
  dimensions: Amounts;
}

export interface NodeExplanation extends NodeVerdictView {
  node: string;
  fresh: boolean;
  /** Under the previewed settings, when the request carried any. */
  preview?: NodeVerdictView;
}

export function settingsView(s: PlacementSettings): SettingsView {
  return {
    strategy: s.strategy,
    weights: { ...s.weights },
    reserveFraction: s.reserveFraction,
    unknownNodes: s.unknownNodes,
    staleAfterSeconds: s.staleAfterMs / 1000,
    scoreAllPods: s.scoreAllPods,
  };
}

/**
 * For every node, what filter and prioritize would answer for this pod, and why: fit, the reason
 * and message filter would give, free capacity, and the score broken down per dimension. With
 * `preview` settings the same again under those, so operators can try a tuning before making it.
 */
export function explainNodes(
  placement: Placement,
  demand: DemandResult,
  nodes: readonly string[],
  now: number,
  preview: PlacementSettings | undefined,
): NodeExplanation[] {
  const live = placement.settings;
  const under = (node: string, settings: PlacementSettings): NodeVerdictView & { fresh: boolean } => {
    const assessment = placement.assess(node, now, settings);
    const verdict = placement.verdict(demand, assessment, settings);
    const breakdown =
      demand.ok && (!demand.none || settings.scoreAllPods)
        ? placement.score(demand, assessment, settings)
        : { score: 0, dimensions: {} };
    return {
      fresh: assessment.fresh,
      fits: verdict.fits,
      ...(verdict.fits
        ? {}
        : { reason: verdict.reason, message: verdict.message, unresolvable: verdict.unresolvable }),
      free: assessment.free,
      allocatable: assessment.allocatable,
      score: breakdown.score,
      dimensions: breakdown.dimensions,
    };
  };
  const out = nodes.map((node): NodeExplanation => {
    const current = under(node, live);
    if (preview === undefined) return { node, ...current };
    const { fresh: _fresh, ...previewed } = under(node, preview);
    return { node, ...current, preview: previewed };
  });
  return out.sort(
    (a, b) => Number(b.fits) - Number(a.fits) || b.score - a.score || (a.node < b.node ? -1 : 1),
  );
}
