import { createPrivateKey, X509Certificate } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import type { Server } from 'node:https';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';

export interface TlsMaterial {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca: Buffer | undefined;
}

/** The first line of an OpenSSL error, without its `error:0480006C:PEM routines::` code. */
const reason = (err: unknown) => (err as Error).message.split('\n')[0]?.replace(/^error:[^:]*:[^:]*::/, '');

/**
 * Reads and checks the certificate, key and client CA. Every failure is a ConfigError naming
 * the field and the file, never a bare OpenSSL error from deep in `https.createServer`.
 */
export function readTlsMaterial(tls: Config['tls']): TlsMaterial {
  const read = (field: string, path: string, what: string, parse: (pem: Buffer) => unknown) => {
    let pem: Buffer;
    try {
      pem = readFileSync(path);
    } catch (err) {
      throw new ConfigError(`tls.${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
    }
    try {
      parse(pem);
    } catch (err) {
      throw new ConfigError(`tls.${field}: ${path} is not a PEM ${what}: ${reason(err)}`);
    }
    return pem;
  };
  const certificate = (pem: Buffer) => new X509Certificate(pem);
  const material = {
    key: read('keyFile', tls.keyFile, 'private key', (pem) => createPrivateKey(pem)),
    cert: read('certFile', tls.certFile, 'certificate', certificate),
    ca:
      tls.clientCAFile === ''
        ? undefined
        : read('clientCAFile', tls.clientCAFile, 'certificate', certificate),
  };
  try {
    createSecureContext(httpsOptions(material));
  } catch (err) {
    throw new ConfigError(
      `tls.keyFile: ${tls.keyFile} does not go with tls.certFile ${tls.certFile}: ${reason(err)}`,
    );
  }
  return material;
}

/** Node's https options: client certificates are asked for, and checked per route (see requireClientCertificate). */
export function httpsOptions(material: TlsMaterial) {
  return {
    key: material.key,
    cert: material.cert,
    ...(material.ca === undefined ? {} : { ca: material.ca, requestCert: true, rejectUnauthorized: false }),
  };
}

/**
 * Reloads the certificate and key when their files change (cert-manager and projected secrets
 * rotate them in place), without dropping connections. A half-written pair that does not load
 * keeps the old context; `onError` says why.
 */
export function followTlsFiles(
  tls: Config['tls'],
  server: Server,
  onReload: (error: Error | undefined) => void,
): () => void {
  const dirs = [
    ...new Set([tls.certFile, tls.keyFile, tls.clientCAFile].filter((f) => f !== '').map(dirname)),
  ];
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    try {
      server.setSecureContext(httpsOptions(readTlsMaterial(tls)));
      onReload(undefined);
    } catch (err) {
      onReload(err as Error);
    }
  };
  const watchers: FSWatcher[] = [];
  for (const dir of dirs) {
    try {
      const w = watch(dir, () => {
        clearTimeout(timer);
        timer = setTimeout(reload, 200);
        timer.unref();
      });
      w.unref();
      watchers.push(w);
    } catch {
      // Not watchable: the certificate is then fixed for the life of the process.
    }
  }
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
