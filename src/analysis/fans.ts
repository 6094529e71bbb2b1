/**
 * Fan-in and fan-out of weight tensors, two ways:
 *  - `initFanIn`/`initFanOut`: what a Keras / TF.js initializer computed when it drew the tensor
 *    (Keras `initializers._compute_fans`, TF.js `computeFans`: the generic shape rule, applied to
 *    the tensor in Keras layout whatever the layer is);
 *  - `signalFanIn`/`signalFanOut`: how many inputs feed one output unit and how many outputs one
 *    input unit feeds, which is what signal propagation needs (differs for depthwise kernels,
 *    transposed convolutions, attention projections).
 * TFLite stores kernels in other layouts (Dense [out,in], Conv2D OHWI, depthwise [1,kh,kw,C*M]);
 * they are mapped back to the Keras layout first.
 */
import type { FormatId, LayerInfo, TensorInfo } from '../core/model';

/** Fans of one weight tensor. */
export interface Fans {
  /** Fan-in as a Keras/TF.js initializer computed it (generic shape rule on the Keras layout). */
  initFanIn: number;
  /** Fan-out as a Keras/TF.js initializer computed it. */
  initFanOut: number;
  /** Inputs feeding one output unit (for forward signal propagation). */
  signalFanIn: number;
  /** Output units one input unit feeds (for backward signal propagation). */
  signalFanOut: number;
  /** Receptive field size (product of the spatial kernel dimensions; 1 for dense). */
  receptiveField: number;
  /** The tensor's shape in Keras layout (same as the stored shape except for TFLite). */
  kerasShape: number[];
  /** Which rule was applied, e.g. 'dense', 'conv', 'depthwise', 'embedding', 'recurrent', 'attention'. */
  rule: string;
}

/** Keras's generic rule (`_compute_fans`): rank 2 [in,out]; rank >= 3 receptive field x last two. */
export function kerasFans(shape: readonly number[]): { fanIn: number; fanOut: number; receptiveField: number } {
  if (shape.length === 0) {
    return { fanIn: 1, fanOut: 1, receptiveField: 1 };
  }
  if (shape.length === 1) {
    return { fanIn: shape[0]!, fanOut: shape[0]!, receptiveField: 1 };
  }
  if (shape.length === 2) {
    return { fanIn: shape[0]!, fanOut: shape[1]!, receptiveField: 1 };
  }
  let receptiveField = 1;
  for (let i = 0; i < shape.length - 2; i++) {
    receptiveField *= shape[i]!;
  }
  return {
    fanIn: shape[shape.length - 2]! * receptiveField,
    fanOut: shape[shape.length - 1]! * receptiveField,
    receptiveField,
  };
}

/** Maps a TFLite constant's shape to the Keras layout of the same kernel. */
export function tfliteToKerasShape(shape: readonly number[], role: TensorInfo['role'], className?: string): number[] {
  if (shape.length === 2) {
    // FULLY_CONNECTED weights are [out, in].
    return [shape[1]!, shape[0]!];
  }
  if (shape.length === 4) {
    if (role === 'depthwise_kernel' || /depthwise/i.test(className ?? '')) {
      // [1, kh, kw, C*M] -> [kh, kw, C*M, 1] (Keras [kh, kw, C, M] with M = 1 in practice).
      return [shape[1]!, shape[2]!, shape[3]!, shape[0]!];
    }
    // CONV_2D filters are OHWI -> HWIO.
    return [shape[1]!, shape[2]!, shape[3]!, shape[0]!];
  }
  return [...shape];
}

/** Fans of a tensor, from its role, its layer's class and the file format's layout. */
export function computeFans(tensor: Pick<TensorInfo, 'shape' | 'role'>, layer?: Pick<LayerInfo, 'className'>, format?: FormatId): Fans {
  const className = layer?.className ?? '';
  const kerasShape = format === 'tflite' ? tfliteToKerasShape(tensor.shape, tensor.role, className) : [...tensor.shape];
  const generic = kerasFans(kerasShape);
  const base = { initFanIn: generic.fanIn, initFanOut: generic.fanOut, receptiveField: generic.receptiveField, kerasShape };
  const rank = kerasShape.length;
  const last = kerasShape[rank - 1] ?? 1;
  const secondLast = kerasShape[rank - 2] ?? 1;

  if (tensor.role === 'depthwise_kernel' || (/Depthwise/.test(className) && tensor.role === 'kernel')) {
    // Keras depthwise kernel [kh, kw, C, M]: each output channel sees kh*kw inputs of one channel,
    // each input channel feeds M outputs at kh*kw positions. Keras's initializer still applies the
    // generic rule (fan_in = C*kh*kw).
    return { ...base, signalFanIn: generic.receptiveField, signalFanOut: generic.receptiveField * last, rule: 'depthwise' };
  }
  if (tensor.role === 'embeddings') {
    // A lookup: one output unit is one stored value; Keras's default RandomUniform ignores fans.
    return { ...base, signalFanIn: 1, signalFanOut: 1, rule: 'embedding' };
  }
  if (tensor.role === 'recurrent_kernel') {
    // [units, G*units] (G = 4 for LSTM, 3 for GRU): h_{t-1} of `units` feeds every gate.
    return { ...base, signalFanIn: secondLast, signalFanOut: last, rule: 'recurrent' };
  }
  if (/Transpose/.test(className) && rank >= 3) {
    // Keras ConvNDTranspose kernel [..., filters, in_channels]: the generic rule swaps in and out.
    return { ...base, signalFanIn: last * generic.receptiveField, signalFanOut: secondLast * generic.receptiveField, rule: 'conv-transpose' };
  }
  if (/EinsumDense|MultiHeadAttention|Attention/.test(className) && rank === 3) {
    // Attention projections (EinsumDense): query/key/value [d_model, heads, key_dim] and
    // output [heads, key_dim, d_model]. Tell them apart by the larger leading or trailing dim.
    const [a, b, c] = kerasShape as [number, number, number];
    return c > a
      ? { ...base, signalFanIn: a * b, signalFanOut: c, rule: 'attention-output' }
      : { ...base, signalFanIn: a, signalFanOut: b * c, rule: 'attention-projection' };
  }
  if (rank >= 3) {
    return { ...base, signalFanIn: generic.fanIn, signalFanOut: generic.fanOut, rule: 'conv' };
  }
  return { ...base, signalFanIn: generic.fanIn, signalFanOut: generic.fanOut, rule: rank === 2 ? 'dense' : 'vector' };
}
