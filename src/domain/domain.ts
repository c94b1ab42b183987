import type { Clock } from './clock.js';
import { ClusterNodes } from './cluster-nodes.js';
import { Commitments } from './commitments.js';
import { Inventory } from './inventory.js';
import { NodeBook } from './node-book.js';
import { Placement } from './placement.js';
import type { PlacementSettings } from './placement-settings.js';
import { PodStore } from './pod-store.js';
import { RejectionMemory } from './rejection-memory.js';
import { Reservations } from './reservations.js';

/** Rejected demands remembered per node for the retry signal. */
const REJECTIONS_PER_NODE = 16;

export interface DomainOptions {
  readonly clock: Clock;
  /** The most nodes the inventory holds (inventory.maxNodes). */
  readonly maxNodes: number;
  /** The placement settings in force, read on every decision (they change on a config reload). */
  readonly settings: () => PlacementSettings;
  /** How long to remember turned-away demands for the retry signal; undefined remembers none. */
  readonly rememberRejectionsMs: number | undefined;
}

/** What ioplace knows and decides with: the nodes' reports and commitments, the pods, placement. */
export interface Domain {
  readonly inventory: Inventory;
  readonly reservations: Reservations;
  readonly podStore: PodStore;
  /** The Nodes of the cluster, as its watch shows them (empty when standalone). */
  readonly clusterNodes: ClusterNodes;
  readonly rejections: RejectionMemory | undefined;
  readonly placement: Placement;
  /** Every node ioplace knows of: those that reported and those of the cluster. */
  knownNodes(): string[];
  /**
   * Fresh reports against the nodes there are to cover: the cluster's once its node list is in
   * (`clusterListed`), else those that reported.
   */
  coverage(now: number, clusterListed: boolean): { fresh: number; known: number };
}

/** The domain, wired: no I/O, no framework; the app feeds it and asks it. */
export function buildDomain(options: DomainOptions): Domain {
  const { clock } = options;
  // Reports and commitments share one book: placement finds all of a node with one lookup.
  const book = new NodeBook();
  const inventory = new Inventory({ maxNodes: options.maxNodes, book });
  const commitments = new Commitments(book);
  const reservations = new Reservations(commitments.reserved);
  const podStore = new PodStore({ commitments, reservations, clock });
  const clusterNodes = new ClusterNodes();
  const rejections =
    options.rememberRejectionsMs === undefined
      ? undefined
      : new RejectionMemory({ ttlMs: options.rememberRejectionsMs, perNode: REJECTIONS_PER_NODE });
  const placement = new Placement({
    inventory,
    commitments,
    reservations,
    rejections,
    clock,
    settings: options.settings,
  });
  const reportingNodes = () => [...inventory.entries()].map((e) => e.node);
  return {
    inventory,
    reservations,
    podStore,
    clusterNodes,
    rejections,
    placement,
    knownNodes: () => [...new Set([...reportingNodes(), ...clusterNodes.names()])],
    coverage: (now, clusterListed) => {
      const names = clusterListed ? [...clusterNodes.names()] : reportingNodes();
      return { fresh: names.filter((n) => placement.assess(n, now).fresh).length, known: names.length };
    },
  };
}
