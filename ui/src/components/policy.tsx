import type { AliasPolicyStatus } from '../types';

/** For each protected alias: every requirement, marked met or not, with the server's reason when not. */
export function PolicyStatus({ aliases }: { aliases: AliasPolicyStatus[] }) {
  if (aliases.length === 0) return <p class="muted">No alias is protected in this deployment.</p>;
  return (
    <div class="policy">
      {aliases.map((p) => {
        const unmet = (code: string, needle?: string) =>
          p.unmet.filter((u) => u.code === code && (needle === undefined || u.message.includes(`"${needle}"`)));
        const rows: { label: string; problems: string[] }[] = [
          { label: 'status is not rejected or deprecated', problems: unmet('STATUS').map((u) => u.message) },
          {
            label: `${p.requirements.approvals} approval(s)${p.requirements.separationOfDuties ? ', not by the registrant' : ''}`,
            problems: unmet('APPROVALS').map((u) => u.message),
          },
          ...p.requirements.requiredCardFields.map((f) => ({
            label: `model card field "${f}"`,
            problems: unmet('CARD_FIELD', f).map((u) => u.message),
          })),
          ...p.requirements.metrics.map((m) => ({
            label: `metric ${m}`,
            problems: p.unmet.filter((u) => u.code === 'METRIC' && u.message.includes(m)).map((u) => u.message),
          })),
        ];
        return (
          <section key={p.alias} class={`policy-alias ${p.unmet.length ? 'unmet' : 'met'}`} aria-label={`Policy for @${p.alias}`}>
            <h3>
              @{p.alias}: {p.unmet.length === 0 ? 'may be promoted' : `${p.unmet.length} requirement(s) unmet`}
            </h3>
            <ul>
              {rows.map((r) => (
                <li key={r.label} class={r.problems.length ? 'no' : 'yes'}>
                  <span aria-hidden="true">{r.problems.length ? '✗' : '✓'}</span> {r.label}
                  {r.problems.map((m) => (
                    <div key={m} class="why">
                      {m}
                    </div>
                  ))}
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </div>
  );
}
