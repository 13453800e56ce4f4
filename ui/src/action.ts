// One write from a form or a button: busy while it runs, the server's refusal kept to show
// verbatim, and `onDone` (reload, close) after it succeeds.
import { useState } from 'preact/hooks';
import type { ApiFailure } from './api';

export function useAction(onDone: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiFailure | null>(null);
  const run = async <T>(write: () => Promise<T>): Promise<T | null> => {
    setBusy(true);
    setError(null);
    try {
      const out = await write();
      onDone();
      return out;
    } catch (err) {
      setError(err as ApiFailure);
      return null;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}
