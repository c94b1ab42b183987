import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `predicate` every `everyMs` until it answers true (a throw counts as not yet); throws after `timeoutMs`. */
export async function waitUntil(
  predicate: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await predicate()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
