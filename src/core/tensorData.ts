/**
 * Helpers that turn byte ranges into the lazy value streams of TensorInfo.readValues.
 */
import type { ByteSource } from './byteSource';
import { decodeValues, itemSizeBytes, type DType, type NumericArray } from './dtypes';
import { throwIfAborted, WeightFileError } from './errors';
import type { ReadValuesOptions } from './model';

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
