/**
 * The names of the nodes that exist in the cluster, as the node watch reports them. Until the
 * first list has synced nothing is known, and `exists` answers undefined rather than guessing.
 */
export class ClusterNodes {
  readonly #names = new Set<string>();
  #synced = false;

  replace(names: Iterable<string>): string[] {
    const next = new Set(names);
    const gone = [...this.#names].filter((n) => !next.has(n));
    this.#names.clear();
    for (const n of next) this.#names.add(n);
    this.#synced = true;
    return gone;
  }

  add(name: string): void {
    this.#names.add(name);
  }

  remove(name: string): void {
    this.#names.delete(name);
  }

  exists(name: string): boolean | undefined {
    return this.#synced ? this.#names.has(name) : undefined;
  }

  names(): IterableIterator<string> {
    return this.#names.values();
  }

  get size(): number {
    return this.#names.size;
  }
}
