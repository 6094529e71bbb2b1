/**
 * Weightscope's own TF.js kernels (segmentSum.ts, convFilterGrad.ts, depthwiseGrad.ts,
 * wasmBridge.ts) go into tfjs-core's kernel registry through here: the shapes of a kernel's
 * arguments as they use them, one way to put a kernel in place of the one registered before, once
 * however often backend selection runs, and one way for a typed-array kernel to read its inputs and
 * make its output on the CPU or the WebAssembly backend.
 */
import type { Tf } from './backend';

/** A tensor as kernels see it (TF.js TensorInfo). */
export interface KernelTensor {
  dataId: object;
  shape: number[];
  dtype: string;
}

/** A kernel function (TF.js KernelFunc) as these kernels use it. */
export type OwnKernelFunc = (args: { inputs: Record<string, KernelTensor>; attrs?: unknown; backend: unknown }) => KernelTensor | KernelTensor[];

/** The kernel functions registered here, so that a second registration leaves them be. */
const own = new WeakSet<object>();

/**
 * Registers `make(previous)` as kernel `kernelName` of `backendName`, in place of `previous`, the
 * kernel registered before (undefined: none), which it may call for cases it leaves alone. Does
 * nothing when the registered kernel is already one made here.
 */
export function replaceKernel(tf: Tf, kernelName: string, backendName: string, make: (previous: OwnKernelFunc | undefined) => OwnKernelFunc): void {
  const previous = tf.getKernel(kernelName, backendName)?.kernelFunc as unknown as OwnKernelFunc | undefined;
  if (previous && own.has(previous)) {
    return;
  }
  const kernelFunc = make(previous);
  own.add(kernelFunc);
  if (previous) {
    tf.unregisterKernel(kernelName, backendName);
  }
  tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as Parameters<Tf['registerKernel']>[0]['kernelFunc'] });
}

/**
 * Hands a call that a kernel made here leaves alone (`why`) to `previous`, the kernel registered
 * before it; with none (the WebAssembly backend has no such kernel), throws TF.js's own message.
 */
export function callPrevious(previous: OwnKernelFunc | undefined, kernelName: string, backendName: string, why: string, args: Parameters<OwnKernelFunc>[0]): KernelTensor | KernelTensor[] {
  if (!previous) {
    throw new Error(`Kernel '${kernelName}' not registered for backend '${backendName}' (${why})`);
  }
  return previous(args);
}

/** What a typed-array kernel uses of the CPU backend (MathBackendCPU). */
interface CpuBackend {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array): KernelTensor;
}

/** What a typed-array kernel uses of the WebAssembly backend (BackendWasm). */
interface WasmBackend {
  typedArrayFromHeap(t: KernelTensor): ArrayLike<number>;
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: Float32Array): KernelTensor;
}

/**
 * Runs a typed-array kernel on `backend` (the CPU or the WebAssembly backend, `backendName`):
 * `compute` reads the values of `inputs` where the backend keeps them, without copies (the CPU
 * backend's arrays; views of the WebAssembly heap, which stay valid because nothing is allocated
 * there until `compute` returns), and its result becomes a float32 tensor of `shape` there.
 */
export function computeOnValues(backendName: 'cpu' | 'wasm', backend: unknown, inputs: KernelTensor[], shape: number[], compute: (...values: ArrayLike<number>[]) => Float32Array): KernelTensor {
  if (backendName === 'cpu') {
    const cpu = backend as CpuBackend;
    return cpu.makeTensorInfo(shape, 'float32', compute(...inputs.map((t) => cpu.data.get(t.dataId).values as ArrayLike<number>)));
  }
  const wasm = backend as WasmBackend;
  return wasm.makeOutput(shape, 'float32', undefined, compute(...inputs.map((t) => wasm.typedArrayFromHeap(t))));
}
