import { useAction } from '../action';
import { modelPath, send } from '../api';
import { ErrorBox } from './states';

/** Approve or reject a version with a comment; the server enforces separation of duties and one decision per approver. */
export function DecideForm({ name, version, onDone }: { name: string; version: number; onDone: () => void }) {
  const { busy, error, run } = useAction(onDone);
  const id = `${name}-${version}`.replace(/[^a-z0-9]+/gi, '-');
  const decide = (event: SubmitEvent) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const decision = (event.submitter as HTMLButtonElement | null)?.value === 'reject' ? 'reject' : 'approve';
    const comment = String(new FormData(form).get('comment') ?? '').trim();
    void run(async () => {
      await send('POST', `/v1/models/${modelPath(name)}/versions/${version}/approvals`, { decision, ...(comment ? { comment } : {}) });
      form.reset();
    });
  };
  return (
    <form class="decide" onSubmit={decide} aria-label={`Decide on ${name}@v${version}`}>
      <label for={`comment-${id}`}>Comment</label>
      <textarea id={`comment-${id}`} name="comment" rows={2} maxLength={4000} />
      <div class="actions">
        <button type="submit" name="decision" value="approve" class="primary" disabled={busy}>
          Approve v{version}
        </button>
        <button type="submit" name="decision" value="reject" class="danger" disabled={busy}>
          Reject v{version}
        </button>
      </div>
      {error && <ErrorBox error={error} title="Decision refused" />}
    </form>
  );
}
