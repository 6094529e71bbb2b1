/**
 * The CLI's output channels, injectable for tests.
 */

/** Where the CLI writes. */
export interface CliIo {
  /** Writes a line to standard output. */
  out(text: string): void;
  /** Writes bytes to standard output as they are (UTF-8; no line break added). Without it, outJson writes through `out`. */
  outBytes?(bytes: Uint8Array): void;
  /** Writes a line to standard error. */
  err(text: string): void;
  /** Returns a progress reporter for a task (draws a bar on a TTY, silent otherwise). */
  progress(label: string): (done: number, total: number, finished?: boolean) => void;
  /**
   * Lets a command that must not stop just anywhere (train: a checkpoint or run.json being written)
   * finish cleanly when the reader of its output goes away: until the returned function is called,
   * a closed output calls `stop` once and drops what is written to it, instead of ending the process
   * at once with brokenPipeExitCode. The command then returns brokenPipeExitCode itself.
   */
  onOutputClosed?(stop: () => void): () => void;
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

/** What processIo does when the reader of stdout or stderr goes away. */
interface BrokenPipe {
  /** The streams whose reader went away; nothing more is written to them. */
  readonly closed: Set<NodeJS.WriteStream>;
  /** The `stop` of a command's onOutputClosed while it holds off the exit. */
  deferTo?: () => void;
}

/**
 * Stops the process quietly when `stream`'s reader goes away, or, while a command holds off the
 * exit (onOutputClosed), tells it to stop; other stream errors are left to Node.js.
 */
function exitOnBrokenPipe(stream: NodeJS.WriteStream, pipe: BrokenPipe): void {
  stream.on('error', (ex: NodeJS.ErrnoException) => {
    if (ex.code !== 'EPIPE') {
      throw ex;
    }
    const first = pipe.closed.size === 0;
    pipe.closed.add(stream);
    if (!pipe.deferTo) {
      process.exit(brokenPipeExitCode);
    }
    if (first) {
      pipe.deferTo();
    }
  });
}

/** Writes an error's one line on stderr, `error[<reason>]: <sentence>`, as every command reports an unreadable input. */
export function writeError(io: Pick<CliIo, 'err'>, e: { reason: string; message: string }): void {
  io.err(`error[${e.reason}]: ${e.message}`);
}

/** The process's stdout/stderr. */
export function processIo(): CliIo {
  const pipe: BrokenPipe = { closed: new Set() };
  exitOnBrokenPipe(process.stdout, pipe);
  exitOnBrokenPipe(process.stderr, pipe);
  const write = (stream: NodeJS.WriteStream, data: string | Uint8Array): void => {
    if (!pipe.closed.has(stream)) {
      stream.write(data);
    }
  };
  return {
    out: (t) => write(process.stdout, `${t}\n`),
    outBytes: (b) => write(process.stdout, b),
    err: (t) => write(process.stderr, `${t}\n`),
    onOutputClosed: (stop) => {
      pipe.deferTo = stop;
      return () => {
        pipe.deferTo = undefined;
      };
    },
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
        write(process.stderr, `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
        if (finished) {
          write(process.stderr, '\r\x1b[K');
        }
      };
    },
  };
}

/** Output handed to CliIo.out (or outBytes) at once by outJson, in characters (bytes) about. */
const jsonPieceChars = 1 << 20;

/** Where JSON lines go: each call writes one line, its parts (up to three) one after the other. */
type LineSink = (a: string, b?: string, c?: string) => void;

/**
 * Prints exactly what `io.out(JSON.stringify(value, null, 2))` prints, in pieces of whole lines:
 * arrays and plain objects down to `depth` levels are written member by member, so that a report of
 * many tensors never becomes one string (a string that large would exceed what V8 can hold).
 */
export function outJson(io: Pick<CliIo, 'out' | 'outBytes'>, value: unknown, depth = 3): void {
  const pieces = pieceWriter(io);
  jsonLines(value, '', '', '', depth, pieces.line);
  pieces.end();
}

/**
 * An array in a value for outJsonStreamed whose members come one at a time: each is written when
 * it arrives, before the next is asked for, so that the members are never held together.
 */
export class StreamedArray {
  constructor(readonly members: AsyncIterable<unknown>) {}

  /** Only outJsonStreamed writes one, within its `depth` levels. */
  toJSON(): never {
    throw new Error('A StreamedArray lies deeper than the levels outJsonStreamed writes member by member.');
  }
}

/**
 * Prints what outJson prints for `value` with every StreamedArray in it (within `depth` levels)
 * replaced by the array of its members, writing the members as they arrive. When the members'
 * iteration throws, that error is thrown; what was printed before stays printed (output goes out
 * in pieces of about a megabyte, so an error before the first piece prints nothing).
 */
export async function outJsonStreamed(io: Pick<CliIo, 'out' | 'outBytes'>, value: unknown, depth = 3): Promise<void> {
  const pieces = pieceWriter(io);
  await streamedLines(value, '', '', '', depth, pieces.line);
  pieces.end();
}

/**
 * Lines of output gathered into pieces of about jsonPieceChars for `io.out`, or encoded straight into
 * buffers of about that many bytes for `io.outBytes` (a member's text is then never copied into a
 * larger string first).
 */
function pieceWriter(io: Pick<CliIo, 'out' | 'outBytes'>): { line: LineSink; end: () => void } {
  const outBytes = io.outBytes?.bind(io);
  if (outBytes) {
    let buffer = Buffer.allocUnsafe(jsonPieceChars);
    let at = 0;
    const flush = (): void => {
      if (at > 0) {
        outBytes(buffer.subarray(0, at));
        buffer = Buffer.allocUnsafe(jsonPieceChars);
        at = 0;
      }
    };
    const put = (text: string): void => {
      // A UTF-16 code unit takes at most 3 bytes of UTF-8.
      if (3 * text.length > buffer.length - at) {
        flush();
        if (3 * text.length > buffer.length) {
          outBytes(Buffer.from(text, 'utf8'));
          return;
        }
      }
      at += buffer.write(text, at, 'utf8');
    };
    return {
      line: (a, b = '', c = '') => {
        put(a);
        put(b);
        put(c);
        if (at === buffer.length) {
          flush();
        }
        buffer[at++] = 0x0a;
      },
      end: flush,
    };
  }
  let piece: string[] = [];
  let chars = 0;
  return {
    line: (a, b = '', c = '') => {
      const text = b === '' && c === '' ? a : a + b + c;
      piece.push(text);
      chars += text.length;
      if (chars >= jsonPieceChars) {
        io.out(piece.join('\n'));
        piece = [];
        chars = 0;
      }
    },
    end: () => {
      if (piece.length > 0) {
        io.out(piece.join('\n'));
      }
      piece = [];
      chars = 0;
    },
  };
}

/** jsonLines for a value that may hold StreamedArrays (each written member by member as they come). */
async function streamedLines(value: unknown, indent: string, head: string, tail: string, depth: number, line: LineSink): Promise<void> {
  if (!holdsStreamed(value, depth)) {
    jsonLines(value, indent, head, tail, depth, line);
    return;
  }
  const inner = `${indent}  `;
  if (value instanceof StreamedArray) {
    // A member's last line is held back until the next member comes (then it takes a comma) or the
    // members end; no member is asked for before the one before it is written.
    let held: [string, string, string] | undefined;
    const through: LineSink = (a, b = '', c = '') => {
      if (held !== undefined) {
        line(...held);
      }
      held = [a, b, c];
    };
    let first = true;
    for await (const member of value.members) {
      if (first) {
        line(`${head}[`);
        first = false;
      } else {
        line(held![0], held![1], `${held![2]},`);
        held = undefined;
      }
      await streamedLines(arrayMember(member), inner, inner, '', Math.max(depth, 1) - 1, through);
    }
    if (first) {
      line(`${head}[]${tail}`);
      return;
    }
    line(...held!);
    line(`${indent}]${tail}`);
    return;
  }
  if (Array.isArray(value)) {
    line(`${head}[`);
    for (let i = 0; i < value.length; i++) {
      await streamedLines(arrayMember(value[i]), inner, inner, i < value.length - 1 ? ',' : '', Math.max(depth, 1) - 1, line);
    }
    line(`${indent}]${tail}`);
    return;
  }
  const entries = objectMembers(value as Record<string, unknown>);
  line(`${head}{`);
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i]!;
    await streamedLines(v, inner, `${inner}${JSON.stringify(k)}: `, i < entries.length - 1 ? ',' : '', Math.max(depth, 1) - 1, line);
  }
  line(`${indent}}${tail}`);
}

/** True when `value` is a StreamedArray or holds one within `depth` levels of arrays and plain objects. */
function holdsStreamed(value: unknown, depth: number): boolean {
  if (value instanceof StreamedArray) {
    return true;
  }
  if (depth <= 0) {
    return false;
  }
  if (Array.isArray(value)) {
    return value.some((v) => holdsStreamed(v, depth - 1));
  }
  return isPlainObject(value) && Object.values(value).some((v) => holdsStreamed(v, depth - 1));
}

/** An array member as JSON writes it: what JSON cannot hold prints as null, as in JSON.stringify. */
function arrayMember(v: unknown): unknown {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol' ? null : v;
}

/** The members of a plain object that JSON writes, in order. */
function objectMembers(value: Record<string, unknown>): [string, unknown][] {
  return Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol');
}

/** JSON.stringify(value, null, 2) at `indent`, as lines: `head` before it on its first line, `tail` after it on its last. */
function jsonLines(value: unknown, indent: string, head: string, tail: string, depth: number, line: LineSink): void {
  const inner = `${indent}  `;
  if (depth > 0 && Array.isArray(value) && value.length > 0) {
    line(`${head}[`);
    value.forEach((v, i) => jsonLines(arrayMember(v), inner, inner, i < value.length - 1 ? ',' : '', depth - 1, line));
    line(`${indent}]${tail}`);
    return;
  }
  if (depth > 0 && isPlainObject(value)) {
    const entries = objectMembers(value);
    if (entries.length > 0) {
      line(`${head}{`);
      entries.forEach(([k, v], i) => jsonLines(v, inner, `${inner}${JSON.stringify(k)}: `, i < entries.length - 1 ? ',' : '', depth - 1, line));
      line(`${indent}}${tail}`);
      return;
    }
  }
  line(head, indentedJson(value, indent.length / 2), tail);
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
