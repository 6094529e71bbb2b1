/**
 * TF.js's Conv2DBackpropFilter kernel (the gradient of a Conv2D's kernel) for channels-last data,
 * on the CPU and WebAssembly backends, as plain loops over typed arrays: the CPU backend's own
 * kernel reads every element through TensorBuffer.get in filter-major order (a two-layer CNN on
 * 64x64 images, 8 samples: some 18 s of a 30 s probe), and the WebAssembly backend has none.
 * dW[kh, kw, ci, co] = sum over samples b and output positions (oy, ox) of
 * x[b, oy*sh + kh - top, ox*sw + kw - left, ci] * dy[b, oy, ox, co], positions outside x adding
 * nothing, accumulated in float64. Channels-first data goes to the kernels that were there before.
 */
import type { Tf } from './backend';
import { replaceKernel, type KernelTensor as Info } from './kernelRegistry';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | number[][];
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** The geometry the loops need (from TF.js's own computeConv2DInfo). */
export interface FilterGradGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  top: number;
  left: number;
}

/** dW (filterHeight x filterWidth x inChannels x outChannels, row-major) of channels-last x and dy. */
export function conv2dFilterGrad(x: ArrayLike<number>, dy: ArrayLike<number>, g: FilterGradGeometry): Float32Array {
  const { inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW, outChannels: CO, filterHeight: KH, filterWidth: KW } = g;
  const acc = new Float64Array(KH * KW * CI * CO);
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const dyAt = ((b * OH + oy) * OW + ox) * CO;
        for (let kh = 0; kh < KH; kh++) {
          const iy = oy * g.strideHeight + kh - g.top;
          if (iy < 0 || iy >= H) {
            continue;
          }
          for (let kw = 0; kw < KW; kw++) {
            const ix = ox * g.strideWidth + kw - g.left;
            if (ix < 0 || ix >= W) {
              continue;
            }
            const xAt = ((b * H + iy) * W + ix) * CI;
            const wAt = (kh * KW + kw) * CI * CO;
            for (let ci = 0; ci < CI; ci++) {
              const xv = x[xAt + ci]!;
              if (xv === 0) {
                continue; // after a ReLU, many are
              }
              const at = wAt + ci * CO;
              for (let co = 0; co < CO; co++) {
                acc[at + co]! += xv * dy[dyAt + co]!;
              }
            }
          }
        }
      }
    }
  }
  return Float32Array.from(acc);
}

/** The geometry of a Conv2DBackpropFilter call, or undefined for channels-first data (left to the previous kernels). */
function geometry(tf: Tf, x: Info, dy: Info, attrs: Attrs): FilterGradGeometry | undefined {
  if (attrs.dataFormat === 'NCHW') {
    return undefined;
  }
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad as never, attrs.dimRoundingMode, false, 'channelsLast');
  if (dy.shape.join() !== [info.batchSize, info.outHeight, info.outWidth, info.outChannels].join()) {
    throw new Error(`Conv2DBackpropFilter: dy of shape [${dy.shape.join(', ')}] does not match the convolution's output [${[info.batchSize, info.outHeight, info.outWidth, info.outChannels].join(', ')}].`);
  }
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

/**
 * Registers the kernels on `tf`'s registry, channels-first calls going to the kernel registered
 * before (the CPU backend's; the WebAssembly backend has none, so they fail there and
 * ensureGradientBackend falls back to the CPU backend).
 */
export function registerConvFilterGradKernels(tf: Tf): void {
  for (const backendName of ['cpu', 'wasm'] as const) {
    replaceKernel(tf, 'Conv2DBackpropFilter', backendName, (fallback) => (args) => {
      const { x, dy } = args.inputs as { x: Info; dy: Info };
      const g = geometry(tf, x, dy, args.attrs as Attrs);
      if (!g) {
        if (!fallback) {
          throw new Error(`Kernel 'Conv2DBackpropFilter' not registered for backend '${backendName}' (channels-first data)`);
        }
        return fallback(args);
      }
      const shape = [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels];
      if (backendName === 'cpu') {
        const cpu = args.backend as { data: { get(id: object): { values: unknown } }; makeTensorInfo(shape: number[], dtype: string, values: Float32Array): Info };
        return cpu.makeTensorInfo(shape, 'float32', conv2dFilterGrad(cpu.data.get(x.dataId).values as Float32Array, cpu.data.get(dy.dataId).values as Float32Array, g));
      }
      const wasm = args.backend as { typedArrayFromHeap(t: Info): Float32Array; makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: Float32Array): Info };
      return wasm.makeOutput(shape, 'float32', undefined, conv2dFilterGrad(wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(dy), g));
    });
  }
}
