// Turning an error answer into a ModelgateApiError: the JSON error body's code and message when
// there is one, otherwise the status and the start of whatever came back.
import { ModelgateApiError } from './errors.js';

export function apiErrorFromText(status: number, text: string, method: string, path: string, statusText = ''): ModelgateApiError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const e = parsed.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') {
      return new ModelgateApiError(status, e.code, e.message, e.details);
    }
  } catch {
    // Not the JSON error shape (a proxy's HTML page, or a HEAD without a body): describe the status.
  }
  const summary = text.trim().slice(0, 200) || statusText || 'request failed';
  return new ModelgateApiError(status, `HTTP_${status}`, `${method} ${path}: ${summary}`);
}
