/**
 * The CLI's output channels, injectable for tests.
 */

/** Where the CLI writes. */
export interface CliIo {
  /** Writes a line to standard output. */
  out(text: string): void;
  /** Writes a line to standard error. */
  err(text: string): void;
  /** Returns a progress reporter for a task (draws a bar on a TTY, silent otherwise). */
  progress(label: string): (done: number, total: number, finished?: boolean) => void;
}

/** Progress redraw interval, in milliseconds. */
const progressIntervalMs = 100;

/** The process's stdout/stderr. */
export function processIo(): CliIo {
  return {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    progress: (label) => {
      if (!process.stderr.isTTY) {
        return () => undefined;
      }
      let last = 0;
      return (done, total, finished) => {
        const now = Date.now();
        if (!finished && now - last < progressIntervalMs) {
          return;
        }
        last = now;
        const width = 30;
        const filled = total > 0 ? Math.round((width * done) / total) : width;
        process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
        if (finished) {
          process.stderr.write('\r\x1b[K');
        }
      };
    },
  };
}
