/**
 * Weightscope's own TF.js kernels (segmentSum.ts, convFilterGrad.ts, wasmBridge.ts) go into
 * tfjs-core's kernel registry through here: the shapes of a kernel's arguments as they use them,
 * and one way to put a kernel in place of the one registered before, once however often backend
 * selection runs.
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
