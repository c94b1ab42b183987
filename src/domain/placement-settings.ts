import type { Dimension } from './resources.js';

export type Strategy = 'spread' | 'pack';

/** The tunables that decide fit and score; a plain value so that it can be swapped at run time. */
export interface PlacementSettings {
  /** A report older than this no longer counts as knowledge of the node. */
  readonly staleAfterMs: number;
  /** Share of each node's capacity that is never handed out (headroom for measurement error). */
  readonly reserveFraction: number;
  /** What a pod with demand meets on a node with no fresh report: rejection or a pass with score 0. */
  readonly unknownNodes: 'reject' | 'allow';
  readonly strategy: Strategy;
  readonly weights: Readonly<Record<Dimension, number>>;
  /** Score pods with no demand by free capacity too, instead of a neutral 0. */
  readonly scoreAllPods: boolean;
}
