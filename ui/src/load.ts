// Loading state for one API call: every page shows loading, then the data or the error.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from './api';

export interface Loaded<T> {
  data: T | null;
  error: ApiFailure | null;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiFailure | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [nonce, setNonce] = useState(0);
  const generation = useRef(0);
  useEffect(() => {
    const mine = ++generation.current;
    // Keep the old data while refreshing (a live update should not flash a spinner).
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === generation.current && setState({ data, error: null, loading: false }),
      (err: unknown) =>
        mine === generation.current &&
        setState((s) => ({
          data: s.data,
          error: err instanceof ApiFailure ? err : new ApiFailure(0, { code: 'CLIENT', message: String(err) }),
          loading: false,
        })),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { ...state, reload };
}
