import type { CoreV1Api } from '@kubernetes/client-node';
import { withTimeout } from './api-errors.js';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** Creates Bindings and reads single pods through the API server. */
export class PodBinder {
  readonly #api: CoreV1Api;
  readonly #timeoutMs: number;

  constructor(api: CoreV1Api, timeoutMs: number) {
    this.#api = api;
    this.#timeoutMs = timeoutMs;
  }

  /** Binds the pod to the node, as kube-scheduler's DefaultBinder does (with the uid as precondition). */
  async bind(pod: PodRef, node: string): Promise<void> {
    const metadata = {
      name: pod.name,
      namespace: pod.namespace,
      ...(pod.uid === '' ? {} : { uid: pod.uid }),
    };
    await withTimeout(
      this.#api.createNamespacedPodBinding({
        name: pod.name,
        namespace: pod.namespace,
        body: {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata,
          target: { apiVersion: 'v1', kind: 'Node', name: node },
        },
      }),
      this.#timeoutMs,
      'creating the binding',
    );
  }

  async read(namespace: string, name: string): Promise<unknown> {
    return withTimeout(this.#api.readNamespacedPod({ namespace, name }), this.#timeoutMs, 'reading the pod');
  }
}
