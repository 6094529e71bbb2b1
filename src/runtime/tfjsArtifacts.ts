/**
 * Writes TF.js model artifacts (what `model.save()` hands to an IO handler) as `model.json` +
 * `weights.bin` in a folder, the layout tfjs-node's `file://` handler writes, optionally quantized
 * the way the TF.js converter does, with Weightscope metadata in `userDefinedMetadata`.
 * Files are written atomically (temporary name, then rename); existing files are never altered in place.
 */
import * as path from 'node:path';
import { makeFolder, writeFileAtomic } from '../core/atomicWrite';
import { numberToFloat16Bits } from '../core/dtypes';

/** The subset of tf.io.ModelArtifacts this writer uses. */
export interface TfjsArtifacts {
  /** Keras model topology JSON. */
  modelTopology?: unknown;
  /** Training config JSON. */
  trainingConfig?: unknown;
  /** Weight specs in weightData order. */
  weightSpecs?: { name: string; shape: number[]; dtype: string }[];
  /** Concatenated weight bytes (one buffer or several). */
  weightData?: ArrayBuffer | ArrayBuffer[];
  /** Producer string. */
  generatedBy?: string;
  /** Converter string. */
  convertedBy?: string | null;
}

/** How to store weights. */
export interface WriteOptions {
  /** Quantize float32 weights like the converter's --quantize_uint8/uint16/float16. */
  quantize?: 'uint8' | 'uint16' | 'float16';
  /** Extra JSON stored as `userDefinedMetadata.weightscope`. */
  metadata?: Record<string, unknown>;
}

/** Writes `dir/model.json` and `dir/weights.bin` atomically; creates `dir`. */
export async function writeTfjsModel(dir: string, artifacts: TfjsArtifacts, options: WriteOptions = {}): Promise<void> {
  await makeFolder(dir);
  const specs = artifacts.weightSpecs ?? [];
  const data = concat(artifacts.weightData);
  const outSpecs: Record<string, unknown>[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = spec.dtype === 'bool' ? n : 4 * n;
    const raw = data.subarray(offset, offset + bytes);
    offset += bytes;
    if (options.quantize && spec.dtype === 'float32') {
      const values = new Float32Array(raw.slice().buffer);
      const q = quantize(values, options.quantize);
      parts.push(q.bytes);
      outSpecs.push({ ...spec, quantization: q.meta });
    } else {
      parts.push(raw);
      outSpecs.push({ ...spec });
    }
  }
  const model: Record<string, unknown> = {
    format: 'layers-model',
    generatedBy: artifacts.generatedBy ?? 'TensorFlow.js tfjs-layers',
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
    weightsManifest: [{ paths: ['weights.bin'], weights: outSpecs }],
    ...(options.metadata ? { userDefinedMetadata: { weightscope: options.metadata } } : {}),
  };
  await writeFileAtomic(path.join(dir, 'weights.bin'), concat(parts.map((p) => p.slice().buffer as ArrayBuffer)));
  await writeFileAtomic(path.join(dir, 'model.json'), Buffer.from(`${JSON.stringify(model)}\n`));
}

/**
 * Affine quantization as in tensorflowjs/quantization.py: the range is nudged so that 0 is exactly
 * representable; dequantized value = q * scale + min.
 */
export function quantize(values: Float32Array, dtype: 'uint8' | 'uint16' | 'float16'): { bytes: Uint8Array; meta: Record<string, unknown> } {
  if (dtype === 'float16') {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) {
      out[i] = numberToFloat16Bits(values[i]!);
    }
    return { bytes: new Uint8Array(out.buffer), meta: { dtype: 'float16', original_dtype: 'float32' } };
  }
  const qMax = dtype === 'uint8' ? 255 : 65535;
  let min = 0;
  let max = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  let scale = (max - min) / qMax;
  let nudgedMin = min;
  if (scale === 0) {
    scale = 1;
  } else {
    const zeroPoint = Math.round(-min / scale);
    nudgedMin = -zeroPoint * scale;
  }
  const out = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    out[i] = Math.min(qMax, Math.max(0, Math.round((values[i]! - nudgedMin) / scale)));
  }
  return {
    bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
    meta: { dtype, min: nudgedMin, scale, original_dtype: 'float32' },
  };
}

function concat(data: ArrayBuffer | ArrayBuffer[] | undefined): Uint8Array {
  if (!data) {
    return new Uint8Array(0);
  }
  const list = Array.isArray(data) ? data : [data];
  const total = list.reduce((s, b) => s + b.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const b of list) {
    out.set(new Uint8Array(b), at);
    at += b.byteLength;
  }
  return out;
}
