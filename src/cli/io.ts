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

/**
 * Exit code when a reader of the output has gone away (`weightscope inspect x | head -1`): 128 +
 * SIGPIPE (13), what a shell reports for coreutils or git killed by SIGPIPE in the same spot.
 * Node.js ignores SIGPIPE, so the write fails with EPIPE instead; the CLI then stops quietly with
 * this code, as those commands do.
 */
export const brokenPipeExitCode = 141;

/** Stops the process quietly when `stream`'s reader goes away; other stream errors are left to Node.js. */
function exitOnBrokenPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (ex: NodeJS.ErrnoException) => {
    if (ex.code !== 'EPIPE') {
      throw ex;
    }
    process.exit(brokenPipeExitCode);
  });
}

/** The process's stdout/stderr. */
export function processIo(): CliIo {
  exitOnBrokenPipe(process.stdout);
  exitOnBrokenPipe(process.stderr);
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
