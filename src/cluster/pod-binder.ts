import type { ApiClient } from './api-client.js';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** Creates Bindings and reads single pods through the API server, on the ApiClient's kept connections. */
export class PodBinder {
  readonly #api: ApiClient;

  constructor(api: ApiClient) {
    this.#api = api;
  }

  /** Binds the pod to the node, as kube-scheduler's DefaultBinder does (with the uid as precondition). */
  async bind(pod: PodRef, node: string): Promise<void> {
    const metadata = {
      name: pod.name,
      namespace: pod.namespace,
      ...(pod.uid === '' ? {} : { uid: pod.uid }),
    };
    await this.#api.request({
      method: 'POST',
      path: `${podPath(pod.namespace, pod.name)}/binding`,
      body: {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata,
        target: { apiVersion: 'v1', kind: 'Node', name: node },
      },
    });
  }

  async read(namespace: string, name: string): Promise<unknown> {
    return this.#api.request({ method: 'GET', path: podPath(namespace, name) });
  }
}

function podPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
}
