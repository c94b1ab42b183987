/**
 * The Kubernetes API server the memory and bind cases point ioplace at (KUBECONFIG), running in
 * the bench process: the tests' fake API server, used as it is.
 *
 * It is a test double and belongs to test/ (test/integration/fake-apiserver.test.ts checks it,
 * and most integration tests use it); the benchmark needs the same thing at a larger scale
 * (150,000 pods, paged lists, gzip, a binding latency). So bench/ depends on test/support one
 * way, here and nowhere else (the test certificates included); test/ never imports bench/. A change to the fake API server is a
 * change to both: `BENCH_ONLY=bind BENCH_MEMORY=1 npm run bench` exercises what the bench uses.
 */
import { readFileSync } from 'node:fs';

export { FakeApiServer } from '../../test/support/fake-apiserver.js';

/** The CA of the certificate it serves with `tls: true` (test/fixtures/tls), for a client that trusts it. */
export function fakeApiServerCa(): Buffer {
  return readFileSync(new URL('../../test/fixtures/tls/server-ca.crt', import.meta.url));
}
