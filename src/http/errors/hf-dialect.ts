// Errors the way Hugging Face Hub clients read them. huggingface_hub decides which exception to
// raise from the `X-Error-Code` header (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo)
// and shows `X-Error-Message`; HEAD responses have no body, so the headers carry everything. The
// body is `{"error": "<message>"}`, the shape the client folds into its exception text.
//
// Authentication and scope refusals are mapped so that the client reports them usefully:
// - no Authorization header: 401 + RepoNotFound, as the Hub answers an anonymous caller asking for
//   a private repo (every modelgate model needs a token); the client then tells the user to log in;
// - a token that is unknown, expired or revoked: 401 with the Hub's own message "Invalid
//   credentials in Authorization header", which the client treats as a credentials problem;
// - a valid token whose scope or role does not cover the model: 403 + RepoNotFound (what the Hub
//   says to a caller without access to a private repo), so the client raises RepositoryNotFoundError
//   with "make sure your token has the required permissions" instead of blaming the network. Other
//   403s (a commit whose alias move the policy refuses) carry no X-Error-Code, only their message.
import { AuthError } from '../../auth/authenticator.js';
import type { Dialect } from './dialect.js';
import { type Headers, HttpError } from './http-error.js';

export type HfErrorCode = 'RepoNotFound' | 'RevisionNotFound' | 'EntryNotFound';

/** The message the Hub sends for a bad token; huggingface_hub matches on it verbatim. */
export const INVALID_CREDENTIALS = 'Invalid credentials in Authorization header';

/** A refusal in Hub terms: `hfCode` goes out as X-Error-Code. */
export class HfError extends HttpError {
  constructor(
    status: number,
    readonly hfCode: HfErrorCode | null,
    message: string,
    headers?: Headers,
    /** More fields of the body beside `error`, where a client reads them (a 409 repo creation's `url`). */
    readonly body: Record<string, string> = {},
  ) {
    super(status, hfCode ?? 'HF_ERROR', message, undefined, headers);
  }
}

/** Header values must stay printable ASCII on one line; names and paths may hold anything else. */
export function headerSafe(text: string): string {
  const flat = text.replace(/[^\x20-\x7e]/g, '?');
  return flat.length > 400 ? `${flat.slice(0, 397)}...` : flat;
}

export const hfDialect: Dialect = (r, request) => {
  let hfCode: HfErrorCode | null = null;
  let status = r.status;
  // What goes into X-Error-Message; the body always carries the specific reason.
  let headerMessage = r.message;
  if (r.error instanceof HfError) hfCode = r.error.hfCode;
  else if (r.error instanceof AuthError) {
    const missing = request.authorization === '';
    status = 401;
    hfCode = missing ? 'RepoNotFound' : null;
    headerMessage = missing
      ? 'Repository not found: this server needs "Authorization: Bearer <modelgate token>" (set HF_TOKEN)'
      : INVALID_CREDENTIALS;
  } else if (r.status === 403 && r.code === 'FORBIDDEN') hfCode = 'RepoNotFound';
  const headers: Headers = { ...r.headers, 'Content-Type': 'application/json', 'X-Error-Message': headerSafe(headerMessage) };
  if (hfCode) headers['X-Error-Code'] = hfCode;
  const extra = r.error instanceof HfError ? r.error.body : {};
  return { status, headers, body: Buffer.from(JSON.stringify({ ...extra, error: r.message })) };
};

/**
 * For a capability URL (a grant in the path, no Authorization header by design): a refused grant
 * is an invalid credential, not an anonymous caller, and the body says why (expired, revoked).
 */
export const hfGrantDialect: Dialect = (r, request) => hfDialect(r, { ...request, authorization: request.authorization || 'grant' });
