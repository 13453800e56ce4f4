import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { ApiFailure } from '../api';
import { ErrorBox } from './states';

/** A modal <dialog>: the browser traps focus inside it and Escape closes it. */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    const cancel = (e: Event) => {
      e.preventDefault();
      onClose();
    };
    d.addEventListener('cancel', cancel);
    return () => d.removeEventListener('cancel', cancel);
  }, [onClose]);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" class="dialog">
      <h2 id="dialog-title">{title}</h2>
      {children}
    </dialog>
  );
}

/**
 * The foot of a confirming form: the server's refusal as it gave it, the submit button (busy while
 * the write runs) and Cancel, which reads Close once a refusal is shown.
 */
export function ConfirmActions(props: {
  busy: boolean;
  error: ApiFailure | null;
  refusedTitle: string;
  submitLabel: string;
  submitClass: 'primary' | 'danger';
  onClose: () => void;
}) {
  const { busy, error, onClose } = props;
  return (
    <>
      {error && <ErrorBox error={error} title={props.refusedTitle} />}
      <div class="actions">
        <button type="submit" class={props.submitClass} disabled={busy}>
          {busy ? 'Working…' : props.submitLabel}
        </button>
        <button type="button" onClick={onClose}>
          {error ? 'Close' : 'Cancel'}
        </button>
      </div>
    </>
  );
}
