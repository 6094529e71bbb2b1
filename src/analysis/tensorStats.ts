/**
 * Exact streaming statistics of one tensor (TensorStats, src/analysis/statsTypes.ts).
 *
 * Design (bounded memory, float64 accumulation, two passes over the values):
 * - Pass 1 streams the values once: counts (NaN, +/-Inf, zeros), finite min/max/absMax and the
 *   smallest non-zero |x|, l1, sum of squares, and the central moments M2..M4. Each chunk's moments
 *   are accumulated about a shift (the running mean) and merged into the running totals with the
 *   pairwise update formulas of Chan et al. / Pébay (2008); no naive sum of squares is used. The
 *   same loop builds a 65536-bin radix histogram of the top 16 bits of each value's
 *   order-preserving bit key (sign, exponent, leading mantissa bits), which needs no value range.
 * - From the radix histogram the bins holding the order statistics that the percentiles need are
 *   known after pass 1, and so is, for every other radix bin, whether it lies inside one linear
 *   histogram bin, one log bin and on one side of the near-zero threshold. Such bins are counted
 *   into the histograms wholesale; pass 2 visits only the values of the remaining ("special") bins,
 *   typically a few percent. For the percentile bins it either collects their values (small bins,
 *   then sorted) or counts the next 16 key bits (large bins). For float32-representable data
 *   (float32/16, bfloat16, 8/16-bit integers) the 32-bit key then identifies the exact value, so
 *   every percentile is exact (percentileErrorBound 0). For float64 data a large bin resolves the
 *   upper 32 bits only; the percentile is then exact when the lower word is zero in that bin (e.g.
 *   integers below 2^21), else half the remaining width is reported as percentileErrorBound.
 * - For float32 work (float32/16, bfloat16, 8/16-bit integers) both passes run as WebAssembly
 *   SIMD kernels (statsKernels.ts) when available, else as the JS loops below; both
 *   give the same counts, extremes, histograms and percentiles, and moments equal to rounding.
 * - Tensors up to `holdLimitBytes` (default 256 MiB) are copied into one buffer during pass 1
 *   (reused by the next tensor, released when idle), so peak memory is about one tensor plus a few
 *   MiB of tables; larger tensors are streamed again for pass 2 (callers whose reads are cheap, e.g.
 *   plain local HDF5 datasets, pass holdLimitBytes 0). The engine is done with each chunk before it
 *   asks for the next, so it lets readers yield views of one reused buffer (reuseChunks).
 * Linear histogram: NumPy np.histogram semantics over the finite values as float64 — edges
 * first + i*(last-first)/bins with the last edge = max, bin i = [e_i, e_i+1), the last bin closed,
 * and min == max widened to [min-0.5, max+0.5]. Bin assignment compares against those edges exactly:
 * a value goes to the last bin whose left edge it reaches. (Only when max - min spans fewer than
 * `bins` float64 steps, possible for float64 and 64-bit integer data, do rounded edges repeat; NumPy's
 * one-step index correction can then leave a value in an earlier, zero-width bin, so the counts of
 * such a histogram differ from np.histogram's.)
 * Log histogram: `bins` equal bins of log10|x| over the finite non-zero values, between the power of
 * ten at or below the smallest |x| and the power of ten at or above the largest |x| (one decade
 * when they coincide); edges are reported as log10 exponents e_i and a value goes to bin i when
 * 10^e_i <= |x| < 10^e_i+1 (Math.pow thresholds, last bin closed).
 * Percentiles: NumPy's default 'linear' method over the finite values (virtual index (n-1)*q/100,
 * NumPy's lerp formula).
 */
import { elementCount, isNumericDType } from '../core/dtypes';
import { throwIfAborted, WeightFileError } from '../core/errors';
import type { ReadValuesOptions, TensorInfo } from '../core/model';
import { giveKernel, kernelPickCapacity, kernelValueCapacity, takeKernel, type StatsKernel } from './statsKernels';
import { percentileKeys, type Histogram, type PercentileKey, type TensorStats } from './statsTypes';

/** Options of the statistics engine. */
export interface StatsOptions {
  /** Bins of the linear and the log10 histogram (default 64). */
  histogramBins?: number;
  /** Cancels the computation; it then throws a `cancelled` WeightFileError. */
  signal?: AbortSignal;
  /** Preferred chunk size in elements when streaming (default 1 Mi elements). */
  chunkElements?: number;
  /** Tensors whose decoded values take at most this many bytes stay in memory between passes (default 256 MiB). */
  holdLimitBytes?: number;
}

/** Default number of histogram bins. */
export const defaultHistogramBins = 64;

/** Default chunk size in elements. */
const defaultStatsChunkElements = 1 << 20;

/** Default in-memory limit for keeping a tensor between the passes, in bytes. */
const defaultHoldLimitBytes = 256 * 1024 * 1024;

/**
 * Target radix bins whose population is at most this are collected and sorted; larger ones count
 * their next 16 key bits instead (for float32 data that identifies each value exactly, so the lower
 * limit applies; float64 data keeps collecting longer because its sub-histogram is not exact).
 */
const collectLimitF32 = 1 << 12;
const collectLimitF64 = 1 << 16;

/** Yield to the event loop after this much uninterrupted work, in milliseconds. */
const yieldIntervalMs = 20;

const radixBins = 65536;

/**
 * A tensor of at most this many values keeps the radix key of each value (StatsEngine.keys),
 * so that the chores over the 65536-bin tables (finding the occupied bins, merging, clearing) visit
 * only its own bins: for a tiny tensor they would cost far more than its values.
 */
const fewValues = 4096;
const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Index of the high 32-bit word of a float64 in a Uint32Array view. */
const hiWord = littleEndianHost ? 1 : 0;
const loWord = 1 - hiWord;

const scratch = new ArrayBuffer(8);
const scratchF32 = new Float32Array(scratch, 0, 1);
const scratchU32 = new Uint32Array(scratch);
const scratchF64 = new Float64Array(scratch);

/** float32 value of raw bits. */
function f32FromBits(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0]!;
}

/** float64 value of raw (hi, lo) words. */
function f64FromWords(hi: number, lo: number): number {
  scratchU32[hiWord] = hi >>> 0;
  scratchU32[loWord] = lo >>> 0;
  return scratchF64[0]!;
}

/** Inverse of the order-preserving key transform (key = bits ^ (sign ? ~0 : 0x80000000)). */
function bitsFromKey(key: number): number {
  return (key & 0x80000000 ? key ^ 0x80000000 : ~key) >>> 0;
}

/*
 * Spare large work arrays. Fresh memory is costly (page faults, GC), so finished computations hand
 * theirs back and the next one reuses them. Callers of takeArray reset the contents.
 */
const spareRadixes: Uint32Array[] = [];
const spareTargetOfs: Int16Array[] = [];
const spareLogTables: Int16Array[] = [];
const spareSpecials: Uint8Array[] = [];
const spareSubs: Uint32Array[] = [];
const spareKeys: Uint16Array[] = [];
const maxSpares = 24;

function takeArray<T>(spares: T[], make: () => T): T {
  return spares.pop() ?? make();
}

function giveArray<T>(spares: T[], a: T): void {
  if (spares.length < maxSpares && !spares.includes(a)) {
    spares.push(a);
  }
}

/** A spare buffer for the values of collecting target bins (kept when at most `maxSpareCollected` long). */
let spareCollected: Float64Array | undefined;
const maxSpareCollected = 1 << 16;

function takeCollected(length: number): Float64Array {
  const spare = spareCollected;
  if (spare && spare.length >= length) {
    spareCollected = undefined;
    return spare;
  }
  return new Float64Array(Math.max(length, 64));
}

function giveCollected(a: Float64Array): void {
  if (a.length <= maxSpareCollected && (!spareCollected || a.length > spareCollected.length)) {
    spareCollected = a;
  }
}

/*
 * Scratch of the synchronous steps between the passes (preparePass2 and what it calls), shared by
 * all engines of the thread, and empty arrays standing for tables an engine has not set up.
 */
const occupiedScratch = new Int32Array(fewValues);
const rankScratch = new Float64Array(2 * percentileKeys.length);
const noU32 = new Uint32Array(0);
const noI16 = new Int16Array(0);
const noU8 = new Uint8Array(0);
const noF64 = new Float64Array(0);
/** The pass-1 accumulators (accS1 ... accZeros), written and read within one pass1 call. */
const acc1 = new Float64Array(10);

/** An array of n zeros. */
function zeros(n: number): number[] {
  const a = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    a[i] = 0;
  }
  return a;
}

/** Sorts a[from..to) ascending (numerically, as TypedArray sort does). */
function sortPrefix(a: Int32Array | Float64Array, from: number, to: number): void {
  if (to - from > 32) {
    a.subarray(from, to).sort();
    return;
  }
  for (let i = from + 1; i < to; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= from && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

/** Log histogram edges (log10 exponents) and their thresholds 10^e for recent (lo, hi, bins), shared read-only. */
const logEdgeCache = new Map<number, { edges: number[]; thresholds: Float64Array }>();
const maxLogEdgeCache = 1024;

function logEdgesFor(lo: number, hi: number, bins: number): { edges: number[]; thresholds: Float64Array } {
  // lo and hi lie within [-400, 400] (float64 range), bins within [1, 32767].
  const key = ((lo + 400) * 1024 + (hi + 400)) * 32768 + bins;
  let entry = logEdgeCache.get(key);
  if (!entry) {
    const edges = new Array<number>(bins + 1);
    const thresholds = new Float64Array(bins + 1);
    for (let i = 0; i <= bins; i++) {
      const e = i === bins ? hi : lo + (i * (hi - lo)) / bins;
      edges[i] = e;
      thresholds[i] = 10 ** e;
    }
    entry = { edges, thresholds };
    if (logEdgeCache.size >= maxLogEdgeCache) {
      logEdgeCache.clear();
    }
    logEdgeCache.set(key, entry);
  }
  return entry;
}

/** The element representation the engine works on. */
type WorkArray = Float32Array | Float64Array;

/** Signals that a float32 stream turned out to carry float64-only values: restart in float64 mode. */
class RestartAsFloat64 extends Error {}

/** Converts a decoded chunk into a work array of the engine's mode. */
function toWorkArray(chunk: ArrayLike<number>, mode: 'f32' | 'f64'): WorkArray {
  if (mode === 'f32') {
    if (chunk instanceof Float32Array) {
      return chunk;
    }
    if (chunk instanceof Int8Array || chunk instanceof Uint8Array || chunk instanceof Int16Array || chunk instanceof Uint16Array) {
      return new Float32Array(chunk);
    }
    throw new RestartAsFloat64();
  }
  if (chunk instanceof Float64Array) {
    return chunk;
  }
  if (ArrayBuffer.isView(chunk)) {
    return new Float64Array(chunk as unknown as ArrayLike<number>);
  }
  return Float64Array.from(chunk);
}

/** Mode for a first chunk: float32 when every value is exactly a float32 by type. */
function modeOf(chunk: ArrayLike<number>): 'f32' | 'f64' {
  return chunk instanceof Float32Array ||
    chunk instanceof Int8Array ||
    chunk instanceof Uint8Array ||
    chunk instanceof Int16Array ||
    chunk instanceof Uint16Array
    ? 'f32'
    : 'f64';
}

/** Per-target-bin state of pass 2. */
class TargetBin {
  /** True: values are collected and sorted; false: the next 16 key bits are counted in `sub`. */
  readonly collect: boolean;
  /** Fill level of the bin's values in StatsEngine.collected (collecting bins). */
  filled = 0;
  /** Whether the bin's values are sorted. */
  sorted = false;
  /** Counts of the next 16 key bits (counting bins; empty otherwise). */
  readonly sub: Uint32Array | Float64Array;
  /** OR of the low words of float64 values in this bin (0 = all low words zero). */
  loOr = 0;

  constructor(
    /** Radix bin (top 16 key bits). */
    readonly key16: number,
    /** Finite values in lower radix bins. */
    readonly before: number,
    /** Finite values in this bin. */
    readonly count: number,
    collectLimit: number,
    /** Start of the bin's values in StatsEngine.collected (collecting bins). */
    readonly at: number,
  ) {
    this.collect = count <= collectLimit;
    this.sub = this.collect
      ? noU32
      : count < 2 ** 32
        ? takeArray(spareSubs, () => new Uint32Array(radixBins)).fill(0)
        : new Float64Array(radixBins);
  }
}

/** The state of one statistics computation. */
class StatsEngine {
  readonly bins: number;
  mode: 'f32' | 'f64';

  // pass 1
  count = 0;
  nanCount = 0;
  posInfCount = 0;
  negInfCount = 0;
  zeroCount = 0;
  n = 0;
  /** Reference point of `mean` (the first chunk's mean). */
  origin = 0;
  /** Running mean of the finite values minus `origin`. */
  mean = 0;
  m2 = 0;
  m3 = 0;
  m4 = 0;
  min = Infinity;
  max = -Infinity;
  minNonZeroAbs = Infinity;
  l1 = 0;
  sumSq = 0;
  /**
   * The WebAssembly kernels of a float32 engine (statsKernels.ts), when available: their memory
   * holds `radix`, `radixOdd` and `special`, and the value buffer that readers may fill directly.
   */
  readonly kernel: StatsKernel | undefined;
  /** Radix counts of pass 1 (32-bit counters, flushed into radixTotal before they could overflow). */
  readonly radix: Uint32Array;
  /**
   * Radix counts of the odd elements in the float32 loops: two tables let neighbouring equal keys
   * (common in weights) count without waiting on each other's stores. Added into `radix` by mergeRadix.
   */
  private readonly radixOdd: Uint32Array;
  private radixOddUsed = false;
  private radixTotal: Float64Array | undefined;
  /**
   * Radix keys of the values so far (the first keyCount entries of a spare array of fewValues) while
   * there are at most fewValues values, else undefined.
   */
  private keys: Uint16Array | undefined;
  private keyCount = 0;
  private sinceFlush1 = 0;

  // pass 2
  first = 0;
  private last = 0;
  private step = 0;
  norm = 0;
  tol = 1;
  nearZeroThreshold = 0;
  nearZero = 0;
  pass2Count = 0;
  lin: Uint32Array = noU32;
  /** Histogram totals (handed over as the result's counts). */
  private linTotal: number[] = [];
  /** Log histogram edges (shared with logEdgeCache: copied into the result). */
  private logEdges: number[] = [];
  logThresholds: Float64Array = noF64;
  logTable: Int16Array = noI16;
  logH: Uint32Array = noU32;
  private logTotal: number[] = [];
  private sinceFlush2 = 0;
  targetOf: Int16Array = noI16;
  /** Radix bins whose values pass 2 handles one by one (see classifyBins). */
  special: Uint8Array = noU8;
  private targets: TargetBin[] = [];
  /** Values of the collecting target bins, each bin's from its `at` on. */
  private collected: Float64Array = noF64;

  /** `kernel`: a kernel instance taken for this engine (used in float32 mode, else given back). */
  constructor(bins: number, mode: 'f32' | 'f64', kernel?: StatsKernel) {
    this.bins = bins;
    this.mode = mode;
    if (kernel && mode !== 'f32') {
      giveKernel(kernel);
      kernel = undefined;
    }
    this.kernel = mode === 'f32' ? (kernel ?? takeKernel()) : undefined;
    if (!this.kernel) {
      warmJsLoops();
    }
    // Spare radix tables are all zero (see release).
    this.radix = this.kernel?.radixEven ?? takeArray(spareRadixes, () => new Uint32Array(radixBins));
    this.keys = takeArray(spareKeys, () => new Uint16Array(fewValues));
    this.radixOdd = this.kernel?.radixOdd ?? takeArray(spareRadixes, () => new Uint32Array(radixBins));
  }

  // ---------------------------------------------------------------- pass 1

  /** Adds one chunk in pass 1. */
  pass1(w: WorkArray): void {
    const n = w.length;
    if (n === 0) {
      return;
    }
    this.keepKeys(w);
    this.count += n;
    if (this.sinceFlush1 + n > 0xffffffff) {
      this.flushRadix();
    }
    this.sinceFlush1 += n;
    // The float32 loops take elements in pairs (JS) or fours (kernel); the last few go through the careful loop.
    const fast = w instanceof Float32Array ? n - (n & (this.kernel ? 3 : 1)) : n;
    if (fast > 0 && !this.pass1Fast(fast === n ? w : w.subarray(0, fast))) {
      this.pass1Slow(fast === n ? w : w.subarray(0, fast));
    }
    if (fast < n) {
      this.pass1Slow(w.subarray(fast));
    }
  }

  /** Adds the radix keys of a chunk to `keys`, or drops them once there are too many values. */
  private keepKeys(w: WorkArray): void {
    const keys = this.keys;
    if (!keys) {
      return;
    }
    const n = w.length;
    if (this.count + n > fewValues) {
      giveArray(spareKeys, keys);
      this.keys = undefined;
      return;
    }
    // float32 bits (in the kernel's memory when a reader filled it), or the high words of float64 values.
    const f32 = w instanceof Float32Array;
    const inKernel = f32 && w.buffer === this.kernel?.buffer;
    const u = inKernel ? this.kernel!.memU32 : new Uint32Array(w.buffer, w.byteOffset, f32 ? n : 2 * n);
    const base = inKernel ? w.byteOffset >>> 2 : 0;
    const stride = f32 ? 1 : 2;
    const off = f32 ? 0 : hiWord;
    const at = this.keyCount;
    for (let i = 0; i < n; i++) {
      const b = u[base + stride * i + off]!;
      keys[at + i] = (((b >> 31) | 0x80000000) ^ b) >>> 16;
    }
    this.keyCount = at + n;
  }

  /** Fast loop for chunks without NaN/Inf; returns false (and leaves no trace) when the chunk has some. */
  private pass1Fast(w: WorkArray): boolean {
    const n = w.length;
    let shift: number;
    if (this.n === 0) {
      shift = (w instanceof Float32Array ? (this.kernel ? kernelSum(this.kernel, w) : sumF32(w)) : sumF64(w)) / n;
      if (!Number.isFinite(shift)) {
        return false;
      }
    } else {
      shift = this.nextShift();
    }
    const acc = acc1;
    acc.fill(0);
    acc[accMin] = this.min;
    acc[accMax] = this.max;
    acc[accMinNonZero] = this.minNonZeroAbs;
    if (w instanceof Float32Array && this.kernel) {
      this.kernelPass1(this.kernel, w, shift);
      this.radixOddUsed = true;
    } else if (w instanceof Float32Array) {
      loop1F32(w, new Uint32Array(w.buffer, w.byteOffset, n), shift, this.radix, this.radixOdd, acc);
      this.radixOddUsed = true;
    } else {
      loop1F64(w, new Uint32Array(w.buffer, w.byteOffset, 2 * n), shift, this.radix, acc);
    }
    const s1 = acc[accS1]!;
    const s2 = acc[accS2]!;
    const s3 = acc[accS3]!;
    const s4 = acc[accS4]!;
    if (!Number.isFinite(s1 + s2 + s3 + s4 + acc[accSq]! + acc[accL1]!)) {
      // Undo the radix counts; the careful loop redoes the chunk.
      this.mergeRadix();
      this.unRadix(w);
      return false;
    }
    this.min = acc[accMin]!;
    this.max = acc[accMax]!;
    this.minNonZeroAbs = acc[accMinNonZero]!;
    this.zeroCount += acc[accZeros]!;
    this.l1 += acc[accL1]!;
    this.sumSq += acc[accSq]!;
    this.mergeShifted(n, shift, s1, s2, s3, s4);
    return true;
  }

  /**
   * The kernel's pass 1 over float32 values (a multiple of 4), piece by piece through its value
   * buffer unless a reader filled that already; leaves the sums in `acc` as loop1F32 does. The sum
   * of squares is derived from the power sums: sum (d + shift)^2 = s2 + shift (2 s1 + n shift).
   */
  private kernelPass1(kernel: StatsKernel, w: Float32Array, shift: number): void {
    const acc = acc1;
    const kacc = kernel.acc;
    kacc[accMin] = acc[accMin]!;
    kacc[accMax] = acc[accMax]!;
    kacc[accMinNonZero] = acc[accMinNonZero]!;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let s4 = 0;
    let l1 = 0;
    let zeros = 0;
    forKernelPieces(kernel, w, kernelValueCapacity, (p, n) => {
      kernel.pass1(p, n, shift);
      s1 += kacc[accS1]!;
      s2 += kacc[accS2]!;
      s3 += kacc[accS3]!;
      s4 += kacc[accS4]!;
      l1 += kacc[accL1]!;
      zeros += kacc[accZeros]!;
    });
    acc[accS1] = s1;
    acc[accS2] = s2;
    acc[accS3] = s3;
    acc[accS4] = s4;
    acc[accSq] = s2 + shift * (2 * s1 + w.length * shift);
    acc[accL1] = l1;
    acc[accMin] = kacc[accMin]!;
    acc[accMax] = kacc[accMax]!;
    acc[accMinNonZero] = kacc[accMinNonZero]!;
    acc[accZeros] = zeros;
  }

  /** Adds the odd-element radix counts into `radix`. */
  private mergeRadix(): void {
    if (!this.radixOddUsed) {
      return;
    }
    if (this.keys) {
      const radix = this.radix;
      const odd = this.radixOdd;
      const keys = this.keys;
      for (let j = 0; j < this.keyCount; j++) {
        const k = keys[j]!;
        radix[k] = radix[k]! + odd[k]!;
        odd[k] = 0;
      }
      this.radixOddUsed = false;
      return;
    }
    if (this.kernel) {
      this.kernel.mergeRadix();
      this.radixOddUsed = false;
      return;
    }
    const radix = this.radix;
    const odd = this.radixOdd;
    for (let k = 0; k < radixBins; k++) {
      radix[k] = radix[k]! + odd[k]!;
    }
    odd.fill(0);
    this.radixOddUsed = false;
  }

  /** Moves the 32-bit radix counters into the float64 totals. */
  private flushRadix(): void {
    this.mergeRadix();
    this.radixTotal ??= new Float64Array(radixBins);
    for (let k = 0; k < radixBins; k++) {
      this.radixTotal[k] = this.radixTotal[k]! + this.radix[k]!;
    }
    this.radix.fill(0);
    this.sinceFlush1 = 0;
  }

  /** Moves the 32-bit histogram counters into the float64 totals. */
  private flushHistograms(): void {
    const lin = this.lin;
    const linTotal = this.linTotal;
    for (let i = 0; i < lin.length; i++) {
      linTotal[i] = linTotal[i]! + lin[i]!;
    }
    const logH = this.logH;
    const logTotal = this.logTotal;
    for (let i = 0; i < logH.length; i++) {
      logTotal[i] = logTotal[i]! + logH[i]!;
    }
    this.lin.fill(0);
    this.logH.fill(0);
    this.sinceFlush2 = 0;
  }

  private unRadix(w: WorkArray): void {
    const n = w.length;
    const radix = this.radix;
    const stride = w instanceof Float32Array ? 1 : 2;
    const off = w instanceof Float32Array ? 0 : hiWord;
    const u = new Uint32Array(w.buffer, w.byteOffset, stride * n);
    for (let i = 0; i < n; i++) {
      const b = u[stride * i + off]!;
      const k = (((b >> 31) | 0x80000000) ^ b) >>> 16;
      radix[k] = radix[k]! - 1;
    }
  }
  /** Careful loop: skips and counts NaN/Inf. */
  private pass1Slow(w: WorkArray): void {
    const n = w.length;
    let s = 0;
    let finite = 0;
    for (let i = 0; i < n; i++) {
      const x = w[i]!;
      if (x - x === 0) {
        s += x;
        finite++;
      } else if (x !== x) {
        this.nanCount++;
      } else if (x > 0) {
        this.posInfCount++;
      } else {
        this.negInfCount++;
      }
    }
    if (finite === 0) {
      return;
    }
    let shift = this.n > 0 ? this.nextShift() : s / finite;
    if (!Number.isFinite(shift)) {
      shift = 0; // float64 sums that overflow: moments become non-finite and are reported as null
    }
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let s4 = 0;
    const radix = this.radix;
    const u = w instanceof Float32Array ? new Uint32Array(w.buffer, w.byteOffset, n) : new Uint32Array(w.buffer, w.byteOffset, 2 * n);
    const stride = w instanceof Float32Array ? 1 : 2;
    const off = w instanceof Float32Array ? 0 : hiWord;
    for (let i = 0; i < n; i++) {
      const x = w[i]!;
      if (x - x !== 0) {
        continue;
      }
      const d = x - shift;
      const d2 = d * d;
      s1 += d;
      s2 += d2;
      s3 += d2 * d;
      s4 += d2 * d2;
      this.sumSq += x * x;
      const a = Math.abs(x);
      this.l1 += a;
      if (x < this.min) {
        this.min = x;
      }
      if (x > this.max) {
        this.max = x;
      }
      if (a === 0) {
        this.zeroCount++;
      } else if (a < this.minNonZeroAbs) {
        this.minNonZeroAbs = a;
      }
      const b = u[stride * i + off]!;
      const k = (((b >> 31) | 0x80000000) ^ b) >>> 16;
      radix[k] = radix[k]! + 1;
    }
    this.mergeShifted(finite, shift, s1, s2, s3, s4);
  }

  /** Shift for the next chunk: the running mean (close to the data, so x - shift loses nothing). */
  private nextShift(): number {
    const shift = this.origin + this.mean;
    return Number.isFinite(shift) ? shift : 0;
  }

  /**
   * Converts power sums about `shift` to central moments and merges them (Pébay 2008, eq. 2.1-2.3).
   * Means are kept relative to `origin` (the first chunk's mean), so that merging chunks of data
   * with a large mean and a tiny spread does not cancel digits.
   */
  private mergeShifted(nb: number, shift: number, s1: number, s2: number, s3: number, s4: number): void {
    const delta0 = s1 / nb;
    if (this.n === 0) {
      this.origin = shift;
    }
    const meanB = shift - this.origin + delta0;
    const m2b = Math.max(0, s2 - s1 * delta0);
    const m3b = s3 - 3 * delta0 * s2 + 2 * nb * delta0 * delta0 * delta0;
    const m4b = s4 - 4 * delta0 * s3 + 6 * delta0 * delta0 * s2 - 3 * nb * delta0 * delta0 * delta0 * delta0;
    const na = this.n;
    if (na === 0) {
      this.n = nb;
      this.mean = meanB;
      this.m2 = m2b;
      this.m3 = m3b;
      this.m4 = m4b;
      return;
    }
    const n = na + nb;
    const delta = meanB - this.mean;
    const dn = delta / n;
    const m2a = this.m2;
    const m3a = this.m3;
    this.m4 =
      this.m4 +
      m4b +
      delta * dn * dn * dn * na * nb * (na * na - na * nb + nb * nb) +
      6 * dn * dn * (na * na * m2b + nb * nb * m2a) +
      4 * dn * (na * m3b - nb * m3a);
    this.m3 = m3a + m3b + delta * dn * dn * na * nb * (na - nb) + 3 * dn * (na * m2b - nb * m2a);
    this.m2 = m2a + m2b + delta * dn * na * nb;
    this.mean = this.mean + dn * nb;
    this.n = n;
  }

  // ---------------------------------------------------------------- between the passes

  /** True when pass 2 has anything to do. */
  get needsPass2(): boolean {
    return this.n > 0;
  }

  /** Sets up the histograms and the percentile targets from the pass-1 results. */
  preparePass2(): void {
    this.mergeRadix();
    if (this.radixTotal) {
      this.flushRadix();
    }
    const radix = this.radixTotal ?? this.radix;
    const occupied = this.occupiedBins(radix);
    const bins = this.bins;
    // Linear histogram edges (numpy.histogram / numpy.linspace).
    let first = this.min;
    let last = this.max;
    if (first === last) {
      first -= 0.5;
      last += 0.5;
    }
    let step = (last - first) / bins;
    if (!Number.isFinite(step)) {
      step = last / bins - first / bins;
    }
    this.first = first;
    this.last = last;
    this.step = step;
    this.norm = 1 / step;
    // Tolerance (in bin units) within which the fast bin guess is checked against the exact edges.
    const eps = 2 ** -52;
    const tol = 8 * eps * ((Math.abs(first) + Math.abs(last)) * this.norm + bins);
    this.tol = Number.isFinite(tol) && tol < 0.25 && step > 0 ? tol : 1;
    this.lin = this.kernel ? this.kernel.linCounts(bins) : new Uint32Array(bins);
    this.linTotal = zeros(bins);
    const absMax = Math.max(Math.abs(this.min), Math.abs(this.max));
    this.nearZeroThreshold = 1e-3 * absMax;

    // Log histogram.
    if (Number.isFinite(this.minNonZeroAbs)) {
      let lo = Math.floor(Math.log10(this.minNonZeroAbs)) + 0; // + 0 turns -0 into 0
      let hi = Math.ceil(Math.log10(absMax)) + 0;
      while (10 ** lo > this.minNonZeroAbs) {
        lo--;
      }
      while (10 ** hi < absMax && hi < 309) {
        hi++;
      }
      if (hi <= lo) {
        hi = lo + 1;
      }
      const { edges, thresholds } = logEdgesFor(lo, hi, bins);
      this.logEdges = edges;
      // The kernel reads its thresholds from its memory; the JS loops read the shared ones.
      this.logThresholds = this.kernel ? this.kernel.logThresholds(bins) : thresholds;
      if (this.kernel) {
        this.logThresholds.set(thresholds);
      }
      this.logH = this.kernel ? this.kernel.logCounts(bins) : new Uint32Array(bins);
      this.logTotal = zeros(bins);
      this.buildLogTable(absMax, occupied);
    }

    // Percentile targets: the radix bins that hold the needed order statistics (ascending, distinct).
    const n = this.n;
    const ranks = rankScratch;
    let rankCount = 0;
    for (const q of percentileFractions) {
      const [lo, hi] = percentileRanks(n, q);
      ranks[rankCount++] = lo;
      ranks[rankCount++] = hi;
    }
    sortPrefix(ranks, 0, rankCount);
    let distinct = 0;
    for (let i = 0; i < rankCount; i++) {
      if (distinct === 0 || ranks[distinct - 1] !== ranks[i]) {
        ranks[distinct++] = ranks[i]!;
      }
    }
    rankCount = distinct;
    this.targetOf = takeArray(spareTargetOfs, () => new Int16Array(radixBins));
    if (this.keys) {
      // Only the occupied bins' entries are ever read.
      for (let j = 0; j < occupied.length; j++) {
        this.targetOf[occupied[j]!] = -1;
      }
    } else {
      this.targetOf.fill(-1);
    }
    let cum = 0;
    let r = 0;
    let collecting = 0;
    const collectLimit = this.mode === 'f32' ? collectLimitF32 : collectLimitF64;
    for (let j = 0; j < occupied.length && r < rankCount; j++) {
      const k = occupied[j]!;
      const c = radix[k]!;
      let hit = false;
      while (r < rankCount && ranks[r]! < cum + c) {
        const rank = ranks[r]!;
        if (rank !== 0 && rank !== n - 1) {
          hit = true;
        }
        r++;
      }
      if (hit) {
        const t = new TargetBin(k, cum, c, collectLimit, collecting);
        collecting += t.collect ? c : 0;
        this.targetOf[k] = this.targets.length;
        this.targets.push(t);
      }
      cum += c;
    }
    if (collecting > 0) {
      this.collected = takeCollected(collecting);
    }
    this.classifyBins(radix, occupied);
  }

  /** The radix bins with a non-zero count, ascending. */
  private occupiedBins(radix: Uint32Array | Float64Array): Int32Array {
    if (this.keys && radix === this.radix) {
      const sorted = occupiedScratch;
      const count = this.keyCount;
      sorted.set(this.keys.subarray(0, count));
      sortPrefix(sorted, 0, count);
      let m = 0;
      for (let j = 0; j < count; j++) {
        const k = sorted[j]!;
        if (radix[k]! > 0 && (m === 0 || sorted[m - 1] !== k)) {
          sorted[m++] = k;
        }
      }
      return sorted.subarray(0, m);
    }
    if (this.kernel && radix === this.radix) {
      return this.kernel.nonzeroBins().slice();
    }
    let count = 0;
    for (let k = 0; k < radixBins; k++) {
      count += radix[k]! > 0 ? 1 : 0;
    }
    const out = new Int32Array(count);
    for (let k = 0, j = 0; k < radixBins; k++) {
      if (radix[k]! > 0) {
        out[j++] = k;
      }
    }
    return out;
  }

  /**
   * Decides per radix bin and per aspect whether pass 2 must look at its values one by one: the
   * linear histogram when an edge lies inside the bin, the log histogram when a log edge or zero
   * does, the near-zero count when the threshold does, and percentile collection when the bin holds
   * a needed order statistic. Every other aspect of the bin is counted at once from its population,
   * and bins with no per-value aspect are skipped by pass 2 altogether.
   */
  private classifyBins(radix: Uint32Array | Float64Array, occupied: Int32Array): void {
    const special = this.kernel?.special ?? takeArray(spareSpecials, () => new Uint8Array(radixBins));
    if (this.keys) {
      // The kernel's codes are zero when it is taken (giveKernel); pass 1 only saw these keys.
      for (let j = 0; j < this.keyCount; j++) {
        special[this.keys[j]!] = 0;
      }
    } else {
      special.fill(0);
    }
    const hasLog = this.logH.length > 0;
    const thr = this.nearZeroThreshold;
    for (let j = 0; j < occupied.length; j++) {
      const k = occupied[j]!;
      const c = radix[k]!;
      let code = this.targetOf[k]! >= 0 ? perValueTarget : 0;
      const [lo, hi] = this.binValueRange(k);
      const a = Math.max(lo, this.min);
      const b = Math.min(hi, this.max);
      if (!(a <= b)) {
        special[k] = perValueLin | perValueLog | perValueNearZero | code;
        continue;
      }
      const lb = this.linBinExact(a);
      if (lb !== this.linBinExact(b)) {
        code |= perValueLin;
      } else {
        this.linTotal[lb] = this.linTotal[lb]! + c;
      }
      const zeroInside = a <= 0 && b >= 0;
      const small = zeroInside ? 0 : Math.min(Math.abs(a), Math.abs(b));
      const large = Math.max(Math.abs(a), Math.abs(b));
      if (small < thr !== large < thr) {
        code |= perValueNearZero;
      } else if (large < thr) {
        this.nearZero += c;
      }
      if (hasLog) {
        const gb = zeroInside ? -1 : this.logBinExact(small);
        if (zeroInside || gb !== this.logBinExact(large)) {
          code |= perValueLog;
        } else {
          this.logTotal[gb] = this.logTotal[gb]! + c;
        }
      }
      special[k] = code;
    }
    this.special = special;
  }

  /** Smallest and largest value whose order key has top 16 bits k. */
  private binValueRange(k: number): [number, number] {
    const kLo = bitsFromKey((k << 16) >>> 0);
    const kHi = bitsFromKey(((k << 16) | 0xffff) >>> 0);
    if (this.mode === 'f32') {
      const a = f32FromBits(kLo);
      const b = f32FromBits(kHi);
      return [Math.min(a, b), Math.max(a, b)];
    }
    const v = [f64FromWords(kLo, 0), f64FromWords(kLo, 0xffffffff), f64FromWords(kHi, 0), f64FromWords(kHi, 0xffffffff)];
    return [Math.min(...v), Math.max(...v)];
  }

  /**
   * Maps each radix bin of |x| (top 16 bits of the bit pattern without sign) to the log bin of its
   * smallest value; a value's log bin is found from there by stepping over the few log edges that
   * may lie inside its radix bin.
   */
  private buildLogTable(absMax: number, occupied: Int32Array): void {
    const table = this.kernel?.logTable ?? takeArray(spareLogTables, () => new Int16Array(32768));
    // Only the bins between the smallest and the largest |x| can be hit.
    const first = Math.max(1, this.absKey16(this.minNonZeroAbs));
    const last = this.absKey16(absMax);
    if (this.keys) {
      // Pass 2 reads only the entries of the occupied radix bins: set those as the full table has them.
      for (let i = 0; i < occupied.length; i++) {
        const k = occupied[i]!;
        const j = (k & 0x8000 ? k : ~k) & 0x7fff; // |x|'s top 16 bits (see bitsFromKey)
        table[j] = j >= first && j <= last ? this.logEntry(j) : 0;
      }
    } else {
      table.fill(0);
      for (let j = first; j <= last; j++) {
        table[j] = this.logEntry(j);
      }
    }
    this.logTable = table;
  }

  /** Log bin of the smallest value of the radix bin j of |x|. */
  private logEntry(j: number): number {
    const lo = this.mode === 'f32' ? f32FromBits(j << 16) : f64FromWords(j << 16, 0);
    return Number.isFinite(lo) ? this.logBinExact(lo) : this.bins - 1;
  }

  /** Top 16 bits of |v|'s bit pattern (float32 bits, or the float64 high word). */
  private absKey16(v: number): number {
    if (this.mode === 'f32') {
      scratchF32[0] = v;
      return (scratchU32[0]! >>> 16) & 0x7fff;
    }
    scratchF64[0] = v;
    return (scratchU32[hiWord]! >>> 16) & 0x7fff;
  }

  /** Log bin of |x| > 0: the largest i with |x| >= 10^e_i, clamped to the bins. */
  logBinExact(a: number): number {
    const t = this.logThresholds;
    let lo = 0;
    let hi = this.bins - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (a >= t[mid]!) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  }

  /** Lower edge of linear bin i. */
  private linEdge(i: number): number {
    return i >= this.bins ? this.last : i * this.step + this.first;
  }

  /** Linear bin of a finite x: the last bin whose left edge x reaches (the last bin closed). */
  linBinExact(x: number): number {
    const bins = this.bins;
    let b = Math.floor((x - this.first) * this.norm);
    if (!(b >= 0)) {
      b = 0;
    }
    if (b > bins - 1) {
      b = bins - 1;
    }
    while (b > 0 && x < this.linEdge(b)) {
      b--;
    }
    while (b < bins - 1 && x >= this.linEdge(b + 1)) {
      b++;
    }
    return b;
  }

  // ---------------------------------------------------------------- pass 2

  /** Adds one chunk in pass 2. */
  pass2(w: WorkArray): void {
    const n = w.length;
    if (n === 0) {
      return;
    }
    this.pass2Count += n;
    if (this.sinceFlush2 + n > 0xffffffff) {
      this.flushHistograms();
    }
    this.sinceFlush2 += n;
    if (w instanceof Float32Array && this.kernel) {
      const kernel = this.kernel;
      const n4 = n - (n & 3);
      const hasLog = this.logH.length > 0;
      const f = kernel.memF32;
      const u = kernel.memU32;
      let nz = 0;
      forKernelPieces(kernel, w.subarray(0, n4), kernelPickCapacity, (p, length) => {
        nz += kernel.pass2(p, length, this.first, this.norm, this.tol, this.nearZeroThreshold, this.bins, hasLog);
        // The kernel leaves the percentile-target values and those next to a linear edge to us.
        const base = p >>> 2;
        const targets = kernel.listLengths[0]!;
        for (let t = 0; t < targets; t++) {
          const i = base + kernel.targetList[t]!;
          const ub = u[i]!;
          const key = (((ub >> 31) | 0x80000000) ^ ub) >>> 0;
          this.addTarget(this.targetOf[key >>> 16]!, f[i]!, key, 0);
        }
        const edges = kernel.listLengths[1]!;
        for (let t = 0; t < edges; t++) {
          const b = this.linBinExact(f[base + kernel.edgeList[t]!]!);
          this.lin[b] = this.lin[b]! + 1;
        }
      });
      if (n4 < n) {
        const tail = w.subarray(n4);
        nz += loop2F32(this, tail, new Uint32Array(tail.buffer, tail.byteOffset, tail.length));
      }
      this.nearZero += nz;
      return;
    }
    this.nearZero +=
      w instanceof Float32Array
        ? loop2F32(this, w, new Uint32Array(w.buffer, w.byteOffset, n))
        : loop2F64(this, w, new Uint32Array(w.buffer, w.byteOffset, 2 * n));
  }

  /** Records a value of a percentile target bin (rare path of the pass-2 loops). */
  addTarget(tg: number, x: number, key: number, lo: number): void {
    const target = this.targets[tg]!;
    if (target.collect) {
      this.collected[target.at + target.filled++] = x;
    } else {
      const sub = target.sub;
      sub[key & 0xffff] = sub[key & 0xffff]! + 1;
      target.loOr |= lo;
    }
  }

  // ---------------------------------------------------------------- result

  private released = false;

  /**
   * Hands the large work arrays and the kernel back for reuse by the next computation (the engine is
   * done, finished or not); only the first call counts.
   */
  release(): void {
    if (this.released) {
      return;
    }
    this.released = true;
    const keys = this.keys;
    if (keys) {
      // Clear just the bins this tensor's values touched.
      const special = this.kernel?.special;
      for (let j = 0; j < this.keyCount; j++) {
        const k = keys[j]!;
        this.radix[k] = 0;
        this.radixOdd[k] = 0;
        if (special) {
          special[k] = 0;
        }
      }
      giveArray(spareKeys, keys);
    }
    if (this.kernel) {
      giveKernel(this.kernel, keys !== undefined);
    } else {
      if (!keys) {
        this.radix.fill(0);
        this.radixOdd.fill(0);
      }
      giveArray(spareRadixes, this.radix);
      giveArray(spareRadixes, this.radixOdd);
    }
    if (this.targetOf.length === radixBins) {
      giveArray(spareTargetOfs, this.targetOf);
    }
    if (this.logTable.length === 32768 && !this.kernel) {
      giveArray(spareLogTables, this.logTable);
    }
    if (this.special.length === radixBins && !this.kernel) {
      giveArray(spareSpecials, this.special);
    }
    for (const t of this.targets) {
      if (t.sub instanceof Uint32Array && t.sub.length === radixBins) {
        giveArray(spareSubs, t.sub);
      }
    }
    if (this.collected.length > 0) {
      giveCollected(this.collected);
    }
  }

  /** The order statistic of finite rank r (0-based) and its error bound. */
  private orderStatistic(rank: number): { value: number; bound: number } {
    if (rank === 0) {
      return { value: this.min, bound: 0 };
    }
    if (rank === this.n - 1) {
      return { value: this.max, bound: 0 };
    }
    for (const t of this.targets) {
      if (rank < t.before || rank >= t.before + t.count) {
        continue;
      }
      const offset = rank - t.before;
      if (t.collect) {
        if (t.filled !== t.count) {
          throw new Error(`statistics pass 2 saw ${t.filled} values in a bin that held ${t.count} in pass 1`);
        }
        if (!t.sorted) {
          sortPrefix(this.collected, t.at, t.at + t.count);
          t.sorted = true;
        }
        return { value: this.collected[t.at + offset]!, bound: 0 };
      }
      const sub = t.sub;
      let cum = 0;
      for (let s = 0; s < radixBins; s++) {
        cum += sub[s]!;
        if (offset < cum) {
          const key = ((t.key16 << 16) | s) >>> 0;
          const bits = bitsFromKey(key);
          if (this.mode === 'f32') {
            return { value: f32FromBits(bits), bound: 0 };
          }
          const a = f64FromWords(bits, 0);
          if (t.loOr === 0) {
            return { value: a, bound: 0 };
          }
          const b = f64FromWords(bits, 0xffffffff);
          return { value: (a + b) / 2, bound: Math.abs(b - a) / 2 };
        }
      }
      throw new Error('statistics pass 2 counted fewer values in a bin than pass 1');
    }
    throw new Error(`no radix bin holds finite rank ${rank}`);
  }

  /** Assembles the JSON-safe result; the engine cannot be used afterwards. */
  result(): TensorStats {
    const r = this.buildResult();
    this.release();
    return r;
  }

  private buildResult(): TensorStats {
    this.flushHistograms();
    const n = this.n;
    const bins = this.bins;
    const percentiles = {} as Record<PercentileKey, number | null>;
    let bound = 0;
    for (let i = 0; i < percentileKeys.length; i++) {
      const key = percentileKeys[i]!;
      if (n === 0) {
        percentiles[key] = null;
        continue;
      }
      const q = percentileFractions[i]!;
      const h = (n - 1) * q;
      const [lo, hi] = percentileRanks(n, q);
      const a = this.orderStatistic(lo);
      const b = this.orderStatistic(hi);
      // numpy.lib.function_base._lerp: the virtual index's fraction (gamma) from the floor index
      // (-1 when above the last index, where both neighbours are the last value).
      const gamma = h >= n - 1 ? h + 1 : h - Math.floor(h);
      const diff = b.value - a.value;
      const v = gamma >= 0.5 ? b.value - diff * (1 - gamma) : a.value + diff * gamma;
      percentiles[key] = finiteOrNull(v);
      bound = Math.max(bound, a.bound, b.bound);
    }
    const finiteStats = n > 0;
    const constant = finiteStats && this.min === this.max;
    const variance = this.m2 / n;
    const std = constant ? 0 : Math.sqrt(variance);
    const absMax = finiteStats ? Math.max(Math.abs(this.min), Math.abs(this.max)) : null;
    const momentsDefined = finiteStats && !constant && variance > 0;
    const edges: number[] = finiteStats ? new Array<number>(bins + 1) : [];
    for (let i = 0; i < edges.length; i++) {
      edges[i] = this.linEdge(i);
    }
    const histogram: Histogram = { edges, counts: finiteStats ? this.linTotal : [] };
    const logHistogram: Histogram = { edges: this.logEdges.slice(), counts: this.logTotal };
    return {
      count: this.count,
      nanCount: this.nanCount,
      posInfCount: this.posInfCount,
      negInfCount: this.negInfCount,
      zeroCount: this.zeroCount,
      mean: finiteStats ? finiteOrNull(this.origin + this.mean) : null,
      std: finiteStats ? finiteOrNull(std) : null,
      min: finiteStats ? this.min : null,
      max: finiteStats ? this.max : null,
      l1: saturate(this.l1),
      l2: saturate(Math.sqrt(this.sumSq)),
      absMax,
      skewness: momentsDefined ? finiteOrNull(this.m3 / n / variance ** 1.5) : null,
      kurtosis: momentsDefined ? finiteOrNull(this.m4 / n / (variance * variance) - 3) : null,
      nearZeroFraction: absMax !== null && absMax > 0 ? this.nearZero / n : 0,
      percentiles,
      percentileErrorBound: bound,
      histogram,
      logHistogram,
    };
  }
}

// Pass-1 accumulator slots.
const accS1 = 0;
const accS2 = 1;
const accS3 = 2;
const accS4 = 3;
const accSq = 4;
const accL1 = 5;
const accMin = 6;
const accMax = 7;
const accMinNonZero = 8;
const accZeros = 9;

function sumF32(w: Float32Array): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) {
    s += w[i]!;
  }
  return s;
}

function sumF64(w: Float64Array): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) {
    s += w[i]!;
  }
  return s;
}

/*
 * The hot loops. They are separate monomorphic functions (one per element type) so that the JIT
 * keeps every accumulator in a register; keep them free of object allocation.
 */

/**
 * Calls `fn` with the kernel-memory offset and length of each piece of at most `size` values of `w`
 * (in place when a reader filled the kernel's buffer, else copied into it).
 */
function forKernelPieces(kernel: StatsKernel, w: Float32Array, size: number, fn: (p: number, n: number) => void): void {
  for (let at = 0; at < w.length; at += size) {
    const piece = w.length <= size ? w : w.subarray(at, Math.min(w.length, at + size));
    fn(kernel.place(piece), piece.length);
  }
}

/** Sum of float32 values (a multiple of 4) in float64, by the kernel. */
function kernelSum(kernel: StatsKernel, w: Float32Array): number {
  let s = 0;
  forKernelPieces(kernel, w, kernelValueCapacity, (p, n) => {
    s += kernel.sum(p, n);
  });
  return s;
}

/** Pass 1 over float32 values: power sums about `shift`, l1, sum of squares, extremes, zeros, radix counts. */
function loop1F32(w: Float32Array, u: Uint32Array, shift: number, radix: Uint32Array, radixOdd: Uint32Array, acc: Float64Array): void {
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let sq = 0;
  let l1 = 0;
  let mn = acc[accMin]!;
  let mx = acc[accMax]!;
  let mnz = acc[accMinNonZero]!;
  let zeros = 0;
  const n = w.length;
  // Two elements per step (n is even), the second one's radix count in its own table (see radixOdd).
  for (let i = 0; i < n; i += 2) {
    const x = w[i]!;
    const d = x - shift;
    const d2 = d * d;
    s1 += d;
    s2 += d2;
    s3 += d2 * d;
    s4 += d2 * d2;
    sq += x * x;
    const a = Math.abs(x);
    l1 += a;
    mn = x < mn ? x : mn;
    mx = x > mx ? x : mx;
    if (a < mnz) {
      // mnz > 0, so zeros always land here
      if (a === 0) {
        zeros++;
      } else {
        mnz = a;
      }
    }
    const b = u[i]!;
    const k = (((b >> 31) | 0x80000000) ^ b) >>> 16;
    radix[k] = radix[k]! + 1;
    const y = w[i + 1]!;
    const e = y - shift;
    const e2 = e * e;
    s1 += e;
    s2 += e2;
    s3 += e2 * e;
    s4 += e2 * e2;
    sq += y * y;
    const c = Math.abs(y);
    l1 += c;
    mn = y < mn ? y : mn;
    mx = y > mx ? y : mx;
    if (c < mnz) {
      if (c === 0) {
        zeros++;
      } else {
        mnz = c;
      }
    }
    const b2 = u[i + 1]!;
    const k2 = (((b2 >> 31) | 0x80000000) ^ b2) >>> 16;
    radixOdd[k2] = radixOdd[k2]! + 1;
  }
  acc[accS1] = s1;
  acc[accS2] = s2;
  acc[accS3] = s3;
  acc[accS4] = s4;
  acc[accSq] = sq;
  acc[accL1] = l1;
  acc[accMin] = mn;
  acc[accMax] = mx;
  acc[accMinNonZero] = mnz;
  acc[accZeros] = zeros;
}

/** Pass 1 over float64 values (radix key from the high word). */
function loop1F64(w: Float64Array, u: Uint32Array, shift: number, radix: Uint32Array, acc: Float64Array): void {
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let sq = 0;
  let l1 = 0;
  let mn = acc[accMin]!;
  let mx = acc[accMax]!;
  let mnz = acc[accMinNonZero]!;
  let zeros = 0;
  const n = w.length;
  for (let i = 0; i < n; i++) {
    const x = w[i]!;
    const d = x - shift;
    const d2 = d * d;
    s1 += d;
    s2 += d2;
    s3 += d2 * d;
    s4 += d2 * d2;
    sq += x * x;
    const a = Math.abs(x);
    l1 += a;
    mn = x < mn ? x : mn;
    mx = x > mx ? x : mx;
    if (a < mnz) {
      if (a === 0) {
        zeros++;
      } else {
        mnz = a;
      }
    }
    const b = u[2 * i + hiWord]!;
    const k = (((b >> 31) | 0x80000000) ^ b) >>> 16;
    radix[k] = radix[k]! + 1;
  }
  acc[accS1] = s1;
  acc[accS2] = s2;
  acc[accS3] = s3;
  acc[accS4] = s4;
  acc[accSq] = sq;
  acc[accL1] = l1;
  acc[accMin] = mn;
  acc[accMax] = mx;
  acc[accMinNonZero] = mnz;
  acc[accZeros] = zeros;
}

/** Per-value aspects of a radix bin in pass 2 (bit flags of StatsEngine.special). */
const perValueLin = 1;
const perValueLog = 2;
const perValueNearZero = 4;
const perValueTarget = 8;

/** Elements examined per block of the pass-2 loops. */
const pickBlock = 1 << 16;
/** Indices of the elements of special bins within the current block (shared; the loops are synchronous). */
const pickBuffer = new Int32Array(pickBlock);

/** Pass 2 over float32 values: linear and log histograms, percentile targets; returns the near-zero count. */
function loop2F32(e: StatsEngine, w: Float32Array, u: Uint32Array): number {
  const lin = e.lin;
  const logH = e.logH;
  const logTable = e.logTable;
  const logThresholds = e.logThresholds;
  const lastBin = e.bins - 1;
  const targetOf = e.targetOf;
  const special = e.special;
  const first = e.first;
  const norm = e.norm;
  const tol = e.tol;
  const upper = 1 - tol;
  const bins = e.bins;
  const thr = e.nearZeroThreshold;
  let nz = 0;
  const n = w.length;
  // Pick the elements of special bins first (a tight loop), then handle only those.
  const picked = pickBuffer;
  for (let base = 0; base < n; base += pickBlock) {
    const end = Math.min(n, base + pickBlock);
    let m = 0;
    for (let i = base; i < end; i++) {
      const ub = u[i]!;
      picked[m] = i;
      m += (special[(((ub >> 31) | 0x80000000) ^ ub) >>> 16]! + 15) >> 4; // 1 when any flag is set
    }
    for (let j = 0; j < m; j++) {
      const i = picked[j]!;
      const ub = u[i]!;
      const x = w[i]!;
      const key = (((ub >> 31) | 0x80000000) ^ ub) >>> 0;
      const code = special[key >>> 16]!;
      if (code & perValueLin) {
        const t = (x - first) * norm;
        let b = t | 0;
        const fr = t - b;
        if (fr < tol || fr > upper || b >= bins) {
          b = e.linBinExact(x);
        }
        lin[b] = lin[b]! + 1;
      }
      const a = Math.abs(x);
      if (code & perValueNearZero) {
        nz += a < thr ? 1 : 0;
      }
      if (code & perValueLog && a !== 0) {
        let g = logTable[(ub >>> 16) & 0x7fff]!;
        while (g < lastBin && a >= logThresholds[g + 1]!) {
          g++;
        }
        logH[g] = logH[g]! + 1;
      }
      if (code & perValueTarget) {
        e.addTarget(targetOf[key >>> 16]!, x, key, 0);
      }
    }
  }
  return nz;
}

/** Pass 2 over float64 values (keys from the high word; low words tracked for exactness). */
function loop2F64(e: StatsEngine, w: Float64Array, u: Uint32Array): number {
  const lin = e.lin;
  const logH = e.logH;
  const logTable = e.logTable;
  const logThresholds = e.logThresholds;
  const lastBin = e.bins - 1;
  const targetOf = e.targetOf;
  const special = e.special;
  const first = e.first;
  const norm = e.norm;
  const tol = e.tol;
  const upper = 1 - tol;
  const bins = e.bins;
  const thr = e.nearZeroThreshold;
  let nz = 0;
  const n = w.length;
  // Pick the elements of special bins first (a tight loop), then handle only those.
  const picked = pickBuffer;
  for (let base = 0; base < n; base += pickBlock) {
    const end = Math.min(n, base + pickBlock);
    let m = 0;
    for (let i = base; i < end; i++) {
      const ub = u[2 * i + hiWord]!;
      picked[m] = i;
      m += (special[(((ub >> 31) | 0x80000000) ^ ub) >>> 16]! + 15) >> 4; // 1 when any flag is set
    }
    for (let j = 0; j < m; j++) {
      const i = picked[j]!;
      const ub = u[2 * i + hiWord]!;
      const x = w[i]!;
      const key = (((ub >> 31) | 0x80000000) ^ ub) >>> 0;
      const code = special[key >>> 16]!;
      if (code & perValueLin) {
        const t = (x - first) * norm;
        let b = t | 0;
        const fr = t - b;
        if (fr < tol || fr > upper || b >= bins) {
          b = e.linBinExact(x);
        }
        lin[b] = lin[b]! + 1;
      }
      const a = Math.abs(x);
      if (code & perValueNearZero) {
        nz += a < thr ? 1 : 0;
      }
      if (code & perValueLog && a !== 0) {
        let g = logTable[(ub >>> 16) & 0x7fff]!;
        while (g < lastBin && a >= logThresholds[g + 1]!) {
          g++;
        }
        logH[g] = logH[g]! + 1;
      }
      if (code & perValueTarget) {
        e.addTarget(targetOf[key >>> 16]!, x, key, u[2 * i + loWord]!);
      }
    }
  }
  return nz;
}

/** q/100 for a percentile key such as 'p99.9' (numpy.percentile divides by 100 the same way). */
function percentileFraction(key: PercentileKey): number {
  return Number(key.slice(1)) / 100;
}

/** percentileFraction of each of percentileKeys. */
const percentileFractions = percentileKeys.map(percentileFraction);

/** The two finite ranks numpy's 'linear' method interpolates between. */
function percentileRanks(n: number, q: number): [number, number] {
  const h = (n - 1) * q;
  if (h >= n - 1) {
    return [n - 1, n - 1];
  }
  const lo = Math.floor(h);
  return [lo, Math.min(lo + 1, n - 1)];
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Sums that overflow float64 (only possible for float64 data near 1e308) saturate at Number.MAX_VALUE. */
function saturate(v: number): number {
  return Number.isFinite(v) ? v : Number.MAX_VALUE;
}

function checkBins(bins: number): number {
  if (!Number.isInteger(bins) || bins < 1 || bins > 32767) {
    throw new RangeError(`histogramBins must be an integer between 1 and 32767, got ${bins}.`);
  }
  return bins;
}

/** Full statistics of one tensor (TensorStats in src/analysis/statsTypes.ts), streaming its values. */
export async function computeTensorStats(
  tensor: Pick<TensorInfo, 'readValues' | 'dtype' | 'shape' | 'name'>,
  options: StatsOptions = {},
): Promise<TensorStats> {
  if (!isNumericDType(tensor.dtype)) {
    throw new WeightFileError('unsupportedDtype', `Tensor '${tensor.name}' holds '${tensor.dtype}' values, which have no numeric statistics.`, {
      tensor: tensor.name,
    });
  }
  try {
    return await computeStreamed(tensor, options, undefined);
  } catch (ex) {
    if (ex instanceof RestartAsFloat64) {
      return computeStreamed(tensor, options, 'f64');
    }
    throw ex;
  }
}

async function computeStreamed(
  tensor: Pick<TensorInfo, 'readValues' | 'dtype' | 'shape' | 'name'>,
  options: StatsOptions,
  forcedMode: 'f32' | 'f64' | undefined,
): Promise<TensorStats> {
  const bins = checkBins(options.histogramBins ?? defaultHistogramBins);
  const signal = options.signal;
  const chunkElements = Math.max(1, options.chunkElements ?? defaultStatsChunkElements);
  const holdLimit = options.holdLimitBytes ?? defaultHoldLimitBytes;
  const expected = expectedValueCount(tensor.dtype, tensor.shape);
  let engine: StatsEngine | undefined;
  // The values are copied into one reusable buffer for pass 2 (a copy is cheaper than keeping the
  // reader's fresh chunks alive, and safe even when a reader refills one buffer).
  let hold: WorkArray | undefined;
  let holding = expected !== undefined;
  let filled = 0;
  // A float32 tensor is read straight into the buffer of the engine's kernel (statsKernels.ts).
  const kernel = tensor.dtype === 'float32' && forcedMode !== 'f64' ? takeKernel() : undefined;
  const readOptions: ReadValuesOptions = kernel
    ? { chunkElements: Math.min(chunkElements, kernelValueCapacity), signal, reuseChunks: true, chunkBuffer: kernel.valueBytes }
    : { chunkElements, signal, reuseChunks: true };
  let lastYield = Date.now();
  const pause = async (): Promise<void> => {
    throwIfAborted(signal);
    if (Date.now() - lastYield > yieldIntervalMs) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = Date.now();
      throwIfAborted(signal);
    }
  };
  try {
    throwIfAborted(signal);
    for await (const chunk of tensor.readValues(readOptions)) {
      if (chunk.length === 0) {
        continue;
      }
      engine ??= new StatsEngine(bins, forcedMode ?? modeOf(chunk), kernel);
      const w = toWorkArray(chunk, engine.mode);
      engine.pass1(w);
      if (holding) {
        hold ??= takeHold(expected!, engine.mode, holdLimit);
        if (hold && filled + w.length <= hold.length) {
          hold.set(w, filled);
          filled += w.length;
        } else {
          holding = false; // too large (or more values than the shape holds): read again for pass 2
        }
      }
      await pause();
    }
    engine ??= new StatsEngine(bins, forcedMode ?? 'f32', kernel);
    if (expected !== undefined && engine.count !== expected) {
      throw new WeightFileError(
        'corrupt',
        `Tensor '${tensor.name}' yielded ${engine.count} values but its shape [${tensor.shape.join(', ')}] holds ${expected}.`,
        { tensor: tensor.name },
      );
    }
    if (engine.needsPass2) {
      engine.preparePass2();
      if (holding && hold && filled === engine.count) {
        for (let at = 0; at < filled; at += chunkElements) {
          engine.pass2(hold.subarray(at, Math.min(filled, at + chunkElements)));
          await pause();
        }
      } else {
        for await (const chunk of tensor.readValues(readOptions)) {
          engine.pass2(toWorkArray(chunk, engine.mode));
          await pause();
        }
      }
      if (engine.pass2Count !== engine.count) {
        throw new WeightFileError('corrupt', `Tensor '${tensor.name}' yielded ${engine.pass2Count} values on the second read but ${engine.count} on the first; the file may have changed.`, {
          tensor: tensor.name,
        });
      }
    }
    return engine.result();
  } finally {
    // A failed or cancelled computation hands its arrays and kernel on too.
    if (engine) {
      engine.release();
    } else if (kernel) {
      giveKernel(kernel);
    }
    if (hold) {
      giveHold(hold);
    }
  }
}

/** A spare hold buffer, kept for the next tensor and dropped after `holdIdleMs` without use. */
let spareHold: ArrayBuffer | undefined;
let spareHoldTimer: NodeJS.Timeout | undefined;

/** A spare hold buffer is released after this long without use, in milliseconds. */
const holdIdleMs = 5000;

/** A buffer for `count` values of the mode, reusing the spare one when it is large enough; undefined above `limitBytes`. */
function takeHold(count: number, mode: 'f32' | 'f64', limitBytes: number): WorkArray | undefined {
  const bytes = count * (mode === 'f32' ? 4 : 8);
  if (bytes > limitBytes || count === 0) {
    return undefined;
  }
  let buffer = spareHold;
  if (buffer && buffer.byteLength >= bytes) {
    spareHold = undefined;
    clearTimeout(spareHoldTimer);
  } else {
    buffer = new ArrayBuffer(bytes);
  }
  return mode === 'f32' ? new Float32Array(buffer, 0, count) : new Float64Array(buffer, 0, count);
}

/** Keeps the larger of the returned and the spare buffer for reuse. */
function giveHold(hold: WorkArray): void {
  const buffer = hold.buffer as ArrayBuffer;
  if (!spareHold || buffer.byteLength > spareHold.byteLength) {
    spareHold = buffer;
  }
  clearTimeout(spareHoldTimer);
  spareHoldTimer = setTimeout(() => {
    spareHold = undefined;
  }, holdIdleMs);
  spareHoldTimer.unref();
}

/** Values readValues yields for a dtype and shape (complex types yield two per element); undefined when not fixed. */
function expectedValueCount(dtype: TensorInfo['dtype'], shape: readonly number[]): number | undefined {
  const n = elementCount(shape);
  if (dtype === 'complex64' || dtype === 'complex128') {
    return 2 * n;
  }
  if (dtype === 'int4' || dtype === 'uint4') {
    return undefined; // packed nibbles may carry one padding value
  }
  return n;
}

/** The same over an in-memory array (tests, small data). */
export function computeArrayStats(values: ArrayLike<number>, options: StatsOptions = {}): TensorStats {
  try {
    return computeArray(values, options, modeOf(values));
  } catch (ex) {
    if (ex instanceof RestartAsFloat64) {
      return computeArray(values, options, 'f64');
    }
    throw ex;
  }
}

function computeArray(values: ArrayLike<number>, options: StatsOptions, mode: 'f32' | 'f64'): TensorStats {
  const bins = checkBins(options.histogramBins ?? defaultHistogramBins);
  const chunkElements = Math.max(1, options.chunkElements ?? defaultStatsChunkElements);
  const all = toWorkArray(values, mode);
  const engine = new StatsEngine(bins, mode);
  try {
    for (let at = 0; at < all.length; at += chunkElements) {
      throwIfAborted(options.signal);
      engine.pass1(all.subarray(at, at + chunkElements));
    }
    if (engine.needsPass2) {
      engine.preparePass2();
      for (let at = 0; at < all.length; at += chunkElements) {
        throwIfAborted(options.signal);
        engine.pass2(all.subarray(at, at + chunkElements));
      }
    }
    return engine.result();
  } finally {
    engine.release();
  }
}

let warmedJsLoops = false;

/**
 * Runs every JS loop once on a few values before the first engine that works without the kernels
 * (float64 data, or no WebAssembly SIMD), so the JIT has type feedback for all of their statements
 * before it optimizes them (otherwise the first long chunk deoptimizes at the loop exit and later
 * calls restart in the interpreter). Float32 work in the kernels does not wait for it.
 */
function warmJsLoops(): void {
  if (warmedJsLoops) {
    return;
  }
  warmedJsLoops = true;
  const sample = [0, 1.5, -2.25, 3e-3, 7, -0.5, 1e-30, 2];
  computeArrayStats(new Float32Array(sample), { chunkElements: 4 });
  computeArrayStats(new Float64Array(sample), { chunkElements: 4 });
  computeArrayStats(new Float32Array([...sample, NaN, Infinity, -Infinity]), { chunkElements: 4 });
  computeArrayStats(new Float64Array([...sample, NaN, Infinity, -Infinity]), { chunkElements: 4 });
}
