// The one way a failed request is answered, on every route: the failure becomes a Refusal
// (refusal.ts), a refusal by a known caller is audited and answered only once its entry is
// committed (refusal-audit.ts), and the answer is rendered in the route's dialect (v1, OCI, Hub).
// Once part of a response is out, an error can only cut the connection: ending normally would
// present a partial transfer as complete.
import { logger } from '../../log.js';
import { type Dialect, type RequestView, v1Dialect } from './dialect.js';
import type { Headers } from './http-error.js';
import { toRefusal } from './refusal.js';
import type { RefusalAuditor, RefusedRequest } from './refusal-audit.js';

/** A request that can still be answered: an Exchange, or a bare uWS response (raw-reply.ts). */
export interface FailingRequest extends RefusedRequest, RequestView {
  readonly aborted: boolean;
  readonly finished: boolean;
  readonly headersSent: boolean;
  /** A null body sends none; `reportedLength` is the Content-Length a HEAD announces. */
  send(status: number, body: Buffer | null, headers: Headers, reportedLength?: number): void;
  cut(): void;
}

export class ErrorPipeline {
  constructor(private readonly audit: RefusalAuditor) {}

  /** Answers `request` with `err`; the promise (if any) settles once the answer is out. */
  fail(request: FailingRequest, err: unknown, dialect: Dialect = v1Dialect): Promise<void> | void {
    if (request.aborted || request.finished) return;
    if (request.headersSent) {
      request.cut();
      return;
    }
    const refusal = toRefusal(err);
    if (!refusal.error) logger.error({ err, route: request.route, method: request.method, path: request.path }, 'request failed');
    const respond = () => {
      if (request.aborted) return;
      const { status, headers, body } = dialect(refusal, request);
      if (request.method === 'HEAD') request.send(status, null, headers, body.length);
      else request.send(status, body, headers);
    };
    const auditing = refusal.status < 500 ? this.audit(request, refusal) : undefined;
    if (auditing) return auditing.then(respond);
    respond();
  }
}
