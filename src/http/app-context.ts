import type { Authenticator } from '../auth/authenticator.js';
import type { BlobGuard } from '../blobs/blob-guard.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type { HashPool } from '../blobs/hash-pool.js';
import type { UploadSessionStore } from '../blobs/upload-sessions.js';
import type { Config } from '../config/schema.js';
import type { Fleet } from '../registry/fleet/fleet.js';
import type { Registry } from '../registry/registry.js';
import type { ErrorPipeline } from './errors/pipeline.js';
import type { InFlight } from './in-flight.js';
import type { LoopShare } from './loop-share.js';
import type { PeerAddresses } from './peer-address.js';
import type { SocketSend } from './socket-send.js';
import type { DeliveryWorker } from '../webhooks/delivery-worker.js';

/** What route handlers need, built once at start. */
export interface AppContext {
  config: Config;
  auth: Authenticator;
  registry: Registry;
  blobGuard: BlobGuard;
  blobs: BlobStore;
  hashPool: HashPool;
  uploads: UploadSessionStore;
  /** Answers every failed request (audit, dialect); see src/http/errors/. */
  errors: ErrorPipeline;
  /** Requests still in progress, which shutdown waits for. */
  inFlight: InFlight;
  /** How much of the event loop request bodies may take while other requests are answered. */
  loopShare: LoopShare;
  /** Fleet telemetry; null when fleet.enabled is false. */
  fleet: Fleet | null;
  /** Reads a request's peer address, fleet telemetry's identity of a caller without a deployment header. */
  peers: PeerAddresses;
  /** Sends the webhook outbox; routes wake it after a replay and use it for pings. */
  webhooks: DeliveryWorker;
  /**
   * Sends large download bodies from the blob's file with sendfile(2) (socket-send.ts); null where
   * it is not used (TLS, server.downloadSource other than auto, the addon not built).
   */
  socketSend: SocketSend | null;
  /** False while starting and once shutdown begins; /readyz reports it. */
  ready: () => boolean;
}
