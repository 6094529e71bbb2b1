/**
 * Sparse TFLite tensors (Tensor.sparsity, a TACO-style format) back to dense row-major values,
 * the implicit entries being zero. Follows the traversal of TFLite's
 * `tensorflow/lite/kernels/internal/utils/sparsity_format_converter.cc` (FormatConverter::SparseToDense),
 * including block-sparse layouts (`block_map`); notes/weight-formats.md section 7.7.
 */
import { elementCount } from '../../core/dtypes';
import { WeightFileError } from '../../core/errors';
import type { SparsityParameters } from './schema';

/** Largest dense tensor (elements) the reader will materialise from a sparse one. */
export const maxDenseElements = 1 << 28;

/**
 * Scatters `stored` (values in traversal order) into a dense Float64Array of `shape`. Throws a
 * `corrupt` WeightFileError (naming `what`) when the metadata does not describe exactly
 * `stored.length` values inside the shape.
 */
export function densify(stored: ArrayLike<number>, shape: readonly number[], sp: SparsityParameters, what: string): Float64Array {
  const rank = shape.length;
  const order = sp.traversalOrder;
  const levels = sp.dimMetadata;
  const bad = (why: string): WeightFileError => new WeightFileError('corrupt', `${what}: invalid sparsity parameters (${why}).`, { tensor: what });
  if (order.length !== levels.length || order.length < rank) {
    throw bad(`traversal_order has ${order.length} entries and dim_metadata ${levels.length} for rank ${rank}`);
  }
  const blockCount = order.length - rank;
  if (sp.blockMap.length !== blockCount) {
    throw bad(`block_map has ${sp.blockMap.length} entries for ${blockCount} block dimensions`);
  }
  for (let i = 0; i < order.length; i++) {
    const o = order[i]!;
    if (!Number.isInteger(o) || o < 0 || o >= order.length || (i < rank ? o >= rank : o < rank)) {
      throw bad(`traversal_order[${i}] = ${o}`);
    }
  }
  const blockSize: number[] = [];
  for (let b = 0; b < blockCount; b++) {
    const dim = sp.blockMap[b]!;
    if (!Number.isInteger(dim) || dim < 0 || dim >= rank) {
      throw bad(`block_map[${b}] = ${dim}`);
    }
    // dim_metadata is in traversal order; the block dimension rank+b sits where traversal_order names it.
    const level = order.indexOf(rank + b);
    blockSize.push(levels[level]!.denseSize);
  }
  const total = elementCount(shape);
  if (!Number.isSafeInteger(total) || total > maxDenseElements || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new WeightFileError('tooLarge', `${what}: the dense shape [${shape.join(', ')}] is too large to materialise.`, { tensor: what });
  }
  const strides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) {
    strides[d] = strides[d + 1]! * shape[d + 1]!;
  }
  const out = new Float64Array(total);
  const indices = new Array<number>(order.length).fill(0);
  const orig = new Array<number>(rank).fill(0);
  let next = 0;

  const emit = (): void => {
    if (next >= stored.length) {
      throw bad(`the metadata addresses more than the ${stored.length} stored values`);
    }
    for (let i = 0; i < rank; i++) {
      orig[order[i]!] = indices[i]!;
    }
    for (let i = rank; i < order.length; i++) {
      const b = order[i]! - rank;
      const dim = sp.blockMap[b]!;
      orig[dim] = orig[dim]! * blockSize[b]! + indices[i]!;
    }
    let flat = 0;
    for (let d = 0; d < rank; d++) {
      const v = orig[d]!;
      if (v < 0 || v >= shape[d]!) {
        throw bad(`index ${v} outside dimension ${d} of size ${shape[d]}`);
      }
      flat += v * strides[d]!;
    }
    out[flat] = stored[next]!;
    next++;
  };

  const visit = (level: number, prev: number): void => {
    if (level === levels.length) {
      emit();
      return;
    }
    const dm = levels[level]!;
    if (dm.format === 0) {
      const size = dm.denseSize;
      if (!Number.isInteger(size) || size < 0 || size > total) {
        throw bad(`dense_size ${size} at level ${level}`);
      }
      for (let i = 0; i < size; i++) {
        indices[level] = i;
        visit(level + 1, prev * size + i);
      }
      return;
    }
    const seg = dm.arraySegments;
    const idx = dm.arrayIndices;
    if (dm.format !== 1 || !seg || !idx) {
      throw bad(`level ${level} has format ${dm.format} without segments and indices`);
    }
    if (prev + 1 >= seg.length) {
      throw bad(`array_segments of level ${level} has ${seg.length} entries, needs more than ${prev + 1}`);
    }
    const from = seg[prev]!;
    const to = seg[prev + 1]!;
    if (from < 0 || to < from || to > idx.length) {
      throw bad(`segment [${from}, ${to}) of level ${level} outside the ${idx.length} indices`);
    }
    for (let k = from; k < to; k++) {
      indices[level] = idx[k]!;
      visit(level + 1, k);
    }
  };

  visit(0, 0);
  if (next !== stored.length) {
    throw bad(`the metadata addresses ${next} values but ${stored.length} are stored`);
  }
  return out;
}
