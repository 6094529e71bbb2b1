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
import { callPrevious, computeOnValues, replaceKernel, type KernelTensor as Info } from './kernelRegistry';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | number[][];
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** The geometry the loops need (from TF.js's own computeConv2DInfo); depthwiseGrad.ts's too. */
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
  /** 1 for Conv2DBackpropFilter, which has no dilations. */
  dilationHeight: number;
  dilationWidth: number;
  top: number;
  left: number;
}

/**
 * dW (filterHeight x filterWidth x inChannels x outChannels, row-major) of channels-last x and dy;
 * `depthwise`: of a depthwise convolution (depthwiseGrad.ts), dW [kh, kw, inChannels, multiplier],
 * input channel ci feeding only output channels ci*multiplier .. ci*multiplier + multiplier - 1.
 */
export function conv2dFilterGrad(x: ArrayLike<number>, dy: ArrayLike<number>, g: FilterGradGeometry, depthwise = false): Float32Array {
  const { inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW, outChannels: CO, filterHeight: KH, filterWidth: KW } = g;
  // n: the filter's last dimension; dy's channels that input channel ci feeds start at ci * dyStep
  const n = depthwise ? CO / CI : CO;
  const dyStep = depthwise ? n : 0;
  const acc = new Float64Array(KH * KW * CI * n);
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const dyAt = ((b * OH + oy) * OW + ox) * CO;
        for (let kh = 0; kh < KH; kh++) {
          const iy = oy * g.strideHeight + kh * g.dilationHeight - g.top;
          if (iy < 0 || iy >= H) {
            continue;
          }
          for (let kw = 0; kw < KW; kw++) {
            const ix = ox * g.strideWidth + kw * g.dilationWidth - g.left;
            if (ix < 0 || ix >= W) {
              continue;
            }
            const xAt = ((b * H + iy) * W + ix) * CI;
            const wAt = (kh * KW + kw) * CI * n;
            if (n === 1) {
              // a depthwise convolution's usual case: x, dy and dW all run over the channels together
              for (let ci = 0; ci < CI; ci++) {
                acc[wAt + ci]! += x[xAt + ci]! * dy[dyAt + ci * dyStep]!;
              }
              continue;
            }
            for (let ci = 0; ci < CI; ci++) {
              const xv = x[xAt + ci]!;
              if (xv === 0) {
                continue; // after a ReLU, many are
              }
              const at = wAt + ci * n;
              const from = dyAt + ci * dyStep;
              for (let k = 0; k < n; k++) {
                acc[at + k]! += xv * dy[from + k]!;
              }
            }
          }
        }
      }
    }
  }
  return Float32Array.from(acc);
}

/**
 * The geometry of a convolution (`depthwise`: filterShape [kh, kw, in, multiplier]) of channels-last
 * x of `xShape` whose output gradient dy has `dyShape`, which must be the convolution's output shape.
 */
export function convGeometry(tf: Tf, kernelName: string, xShape: number[], filterShape: number[], dyShape: number[], conv: { strides: number | [number, number]; dilations?: number | [number, number]; pad: unknown; dimRoundingMode?: 'floor' | 'round' | 'ceil' }, depthwise: boolean): FilterGradGeometry {
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number], conv.strides, conv.dilations ?? 1, conv.pad as never, conv.dimRoundingMode, depthwise, 'channelsLast');
  const out = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  if (dyShape.join() !== out.join()) {
    throw new Error(`${kernelName}: dy of shape [${dyShape.join(', ')}] does not match the convolution's output [${out.join(', ')}].`);
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
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
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
      const attrs = args.attrs as Attrs;
      if (attrs.dataFormat === 'NCHW') {
        return callPrevious(fallback, 'Conv2DBackpropFilter', backendName, 'channels-first data', args);
      }
      const g = convGeometry(tf, 'Conv2DBackpropFilter', x.shape, attrs.filterShape, dy.shape, attrs, false);
      return computeOnValues(backendName, args.backend, [x, dy], [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels], (xv, dyv) => conv2dFilterGrad(xv!, dyv!, g));
    });
  }
}
