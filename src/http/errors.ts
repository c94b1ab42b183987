import createError from '@fastify/error';

/*
 * Every error a client can cause, with its code and status, in one place. Messages are for the
 * caller: they say what was wrong with the request, never how the server works inside.
 */

export const OWN_CODE_PREFIX = 'IOPLACE_';

export const NoCandidatesError = createError(
  'IOPLACE_NO_CANDIDATES',
  'the request names no candidate nodes: Nodes and NodeNames are both null or missing',
  400,
);

export const NodeNotFoundError = createError<[string]>(
  'IOPLACE_NODE_NOT_FOUND',
  'node %s is not in the inventory',
  404,
);

export const NoSuchClusterNodeError = createError<[string]>(
  'IOPLACE_NO_SUCH_CLUSTER_NODE',
  'node %s does not exist in the cluster; reports are taken only for cluster nodes',
  404,
);

export const InventoryFullError = createError<[number]>(
  'IOPLACE_INVENTORY_FULL',
  'the inventory is full (inventory.maxNodes is %d); forget stale nodes or raise the limit',
  507,
);

export const RouteNotFoundError = createError<[string, string]>(
  'IOPLACE_ROUTE_NOT_FOUND',
  'no route %s %s',
  404,
);

export const InvalidYamlError = createError<[string]>(
  'IOPLACE_INVALID_YAML',
  'body is not valid YAML: %s',
  400,
);

export const ExplainNeedsClusterError = createError(
  'IOPLACE_NEEDS_CLUSTER',
  'explaining a pod by name needs cluster access; POST the pod to /v1/explain instead',
  501,
);

export const PodNotFoundError = createError<[string, string]>(
  'IOPLACE_POD_NOT_FOUND',
  'pod %s/%s not found',
  404,
);

export const UpstreamError = createError<[string]>(
  'IOPLACE_API_SERVER_ERROR',
  'the API server answered: %s',
  502,
);

export const TooDeepError = createError(
  'IOPLACE_TOO_DEEP',
  'the request nests objects too deeply to be answered (a Node object is echoed back whole)',
  400,
);
