// Promote and roll back: a confirmation shows exactly what will change (alias, from, to, digests),
// the request is compare-and-set on what was shown, and a refusal shows the server's answer
// verbatim (for POLICY_UNMET, its list of unmet requirements).
import { useAction } from '../action';
import { api, modelPath, send } from '../api';
import { shortDigest } from '../format';
import type { Version } from '../types';
import { ConfirmActions, Dialog } from './dialog';

export interface PlannedMove {
  kind: 'promote' | 'rollback';
  alias: string;
  from: number | null;
  to: number;
  protected: boolean;
}

export function MoveDialog({
  name,
  move,
  versions,
  onDone,
  onClose,
}: {
  name: string;
  move: PlannedMove;
  versions: Version[];
  onDone: () => void;
  onClose: () => void;
}) {
  const { busy, error, run } = useAction(onDone);
  const digest = (n: number | null) => (n === null ? '' : shortDigest(versions.find((v) => v.version === n)?.digest ?? ''));
  const confirm = (event: Event) => {
    event.preventDefault();
    const reason = String(new FormData(event.currentTarget as HTMLFormElement).get('reason') ?? '').trim() || undefined;
    const base = `/v1/models/${modelPath(name)}/aliases/${encodeURIComponent(move.alias)}`;
    void run(() =>
      move.kind === 'promote'
        ? send('PUT', base, { version: move.to, expectedVersion: move.from, reason })
        : send('POST', `${base}/rollback`, { toVersion: move.to, expectedVersion: move.from ?? undefined, reason }),
    );
  };
  const verb = move.kind === 'promote' ? 'Promote' : 'Roll back';
  return (
    <Dialog title={`${verb} ${name}@${move.alias}`} onClose={onClose}>
      <form onSubmit={confirm} class="move">
        <p>This will change exactly one pointer:</p>
        <table class="change">
          <tbody>
            <tr>
              <th scope="row">alias</th>
              <td>
                <code>
                  {name}@{move.alias}
                </code>
                {move.protected && <span class="badge protected">protected: gates apply</span>}
              </td>
            </tr>
            <tr>
              <th scope="row">from</th>
              <td>
                {move.from === null ? (
                  'nothing (new alias)'
                ) : (
                  <code>
                    v{move.from} {digest(move.from)}
                  </code>
                )}
              </td>
            </tr>
            <tr>
              <th scope="row">to</th>
              <td>
                <code>
                  v{move.to} {digest(move.to)}
                </code>
              </td>
            </tr>
          </tbody>
        </table>
        <p class="muted">If someone else moves the alias first, this is refused rather than undoing their change.</p>
        <label for="move-reason">Reason (kept in the alias history and the audit log)</label>
        <input id="move-reason" name="reason" maxLength={1000} />
        <ConfirmActions
          busy={busy}
          error={error}
          refusedTitle={`${verb} refused`}
          submitLabel={`${verb} to v${move.to}`}
          submitClass="primary"
          onClose={onClose}
        />
      </form>
    </Dialog>
  );
}

/** What a rollback would do now, as the server plans it. */
export function planRollback(name: string, alias: string): Promise<{ from: number; to: number }> {
  return api(`/v1/models/${modelPath(name)}/aliases/${encodeURIComponent(alias)}/rollback`);
}
