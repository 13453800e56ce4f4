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
// - a valid token whose scope does not cover the model: 403 + RepoNotFound (what the Hub says to a
//   caller without access to a private repo), so the client raises RepositoryNotFoundError with
//   "make sure your token has the required permissions" instead of blaming the network.
// Refusals are audited exactly as on the v1 API, and answered once their audit entry is committed.
import { AuthError } from '../../../auth/authenticator.js';
import { ApiError } from '../../../domain/errors.js';
import { logger } from '../../../log.js';
import type { AppContext } from '../../app-context.js';
import type { Exchange, Headers } from '../../exchange.js';
import { auditRefusal, refusalActor } from '../../refusal-audit.js';

export type HfErrorCode = 'RepoNotFound' | 'RevisionNotFound' | 'EntryNotFound';

/** The message the Hub sends for a bad token; huggingface_hub matches on it verbatim. */
export const INVALID_CREDENTIALS = 'Invalid credentials in Authorization header';

/** A refusal in Hub terms: `hfCode` goes out as X-Error-Code. */
export class HfError extends ApiError {
  constructor(
    status: number,
    readonly hfCode: HfErrorCode | null,
    message: string,
    headers?: Headers,
  ) {
    super(status, hfCode ?? 'HF_ERROR', message, undefined, headers);
  }
}

export const repoNotFound = (name: string, why = 'does not exist') =>
  new HfError(404, 'RepoNotFound', `Repository "${name}" not found: the model ${why}`);

export const revisionNotFound = (name: string, revision: string, why = 'is not an alias, v<N>, main or a commit id of this model') =>
  new HfError(404, 'RevisionNotFound', `Invalid rev id: "${revision}" of ${name} ${why}`);

export const entryNotFound = (name: string, revision: string, path: string, commit: string, what = 'file') =>
  new HfError(404, 'EntryNotFound', `${name}@${revision} (commit ${commit}) has no ${what} "${path}"`, { 'X-Repo-Commit': commit });

/** Header values must stay printable ASCII on one line; names and paths may hold anything else. */
export function headerSafe(text: string): string {
  const flat = text.replace(/[^\x20-\x7e]/g, '?');
  return flat.length > 400 ? `${flat.slice(0, 397)}...` : flat;
}

interface Rendered {
  status: number;
  hfCode: HfErrorCode | null;
  /** What goes into X-Error-Message (for a bad token, the Hub's fixed text). */
  headerMessage: string;
  /** What goes into the body: the specific reason. */
  bodyMessage: string;
  headers: Headers;
}

function render(err: ApiError, x: Exchange): Rendered {
  if (err instanceof HfError) {
    return { status: err.status, hfCode: err.hfCode, headerMessage: err.message, bodyMessage: err.message, headers: { ...err.headers } };
  }
  if (err instanceof AuthError) {
    const missing = x.headers.authorization === '';
    return {
      status: 401,
      hfCode: missing ? 'RepoNotFound' : null,
      headerMessage: missing
        ? 'Repository not found: this server needs "Authorization: Bearer <modelgate token>" (set HF_TOKEN)'
        : INVALID_CREDENTIALS,
      bodyMessage: err.message,
      headers: { ...err.headers },
    };
  }
  if (err.status === 403) {
    return { status: 403, hfCode: 'RepoNotFound', headerMessage: err.message, bodyMessage: err.message, headers: { ...err.headers } };
  }
  return { status: err.status, hfCode: null, headerMessage: err.message, bodyMessage: err.message, headers: { ...err.headers } };
}

/**
 * Answers a failed HF request. Replaces Exchange.fail for these routes (same audit rules, same
 * cut-the-connection rule once bytes are out) with the Hub's error shape.
 */
export function hfFail(ctx: AppContext, x: Exchange, err: unknown): Promise<void> | void {
  if (x.aborted || x.finished) return;
  if (x.headersSent) return x.fail(err);
  const api = err instanceof ApiError ? err : null;
  if (!api) logger.error({ err, route: x.route, method: x.method, path: x.path }, 'request failed');
  const failure = api ?? new ApiError(500, 'INTERNAL', 'internal error');
  const respond = () => sendHfError(x, render(failure, x));
  const actor = api ? refusalActor(x.method, api, x.principal) : undefined;
  if (!actor) return respond();
  return auditRefusal(ctx.registry.audit, actor, x.route, x.method, x.path, api!, x.model).then(() => {
    if (!x.aborted) respond();
  });
}

function sendHfError(x: Exchange, r: Rendered): void {
  const headers: Headers = {
    ...r.headers,
    'Content-Type': 'application/json',
    'X-Error-Message': headerSafe(r.headerMessage),
  };
  if (r.hfCode) headers['X-Error-Code'] = r.hfCode;
  const body = Buffer.from(JSON.stringify({ error: r.bodyMessage }));
  if (x.method === 'HEAD') x.send(r.status, null, headers, body.length);
  else x.send(r.status, body, headers);
}
