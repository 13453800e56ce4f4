// modelgate reject <name> <version> [--comment c] (see decide.ts).
import { runDecision } from './decide.js';

export function run(argv: string[]): Promise<number> {
  return runDecision('reject', argv);
}
