// Writing a command's output to --out FILE whole or not at all: beside the target first, renamed
// into place once complete, so a failed run never leaves half a file where a good one was.
import { rename, rm, writeFile } from 'node:fs/promises';

export async function writeWhole(path: string, text: string): Promise<void> {
  const temporary = `${path}.partial-${process.pid}`;
  try {
    await writeFile(temporary, text);
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}
