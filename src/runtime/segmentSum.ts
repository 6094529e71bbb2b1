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

type Values = Float32Array | Int32Array;

interface Info {
  dataId: object;
  shape: number[];
  dtype: string;
}

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

interface KernelArgs {
  inputs: { x?: Info; segmentIds?: Info };
  attrs?: { numSegments?: number };
  backend: unknown;
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

function cpuKernel({ inputs, attrs, backend }: KernelArgs): Info {
  const { x, segmentIds } = inputs as Required<KernelArgs['inputs']>;
  const cpu = backend as CpuBackend;
  const { shape, inner } = layout(x, segmentIds, attrs?.numSegments ?? 0);
  const out = x.dtype === 'int32' ? new Int32Array(shape[0]! * inner) : new Float32Array(shape[0]! * inner);
  segmentSumInto(cpu.data.get(x.dataId).values as Values, cpu.data.get(segmentIds.dataId).values as Values, shape[0]!, inner, out);
  return cpu.makeTensorInfo(shape, x.dtype === 'int32' ? 'int32' : 'float32', out);
}

function wasmKernel({ inputs, attrs, backend }: KernelArgs): Info {
  const { x, segmentIds } = inputs as Required<KernelArgs['inputs']>;
  const wasm = backend as WasmBackend;
  const { shape, inner } = layout(x, segmentIds, attrs?.numSegments ?? 0);
  const result = wasm.makeOutput(shape, x.dtype === 'int32' ? 'int32' : 'float32');
  // Views of the heap after the output is allocated (an allocation may move the heap).
  const out = wasm.typedArrayFromHeap(result) as Values;
  out.fill(0);
  segmentSumInto(wasm.typedArrayFromHeap(x) as Values, wasm.typedArrayFromHeap(segmentIds) as Values, shape[0]!, inner, out);
  return result;
}

/** Registers the kernels on `tf`'s registry (replacing the CPU backend's own); once per thread is enough. */
export function registerSegmentSumKernels(tf: Tf): void {
  const kernels = [
    ['cpu', cpuKernel],
    ['wasm', wasmKernel],
  ] as const;
  for (const [backendName, kernelFunc] of kernels) {
    if (tf.getKernel('UnsortedSegmentSum', backendName)?.kernelFunc === (kernelFunc as unknown)) {
      continue;
    }
    if (tf.getKernel('UnsortedSegmentSum', backendName)) {
      tf.unregisterKernel('UnsortedSegmentSum', backendName);
    }
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName, kernelFunc: kernelFunc as unknown as Parameters<Tf['registerKernel']>[0]['kernelFunc'] });
  }
}
