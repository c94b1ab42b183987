import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { authorizeAgent, type TokenAuthenticator } from '../auth/agent-auth.js';
import { InventoryFullError as DomainInventoryFull, type Inventory } from '../domain/inventory.js';
import type { NodeEntry } from '../domain/node-book.js';
import type { Placement } from '../domain/placement.js';
import { InventoryFullError, NodeNotFoundError, NoSuchClusterNodeError } from '../http/errors.js';
import { nodeView } from './node-view.js';
import type { ReportRateLimit } from './report-rate-limit.js';
import { NodeListViewSchema, NodeParamsSchema, NodeReportSchema, NodeViewSchema } from './schemas.js';

export interface InventoryRoutesOptions {
  inventory: Inventory;
  placement: Placement;
  now: () => number;
  /** Whether the node exists in the cluster; undefined when that is not known (standalone). */
  nodeExists: (node: string) => boolean | undefined;
  /** Called after every accepted report. */
  onReport: (node: string, receivedAt: number) => void;
  /** Who may write a node's figures; undefined: anyone (open). */
  authenticator: TokenAuthenticator | undefined;
  rateLimit: ReportRateLimit;
}

/** The agent-facing API: reports in, inventory views out. */
export const inventoryRoutes: FastifyPluginAsyncTypebox<InventoryRoutesOptions> = async (app, options) => {
  const { inventory, placement, now, nodeExists, onReport, authenticator, rateLimit } = options;

  /** Only the node's own agent (or an operator's wildcard token) may write a node's figures. */
  const agentOnly = async (request: FastifyRequest<{ Params: { node: string } }>, reply: FastifyReply) => {
    const decision = await authorizeAgent(authenticator, request.headers.authorization, request.params.node);
    if (decision.allowed) return;
    if (decision.status === 401) reply.header('www-authenticate', 'Bearer');
    return reply.code(decision.status).send({ error: decision.message });
  };
  const rateLimited = async (request: FastifyRequest<{ Params: { node: string } }>, reply: FastifyReply) => {
    const wait = rateLimit.take(request.params.node);
    if (wait === 0) return;
    return reply
      .code(429)
      .header('retry-after', String(wait))
      .send({ error: `too many reports for node ${request.params.node}; retry in ${wait} s` });
  };

  app.put(
    '/nodes/:node/report',
    {
      schema: { params: NodeParamsSchema, body: NodeReportSchema, response: { 200: NodeViewSchema } },
      config: { verb: 'report' },
      preHandler: [agentOnly, rateLimited],
    },
    async (request) => {
      const { node } = request.params;
      if (nodeExists(node) === false) throw new NoSuchClusterNodeError(node);
      const receivedAt = now();
      const { capacity, usage, enforcement } = request.body;
      let entry: NodeEntry;
      try {
        entry = inventory.record(
          node,
          {
            capacity,
            usage: usage ?? {},
            // Only the fields this ioplace knows; a later agent's others are left out.
            ...(enforcement === undefined
              ? {}
              : {
                  enforcement: { mode: enforcement.mode, pods: enforcement.pods, errors: enforcement.errors },
                }),
          },
          receivedAt,
        );
      } catch (err) {
        if (err instanceof DomainInventoryFull) throw new InventoryFullError(err.maxNodes);
        throw err;
      }
      onReport(node, receivedAt);
      return nodeView(placement.assess(node, receivedAt), entry);
    },
  );

  app.get('/nodes', { schema: { response: { 200: NodeListViewSchema } } }, async () => {
    const at = now();
    const nodes = [...inventory.entries()]
      .map((e) => nodeView(placement.assess(e.node, at), e))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    const fresh = nodes.filter((n) => n.fresh).length;
    return { nodes, count: nodes.length, fresh, stale: nodes.length - fresh };
  });

  app.get(
    '/nodes/:node',
    { schema: { params: NodeParamsSchema, response: { 200: NodeViewSchema } } },
    async (request) => {
      const { node } = request.params;
      const entry = inventory.get(node);
      if (entry === undefined) throw new NodeNotFoundError(node);
      return nodeView(placement.assess(node), entry);
    },
  );

  app.delete(
    '/nodes/:node',
    { schema: { params: NodeParamsSchema, response: { 204: Type.Null() } }, preHandler: agentOnly },
    async (request, reply) => {
      const { node } = request.params;
      if (!inventory.forget(node)) throw new NodeNotFoundError(node);
      return reply.code(204).send(null);
    },
  );
};
