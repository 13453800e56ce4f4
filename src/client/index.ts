export { ModelgateClient, type ClientOptions } from './modelgate-client.js';
export { MAX_DECLARED_CONTENT_LENGTH, BlobRangeReader, type PositionedRead, type UploadOptions } from './blob-transfer.js';
export { RateLimiter } from './rate-limiter.js';
export type { ReceiveBuffers } from './http1-connection.js';
export { ModelgateApiError, ModelgateConnectionError, ModelgateTransferError, isRetryableClientError } from './errors.js';
export { parseContentRange, type ContentRange } from './content-range.js';
export { encodeFilePath, encodeModelName, encodeSegment, paths } from './urls.js';
export type * from './types.js';
