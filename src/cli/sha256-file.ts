// Streaming sha256 of a file: constant memory whatever the file size.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface FileHash {
  hex: string;
  /** Bytes actually hashed, which is the size that goes with the digest even if the file changed since it was listed. */
  size: number;
}

/** sha256 of a file's bytes; `onBytes` sees each chunk's length as it is hashed. */
export async function sha256File(path: string, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<FileHash> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024, signal })) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    size += bytes.length;
    onBytes?.(bytes.length);
  }
  return { hex: hash.digest('hex'), size };
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
