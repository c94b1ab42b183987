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

/**
 * An API server answer other than 2xx. It carries `code` and `body` (the Kubernetes Status) as
 * client-node's ApiException does, and `statusCode` as its Watch errors do, so every reader of
 * either (apiErrorMessage, the reflector's 410 check) reads it unchanged.
 */
export class ApiStatusError extends Error {
  readonly code: number;
  readonly body: unknown;

  constructor(code: number, body: unknown) {
    const message =
      body !== null && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string'
        ? (body as { message: string }).message
        : typeof body === 'string' && body !== ''
          ? body.slice(0, 200)
          : 'no message';
    super(`HTTP ${code}: ${message}`);
    this.code = code;
    this.body = body;
  }

  get statusCode(): number {
    return this.code;
  }
}
