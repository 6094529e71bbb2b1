/**
 * How a TFLite weight maps onto the Keras weight it was converted from, as data (no copies of the
 * values): `keras = reshape(transpose(tflite, permutation), kerasShape)`. Layouts verified on the
 * ResNet-8 fixture (notes/weight-formats.md section 7.4): Conv2D kernel HWIO -> OHWI, Dense
 * [in, out] -> [out, in], DepthwiseConv2D [kh, kw, C, M] -> [1, kh, kw, C*M].
 */
import { Op } from './schema';

/** The Keras view of a TFLite weight. */
export interface KerasLayout {
  /** Axis permutation: Keras axis i is TFLite axis permutation[i] (NumPy `transpose(perm)`). */
  permutation: number[];
  /** Keras shape after the transpose (and the reshape, when one is needed). */
  kerasShape: number[];
  /** True when a reshape follows the transpose (depthwise [.., C*M, 1] -> [.., C, M]). */
  reshape: boolean;
  /** The Keras weight this corresponds to, e.g. 'kernel', 'depthwise_kernel', 'bias'. */
  kerasWeight: string;
}

/**
 * Keras layout of the weight at input `slot` of an op with builtin `code`; `inputChannels` is the
 * channel count of the op's data input (needed for DEPTHWISE_CONV_2D). Undefined when the op/slot
 * has no Keras counterpart or the shape does not fit.
 */
export function kerasLayoutFor(code: number, slot: number, shape: readonly number[], inputChannels?: number): KerasLayout | undefined {
  const t = (perm: number[], kerasWeight: string): KerasLayout => ({
    permutation: perm,
    kerasShape: perm.map((p) => shape[p]!),
    reshape: false,
    kerasWeight,
  });
  const isBias = (biasSlot: number): boolean => slot === biasSlot && shape.length === 1;
  switch (code) {
    case Op.fullyConnected:
      if (slot === 1 && shape.length === 2) {
        return t([1, 0], 'kernel'); // [out, in] -> [in, out]
      }
      return isBias(2) ? t([0], 'bias') : undefined;
    case Op.conv2d:
      if (slot === 1 && shape.length === 4) {
        return t([1, 2, 3, 0], 'kernel'); // OHWI -> HWIO
      }
      return isBias(2) ? t([0], 'bias') : undefined;
    case Op.depthwiseConv2d:
      if (slot === 1 && shape.length === 4 && shape[0] === 1) {
        const [, kh, kw, cm] = shape as [number, number, number, number];
        if (inputChannels && inputChannels > 0 && cm % inputChannels === 0) {
          // [1, kh, kw, C*M] -> transpose [kh, kw, C*M, 1] -> reshape [kh, kw, C, M] (channel index c*M + m).
          return { permutation: [1, 2, 3, 0], kerasShape: [kh, kw, inputChannels, cm / inputChannels], reshape: true, kerasWeight: 'depthwise_kernel' };
        }
        return t([1, 2, 3, 0], 'depthwise_kernel');
      }
      return isBias(2) ? t([0], 'bias') : undefined;
    case Op.transposeConv:
      if (slot === 1 && shape.length === 4) {
        return t([1, 2, 0, 3], 'kernel'); // [O, kh, kw, I] -> Conv2DTranspose [kh, kw, O, I]
      }
      return isBias(3) ? t([0], 'bias') : undefined;
    case Op.conv3d:
      if (slot === 1 && shape.length === 5) {
        // CONV_3D filters are already [d, h, w, in, out] (DHWIO), as in Keras.
        return t([0, 1, 2, 3, 4], 'kernel');
      }
      return isBias(2) ? t([0], 'bias') : undefined;
    default:
      return undefined;
  }
}
