// One small request and its whole answer over node:http, for the API's JSON calls. fetch would do,
// but its first use loads undici and compiles its WebAssembly HTTP parser: about 60 ms of CPU
// before the first request, more than the rest of a `modelgate resolve` takes. Bulk bytes go
// through Http1Connection instead; this is only for answers that are read whole. node:http (or
// node:https) loads at the first call: a pull, which resolves over Http1Connection, never loads it.
import type { IncomingMessage } from 'node:http';

export interface JsonResponse {
  status: number;
  ok: boolean;
  statusText: string;
  url: string;
  headers: { get(name: string): string | null };
  /** The whole body; fails if the connection breaks before its end. */
  text(): Promise<string>;
}

export interface JsonRequestInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** Resolves once the status and headers are in (the body is read on); rejects when the server cannot be reached. */
export async function jsonRequest(url: string, init: JsonRequestInit): Promise<JsonResponse> {
  const target = new URL(url);
  const { request: send } = target.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const headers = { ...init.headers };
  if (init.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(init.body));
  return new Promise((resolve, reject) => {
    const req = send(target, { method: init.method, headers, signal: init.signal }, (res) => resolve(answer(url, res)));
    req.on('error', reject);
    req.end(init.body);
  });
}

function answer(url: string, res: IncomingMessage): JsonResponse {
  const body = new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the connection closed before the end of the answer')));
  });
  // Read or not, a broken body must not surface as an unhandled rejection.
  body.catch(() => undefined);
  const status = res.statusCode ?? 0;
  return {
    status,
    ok: status >= 200 && status < 300,
    statusText: res.statusMessage ?? '',
    url,
    headers: {
      get: (name) => {
        const value = res.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
    text: () => body,
  };
}
