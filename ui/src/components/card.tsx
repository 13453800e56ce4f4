import type { CardField, Version } from '../types';

const FIELDS: [CardField, string][] = [
  ['intendedUse', 'Intended use'],
  ['outOfScopeUse', 'Out-of-scope use'],
  ['trainingData', 'Training data'],
  ['evaluation', 'Evaluation'],
  ['limitations', 'Limitations and biases'],
  ['monitoring', 'Monitoring'],
  ['contacts', 'Contacts'],
];

/** The model card as text: every value is the author's, so none of it is interpreted as markup. */
export function ModelCard({ card }: { card: Version['card'] }) {
  const present = FIELDS.filter(([key]) => {
    const v = card?.[key];
    return Array.isArray(v) ? v.length > 0 : typeof v === 'string' && v.trim() !== '';
  });
  if (present.length === 0) return <p class="muted">This version has no model card.</p>;
  return (
    <dl class="card">
      {FIELDS.map(([key, label]) => {
        const v = card?.[key];
        return (
          <div key={key}>
            <dt>{label}</dt>
            <dd class={v ? 'prose' : 'muted'}>{Array.isArray(v) ? v.join(', ') : v || 'not given'}</dd>
          </div>
        );
      })}
    </dl>
  );
}
