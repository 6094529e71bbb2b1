/**
 * Data-free precision analysis of one tensor: what float16, bfloat16, int8 (symmetric, per tensor
 * and per output channel) and TF.js affine uint8 storage would do to its values, and what the
 * quantization a file already applied implies. Streams the values twice (ranges, then errors).
 * Formulas and thresholds: docs/diagnostics.md.
 */
import { elementCount, float16Table, itemSizeBytes } from '../core/dtypes';
import { throwIfAborted } from '../core/errors';
import type { FormatId, TensorInfo } from '../core/model';

/** Largest finite float16. */
export const float16Max = 65504;
/** Smallest positive normal float16 (2^-14). */
export const float16MinNormal = 2 ** -14;
/** SQNR at or above which int8 storage is called safe, in dB. */
export const int8SafeSqnrDb = 30;
/** Largest fraction of non-zero values an int8 scheme may round to 0 and still be called safe. */
export const int8MaxZeroedFraction = 0.05;
/** Channel absMax / median channel absMax at or above which a channel is an outlier. */
export const outlierChannelRatio = 4;

/** Effect of a float format on the tensor. */
export interface FloatCastReport {
  /** Finite values that become +-Infinity. */
  overflowCount: number;
  /** Non-zero values that become 0 (flush to zero). */
  underflowCount: number;
  /** Values that become subnormal in the target format. */
  subnormalCount: number;
  /** ||x - cast(x)||_2 / ||x||_2 over finite values that do not overflow; 0 when all are 0. */
  relativeL2Error: number;
  /** Largest |x - cast(x)| over finite values that do not overflow. */
  maxAbsError: number;
}

/** Effect of an integer quantization scheme. */
export interface QuantReport {
  /** Signal-to-quantization-noise ratio 10 log10(sum x^2 / sum (x - q(x))^2), dB; null when lossless. */
  sqnrDb: number | null;
  /** Largest |x - q(x)|. */
  maxAbsError: number;
  /** Quantization step (scale); per-channel: the largest one. */
  scale: number;
  /** Fraction of all values that are non-zero but quantize to exactly 0 (drowned by a large scale). */
  zeroedFraction: number;
}

/** TF.js converter affine uint8 quantization (`q = round((clip(x) - min) / scale)`, zero nudged onto the grid). */
export interface AffineReport extends QuantReport {
  /** Nudged minimum (value of q = 0). */
  min: number;
}

/** What quantization already stored in the file implies. */
export interface StoredQuantizationReport {
  /** Storage dtype, e.g. 'uint8'. */
  storageDtype: string;
  /** Scheme from the reader. */
  scheme: string;
  /** Quantization step (per tensor, or the largest per-channel step). */
  step: number;
  /** Smallest per-channel step (equal to step per tensor). */
  minStep: number;
  /** Representable range [low, high] (per-channel: the union). */
  rangeLow: number;
  /** Upper end of the representable range. */
  rangeHigh: number;
  /** Number of levels (2^bits). */
  levels: number;
  /** Step / std of the values. */
  stepOverStd: number | null;
  /** SQNR the step allows under the uniform-noise model (step^2/12), dB. */
  impliedSqnrDb: number | null;
  /** One sentence on what this means. */
  implication: string;
}

/** The precision verdict for one tensor. */
export interface PrecisionReport {
  /** Tensor name. */
  tensor: string;
  /** Finite values analysed. */
  count: number;
  /** Non-finite values skipped. */
  nonFiniteCount: number;
  /** Largest |x|. */
  absMax: number;
  /** float16 (IEEE binary16, round to nearest even). */
  fp16: FloatCastReport;
  /** bfloat16 (round to nearest even from float32). */
  bf16: FloatCastReport;
  /** int8 symmetric per tensor: scale = absMax/127, q in [-127, 127], round half away from zero. */
  int8PerTensor: QuantReport;
  /** int8 symmetric per output channel (null for vectors and scalars). */
  int8PerChannel: (QuantReport & { axis: number; channels: number }) | null;
  /** TF.js affine uint8. */
  uint8Affine: AffineReport;
  /** Channels whose absMax is >= 4x the median channel absMax (they set a per-tensor scale). */
  outlierChannels: { count: number; worstRatio: number; indices: number[] } | null;
  /** What the file's own quantization implies, when the tensor is stored quantized. */
  stored: StoredQuantizationReport | null;
  /** The most compact safe storage. */
  recommendation: 'fp16-safe' | 'keep-fp32' | 'int8-per-channel' | 'int8-per-tensor';
}

/** Layout facts that locate the output-channel axis. */
export interface PrecisionLayout {
  /** File format (TFLite stores kernels output-channel first). */
  format?: FormatId;
  /** Layer class (depthwise kernels have C*M channels over the last two axes); for TFLite, the class the reader names after the op that reads the tensor. */
  className?: string;
}

/**
 * True when an int8 scheme keeps the tensor: SQNR >= 30 dB and at most 5% of the values rounded
 * to 0 (a Gaussian with max |x| = 4.4 std already loses 1.4%). SQNR alone is fooled by one huge value (it carries all the energy while every other
 * value rounds to 0).
 */
export function int8Safe(r: QuantReport): boolean {
  return (r.sqnrDb === null || r.sqnrDb >= int8SafeSqnrDb) && r.zeroedFraction <= int8MaxZeroedFraction;
}

/** Rounds half to even. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) {
    return f + 1;
  }
  if (d < 0.5) {
    return f;
  }
  return f % 2 === 0 ? f : f + 1;
}

/** Rounds half away from zero (TFLite's std::round). */
function roundHalfAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/** The float16 value nearest to x (IEEE round to nearest even; overflow to +-Infinity). */
export function toFloat16(x: number): number {
  if (!Number.isFinite(x) || x === 0) {
    return x;
  }
  if (Math.fround(x) === x) {
    return float16Table()[float32ToHalfBits(x)]!;
  }
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a >= 65520) {
    return sign * Infinity;
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) {
    e--;
  } else if (2 ** (e + 1) <= a) {
    e++;
  }
  const quantum = e < -14 ? 2 ** -24 : 2 ** (e - 10);
  return sign * roundHalfEven(a / quantum) * quantum;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> binary16 bits, round to nearest even (finite inputs; overflow gives the Infinity bits). */
function float32ToHalfBits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  const e = exp - 127 + 15;
  if (e >= 31) {
    return sign | 0x7c00;
  }
  if (e <= 0) {
    if (e < -10) {
      return sign; // below half the smallest subnormal
    }
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) === 1)) {
      half++;
    }
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) {
    half++; // a carry into the exponent is the correct result, up to Infinity (0x7c00)
  }
  return sign | half;
}

const scratch = new DataView(new ArrayBuffer(4));

/** The bfloat16 value nearest to float32(x) (round to nearest even on the float32 bits). */
export function toBfloat16(x: number): number {
  if (!Number.isFinite(x)) {
    return x;
  }
  scratch.setFloat32(0, x);
  const u = scratch.getUint32(0);
  const rounded = (u + 0x7fff + ((u >>> 16) & 1)) >>> 0;
  scratch.setUint32(0, (rounded & 0xffff0000) >>> 0);
  return scratch.getFloat32(0);
}

/** Where the output channels are: channel of flat index i = floor(i / inner) % channels. */
export function channelLayout(shape: readonly number[], layout: PrecisionLayout = {}): { axis: number; channels: number; inner: number } | null {
  if (shape.length < 2) {
    return null;
  }
  const n = elementCount(shape);
  if (layout.format === 'tflite') {
    // The op that reads the tensor (the reader names its layer class after it) decides: a
    // DEPTHWISE_CONV_2D filter [1, kh, kw, C*M] and a CONV_3D filter (DHWIO) keep their output
    // channels last; CONV_2D (OHWI, also with one filter: [1, kh, kw, C]), FULLY_CONNECTED
    // [out, in] and TRANSPOSE_CONV [out, kh, kw, in] first. Only for other or unknown ops does
    // the shape decide: a 4-D tensor with shape[0] = 1 is taken as depthwise.
    const cls = layout.className ?? '';
    const lastAxis = /^(DepthwiseConv2D|Conv3D)$/.test(cls) || (!/^(Conv2D|Dense|Conv2DTranspose)$/.test(cls) && shape.length === 4 && shape[0] === 1);
    if (lastAxis) {
      return { axis: shape.length - 1, channels: shape[shape.length - 1]!, inner: 1 };
    }
    return { axis: 0, channels: shape[0]!, inner: shape[0]! > 0 ? n / shape[0]! : 1 };
  }
  if (/Depthwise/i.test(layout.className ?? '') && shape.length === 4) {
    return { axis: 2, channels: shape[2]! * shape[3]!, inner: 1 };
  }
  return { axis: shape.length - 1, channels: shape[shape.length - 1]!, inner: 1 };
}

interface CastAccumulator {
  overflow: number;
  underflow: number;
  subnormal: number;
  err2: number;
  sig2: number;
  maxErr: number;
}

function newCast(): CastAccumulator {
  return { overflow: 0, underflow: 0, subnormal: 0, err2: 0, sig2: 0, maxErr: 0 };
}

function addCast(acc: CastAccumulator, x: number, y: number, minNormal: number): void {
  if (!Number.isFinite(y)) {
    acc.overflow++;
    return;
  }
  if (x !== 0 && y === 0) {
    acc.underflow++;
  } else if (y !== 0 && Math.abs(y) < minNormal) {
    acc.subnormal++;
  }
  const e = x - y;
  acc.err2 += e * e;
  acc.sig2 += x * x;
  const ae = Math.abs(e);
  if (ae > acc.maxErr) {
    acc.maxErr = ae;
  }
}

function castReport(acc: CastAccumulator): FloatCastReport {
  return {
    overflowCount: acc.overflow,
    underflowCount: acc.underflow,
    subnormalCount: acc.subnormal,
    relativeL2Error: acc.sig2 > 0 ? Math.sqrt(acc.err2 / acc.sig2) : 0,
    maxAbsError: acc.maxErr,
  };
}

function sqnr(sig2: number, err2: number): number | null {
  if (err2 === 0) {
    return null;
  }
  if (sig2 === 0) {
    return -Number.MAX_VALUE;
  }
  return 10 * Math.log10(sig2 / err2);
}

/** TF.js converter's nudged affine range (tensorflowjs quantization `_get_affine_quantization_range`). */
export function tfjsAffineRange(min: number, max: number, levels = 255): { scale: number; min: number; max: number } {
  if (min === max) {
    return { scale: 1, min, max };
  }
  const scale = (max - min) / levels;
  if (min <= 0 && 0 <= max) {
    const zero = roundHalfEven((0 - min) / scale);
    const nudgedMin = -zero * scale;
    return { scale, min: nudgedMin, max: levels * scale + nudgedMin };
  }
  return { scale, min, max };
}

/**
 * Analyses the precision of one tensor by streaming its values twice. Throws the tensor's own
 * WeightFileError when its data cannot be read, and `cancelled` when the signal aborts.
 */
export async function analyzePrecision(tensor: TensorInfo, signal?: AbortSignal, layout: PrecisionLayout = {}): Promise<PrecisionReport> {
  const ch = channelLayout(tensor.shape, layout);
  const channels = ch ? Math.max(1, ch.channels) : 0;
  const chMax = new Float64Array(channels);
  const fp16 = newCast();
  const bf16 = newCast();
  let count = 0;
  let nonFinite = 0;
  let absMax = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum2 = 0;
  let index = 0;
  for await (const chunk of tensor.readValues({ signal })) {
    throwIfAborted(signal);
    for (let i = 0; i < chunk.length; i++, index++) {
      const x = chunk[i]!;
      if (!Number.isFinite(x)) {
        nonFinite++;
        continue;
      }
      count++;
      sum2 += x * x;
      const a = Math.abs(x);
      if (a > absMax) {
        absMax = a;
      }
      if (x < min) {
        min = x;
      }
      if (x > max) {
        max = x;
      }
      addCast(fp16, x, toFloat16(x), float16MinNormal);
      addCast(bf16, x, toBfloat16(x), 2 ** -126);
      if (ch) {
        const c = Math.floor(index / ch.inner) % channels;
        if (a > chMax[c]!) {
          chMax[c] = a;
        }
      }
    }
  }
  if (count === 0) {
    min = 0;
    max = 0;
  }

  // Pass 2: integer quantization errors.
  const scaleT = absMax / 127;
  const affine = tfjsAffineRange(min, max);
  let errT = 0;
  let maxErrT = 0;
  let errC = 0;
  let maxErrC = 0;
  let errA = 0;
  let maxErrA = 0;
  let zeroT = 0;
  let zeroC = 0;
  let zeroA = 0;
  index = 0;
  for await (const chunk of tensor.readValues({ signal })) {
    throwIfAborted(signal);
    for (let i = 0; i < chunk.length; i++, index++) {
      const x = chunk[i]!;
      if (!Number.isFinite(x)) {
        continue;
      }
      const qt = scaleT > 0 ? Math.min(127, Math.max(-127, roundHalfAway(x / scaleT))) * scaleT : 0;
      if (x !== 0 && qt === 0) {
        zeroT++;
      }
      const et = Math.abs(x - qt);
      errT += et * et;
      if (et > maxErrT) {
        maxErrT = et;
      }
      if (ch) {
        const c = Math.floor(index / ch.inner) % channels;
        const s = chMax[c]! / 127;
        const qc = s > 0 ? Math.min(127, Math.max(-127, roundHalfAway(x / s))) * s : 0;
        if (x !== 0 && qc === 0) {
          zeroC++;
        }
        const ec = Math.abs(x - qc);
        errC += ec * ec;
        if (ec > maxErrC) {
          maxErrC = ec;
        }
      }
      let qa: number;
      if (min === max) {
        qa = min; // A constant tensor is stored as q = 0 with min = the value.
      } else {
        const clipped = Math.min(affine.max, Math.max(affine.min, x));
        qa = roundHalfEven((clipped - affine.min) / affine.scale) * affine.scale + affine.min;
      }
      if (x !== 0 && qa === 0) {
        zeroA++;
      }
      const ea = Math.abs(x - qa);
      errA += ea * ea;
      if (ea > maxErrA) {
        maxErrA = ea;
      }
    }
  }

  const total = Math.max(1, count);
  const int8PerTensor: QuantReport = { sqnrDb: sqnr(sum2, errT), maxAbsError: maxErrT, scale: scaleT, zeroedFraction: zeroT / total };
  let int8PerChannel: PrecisionReport['int8PerChannel'] = null;
  let outlierChannels: PrecisionReport['outlierChannels'] = null;
  if (ch) {
    let maxScale = 0;
    for (let c = 0; c < channels; c++) {
      maxScale = Math.max(maxScale, chMax[c]! / 127);
    }
    int8PerChannel = { sqnrDb: sqnr(sum2, errC), maxAbsError: maxErrC, scale: maxScale, zeroedFraction: zeroC / total, axis: ch.axis, channels };
    const sorted = Float64Array.from(chMax).sort();
    const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
    const indices: number[] = [];
    let worst = 0;
    let outliers = 0;
    for (let c = 0; c < channels; c++) {
      const ratio = median > 0 ? chMax[c]! / median : 0;
      worst = Math.max(worst, ratio);
      if (median > 0 && ratio >= outlierChannelRatio) {
        outliers++;
        if (indices.length < 16) {
          indices.push(c);
        }
      }
    }
    outlierChannels = { count: outliers, worstRatio: worst, indices };
  }
  // The affine "min" is the value of q = 0 as the converter stores it.
  const uint8Affine: AffineReport = { sqnrDb: sqnr(sum2, errA), maxAbsError: maxErrA, scale: affine.scale, min: affine.min, zeroedFraction: zeroA / total };
  const fp16Report = castReport(fp16);
  const bf16Report = castReport(bf16);
  const std = count > 0 ? Math.sqrt(sum2 / count) : 0;
  const stored = storedQuantization(tensor, sum2, count, std);

  const ok = (r: QuantReport | null): boolean => !!r && int8Safe(r);
  const fp16Safe = fp16Report.overflowCount === 0 && fp16Report.underflowCount <= 1e-3 * count && fp16Report.relativeL2Error <= 1e-3;
  const recommendation: PrecisionReport['recommendation'] =
    ch && ok(int8PerTensor) ? 'int8-per-tensor' : ch && ok(int8PerChannel) ? 'int8-per-channel' : fp16Safe ? 'fp16-safe' : 'keep-fp32';
  return {
    tensor: tensor.name,
    count,
    nonFiniteCount: nonFinite,
    absMax,
    fp16: fp16Report,
    bf16: bf16Report,
    int8PerTensor,
    int8PerChannel,
    uint8Affine,
    outlierChannels,
    stored,
    recommendation,
  };
}

function storedQuantization(tensor: TensorInfo, sum2: number, count: number, rms: number): StoredQuantizationReport | null {
  const q = tensor.quantization;
  if (!q || q.scheme === 'float16') {
    return q
      ? {
          storageDtype: q.storageDtype,
          scheme: q.scheme,
          step: 0,
          minStep: 0,
          rangeLow: -float16Max,
          rangeHigh: float16Max,
          levels: 65536,
          stepOverStd: null,
          impliedSqnrDb: null,
          implication: 'Stored as float16: about 3 significant digits, range +-65504; converting to float16 again loses nothing.',
        }
      : null;
  }
  const bits = 8 * (itemSizeBytes(q.storageDtype) ?? 1);
  const levels = 2 ** bits;
  const scales = (q.scale ?? []).filter((s) => Number.isFinite(s) && s > 0);
  if (scales.length === 0) {
    return null;
  }
  const step = Math.max(...scales);
  const minStep = Math.min(...scales);
  let low: number;
  let high: number;
  if (q.scheme === 'tfjs-affine') {
    low = q.min ?? 0;
    high = low + step * (levels - 1);
  } else {
    const signed = q.storageDtype.startsWith('int');
    const qmin = signed ? -(levels / 2) : 0;
    const qmax = signed ? levels / 2 - 1 : levels - 1;
    low = Infinity;
    high = -Infinity;
    scales.forEach((s, i) => {
      const zp = q.zeroPoint?.[i] ?? q.zeroPoint?.[0] ?? 0;
      low = Math.min(low, s * (qmin - zp));
      high = Math.max(high, s * (qmax - zp));
    });
  }
  const noise = (step * step) / 12;
  const meanSq = count > 0 ? sum2 / count : 0;
  const implied = meanSq > 0 ? 10 * Math.log10(meanSq / noise) : null;
  const stepOverStd = rms > 0 ? step / rms : null;
  const implication =
    `Stored as ${q.storageDtype} with ${bits > 16 ? `2^${bits}` : levels} levels, step ${step.toPrecision(3)}` +
    (stepOverStd !== null ? ` (${stepOverStd.toPrecision(3)} x rms)` : '') +
    (implied !== null ? `: quantization noise caps SQNR near ${implied.toFixed(1)} dB` : '') +
    (implied !== null && implied < int8SafeSqnrDb ? ', below the 30 dB that int8 storage usually needs; accuracy may already be affected.' : '; the stored values are already on this grid, so fp16 or int8 re-encoding adds little error.');
  return { storageDtype: q.storageDtype, scheme: q.scheme, step, minStep, rangeLow: low, rangeHigh: high, levels, stepOverStd, impliedSqnrDb: implied, implication };
}
