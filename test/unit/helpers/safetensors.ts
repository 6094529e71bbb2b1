/**
 * safetensors files for tests, written as the reference serializer writes them.
 */
import { concatBytes } from './zipBuilder';

/** One tensor of a file to build. */
export interface BuildTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
  /** Override data_offsets (for broken files). */
  offsets?: unknown;
}

/**
 * Writes a safetensors file the way the reference serializer does (safetensors `tensor.rs`
 * `prepare`/`serialize`): header JSON padded with spaces to a multiple of 8, u64 LE length first,
 * tensors packed in the given order.
 */
export function buildSafetensors(tensors: BuildTensor[], metadata?: Record<string, string>, trailing = new Uint8Array(0)): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) {
    header.__metadata__ = metadata;
  }
  let at = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: t.offsets ?? [at, at + t.bytes.length] };
    at += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  return concatBytes([u64(json.length), new TextEncoder().encode(json), ...tensors.map((t) => t.bytes), trailing]);
}

/** An unsigned 64-bit little-endian integer. */
export function u64(n: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}
