// URL paths of the v1 API. A model name goes into the path as-is (its `/` separates team and
// model); every other piece is percent-encoded per segment.

/**
 * encodeURIComponent, but `:` and `@` stay literal: both are legal in a path segment, and the
 * documented forms (`sha256:<hex>`, `name@ref`) read better unescaped.
 */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%3A/gi, ':').replace(/%40/g, '@');
}

/** Names are validated by the server; encoding each segment keeps a malformed one from changing the route. */
export function encodeModelName(name: string): string {
  return name.split('/').map(encodeSegment).join('/');
}

export function encodeFilePath(path: string): string {
  return path.split('/').map(encodeSegment).join('/');
}

export const paths = {
  blob: (digest: string) => `/v1/blobs/${encodeSegment(digest)}`,
  blobUpload: (digest: string) => `/v1/blobs?${new URLSearchParams({ digest })}`,
  uploads: () => '/v1/uploads',
  upload: (id: string) => `/v1/uploads/${encodeSegment(id)}`,
  uploadCommit: (id: string, digest: string) => `/v1/uploads/${encodeSegment(id)}?${new URLSearchParams({ digest })}`,
  versions: (name: string) => `/v1/models/${encodeModelName(name)}/versions`,
  alias: (name: string, alias: string) => `/v1/models/${encodeModelName(name)}/aliases/${encodeSegment(alias)}`,
  rollback: (name: string, alias: string) => `/v1/models/${encodeModelName(name)}/aliases/${encodeSegment(alias)}/rollback`,
  resolve: (name: string, ref: string, at?: string) =>
    `/v1/resolve/${encodeModelName(name)}@${encodeSegment(ref)}${at === undefined ? '' : `?at=${encodeURIComponent(at)}`}`,
  file: (name: string, ref: string, path: string) =>
    `/v1/models/${encodeModelName(name)}@${encodeSegment(ref)}/files/${encodeFilePath(path)}`,
  model: (name: string) => `/v1/models/${encodeModelName(name)}`,
  version: (name: string, version: number) => `/v1/models/${encodeModelName(name)}/versions/${version}`,
  versionHistory: (name: string, version: number) => `/v1/models/${encodeModelName(name)}/versions/${version}/history`,
  retire: (name: string, version: number) => `/v1/models/${encodeModelName(name)}/versions/${version}/retire`,
  approvals: (name: string, version: number) => `/v1/models/${encodeModelName(name)}/versions/${version}/approvals`,
  aliasHistory: (name: string, alias: string, at?: string) =>
    `/v1/models/${encodeModelName(name)}/aliases/${encodeSegment(alias)}/history${at === undefined ? '' : `?${new URLSearchParams({ at })}`}`,
  deployments: (name: string) => `/v1/models/${encodeModelName(name)}/deployments`,
  tokens: () => '/v1/tokens',
  token: (id: string) => `/v1/tokens/${encodeSegment(id)}`,
  bom: (name: string, version: number) => `/v1/models/${encodeModelName(name)}/versions/${version}/bom`,
  signatures: (name: string, version: number) => `/v1/models/${encodeModelName(name)}/versions/${version}/signatures`,
  signature: (name: string, version: number, id: string) =>
    `/v1/models/${encodeModelName(name)}/versions/${version}/signatures/${encodeSegment(id)}`,
  inventory: (query: string) => `/v1/inventory${query}`,
  webhooks: () => '/v1/webhooks',
  webhook: (id: string, ...rest: string[]) => ['/v1/webhooks', id, ...rest].map((s, i) => (i === 0 ? s : encodeSegment(s))).join('/'),
  audit: (query: Record<string, string | number | undefined>) => withQuery('/v1/audit', query),
  auditVerify: () => '/v1/audit/verify',
  auditCheckpoints: () => '/v1/audit/checkpoints',
  checkpointKeys: () => '/.well-known/modelgate/checkpoint-keys',
  gc: () => '/v1/gc',
  impact: (target: string) => `/v1/impact?${new URLSearchParams({ target })}`,
  lineage: (name: string, ref: string) => `/v1/models/${encodeModelName(name)}/lineage?${new URLSearchParams({ ref })}`,
  blobVerify: () => '/v1/blobs/verify',
  fleet: (name?: string, page: { cursor?: string; limit?: number } = {}) =>
    withQuery('/v1/fleet', { model: name, cursor: page.cursor, limit: page.limit }),
  fleetHistory: (name: string, version?: number, format?: string) => withQuery('/v1/fleet/history', { model: name, version, format }),
  fleetReports: () => '/v1/fleet/reports',
  fleetUnregistered: () => '/v1/fleet/unregistered',
  controlPlane: () => '/v1/control-plane',
  controlPlaneRestore: () => '/v1/control-plane/restore',
};

/** `path?k=v&…` with the defined values only (and no `?` when there are none). */
function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}
