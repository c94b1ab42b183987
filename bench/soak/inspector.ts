/**
 * A minimal Chrome DevTools Protocol session with the server's main thread (node --inspect on
 * 127.0.0.1), used for one thing: force a full garbage collection and read the heap left, so that
 * "heap after GC" is measured rather than guessed from samples taken at random points of V8's
 * sawtooth.
 *
 * A session is opened for each reading and closed right after: while a debugger is attached, a
 * process that would exit on an uncaught exception waits for it to disconnect instead, and a crash
 * must show as a crash.
 */
import { WebSocket } from 'undici';

export class InspectorSession {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      };
      if (message.id === undefined) return;
      const pending = this.#pending.get(message.id);
      if (pending === undefined) return;
      this.#pending.delete(message.id);
      if (message.error !== undefined) pending.reject(new Error(message.error.message));
      else pending.resolve(message.result);
    });
    ws.addEventListener('close', () => {
      for (const p of this.#pending.values()) p.reject(new Error('inspector session closed'));
      this.#pending.clear();
    });
  }

  /** Attaches to the inspector listening on 127.0.0.1:`port`. */
  static async connect(port: number, timeoutMs = 10_000): Promise<InspectorSession> {
    const deadline = Date.now() + timeoutMs;
    let url: string | undefined;
    while (url === undefined) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/json/list`);
        const targets = (await res.json()) as { webSocketDebuggerUrl?: string }[];
        url = targets[0]?.webSocketDebuggerUrl;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`no inspector on 127.0.0.1:${port}: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new Error(`cannot open ${url}`)), { once: true });
    });
    return new InspectorSession(ws);
  }

  call<T>(method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /**
   * Forces one full GC in the server (`gc()`, which needs `--expose-gc`) and returns the V8 heap
   * then in use, in bytes, and how long the call took. (HeapProfiler.collectGarbage would need no
   * flag, but it is V8's low-memory notification: several full GCs in a row, a pause of hundreds of
   * milliseconds under load.)
   */
  async heapAfterFullGc(): Promise<{ usedBytes: number; totalBytes: number; gcMs: number }> {
    const t0 = performance.now();
    const evaluated = await this.call<{ exceptionDetails?: { text: string } }>('Runtime.evaluate', {
      expression: 'gc()',
    });
    if (evaluated.exceptionDetails !== undefined) {
      throw new Error(`gc() failed in the server: ${evaluated.exceptionDetails.text}`);
    }
    const gcMs = performance.now() - t0;
    const usage = await this.call<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage');
    return { usedBytes: usage.usedSize, totalBytes: usage.totalSize, gcMs };
  }

  close(): void {
    this.#ws.close();
  }
}

/** One reading: attach, force a full GC, read the heap, detach. */
export async function readHeapAfterFullGc(
  port: number,
): Promise<{ usedBytes: number; totalBytes: number; gcMs: number }> {
  const session = await InspectorSession.connect(port);
  try {
    return await session.heapAfterFullGc();
  } finally {
    session.close();
  }
}
