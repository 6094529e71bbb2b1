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

/** Output handed to CliIo.out at once by outJson, in characters (about). */
const jsonPieceChars = 1 << 20;

/**
 * Prints exactly what `io.out(JSON.stringify(value, null, 2))` prints, in pieces of whole lines:
 * arrays and plain objects down to `depth` levels are written member by member, so that a report of
 * many tensors never becomes one string (a string that large would exceed what V8 can hold).
 */
export function outJson(io: Pick<CliIo, 'out'>, value: unknown, depth = 3): void {
  let piece: string[] = [];
  let chars = 0;
  const line = (text: string): void => {
    piece.push(text);
    chars += text.length;
    if (chars >= jsonPieceChars) {
      io.out(piece.join('\n'));
      piece = [];
      chars = 0;
    }
  };
  jsonLines(value, '', '', '', depth, line);
  if (piece.length > 0) {
    io.out(piece.join('\n'));
  }
}

/** JSON.stringify(value, null, 2) at `indent`, as lines: `head` before it on its first line, `tail` after it on its last. */
function jsonLines(value: unknown, indent: string, head: string, tail: string, depth: number, line: (text: string) => void): void {
  const inner = `${indent}  `;
  if (depth > 0 && Array.isArray(value) && value.length > 0) {
    line(`${head}[`);
    value.forEach((v, i) => {
      // Array members that JSON cannot hold print as null, as in JSON.stringify.
      const member = v === undefined || typeof v === 'function' || typeof v === 'symbol' ? null : v;
      jsonLines(member, inner, inner, i < value.length - 1 ? ',' : '', depth - 1, line);
    });
    line(`${indent}]${tail}`);
    return;
  }
  if (depth > 0 && isPlainObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol');
    if (entries.length > 0) {
      line(`${head}{`);
      entries.forEach(([k, v], i) => jsonLines(v, inner, `${inner}${JSON.stringify(k)}: `, i < entries.length - 1 ? ',' : '', depth - 1, line));
      line(`${indent}}${tail}`);
      return;
    }
  }
  line(`${head}${indentedJson(value, indent.length / 2)}${tail}`);
}

/**
 * JSON.stringify(value, null, 2) with every line after the first indented by `levels` more levels:
 * the value is written inside `levels` arrays, whose lines are then cut off, so that the indenting
 * is JSON.stringify's own (much faster than re-indenting the text).
 */
function indentedJson(value: unknown, levels: number): string {
  if (levels === 0) {
    return String(JSON.stringify(value, null, 2));
  }
  let wrapped: unknown = value;
  for (let i = 0; i < levels; i++) {
    wrapped = [wrapped];
  }
  const text = JSON.stringify(wrapped, null, 2);
  // Wrapper i (0-based, outermost first) opens with its indent of 2i spaces, '[' and a line break,
  // and closes with a line break, the same indent and ']'; the value's own indent (2 * levels
  // spaces) then precedes it on its first line.
  const open = levels * (levels + 1) + 2 * levels;
  const close = levels * (levels + 1);
  return text.slice(open, text.length - close);
}

/** An object JSON.stringify writes as its own properties (no toJSON, no class instance). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}
