import Type, { type Static, type TSchema } from 'typebox';
import { type KeyShape, keyShapeOf } from './go-json-keys.js';

/*
 * The wire types of k8s.io/kube-scheduler/extender/v1. Those Go structs have no json tags, so the
 * keys are the Go field names (PascalCase); the embedded Pod and Node objects are ordinary
 * Kubernetes JSON (camelCase). Only the fields ioplace reads are described; everything else a Pod
 * or Node carries passes through untouched.
 */

// Quantities are strings on the wire, but Go's Quantity also unmarshals a bare JSON number.
const Quantity = Type.Unsafe<string | number>({ type: ['string', 'number'], maxLength: 64 });
const ResourceList = Type.Record(Type.String(), Quantity);

const Container = Type.Object({
  name: Type.Optional(Type.String()),
  restartPolicy: Type.Optional(Type.String()),
  resources: Type.Optional(
    Type.Object({ requests: Type.Optional(ResourceList), limits: Type.Optional(ResourceList) }),
  ),
});

const PodMetadata = Type.Object({
  name: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
});

const podSpecFields = {
  containers: Type.Optional(Type.Array(Container)),
  initContainers: Type.Optional(Type.Array(Container)),
  overhead: Type.Optional(ResourceList),
};

export const PodSchema = Type.Object({
  metadata: Type.Optional(PodMetadata),
  spec: Type.Optional(Type.Object(podSpecFields)),
});

/** spec.priority: an int32 in the API (absent means 0), as Go would refuse anything else. */
const Priority = Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647 });

/** The pod preempt is asked to make room for: a Pod whose priority ioplace also reads. */
const PreemptorPodSchema = Type.Object({
  metadata: Type.Optional(PodMetadata),
  spec: Type.Optional(Type.Object({ ...podSpecFields, priority: Type.Optional(Priority) })),
});

const NodeName = Type.String({ minLength: 1, maxLength: 253 });
/**
 * A candidate node name. Not length-checked: Ajv counts code points for min/maxLength, which on
 * 15,000 names is a real share of a request, and a name that is no node is answered as unknown
 * anyway (the body limit bounds the rest).
 */
const CandidateName = Type.String();

const NodeSchema = Type.Object({ metadata: Type.Object({ name: CandidateName }) });

const NodeListSchema = Type.Object({
  metadata: Type.Optional(Type.Object({})),
  items: Type.Optional(Type.Array(NodeSchema)),
});

/** ExtenderArgs: the body of filter and prioritize. */
export const ExtenderArgsSchema = Type.Object({
  Pod: PodSchema,
  Nodes: Type.Optional(NodeListSchema),
  NodeNames: Type.Optional(Type.Array(CandidateName)),
});
export type ExtenderArgs = Static<typeof ExtenderArgsSchema>;
export type WireNode = Static<typeof NodeSchema>;

/** The keys of ExtenderArgs ioplace reads (go-json-keys.ts). */
export const ExtenderArgsKeys = keysOf(ExtenderArgsSchema);

/** The keys of a Node that ioplace reads. */
export const NodeKeys = keysOf(NodeSchema);

/** The keys of a NodeList that ioplace reads. */
export const NodeListKeys = keysOf(NodeListSchema);

/**
 * ExtenderArgsKeys down to the NodeList, whose Nodes are left as they are: filter and prioritize
 * respell the keys of the Nodes apart, to tell whether they were left as sent (parsed-body.ts).
 */
export const ExtenderArgsKeysAboveNodes = keysOf(ExtenderArgsSchema, NodeSchema);

/** ExtenderBindingArgs: the body of bind. */
export const ExtenderBindingArgsSchema = Type.Object({
  PodName: Type.String({ minLength: 1, maxLength: 253 }),
  PodNamespace: Type.String({ minLength: 1, maxLength: 63 }),
  PodUID: Type.String({ maxLength: 128 }),
  Node: NodeName,
});
export type ExtenderBindingArgs = Static<typeof ExtenderBindingArgsSchema>;

export const ExtenderBindingArgsKeys = keysOf(ExtenderBindingArgsSchema);

/** ExtenderBindingResult: an empty Error means bound. */
export const ExtenderBindingResultSchema = Type.Object({ Error: Type.String() });
export type ExtenderBindingResult = Static<typeof ExtenderBindingResultSchema>;

const VictimPodSchema = Type.Object({
  metadata: Type.Object({ uid: Type.String({ minLength: 1 }) }),
});
const MetaPodSchema = Type.Object({ UID: Type.String({ minLength: 1 }) });
const NumPDBViolations = Type.Integer({ minimum: 0 });

/** ExtenderPreemptionArgs: the body of preempt, with full victim pods or only their uids. */
export const ExtenderPreemptionArgsSchema = Type.Object({
  Pod: PreemptorPodSchema,
  NodeNameToVictims: Type.Optional(
    Type.Record(
      Type.String(),
      Type.Object({
        Pods: Type.Optional(Type.Array(Type.Intersect([PodSchema, VictimPodSchema]))),
        NumPDBViolations: Type.Optional(NumPDBViolations),
      }),
    ),
  ),
  NodeNameToMetaVictims: Type.Optional(
    Type.Record(
      Type.String(),
      Type.Object({
        Pods: Type.Optional(Type.Array(MetaPodSchema)),
        NumPDBViolations: Type.Optional(NumPDBViolations),
      }),
    ),
  ),
});
export type ExtenderPreemptionArgs = Static<typeof ExtenderPreemptionArgsSchema>;

export const ExtenderPreemptionArgsKeys = keysOf(ExtenderPreemptionArgsSchema);

const MetaVictimsSchema = Type.Object({ Pods: Type.Array(MetaPodSchema), NumPDBViolations: Type.Integer() });

/** ExtenderPreemptionResult: always answered with uids (MetaVictims), in both modes. */
export const ExtenderPreemptionResultSchema = Type.Object({
  NodeNameToMetaVictims: Type.Record(Type.String(), MetaVictimsSchema),
});
export type ExtenderPreemptionResult = Static<typeof ExtenderPreemptionResultSchema>;

const FailedNodesMap = Type.Record(Type.String(), Type.String());

/** ExtenderFilterResult. Every field is always present, as Go marshals it. */
export const ExtenderFilterResultSchema = Type.Object({
  Nodes: Type.Union([
    Type.Object({
      metadata: Type.Object({}, { additionalProperties: true }),
      items: Type.Array(Type.Unknown()),
    }),
    Type.Null(),
  ]),
  NodeNames: Type.Union([Type.Array(Type.String()), Type.Null()]),
  FailedNodes: FailedNodesMap,
  FailedAndUnresolvableNodes: FailedNodesMap,
  Error: Type.String(),
});
export type ExtenderFilterResult = Static<typeof ExtenderFilterResultSchema>;

/** HostPriorityList. */
export const HostPriorityListSchema = Type.Array(
  Type.Object({ Host: Type.String(), Score: Type.Integer({ minimum: 0, maximum: 10 }) }),
);
export type HostPriorityList = Static<typeof HostPriorityListSchema>;

/** The key shape of a request body's schema, which has fields (a body is an object). */
function keysOf(schema: TSchema, asIs?: TSchema): KeyShape {
  const shape = keyShapeOf(schema, { asIs });
  if (shape === null) throw new Error('a request body has fields');
  return shape;
}
