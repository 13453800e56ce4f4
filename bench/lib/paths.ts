// Where the bench keeps its files, from the compiled location dist/bench/lib/ back to bench/.
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = fileURLToPath(new URL('../../../bench/', import.meta.url));
/** Large generated inputs and scratch state; gitignored. */
export const WORK_DIR = fileURLToPath(new URL('../../../bench/.work/', import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
export const RESULTS_MD = fileURLToPath(new URL('../../../bench/RESULTS.md', import.meta.url));
