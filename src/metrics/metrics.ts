import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';
import type { RejectReason } from '../domain/fit.js';
import type { Inventory } from '../domain/inventory.js';
import type { NodeAssessment } from '../domain/node-assessment.js';
import type { PodStore } from '../domain/pod-store.js';
import type { Reservations } from '../domain/reservations.js';
import { type Amounts, DIMENSIONS, type Dimension } from '../domain/resources.js';

/** The request kinds timed, a closed set so that label cardinality stays bounded. */
export type Verb = 'filter' | 'prioritize' | 'bind' | 'preempt' | 'report' | 'explain';
export type Outcome = 'ok' | 'client_error' | 'server_error';
export type BindResult = 'bound' | 'no_fit' | 'api_error' | 'pod_error' | 'no_cluster';

/** Prometheus label values for reject reasons (snake_case, as label values conventionally are). */
export const REASON_LABEL: Readonly<Record<RejectReason, string>> = {
  insufficient: 'insufficient',
  exceedsCapacity: 'exceeds_capacity',
  stale: 'stale',
  unknown: 'unknown',
  unmeasured: 'unmeasured',
  invalidDemand: 'invalid_demand',
};

/** What the point-in-time gauges read at scrape time. */
export interface MetricSources {
  readonly inventory: Inventory;
  readonly assess: (node: string, now: number) => NodeAssessment;
  readonly podStore: PodStore;
  readonly reservations: Reservations;
  readonly now: () => number;
  /** Per node and dimension series; off for very large clusters. */
  readonly perNodeSeries: () => boolean;
  /** undefined when standalone. */
  readonly cluster: { synced(): boolean; connected(resource: 'pods' | 'nodes'): boolean } | undefined;
}

export interface Metrics {
  readonly requestDuration: Histogram<'verb' | 'outcome'>;
  readonly filterNodesPassed: Counter;
  readonly filterNodesRejected: Counter<'reason'>;
  readonly bindings: Counter<'result'>;
  readonly preemptionNodes: Counter<'result'>;
  readonly reports: Counter<'result'>;
  readonly configReloads: Counter<'result'>;
  readonly retrySignals: Counter<'result'>;
  readonly advertisePatches: Counter<'result'>;
}

// Extender calls are sub-millisecond to tens of milliseconds; kube-scheduler's timeout is seconds.
/**
 * Fine below a millisecond: a scheduler call for a few hundred nodes takes a few tenths of one, and
 * the whole scheduling cycle has 10 ms, so a p99 read from 0.25/0.5/1 ms buckets alone would be
 * off by a factor of two just where it matters.
 */
const DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00015, 0.0002, 0.00025, 0.0003, 0.0004, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01,
  0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

const BITS_PER_BYTE = 8;

/**
 * ioplace's counters and histograms (and the process's default metrics and ioplace_build_info),
 * registered in `registry` (never the global one); `version` is ioplace's (package.json). They
 * need nothing else, so they exist before the parts that count into them; the gauges that read
 * those parts follow with registerStateGauges. Names follow Prometheus conventions: prefix
 * ioplace_, base units (bandwidth in bytes per second), _total on counters, _seconds on durations.
 */
export function createMetrics(registry: Registry, version: string): Metrics {
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const metrics: Metrics = {
    requestDuration: new Histogram({
      name: 'ioplace_request_duration_seconds',
      help: 'Time to answer a request, by verb and outcome (ok, client_error for 4xx, server_error for 5xx).',
      labelNames: ['verb', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    filterNodesPassed: new Counter({
      name: 'ioplace_filter_nodes_passed_total',
      help: 'Candidate nodes that filter let through.',
      registers,
    }),
    filterNodesRejected: new Counter({
      name: 'ioplace_filter_nodes_rejected_total',
      help: 'Candidate nodes that filter turned away, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    bindings: new Counter({
      name: 'ioplace_bindings_total',
      help: 'Bind requests by result: bound, no_fit (the node no longer fits), api_error, pod_error, no_cluster.',
      labelNames: ['result'],
      registers,
    }),
    preemptionNodes: new Counter({
      name: 'ioplace_preemption_nodes_total',
      help: 'Preemption candidate nodes: kept (the victims sent free enough), chosen (ioplace chose victims) or dropped.',
      labelNames: ['result'],
      registers,
    }),
    reports: new Counter({
      name: 'ioplace_reports_total',
      help: 'Agent reports, accepted or rejected.',
      labelNames: ['result'],
      registers,
    }),
    configReloads: new Counter({
      name: 'ioplace_config_reloads_total',
      help: 'Configuration reloads, by result (success, failure: the old config stays).',
      labelNames: ['result'],
      registers,
    }),
    retrySignals: new Counter({
      name: 'ioplace_retry_signals_total',
      help: 'Node annotations written to make the scheduler retry pods, by result (sent, failed).',
      labelNames: ['result'],
      registers,
    }),
    advertisePatches: new Counter({
      name: 'ioplace_advertise_patches_total',
      help: 'Patches of node status that advertise ioplace resources, by result (sent, failed).',
      labelNames: ['result'],
      registers,
    }),
  };
  for (const result of ['success', 'failure']) metrics.configReloads.inc({ result }, 0);
  for (const result of ['accepted', 'rejected']) metrics.reports.inc({ result }, 0);
  new Gauge({
    name: 'ioplace_build_info',
    help: "1, labelled with ioplace's version and the Node.js version it runs on.",
    labelNames: ['version', 'nodejs'],
    registers,
  }).set({ version, nodejs: process.version }, 1);
  return metrics;
}

/**
 * The point-in-time gauges, registered after createMetrics' (the registry renders in registration
 * order): their values are computed from `sources` in collect() at scrape time.
 */
export function registerStateGauges(registry: Registry, s: MetricSources): void {
  const registers = [registry];
  new Gauge({
    name: 'ioplace_inventory_nodes',
    help: 'Nodes in the inventory, by freshness of their last report.',
    labelNames: ['freshness'],
    registers,
    collect() {
      let fresh = 0;
      let stale = 0;
      const now = s.now();
      for (const entry of s.inventory.entries()) {
        if (s.assess(entry.node, now).fresh) fresh++;
        else stale++;
      }
      this.set({ freshness: 'fresh' }, fresh);
      this.set({ freshness: 'stale' }, stale);
    },
  });
  new Gauge({
    name: 'ioplace_inventory_nodes_without_capacity',
    help: 'Nodes in the inventory whose last report gives no capacity for the dimension (pods asking for it are turned away there as unmeasured).',
    labelNames: ['dimension'],
    registers,
    collect() {
      const counts = new Map<Dimension, number>(DIMENSIONS.map((d) => [d, 0]));
      for (const entry of s.inventory.entries()) {
        for (const d of DIMENSIONS)
          if (entry.capacity[d] === undefined) counts.set(d, (counts.get(d) ?? 0) + 1);
      }
      for (const [dimension, count] of counts) this.set({ dimension }, count);
    },
  });
  new Gauge({
    name: 'ioplace_inventory_oldest_report_age_seconds',
    help: 'Age of the oldest report in the inventory (0 when empty).',
    registers,
    collect() {
      let oldest = 0;
      const now = s.now();
      for (const entry of s.inventory.entries()) oldest = Math.max(oldest, (now - entry.receivedAt) / 1000);
      this.set(oldest);
    },
  });
  new Gauge({
    name: 'ioplace_reservations',
    help: 'Bind reservations held for pods the watch does not show bound yet.',
    registers,
    collect() {
      this.set(s.reservations.size);
    },
  });
  new Gauge({
    name: 'ioplace_pods_tracked',
    help: 'Pods with demand in the pod store: unmeasured (bound since their node last reported, so no report shows them in use yet) or measured (the others). The states are disjoint: sum them for all.',
    labelNames: ['state'],
    registers,
    collect() {
      const unmeasured = s.podStore.unmeasuredCount;
      this.set({ state: 'measured' }, s.podStore.size - unmeasured);
      this.set({ state: 'unmeasured' }, unmeasured);
    },
  });
  if (s.cluster !== undefined) {
    const cluster = s.cluster;
    new Gauge({
      name: 'ioplace_cluster_synced',
      help: '1 once the first lists of pods and nodes have synced.',
      registers,
      collect() {
        this.set(cluster.synced() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ioplace_cluster_watch_connected',
      help: '1 while the watch of the resource is open (0: serving the last known state).',
      labelNames: ['resource'],
      registers,
      collect() {
        for (const resource of ['pods', 'nodes'] as const)
          this.set({ resource }, cluster.connected(resource) ? 1 : 0);
      },
    });
  }
  registerPerNodeGauges(registers, s);
}

function registerPerNodeGauges(registers: Registry[], s: MetricSources): void {
  const figures = ['capacity', 'usage', 'committed', 'free'] as const;
  // The registry renders metrics in registration order, so the gauge whose collect() fills all
  // per-node series is registered first: each scrape assesses each node once, and shows it fresh.
  new Gauge({
    name: 'ioplace_node_series_enabled',
    help: '1 when per-node series are exported (metrics.perNodeSeries).',
    registers,
    collect() {
      for (const g of [...bandwidth.values(), ...iops.values(), age]) g.reset();
      const enabled = s.perNodeSeries();
      this.set(enabled ? 1 : 0);
      if (!enabled) return;
      const now = s.now();
      for (const entry of s.inventory.entries()) {
        const a = s.assess(entry.node, now);
        const values: Record<(typeof figures)[number], Amounts> = {
          capacity: a.capacity,
          usage: a.usage,
          committed: a.committed,
          free: a.free,
        };
        for (const f of figures) {
          const v = values[f];
          const bw = bandwidth.get(f) as Gauge<'node' | 'direction'>;
          if (v.ingressBandwidth !== undefined)
            bw.set({ node: a.node, direction: 'ingress' }, v.ingressBandwidth / BITS_PER_BYTE);
          if (v.egressBandwidth !== undefined)
            bw.set({ node: a.node, direction: 'egress' }, v.egressBandwidth / BITS_PER_BYTE);
          if (v.iops !== undefined) (iops.get(f) as Gauge<'node'>).set({ node: a.node }, v.iops);
        }
        age.set({ node: a.node }, a.ageSeconds ?? 0);
      }
    },
  });
  const bandwidth = new Map(
    figures.map((f) => [
      f,
      new Gauge({
        name: `ioplace_node_bandwidth_${f}_bytes_per_second`,
        help: `Per node and direction: ${f} network bandwidth.`,
        labelNames: ['node', 'direction'],
        registers,
      }),
    ]),
  );
  const iops = new Map(
    figures.map((f) => [
      f,
      new Gauge({
        name: `ioplace_node_iops_${f}`,
        help: `Per node: ${f} IOPS (operations per second).`,
        labelNames: ['node'],
        registers,
      }),
    ]),
  );
  const age = new Gauge({
    name: 'ioplace_node_report_age_seconds',
    help: "Per node: age of the node's last report.",
    labelNames: ['node'],
    registers,
  });
}
