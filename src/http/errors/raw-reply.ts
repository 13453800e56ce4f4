// The error pipeline's view of a bare uWS response, for the routes that answer without an
// Exchange (the resolve hot path, the watch upgrade): attaches onAborted at once, since an audited
// refusal is answered after an await.
import type { HttpResponse } from 'uWebSockets.js';
import type { Principal } from '../../domain/principal.js';
import { httpMetrics } from '../../metrics/metrics.js';
import { endWithoutBody } from '../end-without-body.js';
import { statusLine } from '../status.js';
import type { Headers } from './http-error.js';
import type { FailingRequest } from './pipeline.js';

export class RawReply implements FailingRequest {
  aborted = false;
  finished = false;
  readonly headersSent = false;

  constructor(
    private readonly res: HttpResponse,
    readonly method: string,
    readonly route: string,
    readonly path: string,
    readonly authorization: string,
    readonly principal: Principal | null,
    readonly model: string | null,
    private readonly started: number,
  ) {
    res.onAborted(() => {
      this.aborted = true;
    });
  }

  send(status: number, body: Buffer | null, headers: Headers, reportedLength?: number): void {
    if (this.aborted || this.finished) return;
    this.finished = true;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const key in headers) this.res.writeHeader(key, headers[key]!);
      if (body === null) endWithoutBody(this.res, reportedLength);
      else this.res.end(body);
    });
    httpMetrics.observe(this.route, this.method, status, (performance.now() - this.started) / 1000);
  }

  cut(): void {
    if (this.aborted || this.finished) return;
    this.finished = true;
    this.res.close();
  }
}
