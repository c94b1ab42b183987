import { pino } from 'pino';
import { Registry } from 'prom-client';
import { type App, type AppDeps, buildApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';

export interface TestServer {
  readonly url: string;
  readonly app: App;
  /** Where the app registers its metrics (what GET /metrics renders). */
  readonly registry: Registry;
  /** The server's clock, in ms; tests move it forward to age reports. */
  readonly clock: { now: number };
  close(): Promise<void>;
}

/** A whole ioplace on a real socket on loopback, with a controlled clock and silent logs. */
export async function startTestServer(
  config: unknown = {},
  extra: Partial<Pick<AppDeps, 'kubeConfig' | 'delay' | 'logger' | 'configPath'>> = {},
): Promise<TestServer> {
  const clock = { now: Date.parse('2026-11-25T20:00:00Z') };
  const registry = new Registry();
  const app = await buildApp({
    config: validateConfig(config),
    logger: pino({ level: 'silent' }),
    clock: () => clock.now,
    registry,
    ...extra,
  });
  await app.server.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.server.address();
  if (address === null || typeof address === 'string') throw new Error('server did not bind a TCP port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    registry,
    clock,
    close: () => app.server.close(),
  };
}

/**
 * A series of the server's metrics, as GET /metrics shows it: the one with exactly `labels`, or
 * undefined when there is none.
 */
export async function metricValue(
  server: TestServer,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number | undefined> {
  const metric = server.registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const wanted = Object.entries(labels);
  const found = (await metric.get()).values.find(
    (v) =>
      Object.keys(v.labels).length === wanted.length &&
      wanted.every(([k, value]) => String(v.labels[k]) === value),
  );
  return found?.value;
}

export interface JsonResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly contentType: string | null;
}

/** Sends a request and reads the answer as JSON (when it is JSON). */
export async function call<T = unknown>(
  url: string,
  method: string,
  body?: unknown,
  init: { raw?: string; contentType?: string } = {},
): Promise<JsonResponse<T>> {
  const payload = init.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const headers: Record<string, string> = {};
  if (payload !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  const response = await fetch(url, { method, headers, body: payload });
  const text = await response.text();
  const contentType = response.headers.get('content-type');
  let parsed: unknown = text;
  if (contentType?.includes('application/json') && text.length > 0) parsed = JSON.parse(text);
  return { status: response.status, body: parsed as T, text, contentType };
}
