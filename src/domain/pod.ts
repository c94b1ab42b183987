/**
 * The part of a Kubernetes Pod that placement reads. Everything else a Pod carries is ignored, so
 * these types stay small and any richer Pod object (from the wire or the API) fits them.
 */
export type QuantityValue = string | number;

export type ResourceList = Readonly<Record<string, QuantityValue>>;

export interface ContainerLike {
  readonly name?: string;
  /** "Always" on an init container makes it a restartable init container (a sidecar). */
  readonly restartPolicy?: string;
  readonly resources?: {
    readonly requests?: ResourceList;
    readonly limits?: ResourceList;
  };
}

export interface PodLike {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly containers?: readonly ContainerLike[];
    readonly initContainers?: readonly ContainerLike[];
    readonly overhead?: ResourceList;
  };
}

export function podKey(pod: PodLike): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}
