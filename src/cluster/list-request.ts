import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { ApiClient } from './api-client.js';
import { ListSplitter } from './list-splitter.js';

/** A list answered with nothing for this long (not a byte) is given up, and retried. */
const IDLE_TIMEOUT_MS = 60_000;

export interface ListChunk {
  readonly resourceVersion: string;
  /** Where the next page starts; undefined on the last page. */
  readonly continueToken: string | undefined;
}

export interface ListRequest {
  /** e.g. /api/v1/pods */
  readonly path: string;
  readonly query: Readonly<Record<string, string | number | undefined>>;
  /** Called with each item of the page, parsed on its own, as the page arrives. */
  readonly onItem: (item: unknown) => void;
  readonly signal?: AbortSignal;
}

/**
 * GETs one page of a list from the API server and streams its items to `onItem`, without
 * client-node's ObjectSerializer: that turns every page into model classes (with a Date for each
 * timestamp) next to the parsed JSON, and a 150,000-pod list through it left hundreds of
 * megabytes of heap behind. The page travels on one of the ApiClient's kept connections, with
 * the credentials the KubeConfig gives on every call; the pages of a list follow each other on
 * the same connection.
 */
export async function listChunk(api: ApiClient, request: ListRequest): Promise<ListChunk> {
  const response = await api.stream({
    method: 'GET',
    path: request.path,
    query: request.query,
    // The API server compresses big answers when asked; a page of pods shrinks about tenfold.
    acceptGzip: true,
    idleTimeoutMs: IDLE_TIMEOUT_MS,
    ...(request.signal === undefined ? {} : { signal: request.signal }),
  });
  const body: Readable =
    response.headers['content-encoding'] === 'gzip' ? pipeline(response, createGunzip(), () => {}) : response;

  const splitter = new ListSplitter(request.onItem);
  try {
    for await (const chunk of body) splitter.write(chunk as Buffer);
    splitter.end();
  } catch (err) {
    response.destroy();
    throw err;
  }
  const metadata = splitter.fields.metadata as { resourceVersion?: unknown; continue?: unknown } | undefined;
  const resourceVersion = metadata?.resourceVersion;
  const continueToken = metadata?.continue;
  return {
    resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : '',
    continueToken: typeof continueToken === 'string' && continueToken !== '' ? continueToken : undefined,
  };
}
