export { MAX_DECLARED_CONTENT_LENGTH, ModelgateClient, type ClientOptions } from './modelgate-client.js';
export { ModelgateApiError, ModelgateConnectionError, ModelgateTransferError, isRetryableClientError } from './errors.js';
export { parseContentRange, type ContentRange } from './content-range.js';
export { encodeFilePath, encodeModelName, encodeSegment, paths } from './urls.js';
export type * from './types.js';
