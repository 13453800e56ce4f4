// One job in a child process, both sides. The bench runs every load generator and client in a
// process of its own so that its CPU is its alone; each takes one job, reports progress (such as
// `measuring` when the timed phase starts), then `done` with its outcome or `failed`.
import { fork } from 'node:child_process';
import { stopChild, track } from './children.js';

type Progress = { type: string };
type JobMessage<O> = Progress | { type: 'done'; outcome: O } | { type: 'failed'; message: string };

/**
 * Parent side: forks `script`, sends it `job`, hands progress messages to `onProgress`, and
 * resolves with `onDone(outcome)`, called the moment the outcome arrives (so meters started on
 * progress stop there), after the child has exited.
 */
export function runChildJob<O, R, P extends Progress = { type: 'measuring' }>(
  script: string,
  what: string,
  job: object,
  onProgress: (message: P) => void,
  onDone: (outcome: O) => R,
): Promise<R> {
  const child = track(fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  return new Promise<R>((resolve, reject) => {
    child.on('message', (message: JobMessage<O>) => {
      if (message.type === 'done') resolve(onDone((message as { outcome: O }).outcome));
      else if (message.type === 'failed') reject(new Error(`${what} failed: ${(message as { message: string }).message}`));
      else onProgress(message as P);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) without a result`)));
    child.send(job);
  }).finally(() => stopChild(child));
}

/** Child side: a message to the parent, resolved once it has been handed to the channel. */
export function sendToParent(message: Progress | JobMessage<unknown>): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

/** Child side: runs `main` on the one job the parent sends, reports its outcome, and lets the process exit. */
export function serveOneJob<J>(main: (job: J) => Promise<unknown>): void {
  process.once('message', (job: J) => {
    main(job)
      .then(
        (outcome) => sendToParent({ type: 'done', outcome }),
        (err: unknown) => sendToParent({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
      )
      .then(() => process.disconnect());
  });
}
