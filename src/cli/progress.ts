// A one-line transfer meter on stderr: bytes done of total, percent, recent rate. It draws only on
// a terminal and only when there is something to transfer; piped or redirected output gets no
// meter, only the notes (retries and the like).
import { formatBytes, formatRate } from './format.js';

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface Progress {
  /** Count bytes as done; a negative number takes back bytes of a failed attempt. */
  advance(bytes: number): void;
  /** A message line that must not be mangled by the meter. */
  note(message: string): void;
  /** Final redraw and newline; the meter stays on screen as a record. */
  finish(): void;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Bytes already done before this run started (a resumed download); not counted in the rate. */
  initial?: number;
  redrawMs?: number;
  now?: () => number;
}

/** The rate is measured over the last few seconds, so it follows slowdowns instead of averaging them away. */
const RATE_WINDOW_MS = 3000;

export function startProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (!stream.isTTY || total === 0) {
    return { advance() {}, note: (message) => void stream.write(`${message}\n`), finish() {} };
  }
  return new TerminalMeter(label, total, stream, options);
}

class TerminalMeter implements Progress {
  private done: number;
  private readonly samples: { at: number; done: number }[];
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private finished = false;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: ProgressStream,
    options: ProgressOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.done = options.initial ?? 0;
    this.samples = [{ at: this.now(), done: this.done }];
    this.timer = setInterval(() => this.draw(), options.redrawMs ?? 100);
    // The meter must never be what keeps the process alive.
    this.timer.unref();
    this.draw();
  }

  advance(bytes: number): void {
    this.done += bytes;
  }

  note(message: string): void {
    this.stream.write(`\r\x1b[2K${message}\n`);
    if (!this.finished) this.draw();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.timer);
    this.draw();
    this.stream.write('\n');
  }

  private draw(): void {
    const at = this.now();
    this.samples.push({ at, done: this.done });
    while (this.samples.length > 2 && at - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift();
    const oldest = this.samples[0]!;
    const seconds = (at - oldest.at) / 1000;
    const rate = seconds > 0 ? Math.max(0, this.done - oldest.done) / seconds : 0;
    const percent = this.total > 0 ? Math.floor((this.done / this.total) * 100) : 100;
    const line = `${this.label} ${formatBytes(this.done)} / ${formatBytes(this.total)} ${percent}% ${formatRate(rate)}`;
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    this.stream.write(`\r\x1b[2K${line.length > width ? line.slice(0, width) : line}`);
  }
}
