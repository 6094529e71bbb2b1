/**
 * Raw (unframed) Snappy decompression, as used for type-1 SSTable blocks
 * (notes/weight-formats.md section 1.1; google/snappy format_description.txt).
 * Stream = varint32 uncompressed length, then elements: tag byte low 2 bits =
 * 00 literal, 01 copy with 1-byte offset, 10 copy with 2-byte offset, 11 copy with 4-byte offset.
 * Every length and offset is bounds-checked; a malformed stream throws SnappyError.
 */

/** Thrown for a malformed Snappy stream; the caller turns it into a WeightFileError. */
export class SnappyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnappyError';
  }
}

/** Reads the uncompressed length preamble (varint32) and the number of bytes it took. */
export function snappyUncompressedLength(input: Uint8Array): { length: number; headerBytes: number } {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= input.length) {
      throw new SnappyError('the stream ends inside its length preamble');
    }
    const b = input[i]!;
    result += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (result > 0xffffffff) {
        throw new SnappyError(`the length preamble ${result} does not fit in 32 bits`);
      }
      return { length: result, headerBytes: i + 1 };
    }
  }
  throw new SnappyError('the length preamble is longer than 5 bytes');
}

/**
 * Decompresses a raw Snappy stream. `maxLength` caps the declared uncompressed length before
 * anything is allocated.
 */
export function snappyDecompress(input: Uint8Array, maxLength: number): Uint8Array {
  const { length, headerBytes } = snappyUncompressedLength(input);
  if (length > maxLength) {
    throw new SnappyError(`the declared uncompressed length ${length} exceeds the limit of ${maxLength} bytes`);
  }
  const out = new Uint8Array(length);
  let ip = headerBytes;
  let op = 0;
  const n = input.length;
  while (ip < n) {
    const tag = input[ip++]!;
    const kind = tag & 3;
    if (kind === 0) {
      // Literal: length-1 in the upper 6 bits, or 60..63 => 1..4 little-endian length bytes follow.
      let len = tag >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (ip + extra > n) {
          throw new SnappyError(`a literal length at input offset ${ip - 1} runs past the end`);
        }
        len = 0;
        for (let k = 0; k < extra; k++) {
          len += input[ip + k]! * 2 ** (8 * k);
        }
        ip += extra;
      }
      len += 1;
      if (ip + len > n) {
        throw new SnappyError(`a literal of ${len} bytes at input offset ${ip} runs past the end of the input`);
      }
      if (op + len > length) {
        throw new SnappyError(`a literal of ${len} bytes overflows the declared length ${length}`);
      }
      out.set(input.subarray(ip, ip + len), op);
      ip += len;
      op += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      // Copy, 1-byte offset: len-4 in bits 2..4, offset high 3 bits in bits 5..7.
      if (ip >= n) {
        throw new SnappyError('a copy element is cut off at the end of the input');
      }
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | input[ip++]!;
    } else if (kind === 2) {
      if (ip + 2 > n) {
        throw new SnappyError('a copy element is cut off at the end of the input');
      }
      len = (tag >>> 2) + 1;
      offset = input[ip]! | (input[ip + 1]! << 8);
      ip += 2;
    } else {
      if (ip + 4 > n) {
        throw new SnappyError('a copy element is cut off at the end of the input');
      }
      len = (tag >>> 2) + 1;
      offset = (input[ip]! | (input[ip + 1]! << 8) | (input[ip + 2]! << 16) | (input[ip + 3]! << 24)) >>> 0;
      ip += 4;
    }
    if (offset === 0 || offset > op) {
      throw new SnappyError(`a copy refers to offset ${offset} with only ${op} bytes decoded`);
    }
    if (op + len > length) {
      throw new SnappyError(`a copy of ${len} bytes overflows the declared length ${length}`);
    }
    // Overlapping copies repeat the pattern, so copy byte by byte when they overlap.
    const from = op - offset;
    if (offset >= len) {
      out.copyWithin(op, from, from + len);
    } else {
      for (let k = 0; k < len; k++) {
        out[op + k] = out[from + k]!;
      }
    }
    op += len;
  }
  if (op !== length) {
    throw new SnappyError(`the stream decoded to ${op} bytes but declared ${length}`);
  }
  return out;
}
