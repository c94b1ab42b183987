/** A short, human message out of a client-node ApiException (its body is a Kubernetes Status). */
export function apiErrorMessage(err: unknown): string {
  if (err === null || typeof err !== 'object') return String(err);
  const e = err as { code?: unknown; body?: unknown; message?: unknown };
  let body = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON: fall through to the message
    }
  }
  if (
    body !== null &&
    typeof body === 'object' &&
    typeof (body as { message?: unknown }).message === 'string'
  ) {
    const code = typeof e.code === 'number' ? ` (HTTP ${e.code})` : '';
    return `${(body as { message: string }).message}${code}`;
  }
  return typeof e.message === 'string' ? (e.message.split('\n')[0] ?? e.message) : String(err);
}

export function apiErrorCode(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** Rejects with a timeout error if `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
