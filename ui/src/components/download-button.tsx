import { useState } from 'preact/hooks';
import type { ApiFailure } from '../api';
import { download } from '../download';
import { ErrorBox } from './states';

/** A button that saves an API answer as a file, and says why if the server refused. */
export function DownloadButton({ label, path, filename }: { label: string; path: string; filename: string }) {
  const [error, setError] = useState<ApiFailure | null>(null);
  const save = async () => {
    setError(null);
    try {
      await download(path, filename);
    } catch (err) {
      setError(err as ApiFailure);
    }
  };
  return (
    <div class="actions">
      <button type="button" onClick={save}>
        {label}
      </button>
      {error && <ErrorBox error={error} title="Download failed" />}
    </div>
  );
}
