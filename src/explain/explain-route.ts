import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { parse as parseYaml } from 'yaml';
import { apiErrorCode, apiErrorMessage } from '../cluster/api-errors.js';
import type { PodBinder } from '../cluster/pod-binder.js';
import type { Clock } from '../domain/clock.js';
import { podDemand } from '../domain/demand.js';
import type { Placement } from '../domain/placement.js';
import type { PlacementSettings } from '../domain/placement-settings.js';
import type { PodLike } from '../domain/pod.js';
import { PodSchema } from '../extender/wire-schemas.js';
import {
  ExplainNeedsClusterError,
  InvalidYamlError,
  PodNotFoundError,
  UpstreamError,
} from '../http/errors.js';
import { explainNodes, settingsView } from './explanation.js';

const Weight = Type.Number({ minimum: 0, maximum: 1000 });

/** Tunables to preview; absent fields keep their live value. */
const PreviewSchema = Type.Object(
  {
    strategy: Type.Optional(Type.Enum(['spread', 'pack'])),
    weights: Type.Optional(
      Type.Object(
        {
          ingressBandwidth: Type.Optional(Weight),
          egressBandwidth: Type.Optional(Weight),
          iops: Type.Optional(Weight),
        },
        { additionalProperties: false },
      ),
    ),
    reserveFraction: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
    scoreAllPods: Type.Optional(Type.Boolean()),
    unknownNodes: Type.Optional(Type.Enum(['reject', 'allow'])),
    staleAfterSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 86400 })),
  },
  { additionalProperties: false },
);
type Preview = Static<typeof PreviewSchema>;

/**
 * Either a Pod (JSON or YAML, as `kubectl get pod -o yaml` prints it) or
 * `{"pod": Pod, "preview": {...}, "nodes": [...]}`.
 */
const ExplainBodySchema = Type.Object({
  pod: Type.Optional(PodSchema),
  preview: Type.Optional(PreviewSchema),
  nodes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 100_000 })),
  metadata: PodSchema.properties.metadata,
  spec: PodSchema.properties.spec,
});
type ExplainBody = Static<typeof ExplainBodySchema>;

const ExplainQuerySchema = Type.Object({
  strategy: Type.Optional(Type.Enum(['spread', 'pack'])),
  reserveFraction: Type.Optional(
    Type.String({ pattern: '^(0(\\.\\d+)?|\\.\\d+)$', description: 'a decimal number from 0 to below 1' }),
  ),
});

export interface ExplainRouteOptions {
  readonly placement: Placement;
  readonly clock: Clock;
  /** Node names to explain when the request names none: the inventory's and the cluster's. */
  readonly knownNodes: () => string[];
  readonly binder: PodBinder | undefined;
}

export function previewSettings(
  live: PlacementSettings,
  preview: Preview | undefined,
): PlacementSettings | undefined {
  if (preview === undefined || Object.keys(preview).length === 0) return undefined;
  return {
    staleAfterMs:
      preview.staleAfterSeconds === undefined ? live.staleAfterMs : preview.staleAfterSeconds * 1000,
    reserveFraction: preview.reserveFraction ?? live.reserveFraction,
    unknownNodes: preview.unknownNodes ?? live.unknownNodes,
    strategy: preview.strategy ?? live.strategy,
    weights: { ...live.weights, ...preview.weights },
    scoreAllPods: preview.scoreAllPods ?? live.scoreAllPods,
  };
}

/** POST /v1/explain and GET /v1/explain/{namespace}/{pod}: why a pod would go where. */
export const explainRoute: FastifyPluginAsyncTypebox<ExplainRouteOptions> = async (app, options) => {
  const { placement, clock, knownNodes, binder } = options;

  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string' },
    (_request, body, done) => {
      try {
        done(null, parseYaml(body as string, { maxAliasCount: 100, logLevel: 'error' }));
      } catch (err) {
        done(new InvalidYamlError((err as Error).message.split('\n')[0] ?? 'invalid YAML'), undefined);
      }
    },
  );

  const explain = (pod: PodLike, preview: Preview | undefined, nodes: string[] | undefined) => {
    const demand = podDemand(pod);
    const live = placement.settings;
    const previewed = previewSettings(live, preview);
    return {
      pod: `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`,
      demand: demand.ok ? demand.demand : null,
      ...(demand.ok ? {} : { demandError: demand.problem }),
      settings: settingsView(live),
      ...(previewed === undefined ? {} : { preview: settingsView(previewed) }),
      nodes: explainNodes(placement, demand, nodes ?? knownNodes(), clock(), previewed),
    };
  };

  app.post(
    '/explain',
    {
      schema: { body: ExplainBodySchema },
      config: { verb: 'explain' },
      // ExtenderArgs as the scheduler spells it ({"Pod": ..., "NodeNames": [...]}) is welcome too.
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | null;
        if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
        for (const key of Object.keys(body)) {
          const lower = key.toLowerCase();
          if (lower === 'pod' && key !== 'pod' && body.pod === undefined) body.pod = body[key];
          if (lower === 'nodenames' && Array.isArray(body[key]) && body.nodes === undefined)
            body.nodes = body[key];
        }
      },
    },
    async (request) => {
      const body: ExplainBody = request.body;
      const pod: PodLike = body.pod ?? { metadata: body.metadata, spec: body.spec };
      return explain(pod, body.preview, body.nodes);
    },
  );

  app.get(
    '/explain/:namespace/:pod',
    {
      schema: {
        params: Type.Object({
          namespace: Type.String({ minLength: 1, maxLength: 63 }),
          pod: Type.String({ minLength: 1, maxLength: 253 }),
        }),
        querystring: ExplainQuerySchema,
      },
      config: { verb: 'explain' },
    },
    async (request) => {
      if (binder === undefined) throw new ExplainNeedsClusterError();
      const { namespace, pod: name } = request.params;
      let pod: PodLike;
      try {
        pod = (await binder.read(namespace, name)) as PodLike;
      } catch (err) {
        if (apiErrorCode(err) === 404) throw new PodNotFoundError(namespace, name);
        throw new UpstreamError(apiErrorMessage(err));
      }
      const q = request.query;
      const preview: Preview = {
        ...(q.strategy === undefined ? {} : { strategy: q.strategy }),
        ...(q.reserveFraction === undefined ? {} : { reserveFraction: Number(q.reserveFraction) }),
      };
      return explain(pod, preview, undefined);
    },
  );
};
