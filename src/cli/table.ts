// Plain-text tables for terminal output: left-aligned columns padded to the widest cell, the
// last column never padded (so lines carry no trailing spaces).

export function renderTable(header: string[], rows: string[][], indent = ''): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? '').length)));
  const line = (row: string[]) =>
    indent +
    row
      .map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]!)))
      .join('  ')
      .trimEnd();
  return `${all.map(line).join('\n')}\n`;
}

/** At most `max` characters, with an ellipsis when cut; newlines shown as spaces. */
export function clip(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
