// One HTTP POST to a webhook receiver: a hard timeout over the whole exchange, no redirects
// followed (a 3xx is a failed attempt, as Standard Webhooks expects), the response body read and
// dropped up to a small limit, and, unless private networks are allowed, connections only to
// public addresses (the host's resolved addresses are checked before connecting).
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { guardedLookup, urlRefusal } from '../lib/network-guard.js';

export interface SendResult {
  /** The response status, or null when none arrived (refused, timed out, connection failed). */
  status: number | null;
  latencyMs: number;
  error: string | null;
}

export interface SendOptions {
  timeoutMs: number;
  allowPrivateNetworks: boolean;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

export function postWebhook(url: string, headers: Record<string, string>, body: string, options: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const done = (status: number | null, error: string | null): SendResult => ({
    status,
    latencyMs: Math.round(performance.now() - started),
    error,
  });
  const refusal = urlRefusal(url, options.allowPrivateNetworks);
  if (refusal) return Promise.resolve(done(null, `refused: ${refusal}`));
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const payload = Buffer.from(body);
  const requestOptions: RequestOptions = {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': String(payload.length),
      'user-agent': 'modelgate-webhooks',
      ...headers,
    },
    agent: false,
    ...(options.allowPrivateNetworks ? {} : { lookup: guardedLookup as unknown as RequestOptions['lookup'] }),
  };
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = request(target, requestOptions, (res) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) res.destroy();
      });
      res.on('error', () => finish(done(status, null)));
      res.on('close', () =>
        finish(done(status, status >= 300 && status < 400 ? `redirect to ${res.headers.location ?? '?'} not followed` : null)),
      );
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(done(null, `no response within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish(done(null, err.code ? `${err.code}: ${err.message}` : err.message)));
    req.end(payload);
  });
}
