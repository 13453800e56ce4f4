// Messages between the bench and its download client process.

import type { FetchTarget } from './clients/fetcher.js';

export interface DownloadJob extends FetchTarget {
  /** curl (default, when installed) or node:http (env BENCH_DOWNLOAD_CLIENT=node). */
  client: 'curl' | 'node';
  /** whole: `rounds` sequential GETs of the whole file. ranges: `streams` clients, each looping over its own 1/streams of the file for `durationSeconds`. */
  mode: 'whole' | 'ranges';
  rounds: number;
  streams: number;
  durationSeconds: number;
}

export interface DownloadOutcome {
  /** How the client reads, printed with the figures. */
  client: string;
  bytes: number;
  requests: number;
  seconds: number;
  /** whole: median round; ranges: all bytes over the whole phase. */
  gbPerSecond: number;
  roundGbPerSecond: number[];
  /** The client process's CPU over the phase, percent of one core. */
  loadCpuPercent: number;
  /** whole, several rounds: the client's CPU in each round, in the order of roundGbPerSecond. */
  roundLoadCpuPercent?: number[];
}
