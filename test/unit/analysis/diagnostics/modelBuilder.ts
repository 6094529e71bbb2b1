/**
 * In-memory models with an architecture for the diagnostics tests: layers with class, activation
 * and initializer configs, tensors with given values, and exact stats from the statistics engine.
 */
import type { DType } from '../../../../src/core/dtypes';
import type { FormatId, LayerInfo, TensorInfo, TensorRole, WeightFile } from '../../../../src/core/model';
import { checkWeightFile, type CheckReport } from '../../../../src/analysis/diagnostics/check';
import { computeTensorStats } from '../../../../src/analysis/tensorStats';
import { openLocalPath } from '../../../../src/formats/registry';
import type { TensorStats } from '../../../../src/analysis/statsTypes';

/** A tensor of a test layer. */
export interface TestTensor {
  /** Weight name inside the layer, e.g. 'kernel'. */
  weight: string;
  /** Role (default: the weight name when it is a role). */
  role?: TensorRole;
  /** Shape. */
  shape: number[];
  /** Values, row-major. */
  values: Float32Array | Float64Array;
  /** dtype (default float32). */
  dtype?: DType;
}

/** A test layer. */
export interface TestLayer extends Omit<LayerInfo, 'tensors'> {
  /** Its tensors. */
  weights: TestTensor[];
}

/** Builds a WeightFile whose tensors stream their values in chunks of `chunkElements`. */
export function buildModel(layers: TestLayer[], options: { format?: FormatId; chunkElements?: number; metadata?: Record<string, unknown> } = {}): WeightFile {
  const tensors: TensorInfo[] = [];
  const infos: LayerInfo[] = [];
  for (const l of layers) {
    const { weights, ...rest } = l;
    const names: string[] = [];
    for (const w of weights) {
      const name = `${l.name}/${w.weight}`;
      names.push(name);
      const values = w.values;
      const dtype = w.dtype ?? 'float32';
      tensors.push({
        name,
        layer: l.name,
        weight: w.weight,
        role: w.role ?? (w.weight as TensorRole),
        group: 'model',
        dtype,
        storageDtype: dtype,
        shape: w.shape,
        byteLength: values.byteLength,
        async *readValues(o) {
          const step = o?.chunkElements ?? options.chunkElements ?? 4096;
          for (let i = 0; i < values.length; i += step) {
            yield values.subarray(i, Math.min(values.length, i + step));
          }
        },
      });
    }
    infos.push({ ...rest, tensors: names });
  }
  return {
    format: options.format ?? 'tfjs-layers',
    formatName: 'in-memory test model',
    path: 'memory',
    tensors,
    layers: infos,
    metadata: options.metadata ?? {},
    warnings: [],
    async close() {},
  };
}

/** The whole check of the weight file at `p` (exact stats of every tensor first); the file is closed after. */
export async function checkLocalPath(p: string): Promise<CheckReport> {
  const file = await openLocalPath(p);
  try {
    return await checkWeightFile(file, await statsOf(file));
  } finally {
    await file.close();
  }
}

/** Exact stats of every tensor of a file. */
export async function statsOf(file: WeightFile): Promise<Map<string, TensorStats>> {
  const out = new Map<string, TensorStats>();
  for (const t of file.tensors) {
    out.set(t.name, await computeTensorStats(t));
  }
  return out;
}
