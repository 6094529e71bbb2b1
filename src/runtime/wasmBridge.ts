/**
 * Gradient kernels the WebAssembly backend lacks (a Conv3D's and a Dilation2D's; Conv2D's and the
 * depthwise convolution's have typed-array kernels of their own, convFilterGrad.ts and
 * depthwiseGrad.ts, registered before this runs), run by the CPU backend's own kernels on copies of
 * their inputs, so that the rest of a network's probe or training step stays on the WebAssembly
 * backend. Before, one missing kernel sent the whole model to the CPU backend (a two-layer CNN on
 * 64x64 images: 30 s for a probe of 8 samples). Only kernels named *Backprop* that the CPU backend
 * has and the WebAssembly backend does not are bridged; other missing kernels still make
 * ensureGradientBackend fall back.
 */
import type { Tf } from './backend';
import { replaceKernel, type KernelTensor as Info, type OwnKernelFunc } from './kernelRegistry';

/** What the bridge uses of a backend (KernelBackend; makeOutput is BackendWasm's). */
interface Backend {
  readSync(dataId: object): ArrayLike<number>;
  write(values: ArrayLike<number>, shape: number[], dtype: string): object;
  disposeData(dataId: object, force?: boolean): boolean;
}

interface WasmBackend extends Backend {
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: ArrayLike<number>): Info;
}

/** Registers the bridges on `tf`'s registry. */
export function registerWasmBridges(tf: Tf): void {
  const onWasm = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (!/Backprop/.test(config.kernelName) || onWasm.has(config.kernelName)) {
      continue;
    }
    const cpuKernel = config.kernelFunc as unknown as OwnKernelFunc;
    replaceKernel(tf, config.kernelName, 'wasm', () => ({ inputs, attrs, backend }) => {
      const wasm = backend as WasmBackend;
      const cpu = tf.engine().findBackend('cpu') as unknown as Backend;
      const copies: Record<string, Info> = {};
      try {
        for (const [name, t] of Object.entries(inputs)) {
          copies[name] = { dataId: cpu.write(wasm.readSync(t.dataId), t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
        }
        const out = cpuKernel({ inputs: copies, attrs, backend: cpu });
        const moved = (Array.isArray(out) ? out : [out]).map((o) => {
          try {
            return wasm.makeOutput(o.shape, o.dtype, undefined, cpu.readSync(o.dataId));
          } finally {
            cpu.disposeData(o.dataId, true);
          }
        });
        return Array.isArray(out) ? moved : moved[0]!;
      } finally {
        for (const c of Object.values(copies)) {
          cpu.disposeData(c.dataId, true);
        }
      }
    });
  }
}
