// A key/value table every node of a deployment sees: in Redis when nodes share one, beside the
// replica on a single node. Upload sessions on a shared blob store live here, so that any node
// continues a session another node opened (see blobs/shared-upload-sessions.ts). Rows change only
// by compare-and-swap: two nodes appending to one session at once cannot both win.
export interface SharedTable<V> {
  get(key: string): Promise<V | undefined>;
  /** Adds a row; false (and nothing written) if the key exists. */
  create(key: string, value: V): Promise<boolean>;
  /** Replaces the row only while it still equals `expected` (compared as JSON); false if it changed or is gone. */
  swap(key: string, expected: V, next: V): Promise<boolean>;
  remove(key: string): Promise<void>;
  /** Every row (in no particular order). */
  entries(): AsyncIterable<{ key: string; value: V }>;
}
