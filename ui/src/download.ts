// Saves an API answer as a file. The API needs the Bearer token, so a plain link cannot fetch it:
// fetch it with the token and hand the browser a blob URL to save.
import { apiFetch } from './api';

export async function download(path: string, filename: string): Promise<void> {
  const res = await apiFetch(path);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A timestamp safe in a file name. */
export function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}
