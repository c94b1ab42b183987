import type { Watch } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiStatusError } from '../../../src/cluster/api-errors.js';
import { type ListPage, Reflector, type ReflectorHandler } from '../../../src/cluster/reflector.js';
import { waitFor } from '../../support/fake-apiserver.js';

/** A watch that stays open, silent, until the reflector stops it. */
function quietWatch(): { watch: Watch; opened: () => number } {
  let opened = 0;
  const watch = {
    watch: async (_path: string, _query: unknown, _onEvent: unknown, done: (err: unknown) => void) => {
      opened++;
      const controller = new AbortController();
      controller.signal.addEventListener('abort', () => done(null));
      return controller;
    },
  } as unknown as Watch;
  return { watch, opened: () => opened };
}

/** Records what the handler hears, as one string per call. */
function recorder(): ReflectorHandler<string> & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    relisting: () => calls.push('relisting'),
    listed: (item) => calls.push(`listed ${item}`),
    relisted: (count) => calls.push(`relisted ${count}`),
    upsert: (item) => calls.push(`upsert ${item}`),
    remove: (item) => calls.push(`remove ${item}`),
  };
}

type Lister = (
  limit: number,
  continueToken: string | undefined,
  onItem: (object: unknown) => void,
  signal: AbortSignal,
) => Promise<ListPage>;

let reflector: Reflector<string> | undefined;
afterEach(async () => {
  await reflector?.stop();
  reflector = undefined;
});

function start(list: Lister, handler: ReflectorHandler<string>, watch: Watch) {
  const delay = vi.fn(async () => {});
  reflector = new Reflector<string>({
    resource: 'things',
    list,
    watch,
    path: '/api/v1/things',
    query: {},
    decode: (object) => (typeof object === 'string' && object !== 'skip' ? object : undefined),
    handler,
    logger: pino({ level: 'silent' }),
    pageSize: 2,
    watchTimeoutSeconds: 60,
    backoff: { initialMs: 1000, maxMs: 1000 },
    delay,
  });
  reflector.start();
  return { reflector, delay };
}

/** Pages of two of `items`, continue tokens being the offset of the next page. */
function pages(items: readonly string[], fail?: (token: string | undefined) => unknown): Lister {
  return async (limit, continueToken, onItem) => {
    const failure = fail?.(continueToken);
    if (failure !== undefined) throw failure;
    const from = Number(continueToken ?? 0);
    for (const item of items.slice(from, from + limit)) onItem(item);
    const next = from + limit < items.length ? String(from + limit) : undefined;
    return { resourceVersion: `rv-${from}`, continueToken: next };
  };
}

describe('Reflector', () => {
  it('hands a paged list over item by item, then watches from the first page’s resourceVersion', async () => {
    const handler = recorder();
    const { watch, opened } = quietWatch();
    const { reflector } = start(pages(['a', 'b', 'skip', 'c', 'd']), handler, watch);
    await waitFor(() => reflector.synced && opened() === 1);
    expect(handler.calls).toEqual([
      'relisting',
      'listed a',
      'listed b',
      'listed c',
      'listed d',
      'relisted 4',
    ]);
    expect(reflector.resourceVersion).toBe('rv-0');
  });

  it('lists again from the start, at once, when a continue token has expired (410)', async () => {
    const handler = recorder();
    const { watch, opened } = quietWatch();
    let expired = 1;
    const list = pages(['a', 'b', 'c'], (token) =>
      token === '2' && expired-- > 0 ? new ApiStatusError(410, { message: 'continue too old' }) : undefined,
    );
    const { reflector, delay } = start(list, handler, watch);
    await waitFor(() => reflector.synced && opened() === 1);
    expect(handler.calls).toEqual([
      'relisting',
      'listed a',
      'listed b',
      'relisting',
      'listed a',
      'listed b',
      'listed c',
      'relisted 3',
    ]);
    expect(delay).not.toHaveBeenCalled();
  });

  it('backs off and lists again from the start after any other failure part way', async () => {
    const handler = recorder();
    const { watch, opened } = quietWatch();
    let failures = 1;
    const list = pages(['a', 'b', 'c'], (token) =>
      token === '2' && failures-- > 0 ? new ApiStatusError(500, 'etcd is slow') : undefined,
    );
    const { reflector, delay } = start(list, handler, watch);
    await waitFor(() => reflector.synced && opened() === 1);
    expect(handler.calls.filter((c) => c === 'relisting')).toHaveLength(2);
    expect(handler.calls.at(-1)).toBe('relisted 3');
    expect(delay).toHaveBeenCalledTimes(1);
  });

  it('gives a stop during a list to the lister as an aborted signal, and hands over nothing more', async () => {
    const handler = recorder();
    const { watch, opened } = quietWatch();
    let signalled: AbortSignal | undefined;
    const list: Lister = (_limit, _token, onItem, signal) => {
      onItem('a');
      signalled = signal;
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    };
    const { reflector } = start(list, handler, watch);
    await waitFor(() => signalled !== undefined);
    await reflector.stop();
    expect(signalled?.aborted).toBe(true);
    expect(handler.calls).toEqual(['relisting', 'listed a']);
    expect(reflector.synced).toBe(false);
    expect(opened()).toBe(0);
  });
});
