import type { HttpResponse } from 'uWebSockets.js';

/**
 * Ends a response with no body. This uWS build aborts the whole process when endWithoutBody gets
 * a length argument (and reads an explicit undefined as 2^63), so the length goes in by hand.
 */
export function endWithoutBody(res: HttpResponse, reportedLength: number | undefined, close = false): void {
  if (reportedLength !== undefined) res.writeHeader('Content-Length', String(reportedLength));
  if (close) res.writeHeader('Connection', 'close');
  res.endWithoutBody();
}
