/**
 * What a constant is for, judged by the op that consumes it and the input slot it feeds
 * (notes/weight-formats.md section 7.3), and how a layer is named from the TF op names the
 * converter stored in tensor names (section 7.4).
 */
import type { TensorRole } from '../../core/model';
import { Op } from './schema';

/** Role and short weight name of a constant at an op's input slot. */
export interface WeightRole {
  /** Role in the layer. */
  role: TensorRole;
  /** Short weight name, e.g. 'kernel', 'bias', 'input_to_forget_weights'. */
  weight: string;
}

const lstmSlots: readonly (WeightRole | undefined)[] = [
  undefined,
  { role: 'kernel', weight: 'input_to_input_weights' },
  { role: 'kernel', weight: 'input_to_forget_weights' },
  { role: 'kernel', weight: 'input_to_cell_weights' },
  { role: 'kernel', weight: 'input_to_output_weights' },
  { role: 'recurrent_kernel', weight: 'recurrent_to_input_weights' },
  { role: 'recurrent_kernel', weight: 'recurrent_to_forget_weights' },
  { role: 'recurrent_kernel', weight: 'recurrent_to_cell_weights' },
  { role: 'recurrent_kernel', weight: 'recurrent_to_output_weights' },
  { role: 'other', weight: 'cell_to_input_weights' },
  { role: 'other', weight: 'cell_to_forget_weights' },
  { role: 'other', weight: 'cell_to_output_weights' },
  { role: 'bias', weight: 'input_gate_bias' },
  { role: 'bias', weight: 'forget_gate_bias' },
  { role: 'bias', weight: 'cell_gate_bias' },
  { role: 'bias', weight: 'output_gate_bias' },
  { role: 'kernel', weight: 'projection_weights' },
  { role: 'bias', weight: 'projection_bias' },
  undefined, // 18 output state (variable)
  undefined, // 19 cell state (variable)
  { role: 'gamma', weight: 'input_layer_norm_coefficients' },
  { role: 'gamma', weight: 'forget_layer_norm_coefficients' },
  { role: 'gamma', weight: 'cell_layer_norm_coefficients' },
  { role: 'gamma', weight: 'output_layer_norm_coefficients' },
];

/**
 * Role of a constant feeding input `slot` of an op with builtin `code`; undefined when the
 * constant is not a weight there (shapes, paddings, axes ...). `isNumericWeight` tells whether
 * the constant holds float or quantized values (an INT32 operand of ADD is not a weight).
 */
export function weightRole(code: number, slot: number, isNumericWeight: boolean): WeightRole | undefined {
  switch (code) {
    case Op.conv2d:
    case Op.fullyConnected:
    case Op.conv3d:
      return slot === 1 ? { role: 'kernel', weight: 'kernel' } : slot === 2 ? { role: 'bias', weight: 'bias' } : undefined;
    case Op.depthwiseConv2d:
      return slot === 1 ? { role: 'depthwise_kernel', weight: 'depthwise_kernel' } : slot === 2 ? { role: 'bias', weight: 'bias' } : undefined;
    case Op.transposeConv:
    case Op.conv3dTranspose:
      return slot === 1 ? { role: 'kernel', weight: 'kernel' } : slot === 3 ? { role: 'bias', weight: 'bias' } : undefined;
    case Op.lstm:
    case Op.unidirectionalSequenceLstm:
      return lstmSlots[slot];
    case Op.rnn:
    case Op.unidirectionalSequenceRnn:
      return slot === 1
        ? { role: 'kernel', weight: 'kernel' }
        : slot === 2
          ? { role: 'recurrent_kernel', weight: 'recurrent_kernel' }
          : slot === 3
            ? { role: 'bias', weight: 'bias' }
            : undefined;
    case Op.bidirectionalSequenceLstm:
    case Op.bidirectionalSequenceRnn:
      return slot > 0 && isNumericWeight ? { role: 'other', weight: `input_${slot}` } : undefined;
    case Op.svdf:
      return slot === 1
        ? { role: 'kernel', weight: 'weights_feature' }
        : slot === 2
          ? { role: 'other', weight: 'weights_time' }
          : slot === 3
            ? { role: 'bias', weight: 'bias' }
            : undefined;
    case Op.embeddingLookup:
      return slot === 1 ? { role: 'embeddings', weight: 'embeddings' } : undefined;
    case Op.gather:
      return slot === 0 && isNumericWeight ? { role: 'embeddings', weight: 'embeddings' } : undefined;
    case Op.prelu:
      return slot === 1 ? { role: 'alpha', weight: 'alpha' } : undefined;
    case Op.batchMatmul:
      return slot === 1 && isNumericWeight ? { role: 'kernel', weight: 'kernel' } : undefined;
    case Op.add:
    case Op.sub:
      return isNumericWeight ? { role: 'other', weight: 'shift' } : undefined;
    case Op.mul:
      return isNumericWeight ? { role: 'other', weight: 'scale' } : undefined;
    case Op.assignVariable:
      // TF2 resource variables: the initial value assigned in the CALL_ONCE init subgraph (7.3.4).
      return slot === 1 && isNumericWeight ? { role: 'other', weight: 'initial_value' } : undefined;
    default:
      return undefined;
  }
}

/** The input slot whose tensor name names the layer (the main weight), per op. */
export function primaryWeightSlot(code: number): number {
  switch (code) {
    case Op.gather:
      return 0;
    case Op.lstm:
    case Op.unidirectionalSequenceLstm:
      return 2; // input_to_forget_weights (input_to_input is optional)
    default:
      return 1;
  }
}

/** Keras-style class name of the layer an op implements, e.g. CONV_2D -> 'Conv2D'. */
export function layerClassName(code: number, opName: string): string {
  switch (code) {
    case Op.conv2d:
      return 'Conv2D';
    case Op.depthwiseConv2d:
      return 'DepthwiseConv2D';
    case Op.fullyConnected:
      return 'Dense';
    case Op.transposeConv:
      return 'Conv2DTranspose';
    case Op.conv3d:
      return 'Conv3D';
    case Op.conv3dTranspose:
      return 'Conv3DTranspose';
    case Op.lstm:
    case Op.unidirectionalSequenceLstm:
      return 'LSTM';
    case Op.rnn:
    case Op.unidirectionalSequenceRnn:
      return 'SimpleRNN';
    case Op.bidirectionalSequenceLstm:
    case Op.bidirectionalSequenceRnn:
      return 'Bidirectional';
    case Op.embeddingLookup:
    case Op.gather:
      return 'Embedding';
    case Op.prelu:
      return 'PReLU';
    case Op.mul:
      return 'Multiply';
    case Op.sub:
      return 'Subtract';
    default:
      // SNAKE_CASE -> PascalCase (ADD -> Add, BATCH_MATMUL -> BatchMatmul, SVDF -> Svdf).
      return opName
        .toLowerCase()
        .split(/[_-]+/)
        .filter(Boolean)
        .map((w) => w[0]!.toUpperCase() + w.slice(1))
        .join('');
  }
}

/** Per-op suffixes of the TF op name that ends the layer scope in MLIR/TOCO tensor names. */
function opSuffix(code: number): RegExp | undefined {
  switch (code) {
    case Op.conv2d:
      return /\/(Conv2D|convolution|conv2d)$/;
    case Op.depthwiseConv2d:
      return /\/(depthwise|separable_conv2d\/depthwise)$/;
    case Op.fullyConnected:
    case Op.batchMatmul:
      return /\/(MatMul\d*|Tensordot\/MatMul|BatchMatMulV\d)$/;
    case Op.transposeConv:
      return /\/(conv2d_transpose|Conv2DBackpropInput)$/;
    case Op.add:
      return /\/(add|Add|AddV2|add_\d+)(\/[xy])?$/;
    case Op.sub:
      return /\/(sub|Sub|sub_\d+)(\/[xy])?$/;
    case Op.mul:
      return /\/(mul|Mul|mul_\d+)(\/[xy])?$/;
    default:
      return undefined;
  }
}

// Trailing parts that are not the layer: TF op names, variable reads, TOCO suffixes.
const genericSuffix =
  /\/(Conv2D|depthwise|MatMul\d*|BiasAdd|BiasAdd\/ReadVariableOp|ReadVariableOp|resource|read|weights|kernel|Kernel|bias|Bias|biases|Const|Conv2D_bias|conv2d_transpose|Fold|FakeQuantWithMinMaxVars|[A-Za-z]+_Fold)(?=\/|$).*$/;

/**
 * The layer scope named by a (possibly `;`-joined) tensor name for an op: the segment ending in the
 * op's TF name (`/Conv2D`, `/MatMul`, `/depthwise` ...; the last such segment wins, as MLIR lists the
 * op's own location last), with that suffix and variable-read parts removed. E.g.
 * 'model/conv2d_5/Conv2D' -> 'model/conv2d_5', 'conv2d/Kernel' -> 'conv2d'. Undefined when the
 * name gives nothing usable.
 */
export function layerScopeFromName(name: string | undefined, code: number): string | undefined {
  if (!name) {
    return undefined;
  }
  const segments = name.split(';').map((s) => s.trim()).filter(Boolean);
  const specific = opSuffix(code);
  if (specific) {
    for (let i = segments.length - 1; i >= 0; i--) {
      const s = segments[i]!;
      const m = specific.exec(s);
      if (m) {
        return s.slice(0, m.index) || undefined;
      }
    }
  }
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i]!;
    const m = genericSuffix.exec(s);
    if (m && m.index > 0) {
      return s.slice(0, m.index);
    }
  }
  const last = segments[segments.length - 1];
  return last && !last.includes(':') ? last : undefined;
}
