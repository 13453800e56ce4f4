// Step two of the error pipeline: a Refusal rendered the way one family of clients reads errors.
// v1 (modelgate's own API) is here; the OCI distribution spec and the Hugging Face Hub have their
// own files beside it.
import type { Headers } from './http-error.js';
import type { Refusal } from './refusal.js';

export interface RenderedError {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** What a dialect may look at of the request besides the refusal. */
export interface RequestView {
  /** The Authorization header as the route saw it ('' when absent). */
  readonly authorization: string;
}

export type Dialect = (refusal: Refusal, request: RequestView) => RenderedError;

/** modelgate's own shape: {"error":{"code","message","details"?}}. */
export const v1Dialect: Dialect = (r) => ({
  status: r.status,
  headers: { 'Content-Type': 'application/json', ...r.headers },
  body: Buffer.from(
    JSON.stringify({ error: { code: r.code, message: r.message, ...(r.details !== undefined ? { details: r.details } : {}) } }),
  ),
});
