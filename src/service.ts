// Builds a running gateway from a configuration, and takes it down in order.
import { hostname } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { keySpec, type TrustedIdentity, type TrustedKey, trustedIdentity, trustedKey } from './lib/sigstore-bundle.js';
import { Authenticator } from './auth/authenticator.js';
import type { BlobStore } from './blobs/blob-store.js';
import { CachedBlobStore } from './blobs/edge-cache.js';
import { S3BlobStore } from './blobs/s3-blob-store.js';
import { BlobGuard } from './blobs/blob-guard.js';
import { FsBlobStore } from './blobs/fs-blob-store.js';
import { HashPool } from './blobs/hash-pool.js';
import { UploadSessions, type UploadSession, type UploadSessionStore } from './blobs/upload-sessions.js';
import { S3SessionParts } from './blobs/s3/session-parts.js';
import { SharedUploadSessions, type SharedSession } from './blobs/shared-upload-sessions.js';
import type { Config } from './config/schema.js';
import type { EventBus } from './events/event-bus.js';
import { LocalEventBus } from './events/local-bus.js';
import { noticeChannel, RedisEventBus } from './events/redis-bus.js';
import type { AppContext } from './http/app-context.js';
import { ErrorPipeline } from './http/errors/pipeline.js';
import { refusalAuditor } from './http/errors/refusal-audit.js';
import { InFlight } from './http/in-flight.js';
import { LoopShare, SERVER_LOOP_SHARE } from './http/loop-share.js';
import { chooseDownloadSource, yieldTo } from './http/download.js';
import { socketSendFor } from './http/socket-send.js';
import { PeerAddresses } from './http/peer-address.js';
import { createApp, listen } from './http/server.js';
import { logger } from './log.js';
import { replicationMetrics } from './metrics/metrics.js';
import { Fleet } from './registry/fleet/fleet.js';
import { CheckpointKeyring } from './registry/checkpoint-keys.js';
import { Registry } from './registry/registry.js';
import { replicate } from './registry/replication.js';
import type { ControlStore } from './store/control-store.js';
import { LmdbControlStore } from './store/lmdb/lmdb-control-store.js';
import { rehearseChanges } from './registry/warm-up.js';
import { openLmdbScratch } from './index/lmdb-scratch.js';
import type { FleetStore } from './store/fleet-store.js';
import { LmdbFleetStore } from './store/lmdb/lmdb-fleet-store.js';
import { DeliveryWorker } from './webhooks/delivery-worker.js';
import { tlsEnabled } from './http/tls.js';
import { RedisControlStore } from './store/redis/redis-control-store.js';
import { RedisFleetStore } from './store/redis/redis-fleet-store.js';

export interface RunningService {
  host: string;
  port: number;
  /** The bootstrap admin token, only on the first start without MODELGATE_ADMIN_TOKEN. */
  createdAdminToken?: string;
  shutdown(reason: string): Promise<void>;
}

export async function startService(config: Config): Promise<RunningService> {
  // First, before anything is opened: a key that cannot be read or created stops the start cleanly.
  const keyring = await loadKeyring(config);
  if (keyring.generatedAt) logger.info({ keyFile: keyring.generatedAt, keyId: keyring.signingKeyId }, 'generated a checkpoint signing key');
  const dataDir = config.storage.dataDir;
  const store =
    config.control.backend === 'redis'
      ? await RedisControlStore.open({
          url: config.redis.url,
          prefix: config.redis.prefix,
          dataDir,
          antiEntropyMs: config.redis.antiEntropyMs,
          nodeExpiryMs: config.redis.nodeExpirySeconds * 1000,
          noticeChannel: noticeChannel(config.redis.prefix),
        })
      : new LmdbControlStore(dataDir);
  // Before serving: run the change path on scratch tables, so the first real changes do not run it cold (registry/warm-up.ts).
  // A failure (no writable temp dir) only costs the warm start, never the node.
  if (config.control.warmUpChanges > 0) {
    try {
      const { ms } = rehearseChanges(config.control.warmUpChanges, openLmdbScratch);
      logger.info({ changes: config.control.warmUpChanges, ms: Math.round(ms) }, 'rehearsed the change path');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not rehearse the change path at start-up; serving without it');
    }
  }
  const blobs = await openBlobStore(config);
  const bus: EventBus =
    config.control.backend === 'redis' ? await RedisEventBus.open(config.redis.url, config.redis.prefix) : new LocalEventBus();
  replicate(store, bus, (seconds) => replicationMetrics.applySeconds.observe(seconds));
  const blobGuard = new BlobGuard();
  const registry = new Registry(store, blobs, blobGuard, config.policy.aliases, keyring, config.stacks, {
    allowPrivateWebhooks: config.webhooks.allowPrivateNetworks,
    signing: {
      keys: await loadTrustedKeys(config.signing.trustedKeys),
      identities: await loadTrustedIdentities(config.signing.certificateIdentities),
    },
  });
  const webhooks = new DeliveryWorker(registry, config.webhooks);
  const hashPool = new HashPool(config.hashing.threads);
  const uploads = await openUploadSessions(config, store, blobs, hashPool);
  const { auth, created } = await Authenticator.bootstrap(registry.tokens, config.auth.adminToken);

  const fleet = config.fleet.enabled ? new Fleet(await openFleetStore(config), registry, fleetOptions(config)) : null;

  let ready = false;
  const sendfile = socketSendFor(config.server.downloadSource, tlsEnabled(config.server.tls));
  const peers = PeerAddresses.load(tlsEnabled(config.server.tls));
  const ctx: AppContext = {
    config,
    auth,
    registry,
    blobGuard,
    blobs,
    hashPool,
    uploads,
    fleet,
    errors: new ErrorPipeline(refusalAuditor(registry.audit)),
    inFlight: new InFlight(),
    loopShare: new LoopShare(SERVER_LOOP_SHARE),
    webhooks,
    socketSend: sendfile.sender,
    peers,
    ready: () => ready,
  };
  const downloads = chooseDownloadSource(config.server.downloadSource);
  // Downloads copy in larger turns while no other request arrives (turn-budget.ts).
  yieldTo(ctx.loopShare);
  logger.info(downloads, `downloads read blobs with ${downloads.source}`);
  logger.info(
    { sendfile: sendfile.sender !== null, reason: sendfile.reason },
    sendfile.sender ? `downloads send ${sendfile.reason} with sendfile` : `downloads do not use sendfile: ${sendfile.reason}`,
  );
  const server = await listen(createApp(ctx), config.server.host, config.server.port, (socket) => peers.watch(socket));
  const peerReads = peers.describe();
  logger.info(
    peerReads,
    peerReads.fromAccept
      ? 'peer addresses are read from what accept saw'
      : `peer addresses are read with a system call each: ${peerReads.reason}`,
  );
  sendfile.sender?.listeningOn(server.port);
  if (fleet) {
    // Named once the port is known, so nodes on one host stay apart.
    fleet.options.node ||= `${hostname()}:${server.port}`;
    fleet.start();
  }
  // In the control store's heartbeat, so that `control-plane status` can say where each node is.
  store.registerNode(`${tlsEnabled(config.server.tls) ? 'https' : 'http'}://${config.server.host}:${server.port}`);

  const sweep = () =>
    uploads.sweep().then(
      (removed) => removed > 0 && logger.info({ removed }, 'expired upload sessions removed'),
      (err: unknown) => logger.error({ err }, 'upload sweep failed'),
    );
  await sweep();
  const sweeper = setInterval(sweep, config.uploads.sweepIntervalSeconds * 1000);
  sweeper.unref();
  const stopCheckpoints = registry.checkpoints.schedule(config.checkpoints.intervalSeconds * 1000);
  webhooks.start();
  ready = true;

  let stopping: Promise<void> | null = null;
  const shutdown = (reason: string) => {
    stopping ??= (async () => {
      logger.info({ reason }, 'shutting down: no new connections; waiting for transfers in flight');
      ready = false;
      clearInterval(sweeper);
      stopCheckpoints?.();
      server.stopListening();
      const graceMs = config.server.shutdownGraceSeconds * 1000;
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        ctx.inFlight.whenIdle().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
      ]);
      clearTimeout(timer);
      if (!drained) logger.warn({ graceSeconds: config.server.shutdownGraceSeconds }, 'grace period over; cutting remaining transfers');
      await fleet?.close();
      await webhooks.stop();
      await hashPool.close();
      await bus.close();
      await blobs.close();
      await store.close();
      logger.info('stopped');
    })();
    return stopping;
  };

  return { host: config.server.host, port: server.port, ...(created ? { createdAdminToken: created } : {}), shutdown };
}

/**
 * The checkpoint keyring. The key file defaults to a sibling of the data directory (never inside
 * it); a single node generates it on first start, nodes sharing Redis sign only with a key given.
 */
function loadKeyring(config: Config): Promise<CheckpointKeyring> {
  const c = config.checkpoints;
  const keyFile = c.keyFile || `${resolve(config.storage.dataDir)}.checkpoint-key.pem`;
  return CheckpointKeyring.load({
    keyFile,
    generate: config.control.backend === 'lmdb',
    retiredKeyFiles: c.retiredKeyFiles,
  });
}

/** Fleet telemetry lives beside the control store: its own LMDB environment, or the same Redis. */
async function openFleetStore(config: Config): Promise<FleetStore> {
  if (config.control.backend === 'redis') return RedisFleetStore.open({ url: config.redis.url, prefix: config.redis.prefix });
  return new LmdbFleetStore(config.storage.dataDir);
}

function fleetOptions(config: Config) {
  const f = config.fleet;
  return {
    node: f.nodeName,
    flushIntervalMs: f.flushIntervalMs,
    maxPendingEntries: f.maxPendingEntries,
    maxRecords: f.maxRecords,
    instanceSilenceSeconds: f.instanceSilenceSeconds,
    stragglerWindowSeconds: f.stragglerWindowSeconds,
    retentionDays: f.retentionDays,
    maxReportFiles: f.maxReportFiles,
    trustedProxies: f.trustedProxies,
    watchIntervalMs: f.watchIntervalSeconds * 1000,
  };
}

/** The disk store, or the bucket behind this node's edge cache. */
/**
 * Upload sessions on S3 are shared (state in the control store's shared table, bytes in the
 * bucket), so any node continues any session; on the disk store they are node-local.
 */
async function openUploadSessions(config: Config, store: ControlStore, blobs: BlobStore, hashPool: HashPool): Promise<UploadSessionStore> {
  const { dataDir } = config.storage;
  const ttl = config.uploads.sessionTtlSeconds;
  if (blobs.origin instanceof S3BlobStore) {
    const parts = new S3SessionParts(blobs.origin);
    return SharedUploadSessions.open(store.sharedTable<SharedSession>('uploads'), parts, blobs, hashPool, dataDir, ttl);
  }
  return UploadSessions.open(store.openLocalTable<UploadSession>('uploads'), dataDir, ttl, hashPool, blobs);
}

async function openBlobStore(config: Config): Promise<BlobStore> {
  if (config.blobs.backend === 'fs') return FsBlobStore.open(config.storage.dataDir);
  const { s3, cache } = config.blobs;
  const origin = new S3BlobStore({
    bucket: s3.bucket,
    region: s3.region,
    prefix: s3.prefix,
    forcePathStyle: s3.forcePathStyle,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
  });
  return CachedBlobStore.open(origin, { dir: cache.dir || join(config.storage.dataDir, 'blob-cache'), maxBytes: cache.maxBytes });
}

/**
 * The public keys model signatures are verified with, each with its expiry if it has one; a file
 * that is not a PEM public key, or an expiry that is not a date-time, stops the start.
 */
async function loadTrustedKeys(entries: readonly (string | { file: string; validUntil: string })[]): Promise<TrustedKey[]> {
  return Promise.all(
    entries.map(async (entry) => {
      let spec: { file: string; validUntil?: string };
      try {
        spec = typeof entry === 'string' ? keySpec(entry) : { file: entry.file, validUntil: new Date(entry.validUntil).toISOString() };
      } catch (err) {
        throw new Error(`signing.trustedKeys: ${(err as Error).message}`);
      }
      let key: TrustedKey;
      try {
        key = trustedKey(await readFile(spec.file), spec.validUntil);
      } catch (err) {
        throw new Error(`signing.trustedKeys: ${spec.file} is not a readable PEM public key (${(err as Error).message})`);
      }
      if (key.validUntil && Date.parse(key.validUntil) < Date.now())
        logger.warn({ keyId: key.id, validUntil: key.validUntil }, 'a trusted signing key has expired: it verifies no new signature');
      return key;
    }),
  );
}

/** The certificate identities model signatures may be signed by; a CA file that is not a PEM CA chain stops the start. */
async function loadTrustedIdentities(
  entries: readonly { caFile: string; subjectAlternativeName: string; issuer?: string | undefined }[],
): Promise<TrustedIdentity[]> {
  return Promise.all(
    entries.map(async (entry) => {
      try {
        return trustedIdentity(await readFile(entry.caFile), entry.subjectAlternativeName, entry.issuer);
      } catch (err) {
        throw new Error(`signing.certificateIdentities: ${entry.caFile} is not a readable PEM CA chain (${(err as Error).message})`);
      }
    }),
  );
}
