import Type, { type Static } from 'typebox';
import { DIMENSIONS, MAX_AMOUNT } from '../domain/resources.js';

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

const PodCount = Type.Integer({ minimum: 0, maximum: 1_000_000 });

/**
 * What the agent enforces on its node. Optional: agents from before enforcement send none. Fields
 * added by later agents are accepted and ignored, so that agents can be upgraded before ioplace.
 */
export const EnforcementReportSchema = Type.Object(
  {
    /** off, iops or all (a string, so that a later agent's new mode is not refused). */
    mode: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 16,
        pattern: '^[a-z][a-z0-9-]*$',
        description: "a lowercase word (letters, digits and '-', starting with a letter)",
      }),
    ),
    /** Pods with demand whose limits are all in force. */
    pods: PodCount,
    /** Pods with a limit that failed at the agent's last round. */
    errors: PodCount,
  },
  { additionalProperties: true },
);

export const NodeReportSchema = Type.Object(
  {
    capacity: AmountsSchema,
    usage: Type.Optional(AmountsSchema),
    enforcement: Type.Optional(EnforcementReportSchema),
  },
  { additionalProperties: false },
);
export type NodeReportBody = Static<typeof NodeReportSchema>;

/** A Kubernetes node name: an RFC 1123 DNS subdomain. */
export const NodeParamsSchema = Type.Object({
  node: Type.String({
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
    description:
      "a node name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (a DNS subdomain, RFC 1123)",
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
  /**
   * Dimensions the node's last report gives no capacity for (its agent has no --iops-capacity and
   * the node no ioplace.io/iops-capacity; or no interface reports a link speed): pods asking for
   * them are turned away from the node as unmeasured. Empty when every capacity is known.
   */
  capacityUnknown: Type.Array(Type.Enum([...DIMENSIONS])),
  /** As the node's last report says; absent when its agent does not say (one from before enforcement). */
  enforcement: Type.Optional(
    Type.Object({ mode: Type.Optional(Type.String()), pods: Type.Integer(), errors: Type.Integer() }),
  ),
});
export type NodeView = Static<typeof NodeViewSchema>;

export const NodeListViewSchema = Type.Object({
  nodes: Type.Array(NodeViewSchema),
  count: Type.Integer(),
  fresh: Type.Integer(),
  stale: Type.Integer(),
});
