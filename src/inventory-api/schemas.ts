import Type, { type Static } from 'typebox';
import { MAX_AMOUNT } from '../domain/resources.js';

const Amount = Type.Number({ minimum: 0, maximum: MAX_AMOUNT });

/** Amounts per dimension: bits per second for bandwidth, operations per second for iops. */
export const AmountsSchema = Type.Object(
  {
    ingressBandwidth: Type.Optional(Amount),
    egressBandwidth: Type.Optional(Amount),
    iops: Type.Optional(Amount),
  },
  { additionalProperties: false },
);

export const NodeReportSchema = Type.Object(
  { capacity: AmountsSchema, usage: Type.Optional(AmountsSchema) },
  { additionalProperties: false },
);
export type NodeReportBody = Static<typeof NodeReportSchema>;

/** A Kubernetes node name: an RFC 1123 DNS subdomain. */
export const NodeParamsSchema = Type.Object({
  node: Type.String({
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  }),
});

const Figures = Type.Object({
  ingressBandwidth: Type.Optional(Type.Number()),
  egressBandwidth: Type.Optional(Type.Number()),
  iops: Type.Optional(Type.Number()),
});

export const NodeViewSchema = Type.Object({
  node: Type.String(),
  fresh: Type.Boolean(),
  receivedAt: Type.String({ description: 'RFC 3339 time the report was received' }),
  ageSeconds: Type.Number(),
  capacity: Figures,
  usage: Figures,
  committed: Figures,
  /** committed in its parts: bound pods (some not yet in measured usage) and bind reservations. */
  commitments: Type.Object({ pods: Figures, unmeasured: Figures, reserved: Figures }),
  allocatable: Figures,
  free: Figures,
});
export type NodeView = Static<typeof NodeViewSchema>;

export const NodeListViewSchema = Type.Object({
  nodes: Type.Array(NodeViewSchema),
  count: Type.Integer(),
  fresh: Type.Integer(),
  stale: Type.Integer(),
});
