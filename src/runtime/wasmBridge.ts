/**
 * Gradient kernels the WebAssembly backend lacks (Conv2DBackpropFilter, and the depthwise
 * convolution's two), run by the CPU backend's own kernels on copies of their inputs, so that the
 * rest of a convolutional network's probe or training step stays on the WebAssembly backend. Before,
 * one missing kernel sent the whole model to the CPU backend (a two-layer CNN on 64x64 images:
 * 30 s for a probe of 8 samples). Only kernels named *Backprop* that the CPU backend has and the
 * WebAssembly backend does not are bridged; other missing kernels still make ensureGradientBackend
 * fall back.
 */
import type { Tf } from './backend';

interface Info {
  dataId: object;
  shape: number[];
  dtype: string;
}

/** What the bridge uses of a backend (KernelBackend; makeOutput is BackendWasm's). */
interface Backend {
  readSync(dataId: object): ArrayLike<number>;
  write(values: ArrayLike<number>, shape: number[], dtype: string): object;
  disposeData(dataId: object, force?: boolean): boolean;
}

interface WasmBackend extends Backend {
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: ArrayLike<number>): Info;
}

type KernelFunc = (args: { inputs: Record<string, Info>; attrs?: unknown; backend: unknown }) => Info | Info[];

/** Names of the kernels bridged in this thread (registerWasmBridges), for the backend line. */
export function bridgedKernels(tf: Tf): string[] {
  return tf
    .getKernelsForBackend('wasm')
    .filter((k) => (k.kernelFunc as { bridged?: boolean }).bridged === true)
    .map((k) => k.kernelName);
}

/** Registers the bridges on `tf`'s registry; once per thread is enough. */
export function registerWasmBridges(tf: Tf): void {
  const onWasm = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (!/Backprop/.test(config.kernelName) || onWasm.has(config.kernelName)) {
      continue;
    }
    const cpuKernel = config.kernelFunc as unknown as KernelFunc;
    const kernelFunc: KernelFunc & { bridged?: boolean } = ({ inputs, attrs, backend }) => {
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
    };
    kernelFunc.bridged = true;
    tf.registerKernel({ kernelName: config.kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as Parameters<Tf['registerKernel']>[0]['kernelFunc'] });
  }
}
