import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { KubeConfig } from '@kubernetes/client-node';
import { statusError } from './api-client.js';
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
 * megabytes of heap behind. Connection and credentials come from the KubeConfig exactly as
 * client-node's own requests get them (`applyToHTTPSOptions`: the agent with the cluster's CA,
 * client certificate, insecure-skip-tls-verify and proxy, and the Authorization header of the
 * user's token, token file, exec or auth provider, refreshed on every call).
 */
export async function listChunk(kubeConfig: KubeConfig, request: ListRequest): Promise<ListChunk> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(cluster.server + request.path);
  for (const [key, value] of Object.entries(request.query)) {
    if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
  }
  const options: RequestOptions = { method: 'GET', headers: {} };
  await kubeConfig.applyToHTTPSOptions(options);
  options.headers = {
    ...(options.headers as OutgoingHttpHeaders),
    Accept: 'application/json',
    // The API server compresses big answers when asked; a page of pods shrinks about tenfold.
    'Accept-Encoding': 'gzip',
  };
  if (request.signal !== undefined) options.signal = request.signal;

  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, options, resolve);
    req.on('error', reject);
    req.setTimeout(IDLE_TIMEOUT_MS, () => {
      req.destroy(new Error(`the API server sent nothing for ${IDLE_TIMEOUT_MS / 1000} s`));
    });
    req.end();
  });
  const body: Readable =
    response.headers['content-encoding'] === 'gzip' ? pipeline(response, createGunzip(), () => {}) : response;
  if (response.statusCode !== 200) throw await statusError(response.statusCode ?? 0, body);

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
