import { NoCandidatesError } from '../http/errors.js';
import type { ExtenderArgs } from './wire-schemas.js';

/**
 * The candidate node names of an ExtenderArgs. The scheduler sends exactly one of NodeNames
 * (nodeCacheCapable) or Nodes (a full NodeList). A hand-made request with both is answered in
 * both; with neither it names no node, and is refused.
 */
export function candidateNames(args: ExtenderArgs): string[] {
  const fromList =
    args.Nodes === undefined ? undefined : (args.Nodes.items ?? []).map((n) => n.metadata.name);
  if (args.NodeNames === undefined) {
    if (fromList === undefined) throw new NoCandidatesError();
    return fromList;
  }
  if (fromList === undefined) return args.NodeNames;
  return [...new Set([...args.NodeNames, ...fromList])];
}
