// Resumable uploads: the interface the upload routes use, and its node-local implementation for
// the disk blob store. There a session is a row in a node-local table and a file under uploads/;
// the file's length is the committed offset, so a restart resumes exactly where the bytes on disk
// end. Sessions on a shared blob store (S3), which any node continues, are shared-upload-sessions.ts.
import { randomUUID } from 'node:crypto';
import { promises as fsp, statSync } from 'node:fs';
import { join } from 'node:path';
import { type DomainError, badRequest, conflict, notFound, outOfRange } from '../domain/errors.js';
import type { LocalTable } from '../index/local-table.js';
import type { BlobInfo, BlobStore } from './blob-store.js';
import { writeFullySync } from './cache/fd-io.js';
import type { HashPool, HashResult } from './hash-pool.js';
import type { ChunkSink, DirectFile } from './ingest.js';
import { WriteBack } from './write-back.js';
import { RunningHashes } from './running-hashes.js';

export type SessionState = UploadSession & { offset: number };

/** One chunk being appended to a session: written through `write`, then kept or dropped. */
export interface SessionChunk extends ChunkSink {
  /** The session as it stood when the chunk opened (its offset is where the chunk starts). */
  readonly session: SessionState;
  /** Keeps the chunk and returns the session after it (409/416 if another request appended first). */
  keep(): Promise<SessionState>;
  /**
   * Takes the chunk back. `cut`: the client vanished mid-chunk; a store that can keep what
   * arrived (the disk) does, so the client resumes from there.
   */
  drop(cut: boolean): Promise<void>;
}

/** What the upload routes need of resumable sessions, whichever store keeps them. */
export interface UploadSessionStore {
  /** Sessions whose chunks arrived in order on this node, hashed as they came (see running-hashes.ts). */
  readonly hashes: RunningHashes;
  create(actor: { id: string; name: string }): Promise<SessionState>;
  /** The caller's session, or 404 (expired, unknown, or another token's). */
  get(id: string, caller: { id: string; role: string }): Promise<SessionState>;
  /** Opens a chunk at the session's offset, refused with 416 if the client claims another start. */
  openChunk(id: string, caller: { id: string; role: string }, claimedStart: number | null): Promise<SessionChunk>;
  /** Verifies the session's bytes against `digest`, stores them as that blob and ends the session; a mismatch discards it. */
  commit(id: string, digest: string): Promise<BlobInfo>;
  cancel(id: string, caller: { id: string; role: string }): Promise<void>;
  /** Removes expired sessions; how many. */
  sweep(now?: number): Promise<number>;
}

/** The refusal of a commit whose bytes are not the blob named. */
export function digestMismatch(digest: string, actual: HashResult): DomainError {
  return badRequest('DIGEST_MISMATCH', `the uploaded bytes have digest sha256:${actual.hex}, not ${digest}; the upload was discarded`, {
    expected: digest,
    actual: `sha256:${actual.hex}`,
    size: actual.size,
  });
}

export interface UploadSession {
  id: string;
  createdAt: string;
  createdBy: string;
  /** Token id of the creator: only it may use the session; an admin may cancel it. */
  createdById: string;
  updatedAt: string;
  expiresAt: string;
}

export class UploadSessions implements UploadSessionStore {
  private readonly busy = new Set<string>();
  /** Sessions whose chunks arrived in order here: their commit needs no second read (see running-hashes.ts). */
  readonly hashes: RunningHashes;

  private constructor(
    private readonly table: LocalTable<UploadSession>,
    private readonly dir: string,
    private readonly ttlMs: number,
    private readonly hashPool: HashPool,
    private readonly blobs: BlobStore,
  ) {
    this.hashes = new RunningHashes(hashPool);
  }

  static async open(
    table: LocalTable<UploadSession>,
    dataDir: string,
    ttlSeconds: number,
    hashPool: HashPool,
    blobs: BlobStore,
  ): Promise<UploadSessions> {
    const dir = join(dataDir, 'uploads');
    await fsp.mkdir(dir, { recursive: true });
    return new UploadSessions(table, dir, ttlSeconds * 1000, hashPool, blobs);
  }

  async openChunk(id: string, caller: { id: string; role: string }, claimedStart: number | null): Promise<SessionChunk> {
    await this.get(id, caller);
    const release = this.lock(id);
    try {
      // The offset is read under the lock: a request that finished just before may have moved it.
      const session = await this.get(id, caller);
      if (claimedStart !== null && claimedStart !== session.offset) throw offsetMismatch(session.offset, claimedStart);
      const appender = await this.appender(id, session.offset);
      let settled = false;
      const settle = async (keep: boolean, cut: boolean) => {
        if (settled) return;
        settled = true;
        try {
          if (!keep && !cut) await appender.discard();
          await appender.close(true);
        } finally {
          release();
        }
      };
      return {
        session,
        get bytesWritten() {
          return appender.bytesWritten;
        },
        write: (chunk) => appender.write(chunk),
        direct: appender.direct,
        keep: async () => {
          await settle(true, false);
          await this.touch(id);
          return this.get(id, caller);
        },
        drop: (cut) => settle(false, cut),
      };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Hashes the session's bytes (unless hashed on arrival); on a match moves them into the blob store, else discards them. */
  async commit(id: string, digest: string): Promise<BlobInfo> {
    const release = this.lock(id);
    try {
      const path = this.pathOf(id);
      const { size: stored } = await fsp.stat(path);
      const actual = await this.hashes.digestOf(id, stored, () => this.hashPool.hashFile(path));
      if (`sha256:${actual.hex}` !== digest) {
        await this.remove(id);
        throw digestMismatch(digest, actual);
      }
      const info = await this.blobs.ingestFile(path, digest);
      await this.remove(id);
      return info;
    } finally {
      release();
    }
  }

  pathOf(id: string): string {
    return join(this.dir, id);
  }

  async create(actor: { id: string; name: string }): Promise<UploadSession & { offset: number }> {
    const id = randomUUID();
    const now = Date.now();
    const session: UploadSession = {
      id,
      createdAt: new Date(now).toISOString(),
      createdBy: actor.name,
      createdById: actor.id,
      updatedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.ttlMs).toISOString(),
    };
    await (await fsp.open(this.pathOf(id), 'wx')).close();
    await this.table.put(id, session);
    return { ...session, offset: 0 };
  }

  /**
   * The session and its offset, or 404: an expired session counts as gone, and so does one that
   * another token opened (its id alone is not a credential). A session belongs to its opener:
   * only that token reads, appends to or commits it; an admin may only cancel it (see cancel).
   */
  async get(id: string, caller: { id: string; role: string }): Promise<UploadSession & { offset: number }> {
    return this.find(id, caller, false);
  }

  private async find(id: string, caller: { id: string; role: string }, adminMayUse: boolean): Promise<UploadSession & { offset: number }> {
    const session = isSessionId(id) ? this.table.get(id) : undefined;
    const allowed = session && (session.createdById === caller.id || (adminMayUse && caller.role === 'admin'));
    if (!session || !allowed || Date.parse(session.expiresAt) <= Date.now()) {
      throw notFound('UPLOAD_NOT_FOUND', `upload session "${id.slice(0, 64)}" does not exist or has expired`);
    }
    // A stat of a local file, done synchronously: a status request is then answered before its
    // handler returns, which a client that half-closed its connection needs (see BlobStore.statNow).
    const st = statSync(this.pathOf(id), { throwIfNoEntry: false });
    if (!st) throw notFound('UPLOAD_NOT_FOUND', `upload session "${id}" lost its data`);
    return { ...session, offset: st.size };
  }

  /** Marks a session as having a request in progress: one writer at a time. */
  lock(id: string): () => void {
    if (this.busy.has(id)) throw conflict('UPLOAD_BUSY', `upload session "${id}" has another request in progress`);
    this.busy.add(id);
    return () => this.busy.delete(id);
  }

  async appender(id: string, offset: number): Promise<SessionAppender> {
    const path = this.pathOf(id);
    const handle = await fsp.open(path, 'r+');
    return new SessionAppender(handle, offset, path);
  }

  async touch(id: string): Promise<UploadSession> {
    const session = this.table.get(id);
    if (!session) throw notFound('UPLOAD_NOT_FOUND', `upload session "${id}" does not exist`);
    const now = Date.now();
    const next = { ...session, updatedAt: new Date(now).toISOString(), expiresAt: new Date(now + this.ttlMs).toISOString() };
    await this.table.put(id, next);
    return next;
  }

  /** Forgets the session; its file is removed unless it was already moved into the blob store. */
  async remove(id: string): Promise<void> {
    this.hashes.drop(id);
    await this.table.remove(id);
    await fsp.rm(this.pathOf(id), { force: true });
  }

  /**
   * Cancels the caller's session, or any session for an admin (who may stop, not write, what
   * another token opened): 404 as in `get`, 409 while a request is writing to it; removes its bytes.
   */
  async cancel(id: string, caller: { id: string; role: string }): Promise<void> {
    await this.find(id, caller, true);
    const release = this.lock(id);
    try {
      await this.remove(id);
    } finally {
      release();
    }
  }

  /** Removes expired sessions and files that have no session. Returns how many were removed. */
  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const { key, value } of this.table.entries()) {
      if (Date.parse(value.expiresAt) <= now && !this.busy.has(key)) {
        await this.remove(key);
        removed++;
      }
    }
    for (const name of await fsp.readdir(this.dir)) {
      if (!this.table.get(name) && !this.busy.has(name)) {
        await fsp.rm(join(this.dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export function isSessionId(id: string): boolean {
  return SESSION_ID.test(id);
}

/** Appends at the session's current end; `sync` makes a finished chunk durable before it is acknowledged. */
export class SessionAppender implements ChunkSink {
  bytesWritten = 0;
  readonly direct: DirectFile;
  /**
   * A chunk is made durable when it is kept (close(true)); a large one is written back while it
   * arrives, as a blob writer's file is, so that fsync has little left: a 1 GiB chunk (what `push`
   * sends) otherwise waited about a second for the disk after its last byte.
   */
  private readonly writeBack: WriteBack;

  constructor(
    private readonly handle: fsp.FileHandle,
    private readonly start: number,
    path: string,
  ) {
    const writeBack = new WriteBack(handle, () => this.direct.onWrittenBack?.());
    this.writeBack = writeBack;
    this.direct = {
      path,
      start,
      writeNow: (bytes) => this.writeNow(bytes),
      get writingBack() {
        return writeBack.active;
      },
      onWrittenBack: null,
    };
  }

  private writeNow(bytes: Uint8Array): void {
    this.writeBack.throwIfFailed();
    writeFullySync(this.handle.fd, bytes, this.start + this.bytesWritten);
    this.bytesWritten += bytes.length;
    this.writeBack.wrote(bytes.length);
  }

  async write(chunk: Buffer): Promise<void> {
    this.writeBack.throwIfFailed();
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done, this.start + this.bytesWritten + done);
      done += bytesWritten;
    }
    this.bytesWritten += chunk.length;
    this.writeBack.wrote(chunk.length);
  }

  /** Takes back everything this appender wrote (a chunk refused after it arrived). */
  async discard(): Promise<void> {
    await this.writeBack.settle();
    await this.handle.truncate(this.start);
    this.bytesWritten = 0;
  }

  async close(sync: boolean): Promise<void> {
    try {
      await this.writeBack.settle();
      if (sync) {
        this.writeBack.throwIfFailed();
        await this.handle.sync();
      }
    } finally {
      await this.handle.close();
    }
  }
}

/** The edge tells the client where to resume from `details.offset` (Range and Upload-Offset headers). */
export function offsetMismatch(expected: number, given: number): DomainError {
  return outOfRange('UPLOAD_OFFSET_MISMATCH', `chunk starts at byte ${given} but the upload's current offset is ${expected}`, {
    offset: expected,
  });
}
