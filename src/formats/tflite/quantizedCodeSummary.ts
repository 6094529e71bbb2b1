/**
 * Summary of the stored integer codes of a quantized TFLite constant: how much of the code range
 * each channel uses, how many codes sit at the saturation limits, and the zero points
 * (notes/weight-formats.md section 7.6: int8 weights are symmetric, q in [-127, 127]).
 */
import type { DType, NumericArray } from '../../core/dtypes';

/** JSON-safe summary of quantized codes (one entry per channel; one channel when per-tensor). */
export interface QuantizedCodeSummary {
  /** Storage type of the codes. */
  storageDtype: DType;
  /** Smallest and largest representable code, e.g. [-128, 127] for int8. */
  codeRange: [number, number];
  /** Channel axis of the summary (the tensor's quantized_dimension), absent when per-tensor. */
  axis?: number;
  /** Smallest stored code per channel. */
  channelMinCode: number[];
  /** Largest stored code per channel. */
  channelMaxCode: number[];
  /** Fraction of the code range spanned per channel: (max - min) / (rangeMax - rangeMin). */
  channelRangeUse: number[];
  /** Smallest entry of channelRangeUse. */
  minRangeUse: number;
  /** Mean of channelRangeUse. */
  meanRangeUse: number;
  /** Codes equal to the smallest representable code (-128 for int8). */
  saturatedLowCount: number;
  /** Codes equal to the largest representable code (127 for int8). */
  saturatedHighCount: number;
  /** Zero point per channel as stored (0 when absent). */
  zeroPoints: number[];
  /** Number of codes summarised (stored values only for sparse tensors). */
  codeCount: number;
}

/** Representable code range of an integer storage type, or undefined for others. */
export function codeRangeOf(dtype: DType): [number, number] | undefined {
  switch (dtype) {
    case 'int4':
      return [-8, 7];
    case 'uint4':
      return [0, 15];
    case 'int8':
      return [-128, 127];
    case 'uint8':
      return [0, 255];
    case 'int16':
      return [-32768, 32767];
    case 'uint16':
      return [0, 65535];
    default:
      return undefined;
  }
}

/**
 * Summarises `codes` of a tensor of `shape`; `axis` is the channel axis for per-channel
 * quantization (undefined: one channel). `zeroPoints` has one entry per channel (or one).
 */
export function summarizeQuantizedCodes(
  codes: NumericArray,
  storageDtype: DType,
  shape: readonly number[],
  axis: number | undefined,
  zeroPoints: readonly number[],
): QuantizedCodeSummary | undefined {
  const range = codeRangeOf(storageDtype);
  if (!range) {
    return undefined;
  }
  const channels = axis === undefined ? 1 : shape[axis] ?? 1;
  let inner = 1;
  if (axis !== undefined) {
    for (let d = axis + 1; d < shape.length; d++) {
      inner *= shape[d]!;
    }
  }
  const mins = new Array<number>(channels).fill(Infinity);
  const maxs = new Array<number>(channels).fill(-Infinity);
  let low = 0;
  let high = 0;
  const [lo, hi] = range;
  for (let i = 0; i < codes.length; i++) {
    const q = codes[i]!;
    const c = channels === 1 ? 0 : Math.floor(i / inner) % channels;
    if (q < mins[c]!) {
      mins[c] = q;
    }
    if (q > maxs[c]!) {
      maxs[c] = q;
    }
    if (q === lo) {
      low++;
    } else if (q === hi) {
      high++;
    }
  }
  const span = hi - lo;
  const channelMinCode = mins.map((v) => (Number.isFinite(v) ? v : 0));
  const channelMaxCode = maxs.map((v) => (Number.isFinite(v) ? v : 0));
  const channelRangeUse = channelMinCode.map((mn, c) => (channelMaxCode[c]! - mn) / span);
  return {
    storageDtype,
    codeRange: [lo, hi],
    ...(axis !== undefined ? { axis } : {}),
    channelMinCode,
    channelMaxCode,
    channelRangeUse,
    minRangeUse: channelRangeUse.length ? Math.min(...channelRangeUse) : 0,
    meanRangeUse: channelRangeUse.length ? channelRangeUse.reduce((a, b) => a + b, 0) / channelRangeUse.length : 0,
    saturatedLowCount: low,
    saturatedHighCount: high,
    zeroPoints: [...zeroPoints],
    codeCount: codes.length,
  };
}
