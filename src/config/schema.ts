import Type, { type Static } from 'typebox';

const Weight = Type.Number({ minimum: 0, maximum: 1000, default: 1 });

/**
 * The whole configuration: every field, its default and its bounds. Unknown fields are errors so
 * that a typo is reported instead of silently falling back to a default.
 */
export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '0.0.0.0' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        bodyLimitBytes: Type.Integer({
          minimum: 1024,
          maximum: 1024 * 1024 * 1024,
          default: 64 * 1024 * 1024,
        }),
        logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
          default: 'info',
        }),
        requestTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 600, default: 30 }),
        headersTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 600, default: 10 }),
        keepAliveTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 75 }),
      },
      { additionalProperties: false, default: {} },
    ),
    inventory: Type.Object(
      {
        staleAfterSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 86400, default: 30 }),
        unknownNodes: Type.Enum(['reject', 'allow'], { default: 'reject' }),
        maxNodes: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 50_000 }),
        reportsPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 1000, default: 1 }),
        reportBurst: Type.Integer({ minimum: 1, maximum: 10_000, default: 5 }),
      },
      { additionalProperties: false, default: {} },
    ),
    scoring: Type.Object(
      {
        strategy: Type.Enum(['spread', 'pack'], { default: 'spread' }),
        reserveFraction: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.1 }),
        weights: Type.Object(
          { ingressBandwidth: Weight, egressBandwidth: Weight, iops: Weight },
          { additionalProperties: false, default: {} },
        ),
        scoreAllPods: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    tls: Type.Object(
      {
        certFile: Type.String({ default: '' }),
        keyFile: Type.String({ default: '' }),
        clientCAFile: Type.String({ default: '' }),
      },
      { additionalProperties: false, default: {} },
    ),
    ops: Type.Object(
      {
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8081 }),
      },
      { additionalProperties: false, default: {} },
    ),
    auth: Type.Object(
      {
        agents: Type.Enum(['auto', 'tokenreview', 'file', 'open'], { default: 'auto' }),
        agentTokensFile: Type.String({ default: '' }),
        agentServiceAccounts: Type.Array(
          Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-.a-z0-9]*[a-z0-9])?$' }),
          { default: ['ioplace-system:ioplace-agent'], maxItems: 100 },
        ),
        audience: Type.String({ default: 'ioplace' }),
        cacheSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 60 }),
      },
      { additionalProperties: false, default: {} },
    ),
    readiness: Type.Object(
      {
        minInventoryCoverage: Type.Number({ minimum: 0, maximum: 1, default: 0.9 }),
        warmupSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 60 }),
      },
      { additionalProperties: false, default: {} },
    ),
    metrics: Type.Object(
      {
        perNodeSeries: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    cluster: Type.Object(
      {
        mode: Type.Enum(['auto', 'on', 'off'], { default: 'auto' }),
        kubeconfig: Type.String({ default: '' }),
        watchTimeoutSeconds: Type.Integer({ minimum: 10, maximum: 3600, default: 300 }),
        backoffInitialSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 60, default: 0.5 }),
        backoffMaxSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 600, default: 30 }),
        listPageSize: Type.Integer({ minimum: 10, maximum: 10_000, default: 500 }),
      },
      { additionalProperties: false, default: {} },
    ),
    binding: Type.Object(
      {
        reservationTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 60 }),
        // A bind makes up to two calls in a row (it reads a pod the watch has not shown yet, then
        // creates the Binding): 2 x this + 1 s must stay within kube-scheduler's httpTimeout (5s in
        // manifests/), or a slow bind is reported failed while its Binding is still being made.
        apiTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 60, default: 2 }),
      },
      { additionalProperties: false, default: {} },
    ),
    advertise: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        patchesPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 1000, default: 20 }),
        burst: Type.Integer({ minimum: 1, maximum: 10_000, default: 50 }),
        minIntervalSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 5 }),
      },
      { additionalProperties: false, default: {} },
    ),
    retrySignal: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        annotation: Type.String({
          default: 'ioplace.io/capacity-freed-at',
          pattern:
            '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$',
        }),
        minIntervalSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 5 }),
        rememberSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 86400, default: 600 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export type Config = Static<typeof ConfigSchema>;
