// Resumable uploads that any node continues: behind a load balancer without stickiness an OCI
// client's POST, PATCH and PUT land on different nodes. The session's state (owner, expiry,
// offset, the list of its stored chunks) is a row in the control store's shared table (Redis
// with several nodes); its bytes are objects in the bucket, one per chunk (s3/session-parts.ts).
// A chunk is appended by storing its object and then swapping the row from the state it started
// at to the state after it: of two requests that raced from one offset, one swap wins and the
// other's object is removed (416 with the offset to resume from). The commit takes the digest
// from this node's running hash when every chunk arrived here in order (no byte read again),
// else reads the chunks back from the bucket and hashes them; only a verified session is copied,
// inside the bucket, under its digest's key.
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { notFound } from '../domain/errors.js';
import type { SharedTable } from '../index/shared-table.js';
import { logger } from '../log.js';
import type { BlobInfo, BlobStore } from './blob-store.js';
import type { HashPool } from './hash-pool.js';
import { RunningHashes } from './running-hashes.js';
import type { S3SessionParts, SessionPart } from './s3/session-parts.js';
import {
  digestMismatch,
  isSessionId,
  offsetMismatch,
  type SessionChunk,
  type SessionState,
  type UploadSession,
  type UploadSessionStore,
} from './upload-sessions.js';

/** A session's row in the shared table. */
export interface SharedSession extends UploadSession {
  offset: number;
  parts: SessionPart[];
}

type Caller = { id: string; role: string };

export class SharedUploadSessions implements UploadSessionStore {
  readonly hashes: RunningHashes;

  private constructor(
    private readonly table: SharedTable<SharedSession>,
    private readonly parts: S3SessionParts,
    private readonly blobs: BlobStore,
    private readonly hashPool: HashPool,
    /** Where a commit that must read a session back puts its bytes (node-local, removed after). */
    private readonly scratch: string,
    private readonly ttlMs: number,
  ) {
    this.hashes = new RunningHashes(hashPool);
  }

  static async open(
    table: SharedTable<SharedSession>,
    parts: S3SessionParts,
    blobs: BlobStore,
    hashPool: HashPool,
    dataDir: string,
    ttlSeconds: number,
  ): Promise<SharedUploadSessions> {
    const scratch = join(dataDir, 'uploads-readback');
    await fsp.rm(scratch, { recursive: true, force: true });
    await fsp.mkdir(scratch, { recursive: true });
    return new SharedUploadSessions(table, parts, blobs, hashPool, scratch, ttlSeconds * 1000);
  }

  async create(actor: { id: string; name: string }): Promise<SessionState> {
    const now = Date.now();
    const row: SharedSession = {
      id: randomUUID(),
      createdAt: new Date(now).toISOString(),
      createdBy: actor.name,
      createdById: actor.id,
      updatedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.ttlMs).toISOString(),
      offset: 0,
      parts: [],
    };
    await this.table.create(row.id, row);
    return stateOf(row);
  }

  async get(id: string, caller: Caller): Promise<SessionState> {
    return stateOf(await this.find(id, caller, false));
  }

  /** The row, or 404 as on the disk store: expired, unknown, or opened by another token (an admin may only cancel). */
  private async find(id: string, caller: Caller, adminMayUse: boolean): Promise<SharedSession> {
    const row = isSessionId(id) ? await this.table.get(id) : undefined;
    const allowed = row && (row.createdById === caller.id || (adminMayUse && caller.role === 'admin'));
    if (!row || !allowed || Date.parse(row.expiresAt) <= Date.now()) {
      throw notFound('UPLOAD_NOT_FOUND', `upload session "${id.slice(0, 64)}" does not exist or has expired`);
    }
    return row;
  }

  async openChunk(id: string, caller: Caller, claimedStart: number | null): Promise<SessionChunk> {
    const row = await this.find(id, caller, false);
    if (claimedStart !== null && claimedStart !== row.offset) throw offsetMismatch(row.offset, claimedStart);
    const key = this.parts.keyFor(id, row.offset);
    const writer = this.parts.writer(key);
    return {
      session: stateOf(row),
      get bytesWritten() {
        return writer.bytesWritten;
      },
      write: (chunk) => writer.write(chunk),
      drop: () => writer.abort(),
      keep: async () => {
        const size = writer.bytesWritten;
        if (size > 0) await writer.commitObject();
        else await writer.abort();
        const now = Date.now();
        const next: SharedSession = {
          ...row,
          offset: row.offset + size,
          parts: size > 0 ? [...row.parts, { key, size }] : row.parts,
          updatedAt: new Date(now).toISOString(),
          expiresAt: new Date(now + this.ttlMs).toISOString(),
        };
        if (await this.table.swap(id, row, next)) return stateOf(next);
        // Another request appended (or the session ended) since this chunk started: it is not kept.
        if (size > 0) await this.parts.delete([{ key, size }]);
        const now2 = await this.find(id, caller, false);
        throw offsetMismatch(now2.offset, row.offset);
      },
    };
  }

  async commit(id: string, digest: string): Promise<BlobInfo> {
    const row = await this.table.get(id);
    if (!row) throw notFound('UPLOAD_NOT_FOUND', `upload session "${id}" does not exist`);
    const local = join(this.scratch, `${id}.${randomUUID()}`);
    let readBack = false;
    try {
      const actual = await this.hashes.digestOf(id, row.offset, async () => {
        // The session moved between nodes (or its hash broke off): its bytes are read back.
        readBack = true;
        await fsp.writeFile(local, '');
        await this.parts.download(row.parts, local);
        return this.hashPool.hashFile(local);
      });
      if (actual.size !== row.offset || `sha256:${actual.hex}` !== digest) {
        await this.end(row);
        throw digestMismatch(digest, actual);
      }
      let info: BlobInfo;
      if (row.parts.length > 0 && (await this.parts.assemble(row.parts, digest))) {
        info = { digest, size: row.offset, modifiedAt: Date.now() };
      } else {
        // Parts S3 cannot join in place (small chunks, or none): the verified bytes are sent once more.
        if (!readBack) {
          await fsp.writeFile(local, '');
          await this.parts.download(row.parts, local);
        }
        info = await this.blobs.ingestFile(local, digest);
      }
      await this.end(row);
      return info;
    } finally {
      await fsp.rm(local, { force: true });
    }
  }

  async cancel(id: string, caller: Caller): Promise<void> {
    await this.end(await this.find(id, caller, true));
  }

  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for await (const { value } of this.table.entries()) {
      if (Date.parse(value.expiresAt) > now) continue;
      await this.end(value);
      removed++;
    }
    return removed;
  }

  /** Removes the row (only as it was read: a chunk kept meanwhile keeps it alive) and then its parts. */
  private async end(row: SharedSession): Promise<void> {
    this.hashes.drop(row.id);
    const current = await this.table.get(row.id);
    if (!current) return;
    await this.table.remove(row.id);
    await this.parts.delete(current.parts);
    logger.debug({ session: row.id, parts: current.parts.length }, 'upload session ended');
  }
}

function stateOf(row: SharedSession): SessionState {
  const { parts: _parts, ...session } = row;
  return session;
}
