/**
 * TF.js's UnsortedSegmentSum kernel, in one pass over its input, for the CPU and WebAssembly
 * backends. It is the gradient of a gather, so every Embedding layer's weights need it in a probe
 * or a training step. TF.js's own CPU kernel runs four tensor ops once per segment (for an
 * Embedding of 100,000 rows that took 25 s for one sample), and the WebAssembly backend has none,
 * so models with an Embedding fell back to the CPU backend. tfjs-node's native kernel is left alone.
 * Semantics as TF.js's: out[s, ...] = sum of x[r, ...] over the positions r whose segment id is s;
 * ids outside [0, numSegments) add nothing.
 */
import type { Tf } from './backend';
import { replaceKernel, type KernelTensor as Info, type OwnKernelFunc } from './kernelRegistry';

type Values = Float32Array | Int32Array;

/** What the kernels use of the CPU backend (MathBackendCPU). */
interface CpuBackend {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: string, values: Values): Info;
}

/** What the kernels use of the WebAssembly backend (BackendWasm). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: string): Info;
  typedArrayFromHeap(t: Info): unknown;
}

/** Output shape and the values per segment row, checked as TF.js's op checks them. */
function layout(x: Info, ids: Info, numSegments: number): { shape: number[]; inner: number } {
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`UnsortedSegmentSum: numSegments must be a whole number >= 0, got ${numSegments}.`);
  }
  const lead = ids.shape.length;
  if (x.shape.slice(0, lead).some((d, i) => d !== ids.shape[i])) {
    throw new Error(`UnsortedSegmentSum: segment ids of shape [${ids.shape.join(', ')}] do not lead x's shape [${x.shape.join(', ')}].`);
  }
  const rest = x.shape.slice(lead);
  return { shape: [numSegments, ...rest], inner: rest.reduce((a, d) => a * d, 1) };
}

/** out[s * inner + k] += x[r * inner + k] for each r with ids[r] = s in range. */
export function segmentSumInto(x: ArrayLike<number>, ids: ArrayLike<number>, numSegments: number, inner: number, out: Values): void {
  for (let r = 0; r < ids.length; r++) {
    const s = ids[r]!;
    if (s >= 0 && s < numSegments) {
      const o = s * inner;
      const i = r * inner;
      for (let k = 0; k < inner; k++) {
        out[o + k]! += x[i + k]!;
      }
    }
  }
}

/** The kernel's inputs and its numSegments attribute. */
function argsOf(inputs: Record<string, Info>, attrs: unknown): { x: Info; segmentIds: Info; numSegments: number } {
  return { x: inputs['x']!, segmentIds: inputs['segmentIds']!, numSegments: (attrs as { numSegments?: number } | undefined)?.numSegments ?? 0 };
}

const cpuKernel: OwnKernelFunc = ({ inputs, attrs, backend }) => {
  const { x, segmentIds, numSegments } = argsOf(inputs, attrs);
  const cpu = backend as CpuBackend;
  const { shape, inner } = layout(x, segmentIds, numSegments);
  const out = x.dtype === 'int32' ? new Int32Array(shape[0]! * inner) : new Float32Array(shape[0]! * inner);
  segmentSumInto(cpu.data.get(x.dataId).values as Values, cpu.data.get(segmentIds.dataId).values as Values, shape[0]!, inner, out);
  return cpu.makeTensorInfo(shape, x.dtype === 'int32' ? 'int32' : 'float32', out);
};

const wasmKernel: OwnKernelFunc = ({ inputs, attrs, backend }) => {
  const { x, segmentIds, numSegments } = argsOf(inputs, attrs);
  const wasm = backend as WasmBackend;
  const { shape, inner } = layout(x, segmentIds, numSegments);
  const result = wasm.makeOutput(shape, x.dtype === 'int32' ? 'int32' : 'float32');
  // Views of the heap after the output is allocated (an allocation may move the heap).
  const out = wasm.typedArrayFromHeap(result) as Values;
  out.fill(0);
  segmentSumInto(wasm.typedArrayFromHeap(x) as Values, wasm.typedArrayFromHeap(segmentIds) as Values, shape[0]!, inner, out);
  return result;
};

/** Registers the kernels on `tf`'s registry (replacing the CPU backend's own). */
export function registerSegmentSumKernels(tf: Tf): void {
  replaceKernel(tf, 'UnsortedSegmentSum', 'cpu', () => cpuKernel);
  replaceKernel(tf, 'UnsortedSegmentSum', 'wasm', () => wasmKernel);
}
