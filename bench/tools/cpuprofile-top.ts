// Summarises a V8 .cpuprofile (from BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=bench/.work/prof"):
// the functions with the most inclusive time, optionally only beneath one function (e.g. a route handler).
//   node dist/bench/tools/cpuprofile-top.js <file.cpuprofile> [function-name prefix] [rows]
import { frameLabel, type Profile } from '../lib/cpuprofile.js';
import { readFileSync } from 'node:fs';

function main(file: string, within: string | undefined, rows: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

  const inclusive = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((sample, i) => {
    const stack: string[] = [];
    for (let id: number | undefined = sample; id !== undefined; id = parentOf.get(id)) stack.push(frameLabel(byId.get(id)!));
    if (stack[0]?.startsWith('(idle)')) return;
    const cut = within ? stack.findIndex((frame) => frame.startsWith(within)) : stack.length;
    if (cut < 0) return;
    const micros = profile.timeDeltas[i] ?? 0;
    total += micros;
    // A recursive function counts once per sample.
    for (const frame of new Set(stack.slice(0, cut))) inclusive.set(frame, (inclusive.get(frame) ?? 0) + micros);
  });

  process.stdout.write(`${within ? `beneath "${within}"` : 'busy (not idle)'}: ${(total / 1000).toFixed(0)} ms\n`);
  for (const [frame, micros] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    process.stdout.write(`${(micros / 1000).toFixed(0).padStart(7)} ms ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${frame}\n`);
  }
}

const [file, within, rows] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node dist/bench/tools/cpuprofile-top.js <file.cpuprofile> [function-name prefix] [rows]\n');
  process.exit(2);
}
main(file, within || undefined, Number(rows ?? 30));
