/**
 * One error type for every problem with a weight file. Callers branch on `reason`, never on the
 * message text. Messages are one sentence that names the file and quotes the offending value.
 */

/** Why a weight file (or one tensor in it) cannot be read. */
export type WeightFileErrorReason =
  | 'unrecognized'
  | 'truncated'
  | 'corrupt'
  | 'checksumMismatch'
  | 'unsupportedDtype'
  | 'unsupportedFormat'
  | 'missingCompanionFile'
  | 'gitLfsPointer'
  | 'tooLarge'
  | 'empty'
  | 'notFound'
  | 'notRegularFile'
  | 'permissionDenied'
  | 'cancelled';

/** Extra context carried by a WeightFileError. */
export interface WeightFileErrorDetails {
  /** Display name or path of the file the error is about. */
  file?: string;
  /** Tensor name, when the problem is confined to one tensor. */
  tensor?: string;
  /** Byte offset in the file where the problem was found, when known. */
  offset?: number;
}

/** The error every reader, byte source and analysis throws for bad input. */
export class WeightFileError extends Error {
  /** True when `ex` is a WeightFileError (optionally with the given reason). */
  static is(ex: unknown, reason?: WeightFileErrorReason): ex is WeightFileError {
    return ex instanceof WeightFileError && (reason === undefined || ex.reason === reason);
  }

  constructor(
    readonly reason: WeightFileErrorReason,
    message: string,
    readonly details: WeightFileErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(oneLine(message), options);
    this.name = 'WeightFileError';
  }
}

/** A message kept on one line: control characters quoted from a file (newlines, tabs, ...) are escaped. */
function oneLine(message: string): string {
  return message.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }
  });
}

/** Throws a `cancelled` WeightFileError when the signal has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new WeightFileError('cancelled', 'The operation was cancelled.');
  }
}

/** A JSON-safe view of an error, for the CLI, the log and the webviews. */
export interface ErrorSummary {
  /** WeightFileError reason, or 'internal' for a bug. */
  reason: WeightFileErrorReason | 'internal';
  /** One-sentence message. */
  message: string;
}

/** Turns any thrown value into an ErrorSummary. */
export function summarizeError(ex: unknown): ErrorSummary {
  if (WeightFileError.is(ex)) {
    return { reason: ex.reason, message: ex.message };
  }
  return { reason: 'internal', message: ex instanceof Error ? ex.message : String(ex) };
}

/** The first `shown` of `names` joined by commas, then how many more there are ("a, b, c and 2 more"), for messages. */
export function nameSome(names: readonly string[], shown = 3): string {
  const more = names.length > shown ? ` and ${names.length - shown} more` : '';
  return `${names.slice(0, shown).join(', ')}${more}`;
}

/**
 * The first `chars` characters of `head` (bytes or text), whitespace runs shown as one space, when
 * its first 256 characters look like text (no control characters but tab, line breaks and form
 * feed); else undefined.
 */
export function textExcerpt(head: Uint8Array | string, chars = 24): string | undefined {
  const sample = typeof head === 'string' ? head.slice(0, 256) : new TextDecoder().decode(head.subarray(0, 256));
  if (sample.length === 0 || /[\x00-\x08\x0b\x0e-\x1f]/.test(sample)) {
    return undefined;
  }
  const text = sample.replace(/\s+/g, ' ').trim();
  return text.length > chars ? `${text.slice(0, chars)}...` : text;
}
