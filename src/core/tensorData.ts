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
 * `openFd`: a descriptor of raw.localPath already open (opened with openRegularFileSync), read
 * through and left open; without it the file is opened for this read alone.
 */
export async function* readRawValues(raw: RawTensorSource, dtype: DType, options: ReadValuesOptions = {}, openFd?: number): AsyncGenerator<NumericArray> {
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
  let fd: number;
  try {
    fd = openFd ?? openRegularFileSync(raw.localPath);
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
        const got = fs.readSync(fd, buffer, done, n - done, raw.offset + pos + done);
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
    if (openFd === undefined) {
      fs.closeSync(fd);
    }
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
