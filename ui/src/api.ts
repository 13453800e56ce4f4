// The console's only way to the server: the public JSON API with the signed-in token as a Bearer
// header. No cookies are set or sent, so there is no cross-site request to forge.
import { session } from './session';

export interface ApiErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: ApiErrorBody,
  ) {
    super(error.message);
  }
}

/** `accept`: statuses besides 2xx whose body is the answer (a broken audit chain is 409 with its verdict). */
export async function apiFetch(path: string, init: RequestInit = {}, token = session.token(), accept: number[] = []): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set('Authorization', `Bearer ${token}`);
  if (init.body !== undefined) headers.set('Content-Type', 'application/json');
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiFailure(0, { code: 'NETWORK', message: 'the server cannot be reached' });
  }
  if (res.status === 401 && token === session.token()) session.expired();
  if (!res.ok && !accept.includes(res.status)) {
    let error: ApiErrorBody = { code: `HTTP_${res.status}`, message: res.statusText || 'request failed' };
    try {
      const body = (await res.json()) as { error?: ApiErrorBody };
      if (body.error && typeof body.error.message === 'string') error = body.error;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiFailure(res.status, error);
  }
  return res;
}

export async function api<T>(path: string, init: RequestInit = {}, accept: number[] = []): Promise<T> {
  const res = await apiFetch(path, init, session.token(), accept);
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

export function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  return api<T>(path, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

/** `team/fraud` → `team/fraud` with each segment escaped, for building API paths. */
export function modelPath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : '';
}
