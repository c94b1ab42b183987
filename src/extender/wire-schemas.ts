import Type, { type Static } from 'typebox';
import { arrayOf, type KeyShape, mapOf, shapeOf } from './go-json-keys.js';

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

const ContainerKeys = shapeOf({
  name: null,
  restartPolicy: null,
  resources: shapeOf({ requests: null, limits: null }),
});

const PodMetadataKeys = shapeOf({ name: null, namespace: null, uid: null, annotations: null });
const podSpecKeys = {
  containers: arrayOf(ContainerKeys),
  initContainers: arrayOf(ContainerKeys),
  overhead: null,
};

export const PodKeys = shapeOf({ metadata: PodMetadataKeys, spec: shapeOf(podSpecKeys) });

const PreemptorPodKeys = shapeOf({
  metadata: PodMetadataKeys,
  spec: shapeOf({ ...podSpecKeys, priority: null }),
});

/** The keys of a Node that ioplace reads. */
export const NodeKeys = shapeOf({ metadata: shapeOf({ name: null }) });

/** The keys of ExtenderArgs ioplace reads; filter and prioritize apply it in two steps (parsed-body.ts). */
export const ExtenderArgsKeys: KeyShape = shapeOf({
  Pod: PodKeys,
  Nodes: shapeOf({ metadata: null, items: arrayOf(NodeKeys) }),
  NodeNames: null,
});

/** ExtenderArgsKeys down to the NodeList, whose items are left as they are. */
export const ExtenderArgsKeysAboveNodes: KeyShape = shapeOf({
  Pod: PodKeys,
  Nodes: shapeOf({ metadata: null, items: null }),
  NodeNames: null,
});

/** ExtenderBindingArgs: the body of bind. */
export const ExtenderBindingArgsSchema = Type.Object({
  PodName: Type.String({ minLength: 1, maxLength: 253 }),
  PodNamespace: Type.String({ minLength: 1, maxLength: 63 }),
  PodUID: Type.String({ maxLength: 128 }),
  Node: NodeName,
});
export type ExtenderBindingArgs = Static<typeof ExtenderBindingArgsSchema>;

export const ExtenderBindingArgsKeys = shapeOf({
  PodName: null,
  PodNamespace: null,
  PodUID: null,
  Node: null,
});

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

export const ExtenderPreemptionArgsKeys = shapeOf({
  Pod: PreemptorPodKeys,
  NodeNameToVictims: mapOf(shapeOf({ Pods: arrayOf(PodKeys), NumPDBViolations: null })),
  NodeNameToMetaVictims: mapOf(shapeOf({ Pods: arrayOf(shapeOf({ UID: null })), NumPDBViolations: null })),
});

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
