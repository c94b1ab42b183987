import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ReplicaTarget } from './replica-targets.js';

export interface SendResult {
  readonly status: number;
  readonly body: string;
}

/**
 * PUTs one report to one replica address. The connection goes to the address, while the Host
 * header and the TLS server name stay the configured host name, so a certificate issued for the
 * Service name still verifies.
 */
export function sendReport(
  target: ReplicaTarget,
  path: string,
  body: string,
  options: { token: string | undefined; timeoutMs: number; ca?: Buffer },
): Promise<SendResult> {
  const { server, address } = target;
  const https = server.protocol === 'https:';
  const headers: Record<string, string> = {
    host: server.host,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'ioplace-agent',
  };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const base = server.pathname.replace(/\/$/, '');
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)({
      host: address,
      port: server.port || (https ? 443 : 80),
      method: 'PUT',
      path: `${base}${path}`,
      headers,
      timeout: options.timeoutMs,
      ...(https ? { servername: server.hostname, ...(options.ca ? { ca: options.ca } : {}) } : {}),
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (text.length < 4096) text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.end(body);
  });
}
