import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { TokenAuthenticator } from '../auth/agent-auth.js';
import type { PodBinder } from '../cluster/pod-binder.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../domain/clock.js';
import type { Domain } from '../domain/domain.js';
import { explainRoute } from '../explain/explain-route.js';
import { bindRoute } from '../extender/bind-route.js';
import { filterRoute } from '../extender/filter-route.js';
import { preemptRoute } from '../extender/preempt-route.js';
import { prioritizeRoute } from '../extender/prioritize-route.js';
import { requireClientCertificate } from '../http/client-certificate.js';
import type { ReadinessCheck } from '../http/health-routes.js';
import { opsRoutes } from '../http/ops-routes.js';
import { ReportRateLimit } from '../inventory-api/report-rate-limit.js';
import { inventoryRoutes } from '../inventory-api/routes.js';
import type { Metrics } from '../metrics/metrics.js';

/** The URL prefix kube-scheduler's extender config points at (`urlPrefix`). */
export const SCHEDULER_PREFIX = '/scheduler';
/** The prefix of the agent-facing inventory API. */
export const INVENTORY_PREFIX = '/v1';

export interface RoutesOptions {
  readonly config: Config;
  readonly domain: Domain;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly registry: Registry;
  readonly readiness: readonly ReadinessCheck[];
  /** Binds pods in the cluster; undefined when standalone. */
  readonly binder: PodBinder | undefined;
  /** Checks agents' tokens; undefined leaves reports open. */
  readonly authenticator: TokenAuthenticator | undefined;
  /** The scheduler's verbs take only clients with a certificate the client CA signed. */
  readonly requireClientCertificate: boolean;
  /** Told of each report stored, after the domain took it. */
  readonly onReport?: (node: string) => void;
}

/**
 * Every route of the main listener: probes and /metrics, the scheduler's verbs under
 * SCHEDULER_PREFIX, the agents' inventory API and explain under INVENTORY_PREFIX.
 */
export const routesPlugin: FastifyPluginAsync<RoutesOptions> = async (server, options) => {
  const { config, domain, clock, metrics, binder } = options;
  const { inventory, placement, podStore, reservations, clusterNodes } = domain;
  await server.register(opsRoutes, { registry: options.registry, checks: options.readiness });
  await server.register(
    async (scheduler) => {
      if (options.requireClientCertificate) scheduler.addHook('onRequest', requireClientCertificate);
      await scheduler.register(filterRoute, { placement, metrics });
      await scheduler.register(prioritizeRoute, { placement });
      await scheduler.register(bindRoute, {
        placement,
        podStore,
        reservations,
        binder,
        reservationTtlMs: config.binding.reservationTimeoutSeconds * 1000,
        clock,
        metrics,
      });
      await scheduler.register(preemptRoute, { placement, podStore, metrics });
    },
    { prefix: SCHEDULER_PREFIX },
  );
  await server.register(inventoryRoutes, {
    prefix: INVENTORY_PREFIX,
    inventory,
    placement,
    now: clock,
    nodeExists: (node) => clusterNodes.exists(node),
    onReport: (node, receivedAt) => {
      podStore.measured(node, receivedAt);
      options.onReport?.(node);
    },
    authenticator: options.authenticator,
    rateLimit: new ReportRateLimit({
      perSecond: config.inventory.reportsPerSecond,
      burst: config.inventory.reportBurst,
      clock,
    }),
  });

  await server.register(explainRoute, {
    prefix: INVENTORY_PREFIX,
    placement,
    clock,
    binder,
    knownNodes: () => domain.knownNodes(),
  });
};
