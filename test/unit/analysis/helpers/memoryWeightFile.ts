/**
 * In-memory WeightFiles for analysis tests: tensors with given values, streamed in chunks of a
 * chosen size so lockstep re-chunking is exercised.
 */
import type { DType, NumericArray } from '../../../../src/core/dtypes';
import type { FormatId, TensorGroup, TensorInfo, TensorRole, WeightFile } from '../../../../src/core/model';

/** A tensor to put in a memory file. */
export interface MemoryTensorSpec {
  name: string;
  layer?: string;
  weight?: string;
  role?: TensorRole;
  group?: TensorGroup;
  dtype?: DType;
  shape: number[];
  values: NumericArray | number[];
}

/** Builds an in-memory WeightFile whose readValues yields `chunkElements`-sized chunks. */
export function memoryWeightFile(tensors: MemoryTensorSpec[], options: { chunkElements?: number; format?: FormatId; path?: string } = {}): WeightFile {
  const infos: TensorInfo[] = tensors.map((s) => {
    const dtype = s.dtype ?? 'float32';
    const values = Array.isArray(s.values) ? (dtype === 'float32' ? Float32Array.from(s.values) : Float64Array.from(s.values)) : s.values;
    const slash = s.name.lastIndexOf('/');
    const layer = s.layer ?? (slash > 0 ? s.name.slice(0, slash) : '');
    const weight = s.weight ?? s.name.slice(slash + 1);
    return {
      name: s.name,
      layer,
      weight,
      role: s.role ?? (weight === 'kernel' || weight === 'bias' ? weight : 'other'),
      group: s.group ?? 'model',
      dtype,
      storageDtype: dtype,
      shape: s.shape,
      byteLength: values.byteLength,
      async *readValues(o) {
        const step = o?.chunkElements ?? options.chunkElements ?? 7;
        for (let i = 0; i < values.length; i += step) {
          yield values.subarray(i, Math.min(values.length, i + step));
        }
      },
    };
  });
  const layers = [...new Set(infos.map((t) => t.layer))].map((name) => ({ name, tensors: infos.filter((t) => t.layer === name).map((t) => t.name) }));
  return {
    format: options.format ?? 'safetensors',
    formatName: 'in-memory test file',
    path: options.path ?? 'memory',
    tensors: infos,
    layers,
    metadata: {},
    warnings: [],
    close: async () => undefined,
  };
}

/** Deterministic pseudo-random values (Mulberry32), uniform in [-1, 1). */
export function seededValues(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
