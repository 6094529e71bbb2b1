/**
 * Reference values for the Keras fixtures, written by scripts/reference-keras.py (h5py + NumPy,
 * independent of the readers), and the comparison every Keras reader test uses.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WeightFile } from '../../../../src/core/model';
import { readAllValues } from '../../../../src/core/tensorData';
import { repoRoot } from '../../helpers/fixtures';

/** One tensor as h5py/NumPy sees it. */
export interface KerasTensorRef {
  /** Expected tensor name. */
  name: string;
  /** Shape. */
  shape: number[];
  /** NumPy dtype name ('float32', 'int64', 'bool', ...). */
  dtype: string;
  /** 'model' or 'optimizer'. */
  group: string;
  /** Element count. */
  count: number;
  /** First 8 values (as float64). */
  first: number[];
  /** Exactly rounded sum of all values (math.fsum). */
  sum: number;
  /** Exactly rounded sum of squares. */
  sumSquares: number;
  /** Minimum over finite values. */
  min: number | null;
  /** Maximum over finite values. */
  max: number | null;
  /** Keras 3: the `name` attribute of the tensor's `vars` group. */
  varsName?: string | null;
}

/** One fixture's expected listing. */
export interface KerasFixtureRef {
  /** Expected FormatId. */
  format: string;
  /** keras_version when the file records one. */
  kerasVersion?: string;
  /** Tensors in Keras order. */
  tensors: KerasTensorRef[];
}

/** A JSON number, with the non-finite values spelled as strings. */
export type JsonNumber = number | 'NaN' | 'Infinity' | '-Infinity';

/** A small weights file written by the reference script with h5py, and its expected values. */
export interface GeneratedKerasFile {
  /** File name to write it under. */
  fileName: string;
  /** The file's bytes. */
  bytesBase64: string;
  /** Tensors in expected order with all their values. */
  tensors: { name: string; dtype: string; shape: number[]; values: JsonNumber[] }[];
}

/** The whole reference file. */
export const kerasReference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'formats', 'keras.reference.json'), 'utf8')) as {
  fixtures: Record<string, KerasFixtureRef>;
  generated: GeneratedKerasFile;
};

/** Fixture paths (relative to the shared fixtures folder) of one format. */
export function fixturesOfFormat(...formats: string[]): string[] {
  return Object.entries(kerasReference.fixtures)
    .filter(([, f]) => formats.includes(f.format))
    .map(([rel]) => rel);
}

function close(actual: number, expected: number, label: string): void {
  const tol = 1e-9 * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${label}: got ${actual}, expected ${expected}`);
}

/**
 * Checks format, tensor names in order, shapes, dtypes, groups, and every value statistic of an
 * opened file against the reference. `chunkElements` forces multi-slab reads.
 */
export async function assertMatchesReference(file: WeightFile, ref: KerasFixtureRef, chunkElements?: number): Promise<void> {
  assert.equal(file.format, ref.format, 'format');
  assert.deepEqual(
    file.tensors.map((t) => t.name),
    ref.tensors.map((t) => t.name),
    'tensor names in Keras order',
  );
  assert.deepEqual(file.warnings, [], 'no warnings for an intact file');
  for (let i = 0; i < ref.tensors.length; i++) {
    const r = ref.tensors[i]!;
    const t = file.tensors[i]!;
    assert.deepEqual([...t.shape], r.shape, `${r.name}: shape`);
    assert.equal(t.dtype, r.dtype, `${r.name}: dtype`);
    assert.equal(t.group, r.group, `${r.name}: group`);
    assert.equal(t.unavailable, undefined, `${r.name}: available`);
    assert.equal(t.byteLength, r.count * (r.dtype === 'bool' || r.dtype.endsWith('8') ? 1 : Number(/\d+$/.exec(r.dtype)![0]) / 8), `${r.name}: byteLength`);
    const values = await readAllValues(t, chunkElements !== undefined ? { chunkElements } : undefined);
    assert.equal(values.length, r.count, `${r.name}: element count`);
    assert.deepEqual([...values.subarray(0, 8)], r.first, `${r.name}: first values`);
    let sum = 0;
    let sumSquares = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      sum += v;
      sumSquares += v * v;
      if (Number.isFinite(v)) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
    close(sum, r.sum, `${r.name}: sum`);
    close(sumSquares, r.sumSquares, `${r.name}: sum of squares`);
    assert.equal(r.count === 0 ? null : min, r.min, `${r.name}: min`);
    assert.equal(r.count === 0 ? null : max, r.max, `${r.name}: max`);
  }
}
