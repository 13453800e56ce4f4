import type { ComponentChildren } from 'preact';

/** A table that scrolls sideways inside its own box on a narrow screen, with a header row of column names. */
export function DataTable({ columns, class: className, children }: { columns: string[]; class?: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class={className}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        {children}
      </table>
    </div>
  );
}
