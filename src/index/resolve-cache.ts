// The hot path's memory: answers to "which bytes is name@ref?", kept until a change to their model
// invalidates them. Generic over what is kept, so the registry keeps resolutions and the http
// layer the response bytes it rendered from them.

const MAX_ENTRIES = 100_000;

export class ResolveCache<V extends { name: string }> {
  private readonly entries = new Map<string, V>();
  private readonly keysByModel = new Map<string, Set<string>>();
  /**
   * The key last found and its value. A key is a request path, a new string on every request, and
   * a Map lookup hashes it first; comparing with the last one found is cheaper when a client repeats
   * its request (perf under the resolve bench: hashing the path and the Authorization header were
   * 1.7% of the server's CPU). Forgotten with the entry it stands for.
   */
  private lastKey: string | null = null;
  private lastValue: V | undefined;

  get(key: string): V | undefined {
    if (key === this.lastKey) return this.lastValue;
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.lastKey = key;
      this.lastValue = value;
    }
    return value;
  }

  set(key: string, value: V): void {
    if (this.entries.size >= MAX_ENTRIES) this.clear();
    if (key === this.lastKey) this.forgetLast();
    this.entries.set(key, value);
    let keys = this.keysByModel.get(value.name);
    if (!keys) this.keysByModel.set(value.name, (keys = new Set()));
    keys.add(key);
  }

  invalidateModel(name: string): void {
    if (this.lastValue?.name === name) this.forgetLast();
    const keys = this.keysByModel.get(name);
    if (!keys) return;
    for (const key of keys) this.entries.delete(key);
    this.keysByModel.delete(name);
  }

  clear(): void {
    this.forgetLast();
    this.entries.clear();
    this.keysByModel.clear();
  }

  private forgetLast(): void {
    this.lastKey = null;
    this.lastValue = undefined;
  }
}
