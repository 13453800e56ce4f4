// Registry state the scenarios measure against: small files uploaded once, models registered
// through the public API exactly as a CI pipeline would.
import { createHash, randomBytes } from 'node:crypto';
import type { Api, FileEntry } from './api.js';

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Uploads random files of the given sizes and returns their entries for a file list. */
export async function uploadRandomFiles(api: Api, files: { path: string; size: number }[]): Promise<FileEntry[]> {
  const entries: FileEntry[] = [];
  for (const file of files) {
    const bytes = randomBytes(file.size);
    const hex = sha256Hex(bytes);
    await api.uploadBuffer(bytes, hex);
    entries.push({ path: file.path, size: file.size, digest: `sha256:${hex}` });
  }
  return entries;
}

/** Registers a version and points `alias` at it; returns the version number. */
export async function registerWithAlias(api: Api, name: string, files: FileEntry[], alias: string): Promise<number> {
  const version = await api.registerVersion(name, files);
  await api.setAlias(name, alias, version);
  return version;
}

/** m00001, m00002, …: equal lengths, so every resolve request has the same size. */
export function modelName(i: number): string {
  return `m${String(i).padStart(5, '0')}`;
}

/**
 * Registers models m00001..m<count> (each with `files`, alias `alias`) with `concurrency` calls in
 * flight, stopping at `deadline` (ms since epoch). Returns how many were registered and how long it took.
 */
export async function registerMany(
  api: Api,
  count: number,
  files: FileEntry[],
  alias: string,
  concurrency: number,
  deadline: number,
): Promise<{ registered: number; seconds: number }> {
  let next = 1;
  let registered = 0;
  const start = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next <= count && Date.now() < deadline) {
        const i = next++;
        await registerWithAlias(api, modelName(i), files, alias);
        registered++;
      }
    }),
  );
  return { registered, seconds: (Date.now() - start) / 1000 };
}
