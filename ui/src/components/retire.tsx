// Retire a version for good: a confirmation says what retiring means, and a refusal (a version an
// alias still points at: VERSION_IN_USE) is shown as the server gave it.
import { useState } from 'preact/hooks';
import { useAction } from '../action';
import { modelPath, send } from '../api';
import { shortDigest } from '../format';
import type { VersionView } from '../types';
import { ConfirmActions, Dialog } from './dialog';

export function RetireButton({ version, onDone }: { version: VersionView; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="danger" onClick={() => setOpen(true)}>
        Retire v{version.version}
      </button>
      {open && (
        <RetireDialog
          version={version}
          onClose={() => setOpen(false)}
          onDone={() => {
            setOpen(false);
            onDone();
          }}
        />
      )}
    </>
  );
}

function RetireDialog({ version: v, onClose, onDone }: { version: VersionView; onClose: () => void; onDone: () => void }) {
  const { busy, error, run } = useAction(onDone);
  const confirm = (event: Event) => {
    event.preventDefault();
    const reason = String(new FormData(event.currentTarget as HTMLFormElement).get('reason') ?? '').trim();
    void run(() => send('POST', `/v1/models/${modelPath(v.name)}/versions/${v.version}/retire`, reason ? { reason } : {}));
  };
  return (
    <Dialog title={`Retire ${v.name}@v${v.version}`} onClose={onClose}>
      <form onSubmit={confirm} class="retire">
        <p>
          Retiring <code>v{v.version}</code> <code>{shortDigest(v.digest)}</code> is final:
        </p>
        <ul>
          <li>no alias, protected or not, may point at it again, and rollback passes over it;</li>
          <li>its record can no longer be edited;</li>
          <li>its files stay downloadable by digest, so audits can reproduce it.</li>
        </ul>
        <p class="muted">A version an alias points at now cannot be retired: move the alias first.</p>
        <label for="retire-reason">Reason (kept in the audit log)</label>
        <input id="retire-reason" name="reason" maxLength={1000} defaultValue="" />
        <ConfirmActions
          busy={busy}
          error={error}
          refusedTitle="Retire refused"
          submitLabel={`Retire v${v.version} for good`}
          submitClass="danger"
          onClose={onClose}
        />
      </form>
    </Dialog>
  );
}
