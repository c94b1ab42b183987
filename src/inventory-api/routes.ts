import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { InventoryFullError as DomainInventoryFull, type Inventory } from '../domain/inventory.js';
import type { Placement } from '../domain/placement.js';
import { InventoryFullError, NodeNotFoundError, NoSuchClusterNodeError } from '../http/errors.js';
import { nodeView } from './node-view.js';
import { NodeListViewSchema, NodeParamsSchema, NodeReportSchema, NodeViewSchema } from './schemas.js';

export interface InventoryRoutesOptions {
  inventory: Inventory;
  placement: Placement;
  now: () => number;
  /** Whether the node exists in the cluster; undefined when that is not known (standalone). */
  nodeExists: (node: string) => boolean | undefined;
  /** Called after every accepted report. */
  onReport: (node: string, receivedAt: number) => void;
}

/** The agent-facing API: reports in, inventory views out. */
export const inventoryRoutes: FastifyPluginAsyncTypebox<InventoryRoutesOptions> = async (app, options) => {
  const { inventory, placement, now, nodeExists, onReport } = options;

  app.put(
    '/nodes/:node/report',
    {
      schema: { params: NodeParamsSchema, body: NodeReportSchema, response: { 200: NodeViewSchema } },
      config: { verb: 'report' },
    },
    async (request) => {
      const { node } = request.params;
      if (nodeExists(node) === false) throw new NoSuchClusterNodeError(node);
      const receivedAt = now();
      try {
        inventory.record(
          node,
          { capacity: request.body.capacity, usage: request.body.usage ?? {} },
          receivedAt,
        );
      } catch (err) {
        if (err instanceof DomainInventoryFull) throw new InventoryFullError(err.maxNodes);
        throw err;
      }
      onReport(node, receivedAt);
      return nodeView(placement.assess(node, receivedAt));
    },
  );

  app.get('/nodes', { schema: { response: { 200: NodeListViewSchema } } }, async () => {
    const at = now();
    const nodes = [...inventory.entries()]
      .map((e) => nodeView(placement.assess(e.node, at)))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    const fresh = nodes.filter((n) => n.fresh).length;
    return { nodes, count: nodes.length, fresh, stale: nodes.length - fresh };
  });

  app.get(
    '/nodes/:node',
    { schema: { params: NodeParamsSchema, response: { 200: NodeViewSchema } } },
    async (request) => {
      const { node } = request.params;
      if (inventory.get(node) === undefined) throw new NodeNotFoundError(node);
      return nodeView(placement.assess(node));
    },
  );

  app.delete(
    '/nodes/:node',
    { schema: { params: NodeParamsSchema, response: { 204: Type.Null() } } },
    async (request, reply) => {
      const { node } = request.params;
      if (!inventory.forget(node)) throw new NodeNotFoundError(node);
      return reply.code(204).send(null);
    },
  );
};
