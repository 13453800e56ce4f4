import { diffLines } from 'diff';
import { pretty } from '../format';

/** A line diff of two values' indented JSON: removed lines marked "-", added "+". */
export function JsonDiff({ before, after, label }: { before: unknown; after: unknown; label: string }) {
  const parts = diffLines(pretty(before) + '\n', pretty(after) + '\n');
  return (
    <figure class="diff" aria-label={label}>
      <pre>
        {parts.map((part, i) => {
          const sign = part.added ? '+' : part.removed ? '-' : ' ';
          const cls = part.added ? 'add' : part.removed ? 'del' : 'same';
          const lines = part.value.replace(/\n$/, '').split('\n');
          return (
            <span key={i} class={cls}>
              {lines.map((l) => `${sign} ${l}\n`).join('')}
            </span>
          );
        })}
      </pre>
    </figure>
  );
}
