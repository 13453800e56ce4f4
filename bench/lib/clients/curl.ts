// curl writing to /dev/null: C, one process per request, no per-chunk JavaScript. Measured here
// at about half the CPU of node:http for the same bytes, so on 2 shared cores it caps the servers
// least. Its CPU is counted by the parent through cutime/cstime once each curl has been reaped.
import { execFile } from 'node:child_process';
import { expectedLength, type Fetched, type Fetcher, type FetchTarget } from './fetcher.js';

export function curlFetcher(bin: string): Fetcher {
  return {
    description: 'curl -o /dev/null, one process per request',
    fetch(target: FetchTarget, range: [number, number] | null): Promise<Fetched> {
      const args = ['--silent', '--show-error', '--output', '/dev/null', '--write-out', '%{http_code} %{size_download} %{time_total}'];
      for (const [name, value] of Object.entries(target.headers)) args.push('--header', `${name}: ${value}`);
      if (range) args.push('--range', `${range[0]}-${range[1]}`);
      args.push(`http://127.0.0.1:${target.port}${target.path}`);
      return new Promise((resolve, reject) => {
        execFile(bin, args, (err, stdout, stderr) => {
          if (err) return reject(new Error(`curl failed: ${stderr.trim() || err.message}`));
          const [status, size, seconds] = stdout.trim().split(' ').map(Number);
          const wanted = range ? 206 : 200;
          const expected = expectedLength(target, range);
          if (status !== wanted) return reject(new Error(`GET ${target.path}: status ${status}, expected ${wanted}`));
          if (size !== expected) return reject(new Error(`GET ${target.path}: ${size} bytes, expected ${expected}`));
          resolve({ bytes: size, seconds: seconds ?? 0 });
        });
      });
    },
    close() {},
  };
}
