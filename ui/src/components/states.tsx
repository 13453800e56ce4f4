import type { ComponentChildren } from 'preact';
import type { ApiFailure } from '../api';
import type { Loaded } from '../load';

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** An API error as the server said it: code, message and any details, all as text. */
export function ErrorBox({ error, title }: { error: ApiFailure; title?: string }) {
  const details = error.error.details;
  return (
    <div class="error" role="alert">
      <strong>{title ?? 'Request failed'}</strong>
      <p>
        <code>{error.error.code}</code> {error.error.message}
      </p>
      {Array.isArray(details) && details.length > 0 && (
        <ul class="unmet">
          {details.map((d, i) => (
            <li key={i}>
              {typeof d === 'object' && d !== null && 'code' in d ? (
                <>
                  <code>{String((d as { code: unknown }).code)}</code> {String((d as { message?: unknown }).message ?? '')}
                </>
              ) : (
                JSON.stringify(d)
              )}
            </li>
          ))}
        </ul>
      )}
      {details !== undefined && !Array.isArray(details) && <pre class="json">{JSON.stringify(details, null, 2)}</pre>}
    </div>
  );
}

/** Renders loading, error, or the children built from the data. */
export function Load<T>({ state, what, children }: { state: Loaded<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (state.data === null && state.loading) return <Loading what={what} />;
  if (state.data === null && state.error) return <ErrorBox error={state.error} title={`Could not load ${what}`} />;
  if (state.data === null) return <Loading what={what} />;
  // While a newer answer is on its way the old data stays (a live update should not flash), marked busy.
  return (
    <div class="loaded" aria-busy={state.loading ? 'true' : 'false'}>
      {state.error && <ErrorBox error={state.error} title={`Could not refresh ${what}`} />}
      {children(state.data)}
    </div>
  );
}
