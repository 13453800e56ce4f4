// The hot path's memory: answers to "which bytes is name@ref?", kept until a change to their model
// invalidates them. Generic over what is kept, so the registry keeps resolutions and the http
// layer the response bytes it rendered from them.

const MAX_ENTRIES = 100_000;

export class ResolveCache<V extends { name: string }> {
  private readonly entries = new Map<string, V>();
  private readonly keysByModel = new Map<string, Set<string>>();

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.entries.size >= MAX_ENTRIES) this.clear();
    this.entries.set(key, value);
    let keys = this.keysByModel.get(value.name);
    if (!keys) this.keysByModel.set(value.name, (keys = new Set()));
    keys.add(key);
  }

  invalidateModel(name: string): void {
    const keys = this.keysByModel.get(name);
    if (!keys) return;
    for (const key of keys) this.entries.delete(key);
    this.keysByModel.delete(name);
  }

  clear(): void {
    this.entries.clear();
    this.keysByModel.clear();
  }
}
