// A node-local key/value table kept beside the replica and never replicated (upload sessions live
// on the node that opened them).
export interface LocalTable<V> {
  get(key: string): V | undefined;
  put(key: string, value: V): Promise<unknown>;
  remove(key: string): Promise<unknown>;
  /** Every row, in key order. */
  entries(): Iterable<{ key: string; value: V }>;
}
