import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { placementSettings } from './config/load.js';
import type { Config } from './config/schema.js';
import type { Clock } from './domain/clock.js';
import { Commitments } from './domain/commitments.js';
import { Inventory } from './domain/inventory.js';
import { Placement } from './domain/placement.js';
import { filterRoute } from './extender/filter-route.js';
import { prioritizeRoute } from './extender/prioritize-route.js';
import { installErrorHandling } from './http/error-handler.js';
import { healthRoutes, type ReadinessCheck } from './http/health-routes.js';
import { QuietRequestLogController } from './http/log-controller.js';
import { inventoryRoutes } from './inventory-api/routes.js';

/** The URL prefix kube-scheduler's extender config points at (`urlPrefix`). */
export const SCHEDULER_PREFIX = '/scheduler';
/** The prefix of the agent-facing inventory API. */
export const INVENTORY_PREFIX = '/v1';

export interface AppDeps {
  readonly config: Config;
  readonly logger: FastifyBaseLogger;
  readonly clock: Clock;
  readonly inventory?: Inventory;
  readonly commitments?: Commitments;
  readonly readinessChecks?: readonly ReadinessCheck[];
}

export interface App {
  readonly server: FastifyInstance;
  readonly inventory: Inventory;
  readonly commitments: Commitments;
  readonly placement: Placement;
}

/** Builds the whole service, ready to `listen` or `inject`; it never listens by itself. */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, logger, clock } = deps;
  const inventory = deps.inventory ?? new Inventory({ maxNodes: config.inventory.maxNodes });
  const commitments = deps.commitments ?? new Commitments();
  const settings = placementSettings(config);
  const placement = new Placement({ inventory, commitments, clock, settings: () => settings });

  const server = Fastify({
    loggerInstance: logger,
    bodyLimit: config.server.bodyLimitBytes,
    logController: new QuietRequestLogController(),
    ajv: {
      customOptions: {
        // A wrong type is a client error to report, not something to guess a meaning for; and
        // Pod and Node objects must reach the handler whole.
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: false,
        allErrors: false,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Every body we take is JSON; anything else is refused with 415 instead of half-parsed.
  server.removeContentTypeParser('text/plain');
  installErrorHandling(server, config.server.bodyLimitBytes);

  await server.register(healthRoutes, { checks: deps.readinessChecks ?? [] });
  await server.register(
    async (scheduler) => {
      await scheduler.register(filterRoute, { placement });
      await scheduler.register(prioritizeRoute, { placement });
    },
    { prefix: SCHEDULER_PREFIX },
  );
  await server.register(inventoryRoutes, { prefix: INVENTORY_PREFIX, inventory, placement, now: clock });

  return { server, inventory, commitments, placement };
}
