import type { TestServer } from './server.js';

/** Creates a token as the bootstrap admin and returns its secret. */
export async function createToken(
  server: TestServer,
  name: string,
  role: string,
  scope = '*',
  extra: Record<string, unknown> = {},
): Promise<{ id: string; token: string }> {
  const res = await fetch(`${server.url}/v1/tokens`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, role, scope, ...extra }),
  });
  const body = (await res.json()) as { id: string; token: string };
  if (res.status !== 201) throw new Error(`token creation failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** `api`-like call with an explicit token. */
export async function as(
  server: TestServer,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

/**
 * Puts the version on `@staging` (an ungated stage under the default policy), so that the default
 * promotion path (production after staging, shadow or canary) lets it reach production later.
 */
export async function stage(server: TestServer, token: string, name: string, version: number, alias = 'staging'): Promise<void> {
  const res = await as(server, token, 'PUT', `/v1/models/${name}/aliases/${alias}`, { version });
  if (res.status !== 200) throw new Error(`staging ${name}@v${version} failed: ${res.status} ${JSON.stringify(res.json)}`);
}
