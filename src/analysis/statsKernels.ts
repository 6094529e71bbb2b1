/**
 * The WebAssembly SIMD kernels of the statistics engine (statsKernels.wat): pass 1 and pass 2 over
 * float32 values, and the radix-table chores between them. Each StatsEngine in float32 mode takes
 * one kernel instance, whose memory holds its radix tables, pass-2 codes, histogram counts and a
 * value buffer that readers can fill directly.
 * Where WebAssembly SIMD is unavailable (or on a big-endian host) the engine uses its JS loops.
 */
import { compileWasm, instantiateWasm, type WasmMemoryExports, type WasmModule } from '../core/wasm';
import { statsKernelsBase64 } from './statsKernels.wasm';

/** Byte offsets in a kernel's memory (see statsKernels.wat). */
const radixEvenAt = 0;
const radixOddAt = 0x40000;
const specialAt = 0x80000;
const pickedAt = 0x90000;
const accAt = 0xd0000;
const listLengthsAt = 0xd0080;
const logTableAt = 0xe0000;
const valuesAt = 0x100000;
const valuesEnd = 0x200000;
const linAt = 0x200000;
const logHAt = 0x220000;
const logThresholdsAt = 0x240000;
const targetListAt = 0x290000;
const edgeListAt = 0x2d0000;

/** Values the kernel's value buffer holds. */
export const kernelValueCapacity = (valuesEnd - valuesAt) / 4;
/** Most histogram bins the kernel's pass 2 serves (the engine's own limit, see checkBins in tensorStats.ts). */
const kernelMaxBins = 32767;
/** Most values one pass2 call examines. */
export const kernelPickCapacity = 65536;

interface KernelExports extends WasmMemoryExports {
  pass1(p: number, n: number, shift: number): void;
  pass2(p: number, n: number, first: number, norm: number, tol: number, thr: number, bins: number, hasLog: number): number;
  sum(p: number, n: number): number;
  mergeRadix(): void;
  nonzeroBins(): number;
}

/** One instance of the kernels and views of its memory. */
export class StatsKernel {
  readonly buffer: ArrayBuffer;
  /** Radix counts of elements at even positions of each pass-1 call. */
  readonly radixEven: Uint32Array;
  /** Radix counts of elements at odd positions. */
  readonly radixOdd: Uint32Array;
  /** Pass-2 code per radix bin (non-zero: pass 2 picks the bin's values). */
  readonly special: Uint8Array;
  /** Indices picked by pass 2, and the list of nonzeroBins. */
  readonly picked: Int32Array;
  /** Pass-1 accumulators (the accS1 ... accZeros slots). */
  readonly acc: Float64Array;
  /** Log bin of the smallest |x| per radix bin of |x| (StatsEngine.logTable). */
  readonly logTable: Int16Array;
  /** Lengths of the target list and of the edge list after `pass2`. */
  readonly listLengths: Int32Array;
  /** Indices (relative to the pass2 call's start) of its percentile-target values. */
  readonly targetList: Int32Array;
  /** Indices of its values that lie too close to a linear bin edge for the kernel to bin. */
  readonly edgeList: Int32Array;
  /** The value buffer, as bytes (for readers) and as float32 values. */
  readonly valueBytes: Uint8Array;
  readonly values: Float32Array;
  /** The whole memory as float32 values and as their bit patterns (list indices are relative to a pass2 call's start). */
  readonly memF32: Float32Array;
  readonly memU32: Uint32Array;
  private readonly exports: KernelExports;
  /** The views last handed out by linCounts, logCounts and logThresholds (reused while the bin count stays). */
  private linView = new Uint32Array(0);
  private logHView = new Uint32Array(0);
  private logThresholdsView = new Float64Array(0);

  constructor(exports: KernelExports) {
    this.exports = exports;
    this.buffer = this.exports.memory.buffer;
    this.radixEven = new Uint32Array(this.buffer, radixEvenAt, 65536);
    this.radixOdd = new Uint32Array(this.buffer, radixOddAt, 65536);
    this.special = new Uint8Array(this.buffer, specialAt, 65536);
    this.picked = new Int32Array(this.buffer, pickedAt, kernelPickCapacity);
    this.acc = new Float64Array(this.buffer, accAt, 10);
    this.logTable = new Int16Array(this.buffer, logTableAt, 32768);
    this.listLengths = new Int32Array(this.buffer, listLengthsAt, 2);
    this.targetList = new Int32Array(this.buffer, targetListAt, kernelPickCapacity);
    this.edgeList = new Int32Array(this.buffer, edgeListAt, kernelPickCapacity);
    this.valueBytes = new Uint8Array(this.buffer, valuesAt, valuesEnd - valuesAt);
    this.values = new Float32Array(this.buffer, valuesAt, kernelValueCapacity);
    this.memF32 = new Float32Array(this.buffer);
    this.memU32 = new Uint32Array(this.buffer);
  }

  /**
   * Byte offset of float32 values in this kernel's memory: where `w` already lies (a reader filled
   * the value buffer), or the value buffer after copying `w` there (at most kernelValueCapacity).
   */
  place(w: Float32Array): number {
    if (w.buffer === this.buffer) {
      return w.byteOffset;
    }
    this.values.set(w);
    return valuesAt;
  }

  /** Pass 1 over n values (a multiple of 4) at byte offset p; see statsKernels.wat. */
  pass1(p: number, n: number, shift: number): void {
    this.exports.pass1(p, n, shift);
  }

  /** Zeroed linear histogram counts for `bins` bins (at most kernelMaxBins). */
  linCounts(bins: number): Uint32Array {
    checkKernelBins(bins);
    if (this.linView.length !== bins) {
      this.linView = new Uint32Array(this.buffer, linAt, bins);
    }
    return this.linView.fill(0);
  }

  /** Zeroed log histogram counts for `bins` bins. */
  logCounts(bins: number): Uint32Array {
    checkKernelBins(bins);
    if (this.logHView.length !== bins) {
      this.logHView = new Uint32Array(this.buffer, logHAt, bins);
    }
    return this.logHView.fill(0);
  }

  /** The log histogram thresholds, `bins` + 1 of them. */
  logThresholds(bins: number): Float64Array {
    if (this.logThresholdsView.length !== bins + 1) {
      this.logThresholdsView = new Float64Array(this.buffer, logThresholdsAt, bins + 1);
    }
    return this.logThresholdsView;
  }

  /**
   * Pass 2 over n values (a multiple of 4, at most kernelPickCapacity) at byte offset p: counts the
   * picked values into the linear and log histograms held here and returns their near-zero count;
   * leaves the percentile-target values and the values near a linear edge in targetList/edgeList.
   */
  pass2(p: number, n: number, first: number, norm: number, tol: number, thr: number, bins: number, hasLog: boolean): number {
    return this.exports.pass2(p, n, first, norm, tol, thr, bins, hasLog ? 1 : 0);
  }

  /** Sum of n values (a multiple of 4) at byte offset p, in float64. */
  sum(p: number, n: number): number {
    return this.exports.sum(p, n);
  }

  /** Adds radixOdd into radixEven and zeroes radixOdd. */
  mergeRadix(): void {
    this.exports.mergeRadix();
  }

  /** The radix bins with a non-zero count in radixEven, ascending (a view valid until the next kernel call). */
  nonzeroBins(): Int32Array {
    return this.picked.subarray(0, this.exports.nonzeroBins());
  }
}

function checkKernelBins(bins: number): void {
  if (!(bins >= 1 && bins <= kernelMaxBins)) {
    throw new RangeError(`The statistics kernels serve 1 to ${kernelMaxBins} histogram bins, not ${bins}.`);
  }
}

let compiled: WasmModule | null | undefined;
let enabled = true;
const spares: StatsKernel[] = [];
/** Spare instances kept per thread (4 MiB of address space each, a little over 2 MiB of it used by a float32 tensor). */
const maxSpares = 4;

function kernelModule(): WasmModule | null {
  // Without WebAssembly SIMD here (null) the JS loops serve.
  compiled ??= compileWasm(statsKernelsBase64);
  return compiled;
}

/** A kernel instance with zeroed radix tables and codes, or undefined when the kernels are unavailable or disabled. */
export function takeKernel(): StatsKernel | undefined {
  if (!enabled) {
    return undefined;
  }
  const spare = spares.pop();
  if (spare) {
    return spare;
  }
  const module = kernelModule();
  return module ? new StatsKernel(instantiateWasm<KernelExports>(module)) : undefined;
}

/**
 * Returns an instance for reuse; its tables are cleared here, unless the caller says it has left
 * the radix tables and codes all zero (`cleared`: it cleared the few bins it used).
 */
export function giveKernel(kernel: StatsKernel, cleared = false): void {
  if (spares.length < maxSpares) {
    if (!cleared) {
      kernel.radixEven.fill(0);
      kernel.radixOdd.fill(0);
      kernel.special.fill(0);
      kernel.logTable.fill(0);
    }
    spares.push(kernel);
  }
}

/** Whether the kernels can run in this thread. */
export function kernelsAvailable(): boolean {
  return kernelModule() !== null;
}

/** Turns the kernels off (the engine then uses its JS loops) or back on; for tests and benchmarks. */
export function setKernelsEnabled(on: boolean): void {
  enabled = on;
}
