/**
 * Helpers that turn byte ranges into the lazy value streams of TensorInfo.readValues.
 */
import type { ByteSource } from './byteSource';
import { decodeValues, itemSizeBytes, type DType, type NumericArray } from './dtypes';
import { throwIfAborted, WeightFileError } from './errors';
import * as fs from 'node:fs';
import type { RawTensorSource, ReadValuesOptions } from './model';
import { openRegularFileSync } from './nodeFileSource';

/** Default chunk size for streaming reads, in elements. */
export const defaultChunkElements = 1 << 20;

/** One contiguous piece of a tensor's bytes in some source. */
export interface ByteSpan {
  /** Source holding the bytes. */
  source: ByteSource;
  /** Offset in the source. */
  offset: number;
  /** Length in bytes. */
  length: number;
}

/**
 * Streams the values stored in `spans` (concatenated in order, e.g. a tensor that crosses TF.js
 * shard boundaries) decoded as `dtype`. Element boundaries may fall anywhere in a span. An
 * optional `transform` maps each decoded chunk (dequantization).
 */
export async function* readSpanValues(
  spans: readonly ByteSpan[],
  dtype: DType,
  options: ReadValuesOptions & { littleEndian?: boolean; transform?: (values: NumericArray) => NumericArray } = {},
): AsyncGenerator<NumericArray> {
  const item = itemSizeBytes(dtype);
  if (item === undefined || item < 1) {
    throw new WeightFileError('unsupportedDtype', `Values of dtype '${dtype}' cannot be streamed.`);
  }
  const chunkBytes = Math.max(item, Math.floor((options.chunkElements ?? defaultChunkElements) * item));
  let carry = new Uint8Array(0);
  for (const span of spans) {
    let pos = 0;
    while (pos < span.length) {
      throwIfAborted(options.signal);
      const n = Math.min(chunkBytes, span.length - pos);
      let bytes = await span.source.read(span.offset + pos, n);
      pos += n;
      if (carry.byteLength > 0) {
        const joined = new Uint8Array(carry.byteLength + bytes.byteLength);
        joined.set(carry, 0);
        joined.set(bytes, carry.byteLength);
        bytes = joined;
        carry = new Uint8Array(0);
      }
      const whole = bytes.byteLength - (bytes.byteLength % item);
      if (whole < bytes.byteLength) {
        carry = bytes.slice(whole);
        bytes = bytes.subarray(0, whole);
      }
      if (bytes.byteLength > 0) {
        const values = decodeValues(dtype, bytes, options.littleEndian ?? true);
        yield options.transform ? options.transform(values) : values;
      }
    }
  }
  if (carry.byteLength > 0) {
    throw new WeightFileError('corrupt', `The stored bytes end in the middle of a '${dtype}' element.`);
  }
}

/**
 * Streams the values of a RawTensorSource (plain little-endian `dtype` bytes of a local file) with
 * synchronous reads of `chunkElements` elements; with `reuseChunks` every chunk is a view of one
 * buffer, valid until the next chunk is requested. Throws `truncated` when the file ends early.
 * `file`: raw.localPath already open (RawFileReads), read through and left open; without it the
 * file is opened for this read alone.
 */
export async function* readRawValues(raw: RawTensorSource, dtype: DType, options: ReadValuesOptions = {}, file?: RawFileReads): AsyncGenerator<NumericArray> {
  const item = itemSizeBytes(dtype);
  if (item === undefined || item < 1 || raw.byteLength % item !== 0) {
    throw new WeightFileError('unsupportedDtype', `Values of dtype '${dtype}' cannot be read as ${raw.byteLength} plain bytes.`);
  }
  if (raw.byteLength === 0) {
    return;
  }
  const chunkBytes = Math.min(raw.byteLength, Math.max(item, Math.floor((options.chunkElements ?? defaultChunkElements) * item)));
  const reuse = options.reuseChunks === true;
  throwIfAborted(options.signal);
  let reads: RawFileReads;
  try {
    reads = file ?? new RawFileReads(openRegularFileSync(raw.localPath), 0);
  } catch (ex) {
    throw WeightFileError.is(ex) ? ex : new WeightFileError('notFound', `${raw.localPath}: the file can no longer be read.`, { file: raw.localPath }, { cause: ex });
  }
  try {
    const given = reuse && options.chunkBuffer && options.chunkBuffer.byteLength >= chunkBytes ? options.chunkBuffer : undefined;
    let buffer = given ? given.subarray(0, chunkBytes) : new Uint8Array(chunkBytes);
    for (let pos = 0; pos < raw.byteLength; ) {
      throwIfAborted(options.signal);
      const n = Math.min(chunkBytes, raw.byteLength - pos);
      if (!reuse && pos > 0) {
        buffer = new Uint8Array(n);
      }
      let done = 0;
      while (done < n) {
        const got = reads.read(buffer.subarray(done, n), raw.offset + pos + done);
        if (got === 0) {
          throw new WeightFileError('truncated', `${raw.localPath}: the file ended at offset ${raw.offset + pos + done} while reading; it may have changed on disk.`, {
            file: raw.localPath,
            offset: raw.offset + pos + done,
          });
        }
        done += got;
      }
      pos += n;
      yield decodeValues(dtype, buffer.subarray(0, n), true);
    }
  } finally {
    if (!file) {
      reads.close();
    }
  }
}

/**
 * Reads of one open local file (a descriptor from openRegularFileSync), through a block of up to
 * `blockBytes` read ahead: the tiny tensors of a batch, which lie next to each other, then cost
 * one read between them. A block lives as long as this object; make one per batch.
 */
export class RawFileReads {
  private block: Uint8Array;
  private blockAt = 0;
  private blockLength = 0;

  constructor(
    readonly fd: number,
    private readonly blockBytes = 1 << 20,
  ) {
    this.block = new Uint8Array(0);
  }

  /** Reads into `into` from `offset`; returns the bytes read (0: the file ends at `offset`). */
  read(into: Uint8Array, offset: number): number {
    if (into.length > this.blockBytes / 2) {
      return fs.readSync(this.fd, into, 0, into.length, offset);
    }
    if (offset < this.blockAt || offset + into.length > this.blockAt + this.blockLength) {
      if (this.block.length === 0) {
        this.block = new Uint8Array(this.blockBytes);
      }
      this.blockAt = offset;
      this.blockLength = 0;
      // One read, which may stop short: what it gave is used, and the next read continues.
      this.blockLength = fs.readSync(this.fd, this.block, 0, this.block.length, offset);
    }
    const start = offset - this.blockAt;
    const n = Math.min(into.length, this.blockLength - start);
    if (n <= 0) {
      return 0;
    }
    into.set(this.block.subarray(start, start + n));
    return n;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Collects a whole tensor into one Float64Array (tests and small tensors only). */
export async function readAllValues(tensor: { readValues(o?: ReadValuesOptions): AsyncIterable<NumericArray> }, options?: ReadValuesOptions): Promise<Float64Array> {
  const parts: NumericArray[] = [];
  let total = 0;
  for await (const chunk of tensor.readValues(options)) {
    parts.push(chunk);
    total += chunk.length;
  }
  const out = new Float64Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
