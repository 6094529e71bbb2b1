/**
 * TF.js's two gradient kernels of a depthwise convolution (DepthwiseConv2D, and the first half of a
 * SeparableConv2D), DepthwiseConv2dNativeBackpropFilter and DepthwiseConv2dNativeBackpropInput, on
 * the CPU and WebAssembly backends, as plain loops over typed arrays with the channels innermost.
 * The CPU backend's own filter gradient reads every element through TensorBuffer.get in
 * filter-major order, and the WebAssembly backend has neither (they ran as the CPU backend's on
 * copies, wasmBridge.ts). With M the channel multiplier (filter [kh, kw, C, M]), output channel
 * c*M + m reads input channel c:
 * dW[kh, kw, c, m] = sum over samples b and output positions (oy, ox) of
 * x[b, oy*sh + kh*dh - top, ox*sw + kw*dw - left, c] * dy[b, oy, ox, c*M + m] (convFilterGrad.ts's
 * loop in its depthwise form), and dx[b, iy, ix, c] = sum over kh, kw, m of
 * dy[b, oy, ox, c*M + m] * w[kh, kw, c, m] where iy = oy*sh + kh*dh - top and
 * ix = ox*sw + kw*dw - left; positions outside x add nothing, sums are float64. Dilations are
 * honoured (TF.js's CPU kernels ignore them; its gradient of a depthwise convolution refuses them
 * anyway). Data of other types than float32 goes to the kernels that were there before.
 */
import type { Tf } from './backend';
import { conv2dFilterGrad, convGeometry, type FilterGradGeometry } from './convFilterGrad';
import { callPrevious, computeOnValues, replaceKernel, type KernelTensor as Info } from './kernelRegistry';

interface Attrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: 'valid' | 'same' | number | number[][];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * dx (batch x inHeight x inWidth x inChannels, row-major) of dy and the filter w
 * [kh, kw, C, M]: each input position gathers the output positions it fed, so dx is written once,
 * through a float64 row of C sums.
 */
export function depthwiseInputGrad(dy: ArrayLike<number>, w: ArrayLike<number>, g: FilterGradGeometry): Float32Array {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CO, filterHeight: KH, filterWidth: KW } = g;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = g;
  const M = CO / C;
  const dx = new Float32Array(g.batch * H * W * C);
  const row = new Float64Array(C);
  for (let b = 0; b < g.batch; b++) {
    for (let iy = 0; iy < H; iy++) {
      for (let ix = 0; ix < W; ix++) {
        row.fill(0);
        for (let kh = 0; kh < KH; kh++) {
          // the output row oy whose tap kh reads input row iy: oy*sh = iy + top - kh*dh
          const ny = iy + g.top - kh * dh;
          if (ny < 0 || ny % sh !== 0 || ny / sh >= OH) {
            continue;
          }
          const oy = ny / sh;
          for (let kw = 0; kw < KW; kw++) {
            const nx = ix + g.left - kw * dw;
            if (nx < 0 || nx % sw !== 0 || nx / sw >= OW) {
              continue;
            }
            const dyAt = ((b * OH + oy) * OW + nx / sw) * CO;
            const wAt = (kh * KW + kw) * CO;
            if (M === 1) {
              for (let c = 0; c < C; c++) {
                row[c]! += dy[dyAt + c]! * w[wAt + c]!;
              }
              continue;
            }
            for (let c = 0; c < C; c++) {
              const at = c * M;
              let s = 0;
              for (let m = 0; m < M; m++) {
                s += dy[dyAt + at + m]! * w[wAt + at + m]!;
              }
              row[c]! += s;
            }
          }
        }
        dx.set(row, ((b * H + iy) * W + ix) * C);
      }
    }
  }
  return dx;
}

/**
 * Registers the kernels on `tf`'s registry for the CPU and WebAssembly backends; data of another
 * type than float32 goes to the kernel registered before (the CPU backend's, which refuses complex
 * numbers; on the WebAssembly backend there is none, so such a call fails there).
 */
export function registerDepthwiseGradKernels(tf: Tf): void {
  for (const backendName of ['cpu', 'wasm'] as const) {
    for (const kernelName of ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'] as const) {
      replaceKernel(tf, kernelName, backendName, (fallback) => (args) => {
        // the filter's gradient from x and dy, the input's from the filter and dy
        const { x, filter, dy } = args.inputs as { x?: Info; filter?: Info; dy: Info };
        const attrs = args.attrs as Attrs & { filterShape?: number[]; inputShape?: number[] };
        const other = (x ?? filter)!;
        if (other.dtype !== 'float32' || dy.dtype !== 'float32') {
          return callPrevious(fallback, kernelName, backendName, 'data other than float32', args);
        }
        const xShape = x?.shape ?? attrs.inputShape!;
        const filterShape = filter?.shape ?? attrs.filterShape!;
        const g = geometry(tf, kernelName, xShape, filterShape, dy.shape, attrs);
        return x
          ? computeOnValues(backendName, args.backend, [x, dy], filterShape, (xv, dyv) => conv2dFilterGrad(xv!, dyv!, g, true))
          : computeOnValues(backendName, args.backend, [dy, other], xShape, (dyv, wv) => depthwiseInputGrad(dyv!, wv!, g));
      });
    }
  }
}

/** The geometry of a depthwise convolution whose filter must be [kh, kw, x's channels, multiplier]. */
function geometry(tf: Tf, kernelName: string, xShape: number[], filterShape: number[], dyShape: number[], attrs: Attrs): FilterGradGeometry {
  if (filterShape.length !== 4 || filterShape[2] !== xShape[3]) {
    throw new Error(`${kernelName}: a filter of shape [${filterShape.join(', ')}] does not fit an input of ${xShape[3]} channels (it must be [height, width, ${xShape[3]}, multiplier]).`);
  }
  return convGeometry(tf, kernelName, xShape, filterShape, dyShape, attrs, true);
}

