/**
 * Bounded-memory value samples for the distribution-shape tests. A tensor of rank >= 2 is sampled
 * as whole rows of its row-major matrix view [prod(shape[:-1]), shape[-1]] taken at a uniform row
 * stride, so the sample is itself a matrix (a row subset) on which the spectral and orthogonality
 * tests still apply; vectors and very wide rows fall back to a uniform element stride.
 */
import { elementCount } from '../../core/dtypes';
import { throwIfAborted } from '../../core/errors';
import type { TensorInfo } from '../../core/model';

/** Default sample size. */
export const defaultSampleValues = 65536;

/** How a tensor of a given shape is sampled. */
export interface SampleLayout {
  /** 'all' values, whole 'rows' at a stride, or single 'elements' at a stride. */
  kind: 'all' | 'rows' | 'elements';
  /** Stride in rows ('rows') or elements ('elements'); 1 for 'all'. */
  stride: number;
  /** Row length of the matrix view (shape[-1]; 1 for vectors). */
  cols: number;
  /** Rows of the matrix view. */
  rows: number;
  /** Number of values the sample holds. */
  size: number;
  /** Rows in the sample when it is a matrix ('all' or 'rows' with rank >= 2), else undefined. */
  sampleRows?: number;
}

/** The sampling plan for a shape and a budget. */
export function sampleLayout(shape: readonly number[], maxValues = defaultSampleValues): SampleLayout {
  const n = elementCount(shape);
  const cols = shape.length >= 2 ? shape[shape.length - 1]! : 1;
  const rows = cols > 0 ? n / cols : 0;
  const matrix = shape.length >= 2;
  if (n <= maxValues) {
    return { kind: 'all', stride: 1, cols, rows, size: n, sampleRows: matrix ? rows : undefined };
  }
  if (matrix && cols <= maxValues) {
    const wanted = Math.max(1, Math.floor(maxValues / cols));
    const stride = Math.ceil(rows / wanted);
    const sampleRows = Math.ceil(rows / stride);
    return { kind: 'rows', stride, cols, rows, size: sampleRows * cols, sampleRows };
  }
  const stride = Math.ceil(n / maxValues);
  return { kind: 'elements', stride, cols, rows, size: Math.ceil(n / stride) };
}

/** Reads a strided sample of a tensor's values for KS tests (bounded memory). */
export async function sampleTensor(tensor: TensorInfo, maxValues: number = defaultSampleValues, signal?: AbortSignal): Promise<Float64Array> {
  const plan = sampleLayout(tensor.shape, maxValues);
  const out = new Float64Array(plan.size);
  let at = 0;
  let index = 0;
  for await (const chunk of tensor.readValues({ signal })) {
    throwIfAborted(signal);
    if (plan.kind === 'all') {
      const take = Math.min(chunk.length, out.length - at);
      for (let i = 0; i < take; i++) {
        out[at + i] = chunk[i]!;
      }
      at += take;
    } else if (plan.kind === 'elements') {
      // Next sampled index >= index.
      let next = Math.ceil(index / plan.stride) * plan.stride;
      while (next < index + chunk.length && at < out.length) {
        out[at++] = chunk[next - index]!;
        next += plan.stride;
      }
    } else {
      for (let i = 0; i < chunk.length && at < out.length; i++) {
        const flat = index + i;
        const row = Math.floor(flat / plan.cols);
        if (row % plan.stride === 0) {
          out[at++] = chunk[i]!;
        } else {
          // Skip to the start of the next sampled row.
          const nextRow = (Math.floor(row / plan.stride) + 1) * plan.stride;
          i = nextRow * plan.cols - index - 1;
        }
      }
    }
    index += chunk.length;
    if (at >= out.length) {
      break;
    }
  }
  return at === out.length ? out : out.subarray(0, at);
}
