/**
 * The in-memory description of an opened weight file: tensors with lazy data, layers with their
 * architecture, and file-level metadata. Every reader produces this shape; every analysis and
 * surface consumes it.
 */
import { elementCount, type DType, type NumericArray } from './dtypes';
import type { ErrorSummary } from './errors';

/** Identifier of a file format (one per reader). */
export type FormatId =
  | 'tfjs-layers'
  | 'tfjs-graph'
  | 'keras-h5'
  | 'keras-weights-h5'
  | 'keras-v3'
  | 'keras-v3-weights'
  | 'safetensors'
  | 'npy'
  | 'npz'
  | 'tf-checkpoint'
  | 'tf-savedmodel'
  | 'tflite';

/** What a tensor is for inside its layer. Free-form beyond the well-known roles. */
export type TensorRole =
  | 'kernel'
  | 'bias'
  | 'recurrent_kernel'
  | 'depthwise_kernel'
  | 'pointwise_kernel'
  | 'embeddings'
  | 'gamma'
  | 'beta'
  | 'moving_mean'
  | 'moving_variance'
  | 'alpha'
  | 'optimizer_state'
  | 'step'
  | 'other';

/** Which part of a checkpoint a tensor belongs to. */
export type TensorGroup = 'model' | 'optimizer' | 'other';

/** Options for streaming a tensor's values. */
export interface ReadValuesOptions {
  /** Preferred chunk size in elements (a hint; readers may yield other sizes). */
  chunkElements?: number;
  /** Cancels the read; the iterator then throws a `cancelled` WeightFileError. */
  signal?: AbortSignal;
  /**
   * True when the consumer is done with each chunk before it asks for the next one: the reader may
   * then yield views of one reused buffer (default false: every chunk stays valid for the consumer).
   */
  reuseChunks?: boolean;
  /**
   * With reuseChunks: a buffer the reader may read the stored bytes into and yield views of,
   * instead of one of its own. Readers that cannot, or get chunks larger than it, ignore it.
   */
  chunkBuffer?: Uint8Array;
}

/** Quantization applied to stored values; analysis sees dequantized values. */
export interface QuantizationInfo {
  /** Storage type of the quantized values. */
  storageDtype: DType;
  /** Scheme: TF.js affine (`q*scale+min`), TFLite affine (`scale*(q-zp)`), float16 cast. */
  scheme: 'tfjs-affine' | 'tflite-affine' | 'float16';
  /** Scale per tensor (length 1) or per channel; absent for casts. */
  scale?: number[];
  /** TF.js: value of q=0. */
  min?: number;
  /** TFLite: zero points per tensor or per channel. */
  zeroPoint?: number[];
  /** TFLite: channel axis for per-channel parameters. */
  axis?: number;
}

/** A tensor's values as plain bytes of a local file (TensorInfo.rawSource). */
export interface RawTensorSource {
  /** Local file holding the values. */
  readonly localPath: string;
  /** Offset of the first value in the file, in bytes. */
  readonly offset: number;
  /** Bytes of values: element count x item size. */
  readonly byteLength: number;
}

/** One tensor of a weight file: metadata at once, values on demand. */
export interface TensorInfo {
  /** Full name as stored in the file (unique within the file). */
  readonly name: string;
  /** Layer the tensor belongs to ('' when unknown). */
  readonly layer: string;
  /** Short weight name inside the layer, e.g. 'kernel'. */
  readonly weight: string;
  /** Role of the weight inside its layer. */
  readonly role: TensorRole;
  /** Model weights, optimizer state, or other bookkeeping. */
  readonly group: TensorGroup;
  /** Element type of the values the analysis sees (after dequantization). */
  readonly dtype: DType;
  /** Element type as stored in the file (differs from dtype for quantized tensors). */
  readonly storageDtype: DType;
  /** Shape, row-major; [] for a scalar; -1 for a dimension the file leaves unknown, [] for an unknown rank (see shapeUnknown). */
  readonly shape: readonly number[];
  /**
   * True when the file does not give the whole shape (an unknown rank or unknown dimensions). Such
   * a tensor has no values to read and counts in no parameter total; absent when the shape is known.
   */
  readonly shapeUnknown?: boolean;
  /** Stored size in bytes. */
  readonly byteLength: number;
  /** Quantization of the stored values, when quantized. */
  readonly quantization?: QuantizationInfo;
  /** Whether training updates it, when the file says so. */
  readonly trainable?: boolean;
  /** For optimizer slots: the model variable this slot belongs to and the slot name (e.g. 'm'). */
  readonly slotOf?: { variable: string; slot: string };
  /** Set when the tensor cannot be read (missing shard, bad range); the rest of the file is fine. */
  readonly unavailable?: ErrorSummary;
  /** Extra per-tensor facts from the format (checksums, offsets, consumer op ...), JSON-safe. */
  readonly extra?: Readonly<Record<string, unknown>>;
  /**
   * Where the values lie as plain bytes of a local file, when they do: `byteLength` bytes at
   * `offset`, little-endian `dtype` elements in row-major order, nothing to decompress or
   * dequantize. A thread without the format's library (a statistics worker) can then read them
   * with plain file reads (readRawValues). Undefined when the format library must do the reading.
   */
  rawSource?(): RawTensorSource | undefined;
  /**
   * Streams the values in row-major order, dequantized, as typed arrays. Throws a WeightFileError
   * when the data is damaged (then only this tensor is affected). Not available for strings.
   */
  readValues(options?: ReadValuesOptions): AsyncIterable<NumericArray>;
}

/** The shape of a tensor as TensorInfo and the reports carry it. */
export interface ShapeOf {
  /** Dimensions; -1 for an unknown one. */
  readonly shape: readonly number[];
  /** True when the shape is not fully known. */
  readonly shapeUnknown?: boolean;
}

/**
 * Number of elements of a tensor; undefined when its shape is unknown, or claims more elements than
 * a safe integer holds (a damaged header: no file stores 2^53 values, and a total would lose digits).
 */
export function knownElementCount(t: ShapeOf): number | undefined {
  if (t.shapeUnknown) {
    return undefined;
  }
  const count = elementCount(t.shape);
  return Number.isSafeInteger(count) ? count : undefined;
}

/** A shape as text: '[3,4]' (dimensions joined by `separator`), '?' for an unknown dimension ('[?,4]') or rank ('?'). */
export function shapeText(t: ShapeOf, separator = ','): string {
  if (t.shapeUnknown && t.shape.length === 0) {
    return '?';
  }
  return `[${t.shape.map((d) => (t.shapeUnknown && d < 0 ? '?' : String(d))).join(separator)}]`;
}

/** Model-group tensors whose shape is unknown (or has no element count, see knownElementCount), which parameter totals leave out. */
export function countUnknownShapes(tensors: readonly (ShapeOf & { readonly group: TensorGroup })[]): number {
  return tensors.filter((t) => t.group === 'model' && knownElementCount(t) === undefined).length;
}

/** What a parameter total adds when it leaves `count` tensors of unknown shape out: '' when none, else ' (excludes 1 tensor of unknown shape)'. */
export function unknownShapeNote(count: number | undefined): string {
  return !count ? '' : ` (excludes ${count} tensor${count === 1 ? '' : 's'} of unknown shape)`;
}

/** An initializer or regularizer config, normalized from Keras / TF.js JSON. */
export interface KerasObjectConfig {
  /** Class name as written, e.g. 'GlorotUniform', 'RandomUniform', 'L2'. */
  className: string;
  /** Its config object (e.g. {minval, maxval, seed} or {l2: 0.01}). */
  config: Readonly<Record<string, unknown>>;
}

/** One layer of the architecture, normalized across formats. */
export interface LayerInfo {
  /** Layer name (unique in the model; nested layers use 'outer/inner'). */
  name: string;
  /** Keras class name, e.g. 'Dense', 'Conv2D'; undefined when the file has no architecture. */
  className?: string;
  /** Activation name ('relu', 'linear', ...), when the layer has one. */
  activation?: string;
  /** Dense/RNN units. */
  units?: number;
  /** Conv filters. */
  filters?: number;
  /** Conv kernel size. */
  kernelSize?: number[];
  /** Kernel initializer config. */
  kernelInitializer?: KerasObjectConfig;
  /** Bias initializer config. */
  biasInitializer?: KerasObjectConfig;
  /** Recurrent kernel initializer (RNNs). */
  recurrentInitializer?: KerasObjectConfig;
  /** Depthwise kernel initializer. */
  depthwiseInitializer?: KerasObjectConfig;
  /** Kernel regularizer config. */
  kernelRegularizer?: KerasObjectConfig;
  /** Bias regularizer config. */
  biasRegularizer?: KerasObjectConfig;
  /** Activity regularizer config. */
  activityRegularizer?: KerasObjectConfig;
  /** Dropout rate (Dropout layers, and `dropout` of RNN layers). */
  dropoutRate?: number;
  /** Recurrent dropout rate of RNN layers. */
  recurrentDropoutRate?: number;
  /** Whether the layer is trainable, when known. */
  trainable?: boolean;
  /** Names of the tensors of this layer, in the layer's weight order. */
  tensors: string[];
  /** Name of the enclosing model/layer for nested models. */
  parent?: string;
  /** Raw config as written in the file, JSON-safe. */
  config?: Readonly<Record<string, unknown>>;
}

/** A problem confined to part of a file: the file still opened. */
export interface FileWarning extends ErrorSummary {
  /** Tensor the warning is about, when confined to one. */
  tensor?: string;
}

/** An opened weight file: headers parsed, tensor data not yet read. */
export interface WeightFile {
  /** Format identifier. */
  readonly format: FormatId;
  /** Human-readable format name, e.g. 'Keras HDF5 (full model)'. */
  readonly formatName: string;
  /** Path or name of the main file as given by the caller. */
  readonly path: string;
  /** Tensors in file order (layer order where the format defines one). */
  readonly tensors: readonly TensorInfo[];
  /** Layers: from the architecture when present, else derived from tensor names. */
  readonly layers: readonly LayerInfo[];
  /** Model class/name from the architecture ('Sequential', 'Functional', ...), when known. */
  readonly modelClass?: string;
  /** The Keras model config ({class_name, config}) as stored, raw JSON, when the file carries one (rebuilding models). */
  readonly modelConfig?: Readonly<Record<string, unknown>>;
  /** Training config from the file (loss, optimizer, metrics), raw JSON, when present. */
  readonly trainingConfig?: Readonly<Record<string, unknown>>;
  /** File-level facts (producer, versions, signatures ...), JSON-safe. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Partial damage found while opening (missing shards, unreadable tensors ...). */
  readonly warnings: readonly FileWarning[];
  /**
   * Companion files the reader opened or looked for (shards, `.data-*` files, a sibling config, a
   * SavedModel's `variables/`), missing ones included, relative to the main file's folder with '/'
   * separators; set by the registry (openWeightSource), absent when a reader is called directly.
   */
  readonly companionFiles?: readonly string[];
  /** Releases file handles. */
  close(): Promise<void>;
}
