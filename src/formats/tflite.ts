/**
 * TensorFlow Lite models (`.tflite`): one FlatBuffer with file identifier "TFL3"
 * (schema: tensorflow/compiler/mlir/lite/schema/schema.fbs; notes/weight-formats.md section 7).
 *
 * Weights are the constant tensors (a non-empty `Model.buffers[tensor.buffer]`, section 7.3), listed
 * per subgraph with their quantization, the op that consumes them (DEQUANTIZE and DENSIFY are
 * followed to the real consumer) and a layer named after that consumer.
 *
 * Reading strategy: files up to `maxInMemoryBytes` (256 MiB) are read once at open to decode the
 * FlatBuffer tables (and to summarise quantized codes, which costs no further I/O); the bytes are
 * then dropped and tensor values are read lazily through the ByteSource by byte range. Larger
 * files: only the first `tablePrefixBytes` (64 MiB) are decoded, which holds every table of a
 * model in the > 2 GB layout (FlatBuffer first, buffer data appended and reached by
 * `Buffer.offset`); a larger file whose tables lie beyond that prefix (the normal layout keeps
 * them at the end) is refused with `tooLarge`. There is no page-by-page table reader.
 *
 * Layer naming convention: a layer is one weight-consuming op (CONV_2D, FULLY_CONNECTED ...). Its
 * name is the TF scope of that op taken from the main weight's tensor name, keeping the full
 * prefix ('model/conv2d_5', 'sequential/dense_1', 'functional_1/depthwise_conv2d'), else
 * '<op>_<index>' ('conv_2d_7'); a repeated name gets ' (op N)' appended.
 */
import { type ByteSource, type FileSet } from '../core/byteSource';
import { decodeValues, elementCount, isNumericDType, itemSizeBytes, type DType, type NumericArray } from '../core/dtypes';
import { summarizeError, throwIfAborted, WeightFileError } from '../core/errors';
import type { FileWarning, LayerInfo, QuantizationInfo, ReadValuesOptions, TensorGroup, TensorInfo, TensorRole, WeightFile } from '../core/model';
import { defaultChunkElements, readSpanValues } from '../core/tensorData';
import type { FormatReader, OpenOptions, SniffInput } from './formatReader';
import { densify } from './tflite/densify';
import { FlatBufferReader } from './tflite/flatBufferReader';
import { kerasLayoutFor, type KerasLayout } from './tflite/kerasLayout';
import { codeRangeOf, summarizeQuantizedCodes, type QuantizedCodeSummary } from './tflite/quantizedCodeSummary';
import {
  Op,
  cutAtNul,
  parseModel,
  parseQuantization,
  parseSparsity,
  tensorTypeName,
  tensorTypeToDType,
  type BufferLocation,
  type Model,
  type Operator,
  type QuantizationParameters,
  type SparsityParameters,
  type SubGraph,
  type Tensor,
} from './tflite/schema';
import { activationFunctionNames, fusedActivationField } from './tflite/schemaTables';
import { layerClassName, layerScopeFromName, primaryWeightSlot, weightRole, type WeightRole } from './tflite/weightRole';

/** Largest file read whole to decode its FlatBuffer tables, in bytes. */
export const maxInMemoryBytes = 256 * 1024 * 1024;

/** For larger files, the leading bytes decoded: enough for the tables of the > 2 GB layout (tables first, data after). */
export const tablePrefixBytes = 64 * 1024 * 1024;

/** Size limits of the reader (tests use small ones). */
export interface TfliteLimits {
  /** Files up to this size (bytes) are read whole at open. */
  maxInMemoryBytes: number;
  /** Larger files: bytes decoded from the start; tables beyond them give `tooLarge`. */
  tablePrefixBytes: number;
}

/** The limits `tfliteReader` uses. */
export const defaultTfliteLimits: TfliteLimits = { maxInMemoryBytes, tablePrefixBytes };

/** The TFLite file identifier (bytes 4..7). */
export const tfliteIdentifier = 'TFL3';

/** One consumer of a constant: the op reading it (after DEQUANTIZE/DENSIFY pass-through) and the input slot. */
export interface TfliteConsumer {
  /** Operator index in its subgraph. */
  op: number;
  /** Operator name, e.g. 'CONV_2D' (custom ops: their custom code). */
  opName: string;
  /** Input slot of the op the value arrives at. */
  slot: number;
  /** Pass-through ops between the constant and the consumer, e.g. ['DENSIFY', 'DEQUANTIZE']. */
  via: string[];
}

/** An input or output tensor in the model summary. */
export type TfliteIoTensor = {
  /** Tensor index in subgraph 0. */
  tensorIndex: number;
  /** Tensor name ('' when unnamed). */
  name: string;
  /** Element type as stored (schema name when not a known DType). */
  dtype: string;
  /** Shape; null when the file gives none. */
  shape: number[] | null;
  /** `shape_signature` (-1 = dynamic), when present. */
  shapeSignature?: number[];
  /** Affine quantization, when the tensor is quantized (a scale is present). */
  quantization?: { scale: number[]; zeroPoint: number[]; axis?: number };
  /** Set when the index does not name a tensor. */
  error?: string;
};

/** One tensor of a signature, with the alias the signature gives it. */
export type TfliteSignatureTensor = {
  /** Signature alias, e.g. 'dense_input'. */
  name: string;
  /** Tensor index in the signature's subgraph. */
  tensorIndex: number;
  /** Tensor name in the graph; null when the index is out of range. */
  tensorName: string | null;
};

/** `WeightFile.metadata` of a TFLite model. */
export type TfliteModelSummary = {
  /** `Model.version` (3). */
  schemaVersion: number;
  /** `Model.description`, e.g. 'MLIR Converted.'. */
  description?: string;
  /** Converter, from CONVERSION_METADATA or the description. */
  producer: string;
  /** Conversion mode ('float32', 'float16', 'dynamic-range', 'full-integer', ...) and where it was read from. */
  conversionMode: { mode: string; source: string };
  /** Per subgraph: name, tensor, operator and constant counts. */
  subgraphs: { index: number; name: string | null; tensorCount: number; operatorCount: number; constantCount: number }[];
  /** Number of `Model.buffers`. */
  bufferCount: number;
  /** `Model.operator_codes` in order. */
  operatorCodes: { name: string; builtinCode: number; version: number }[];
  /** Operator count per op name over all subgraphs. */
  opsHistogram: Record<string, number>;
  /** Inputs of subgraph 0. */
  inputs: TfliteIoTensor[];
  /** Outputs of subgraph 0. */
  outputs: TfliteIoTensor[];
  /** `Model.signature_defs`. */
  signatureDefs: { key: string; subgraphIndex: number; inputs: TfliteSignatureTensor[]; outputs: TfliteSignatureTensor[] }[];
  /** `Model.metadata` entries with their sizes (null when the buffer is unreadable). */
  metadataEntries: { name: string; buffer: number; byteLength: number | null }[];
  /** `min_runtime_version` cut at the first NUL. */
  minRuntimeVersion?: string;
  /** `reduced_precision_support`, e.g. 'fp16accfp32'. */
  reducedPrecisionSupport?: string;
  /** Decoded `CONVERSION_METADATA`. */
  conversionMetadata?: ConversionMetadata;
  /** Decoded `TFLITE_METADATA` (TFLite Support ModelMetadata, identifier M001). */
  modelMetadata?: ModelMetadata;
  /** True when a ZIP of associated files (labels, vocabularies) is appended after the FlatBuffer. */
  appendedZip?: boolean;
  /** Deprecated `Model.metadata_buffer` blobs (opaque; identifier = bytes 4..7). */
  deprecatedMetadataBuffers?: { buffer: number; byteLength: number | null; identifier: string | null; opaque: true }[];
  /** Set for Edge TPU compiled models, whose weights are not tensors. */
  weightsOpaque?: string;
};

/** `TensorInfo.extra` of a TFLite constant. */
export type TfliteTensorExtra = {
  /** Subgraph index. */
  subgraph: number;
  /** Tensor index in the subgraph. */
  tensorIndex: number;
  /** `Tensor.buffer`. */
  buffer: number;
  /** TensorType schema name, e.g. 'INT8'. */
  tensorType: string;
  /** Real consumers (DEQUANTIZE/DENSIFY followed). */
  consumers: TfliteConsumer[];
  /** `shape_signature`, when present. */
  shapeSignature?: number[];
  /** True for `is_variable` tensors. */
  isVariable?: boolean;
  /** True when the constant has no `shape` field (read as a scalar). */
  shapeAbsent?: boolean;
  /** 'offset' when the data came from Buffer.offset/size (> 2 GB layout). */
  bufferLayout?: 'offset';
  /** Absolute byte offset of the data in the file. */
  byteOffset?: number;
  /** Quantization `min`/`max` (the float range), when stored. */
  quantizationRange?: { min?: number[]; max?: number[] };
  /** `details_type` when a QuantizationDetails union is set (scale/zero point then ignored). */
  quantizationDetailsType?: number;
  /** Sparse storage facts. */
  sparsity?: { storedValues: number; denseElements: number; density: number; traversalOrder: number[]; blockMap: number[]; dimFormats: string[] };
  /** Summary of the stored integer codes of a quantized constant. */
  quantizedCodes?: QuantizedCodeSummary;
  /** Keras view of the weight (for the conversion check). */
  kerasLayout?: KerasLayout;
};

/** The reader. */
export const tfliteReader: FormatReader = {
  id: 'tflite',
  displayName: 'TensorFlow Lite (.tflite)',
  sniff(input: SniffInput): number | undefined {
    const h = input.head;
    if (h.length >= 8 && h[4] === 0x54 && h[5] === 0x46 && h[6] === 0x4c && h[7] === 0x33) {
      const root = h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! * 2 ** 24);
      if (root >= 8 && root < input.size && root % 4 === 0) {
        return 100;
      }
    }
    return /\.(tflite|tfl)$/i.test(input.fileName) ? 50 : undefined;
  },
  open: openTflite,
};

/**
 * Opens a `.tflite` file: decodes the model tables, lists the constants as tensors with lazy values.
 * Files up to `limits.maxInMemoryBytes` are read whole; larger ones only their first
 * `limits.tablePrefixBytes`, which holds every table in the > 2 GB layout (`Buffer.offset`/`size`,
 * section 7.5); a larger file whose tables lie beyond that prefix is refused with `tooLarge`.
 */
export async function openTflite(source: ByteSource, _files: FileSet, options: OpenOptions = {}, limits: TfliteLimits = defaultTfliteLimits): Promise<WeightFile> {
  throwIfAborted(options.signal);
  if (source.size < 8) {
    throw new WeightFileError('truncated', `${source.name}: ${source.size} bytes is too short for a TFLite FlatBuffer (needs at least 8).`, { file: source.name });
  }
  const readBytes = source.size <= limits.maxInMemoryBytes ? source.size : Math.min(source.size, limits.tablePrefixBytes);
  const bytes = await source.read(0, readBytes);
  const fb = new FlatBufferReader(source.name, bytes, source.size);
  const identifier = fb.identifier();
  if (identifier !== tfliteIdentifier) {
    throw new WeightFileError(
      'unrecognized',
      `${source.name}: not a TFLite model (file identifier ${JSON.stringify(identifier)} at bytes 4-7, expected "${tfliteIdentifier}").`,
      { file: source.name, offset: 4 },
    );
  }
  let model: Model;
  try {
    model = parseModel(fb);
  } catch (ex) {
    throw asWeightFileError(ex, source.name);
  }
  const builder = new ModelBuilder(source, fb, model, options.signal);
  await builder.build();
  return {
    format: 'tflite',
    formatName: 'TensorFlow Lite',
    path: source.name,
    tensors: builder.tensors,
    layers: builder.layers,
    metadata: builder.metadata(),
    warnings: builder.warnings,
    close: () => source.close(),
  };
}

function asWeightFileError(ex: unknown, file: string): WeightFileError {
  if (WeightFileError.is(ex)) {
    return ex;
  }
  return new WeightFileError('corrupt', `${file}: the TFLite FlatBuffer is damaged (${ex instanceof Error ? ex.message : String(ex)}).`, { file }, { cause: ex });
}

/** Per-constant facts gathered before TensorInfo objects are made. */
interface ConstantEntry {
  subgraph: number;
  tensor: Tensor;
  name: string;
  consumers: TfliteConsumer[];
  role?: WeightRole;
  layer: string;
  loc?: BufferLocation;
  damage?: WeightFileError;
}

class ModelBuilder {
  readonly tensors: TensorInfo[] = [];
  readonly layers: LayerInfo[] = [];
  readonly warnings: FileWarning[] = [];
  private readonly usedNames = new Set<string>();
  private readonly usedLayerNames = new Set<string>();
  private readonly constantsPerSubgraph: number[] = [];

  constructor(
    private readonly source: ByteSource,
    private readonly fb: FlatBufferReader,
    private readonly model: Model,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async build(): Promise<void> {
    for (let s = 0; s < this.model.subgraphs.length; s++) {
      await this.buildSubgraph(s, this.model.subgraphs[s]!);
    }
  }

  private opName(op: Operator): string {
    const code = this.model.operatorCodes[op.opcodeIndex];
    return code ? code.name : `OPCODE_${op.opcodeIndex}`;
  }

  private opCode(op: Operator): number {
    return this.model.operatorCodes[op.opcodeIndex]?.builtinCode ?? -1;
  }

  private async buildSubgraph(s: number, sg: SubGraph): Promise<void> {
    const ops = sg.operators;
    for (const op of ops) {
      if (op.opcodeIndex >= this.model.operatorCodes.length) {
        throw this.fb.corrupt(`operator ${op.index} of subgraph ${s} uses opcode_index ${op.opcodeIndex} but the model has ${this.model.operatorCodes.length} operator codes`, 0);
      }
    }
    const direct = new Map<number, { op: Operator; slot: number }[]>();
    for (const op of ops) {
      op.inputs.forEach((t, slot) => {
        if (t >= 0) {
          const list = direct.get(t) ?? [];
          list.push({ op, slot });
          direct.set(t, list);
        }
      });
    }
    // `seen` bounds the walk on damaged graphs whose pass-through ops loop or fan out.
    const finalConsumers = (t: number, via: string[], depth: number, seen: Set<number> = new Set([t])): TfliteConsumer[] => {
      const out: TfliteConsumer[] = [];
      for (const { op, slot } of direct.get(t) ?? []) {
        const code = this.opCode(op);
        const passThrough = (code === Op.dequantize || code === Op.densify) && op.outputs.length > 0 && depth < 8;
        if (passThrough) {
          const next = op.outputs[0]!;
          if (!seen.has(next)) {
            seen.add(next);
            out.push(...finalConsumers(next, [...via, this.opName(op)], depth + 1, seen));
          }
        } else {
          out.push({ op: op.index, opName: this.opName(op), slot, via });
        }
      }
      return out;
    };

    // 1. constants and their consumers
    const prefix = s === 0 ? '' : `subgraph_${s}/`;
    // Tensors an op writes or the subgraph takes as input hold no constant, whatever their buffer says.
    const computed = new Set<number>(sg.inputs);
    for (const op of ops) {
      for (const o of op.outputs) {
        computed.add(o);
      }
    }
    const entries: ConstantEntry[] = [];
    for (const t of sg.tensors) {
      let loc: BufferLocation | undefined;
      let damage: WeightFileError | undefined;
      try {
        loc = this.model.buffer(t.buffer);
      } catch (ex) {
        damage = asWeightFileError(ex, this.source.name);
      }
      if (damage && computed.has(t.index)) {
        // An activation's (empty) buffer table cut off with the end of the file: the file is
        // truncated, but the tensor is no weight either way. Said once for the file.
        this.noteCutTable(damage);
        continue;
      }
      if (!damage && (!loc || loc.length === 0)) {
        continue; // activation / input / empty buffer: not a constant
      }
      const consumers = finalConsumers(t.index, [], 0);
      entries.push({ subgraph: s, tensor: t, name: this.uniqueName(prefix + (t.name || `tensor_${t.index}`), t.index), consumers, layer: '' });
      const entry = entries[entries.length - 1]!;
      if (damage) {
        entry.damage = damage;
      } else {
        entry.loc = loc;
      }
    }
    this.constantsPerSubgraph[s] = entries.length;

    // 2. layers: one per op consuming at least one weight
    const byOp = new Map<number, { entry: ConstantEntry; slot: number; role: WeightRole }[]>();
    for (const e of entries) {
      const numeric = isWeightLike(e.tensor.type);
      for (const c of e.consumers) {
        const op = ops[c.op]!;
        const role = weightRole(this.opCode(op), c.slot, numeric);
        if (role) {
          const list = byOp.get(c.op) ?? [];
          list.push({ entry: e, slot: c.slot, role });
          byOp.set(c.op, list);
          e.role ??= role;
        }
      }
    }
    for (const opIndex of [...byOp.keys()].sort((a, b) => a - b)) {
      const op = ops[opIndex]!;
      const code = this.opCode(op);
      const weights = byOp.get(opIndex)!.sort((a, b) => a.slot - b.slot);
      const primary = weights.find((w) => w.slot === primaryWeightSlot(code)) ?? weights[0]!;
      const outName = op.outputs[0] !== undefined ? sg.tensors[op.outputs[0]]?.name : undefined;
      const scope =
        layerScopeFromName(primary.entry.tensor.name, code) ??
        layerScopeFromName(outName, code) ??
        `${this.opName(op).toLowerCase()}_${opIndex}`;
      const layerName = this.uniqueLayerName(prefix + scope, opIndex);
      for (const w of weights) {
        if (!w.entry.layer) {
          w.entry.layer = layerName;
        }
      }
      const layer: LayerInfo = {
        name: layerName,
        className: layerClassName(code, this.opName(op)),
        tensors: weights.filter((w) => w.entry.layer === layerName).map((w) => w.entry.name),
        config: { op: this.opName(op), opIndex, subgraph: s, opVersion: this.model.operatorCodes[op.opcodeIndex]?.version ?? 1 },
      };
      const activation = this.fusedActivation(op);
      if (activation) {
        layer.activation = activation;
      }
      const kernelShape = primary.entry.tensor.shape;
      if (kernelShape && primary.role.role !== 'bias') {
        if (code === Op.fullyConnected && kernelShape.length === 2) {
          layer.units = kernelShape[0]!;
        } else if ((code === Op.conv2d || code === Op.transposeConv) && kernelShape.length === 4) {
          layer.filters = kernelShape[0]!;
          layer.kernelSize = [kernelShape[1]!, kernelShape[2]!];
        } else if (code === Op.depthwiseConv2d && kernelShape.length === 4) {
          layer.kernelSize = [kernelShape[1]!, kernelShape[2]!];
        } else if (code === Op.conv3d && kernelShape.length === 5) {
          layer.filters = kernelShape[4]!;
          layer.kernelSize = kernelShape.slice(0, 3);
        }
      }
      this.layers.push(layer);
    }

    // 3. tensor infos
    for (const e of entries) {
      throwIfAborted(this.signal);
      let info: TensorInfo;
      if (e.damage || !e.loc) {
        info = this.unavailableTensor(e, e.damage ?? this.fb.corrupt(`tensor ${e.tensor.index} has no buffer`, 0));
      } else {
        try {
          info = this.constantTensor(e, sg, e.loc);
        } catch (ex) {
          info = this.unavailableTensor(e, asWeightFileError(ex, this.source.name));
        }
        if (e.tensor.shape && elementCount(e.tensor.shape) > 1 << 20) {
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      this.tensors.push(info);
    }
  }

  /** Damage in a buffer table of a tensor that is not a constant, reported once as a file warning. */
  private cutTableNoted = false;

  private noteCutTable(damage: WeightFileError): void {
    if (this.cutTableNoted) {
      return;
    }
    this.cutTableNoted = true;
    const what = damage.reason === 'truncated' ? 'the file is truncated' : 'the model tables are damaged';
    const detail = damage.message.startsWith(`${this.source.name}: `) ? damage.message.slice(this.source.name.length + 2) : damage.message;
    this.warnings.push({
      reason: damage.reason,
      message: `${this.source.name}: ${what}: ${detail.replace(/;\s*the file (might be truncated|is truncated or damaged)\.?$/, '').replace(/\.$/, '')} (the buffer table of tensors that ops compute or the model takes as input, not of any weight).`,
    });
  }

  private uniqueName(name: string, index: number): string {
    return claimUnique(this.usedNames, name, `tensor ${index}`);
  }

  private uniqueLayerName(name: string, opIndex: number): string {
    return claimUnique(this.usedLayerNames, name, `op ${opIndex}`);
  }

  /** The op's `fused_activation_function` as a Keras activation name, when its options carry one. */
  private fusedActivation(op: Operator): string | undefined {
    const field = fusedActivationField[op.builtinOptionsType];
    if (!field || !op.builtinOptions) {
      return undefined;
    }
    try {
      const v = op.builtinOptions.scalar(field.id, 'int8');
      const name = activationFunctionNames[v];
      return name === undefined ? `activation_${v}` : keraActivationName(name);
    } catch {
      return undefined;
    }
  }

  private unavailableTensor(e: ConstantEntry, error: WeightFileError): TensorInfo {
    const summary = summarizeError(error);
    this.warnings.push({ ...summary, tensor: e.name });
    const storage = tensorTypeToDType(e.tensor.type) ?? 'uint8';
    // Without a readable constant the shape is only what the file says: an absent `shape` (an
    // unknown rank, or a scalar only when its buffer proves it) or negative dimensions stay unknown.
    const stated = e.tensor.shape;
    const shapeUnknown = !stated || stated.some((d) => !Number.isInteger(d) || d < 0);
    return {
      name: e.name,
      layer: e.layer,
      weight: e.role?.weight ?? '',
      role: e.role?.role ?? 'other',
      group: e.role ? 'model' : 'other',
      dtype: storage,
      storageDtype: storage,
      shape: stated ? stated.map((d) => (Number.isInteger(d) && d >= 0 ? d : -1)) : [],
      ...(shapeUnknown ? { shapeUnknown } : {}),
      byteLength: 0,
      unavailable: summary,
      extra: this.baseExtra(e),
      readValues(): AsyncIterable<NumericArray> {
        return failingIterable(error);
      },
    };
  }

  private baseExtra(e: ConstantEntry): TfliteTensorExtra {
    const t = e.tensor;
    return {
      subgraph: e.subgraph,
      tensorIndex: t.index,
      buffer: t.buffer,
      tensorType: tensorTypeName(t.type),
      consumers: e.consumers,
      ...(t.shapeSignature ? { shapeSignature: t.shapeSignature } : {}),
      ...(t.isVariable ? { isVariable: true } : {}),
    };
  }

  private constantTensor(e: ConstantEntry, sg: SubGraph, loc: BufferLocation): TensorInfo {
    const t = e.tensor;
    const name = e.name;
    const fileName = this.source.name;
    const extra: TfliteTensorExtra = this.baseExtra(e);
    const storage = tensorTypeToDType(t.type);
    if (!storage) {
      throw new WeightFileError('unsupportedDtype', `${fileName}: tensor "${name}" has TensorType ${t.type} (${tensorTypeName(t.type)}), which Weightscope cannot decode.`, {
        file: fileName,
        tensor: name,
      });
    }
    const shape = t.shape ?? [];
    if (!t.shape) {
      extra.shapeAbsent = true; // TOCO writes no `shape` on some scalar constants; read as a scalar
    }
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new WeightFileError('corrupt', `${fileName}: constant tensor "${name}" has an invalid shape [${shape.join(', ')}].`, { file: fileName, tensor: name });
    }
    if (loc.offset + loc.length > this.source.size) {
      throw new WeightFileError(
        'truncated',
        `${fileName}: the data of tensor "${name}" (buffer ${t.buffer}, bytes ${loc.offset}..${loc.offset + loc.length}) lies past the end of the file (${this.source.size} bytes).`,
        { file: fileName, tensor: name, offset: loc.offset },
      );
    }
    const numel = elementCount(shape);
    const quant = parseQuantization(t);
    const sparsity = parseSparsity(t);
    const item = itemSizeBytes(storage);
    if (loc.external) {
      extra.bufferLayout = 'offset';
    }
    extra.byteOffset = loc.offset;
    if (quant && (quant.min || quant.max)) {
      extra.quantizationRange = { ...(quant.min ? { min: quant.min } : {}), ...(quant.max ? { max: quant.max } : {}) };
    }
    if (quant && quant.detailsType !== 0) {
      extra.quantizationDetailsType = quant.detailsType;
    }

    // stored length check (7.5): ceil(numel * bits / 8), except sparse tensors (7.7)
    let storedCount = numel;
    if (item !== undefined) {
      if (sparsity) {
        if (loc.length % Math.max(1, item) !== 0 || item < 1) {
          throw new WeightFileError('corrupt', `${fileName}: sparse tensor "${name}" holds ${loc.length} bytes, not a whole number of ${storage} values.`, {
            file: fileName,
            tensor: name,
          });
        }
        storedCount = loc.length / item;
        extra.sparsity = {
          storedValues: storedCount,
          denseElements: numel,
          density: numel > 0 ? storedCount / numel : 0,
          traversalOrder: sparsity.traversalOrder,
          blockMap: sparsity.blockMap,
          dimFormats: sparsity.dimMetadata.map((d) => (d.format === 1 ? 'SPARSE_CSR' : 'DENSE')),
        };
      } else {
        const expected = Math.ceil(numel * item);
        if (expected !== loc.length) {
          throw new WeightFileError(
            'corrupt',
            `${fileName}: tensor "${name}" of shape ${t.shape ? `[${shape.join(', ')}]` : '[] (none stored, read as a scalar)'} and type ${tensorTypeName(t.type)} needs ${expected} bytes but its buffer ${t.buffer} holds ${loc.length}.`,
            { file: fileName, tensor: name },
          );
        }
      }
    }

    // quantization (7.6): integer type with a non-empty scale and no details union
    const dequant = this.affineQuantization(quant, storage, shape, name);
    const feedsDequantize = e.consumers.some((c) => c.via.includes('DEQUANTIZE'));
    let dtype: DType = storage;
    let quantization: QuantizationInfo | undefined;
    if (dequant) {
      dtype = 'float32';
      quantization = {
        storageDtype: storage,
        scheme: 'tflite-affine',
        scale: dequant.scale,
        zeroPoint: dequant.zeroPoint,
        ...(dequant.axis !== undefined ? { axis: dequant.axis } : {}),
      };
    } else if (storage === 'float16' && feedsDequantize) {
      dtype = 'float32';
      quantization = { storageDtype: 'float16', scheme: 'float16' };
    }

    // raw code summary from the bytes already in memory (no extra I/O)
    if (dequant && codeRangeOf(storage) && loc.length > 0 && loc.offset + loc.length <= this.fb.size) {
      const codes = decodeValues(storage, this.fb.bytes.subarray(loc.offset, loc.offset + loc.length));
      const summary = summarizeQuantizedCodes(
        codes.length > storedCount ? codes.subarray(0, storedCount) : codes,
        storage,
        shape,
        sparsity ? undefined : dequant.axis,
        dequant.zeroPoint,
      );
      if (summary) {
        extra.quantizedCodes = summary;
      }
    }

    // Keras view of the weight for the conversion check
    const kernelConsumer = e.consumers.find((c) => e.role && weightRole(this.opCodeAt(sg, c.op), c.slot, true)?.role === e.role.role);
    if (kernelConsumer) {
      const op = sg.operators[kernelConsumer.op]!;
      const inputTensor = op.inputs[0] !== undefined && op.inputs[0] >= 0 ? sg.tensors[op.inputs[0]] : undefined;
      const inputChannels = inputTensor?.shape?.[inputTensor.shape.length - 1];
      const layout: KerasLayout | undefined = kerasLayoutFor(this.opCode(op), kernelConsumer.slot, shape, inputChannels);
      if (layout) {
        extra.kerasLayout = layout;
      }
    }

    const info: TensorInfo = {
      name,
      layer: e.layer,
      weight: e.role?.weight ?? '',
      role: (e.role?.role ?? 'other') as TensorRole,
      // `is_variable` tensors are mutable state (LSTM/SVDF state), not weights (7.2)
      group: (e.role && !t.isVariable ? 'model' : 'other') as TensorGroup,
      dtype,
      storageDtype: storage,
      shape,
      byteLength: loc.length,
      ...(quantization ? { quantization } : {}),
      extra,
      readValues: valueReader({ source: this.source, offset: loc.offset, length: loc.length }, storage, shape, numel, sparsity, dequant, name),
    };
    return info;
  }

  private opCodeAt(sg: SubGraph, opIndex: number): number {
    const op = sg.operators[opIndex];
    return op ? this.opCode(op) : -1;
  }

  /** Validated affine parameters, or undefined when the tensor is not quantized (7.6). */
  private affineQuantization(q: QuantizationParameters | undefined, storage: DType, shape: readonly number[], name: string): Affine | undefined {
    if (!q || !q.scale || q.scale.length === 0 || q.detailsType !== 0 || !isIntegerDType(storage)) {
      return undefined;
    }
    const fileName = this.source.name;
    const n = q.scale.length;
    const zp = q.zeroPoint && q.zeroPoint.length > 0 ? q.zeroPoint : new Array<number>(n).fill(0);
    if (zp.length !== n && zp.length !== 1) {
      throw new WeightFileError('corrupt', `${fileName}: tensor "${name}" has ${n} scales but ${zp.length} zero points.`, { file: fileName, tensor: name });
    }
    const zeroPoint = zp.length === n ? zp : new Array<number>(n).fill(zp[0]!);
    if (n === 1) {
      return { scale: q.scale, zeroPoint };
    }
    let axis = q.quantizedDimension;
    if (axis >= shape.length && shape[0] === n) {
      axis = 0; // TOCO puts the filter's dimension on 1-D biases (7.6)
    }
    if (axis < 0 || axis >= shape.length || shape[axis] !== n) {
      throw new WeightFileError(
        'corrupt',
        `${fileName}: tensor "${name}" has ${n} per-channel scales but quantized_dimension ${q.quantizedDimension} of shape [${shape.join(', ')}] does not have ${n} entries.`,
        { file: fileName, tensor: name },
      );
    }
    let inner = 1;
    for (let d = axis + 1; d < shape.length; d++) {
      inner *= shape[d]!;
    }
    return { scale: q.scale, zeroPoint, axis, inner };
  }

  metadata(): TfliteModelSummary {
    const m = this.model;
    const sg0 = m.subgraphs[0];
    const histogram: Record<string, number> = {};
    for (const sg of m.subgraphs) {
      for (const op of sg.operators) {
        const name = m.operatorCodes[op.opcodeIndex]?.name ?? `OPCODE_${op.opcodeIndex}`;
        histogram[name] = (histogram[name] ?? 0) + 1;
      }
    }
    const io = (sg: SubGraph, indices: number[]): TfliteIoTensor[] =>
      indices.map((i): TfliteIoTensor => {
        const t = sg.tensors[i];
        if (!t) {
          return { tensorIndex: i, name: '', dtype: '', shape: null, error: `tensor index ${i} is out of range` };
        }
        let quantization: TfliteIoTensor['quantization'];
        try {
          const q = parseQuantization(t);
          if (q?.scale && q.scale.length > 0) {
            quantization = { scale: q.scale, zeroPoint: q.zeroPoint ?? [0], ...(q.scale.length > 1 ? { axis: q.quantizedDimension } : {}) };
          }
        } catch {
          quantization = undefined;
        }
        return {
          tensorIndex: i,
          name: t.name ?? '',
          dtype: tensorTypeToDType(t.type) ?? tensorTypeName(t.type),
          shape: t.shape ?? null,
          ...(t.shapeSignature ? { shapeSignature: t.shapeSignature } : {}),
          ...(quantization ? { quantization } : {}),
        };
      });
    const out: TfliteModelSummary = {
      schemaVersion: m.version,
      ...(m.description !== undefined ? { description: m.description } : {}),
      producer: '',
      conversionMode: { mode: '', source: '' },
      subgraphs: m.subgraphs.map((sg, i) => ({
        index: i,
        name: sg.name ?? null,
        tensorCount: sg.tensors.length,
        operatorCount: sg.operators.length,
        constantCount: this.constantsPerSubgraph[i] ?? 0,
      })),
      bufferCount: m.bufferCount,
      operatorCodes: m.operatorCodes.map((c) => ({ name: c.name, builtinCode: c.builtinCode, version: c.version })),
      opsHistogram: histogram,
      inputs: sg0 ? io(sg0, sg0.inputs) : [],
      outputs: sg0 ? io(sg0, sg0.outputs) : [],
      signatureDefs: m.signatureDefs.map((s) => {
        const sg = m.subgraphs[s.subgraphIndex];
        const named = (maps: { name: string; tensorIndex: number }[]): TfliteSignatureTensor[] =>
          maps.map((x) => ({ name: x.name, tensorIndex: x.tensorIndex, tensorName: sg?.tensors[x.tensorIndex]?.name ?? null }));
        return { key: s.key, subgraphIndex: s.subgraphIndex, inputs: named(s.inputs), outputs: named(s.outputs) };
      }),
      metadataEntries: [],
    };
    for (const entry of m.metadata) {
      const bytes = this.bufferBytes(entry.buffer);
      out.metadataEntries.push({ name: entry.name, buffer: entry.buffer, byteLength: bytes?.byteLength ?? null });
      if (!bytes) {
        continue;
      }
      if (entry.name === 'min_runtime_version') {
        out.minRuntimeVersion = cutAtNul(bytes);
      } else if (entry.name === 'reduced_precision_support') {
        out.reducedPrecisionSupport = cutAtNul(bytes);
      } else if (entry.name === 'CONVERSION_METADATA') {
        try {
          out.conversionMetadata = parseConversionMetadata(new FlatBufferReader(`${this.source.name} CONVERSION_METADATA`, bytes));
        } catch (ex) {
          const summary = summarizeError(ex);
          this.warnings.push({ reason: summary.reason, message: `${this.source.name}: CONVERSION_METADATA could not be decoded (${summary.message})` });
        }
      } else if (entry.name === 'TFLITE_METADATA') {
        try {
          out.modelMetadata = parseModelMetadata(new FlatBufferReader(`${this.source.name} TFLITE_METADATA`, bytes));
        } catch (ex) {
          const summary = summarizeError(ex);
          this.warnings.push({ reason: summary.reason, message: `${this.source.name}: TFLITE_METADATA could not be decoded (${summary.message})` });
        }
      }
    }
    // TFLite Support appends the associated files as a ZIP (end-of-central-directory record at the end, 7.9).
    const tail = this.fb.bytes.subarray(Math.max(0, this.fb.bytes.byteLength - 22));
    if (this.fb.bytes.byteLength === this.source.size && tail[0] === 0x50 && tail[1] === 0x4b && tail[2] === 0x05 && tail[3] === 0x06) {
      out.appendedZip = true;
    }
    if (m.metadataBuffer) {
      out.deprecatedMetadataBuffers = m.metadataBuffer.map((b) => {
        const bytes = this.bufferBytes(b);
        return {
          buffer: b,
          byteLength: bytes?.byteLength ?? null,
          identifier: bytes && bytes.byteLength >= 8 ? String.fromCharCode(...bytes.subarray(4, 8)) : null,
          opaque: true,
        };
      });
    }
    out.producer = producerOf(m.description, out.conversionMetadata);
    out.conversionMode = conversionModeOf(this.tensors, out.conversionMetadata);
    if (m.operatorCodes.some((c) => c.customCode === 'edgetpu-custom-op')) {
      out.weightsOpaque = 'Edge TPU compiled: the weights live inside the edgetpu-custom-op custom options';
    }
    return out;
  }

  private bufferBytes(index: number): Uint8Array | undefined {
    try {
      const loc = this.model.buffer(index);
      if (loc.offset + loc.length > this.fb.size) {
        return undefined;
      }
      return this.fb.bytes.subarray(loc.offset, loc.offset + loc.length);
    } catch {
      return undefined;
    }
  }
}

/**
 * The lazy `readValues` of one constant. A separate function so that the closure holds only the
 * byte range and decoding parameters, never the file bytes decoded at open.
 */
function valueReader(
  span: { source: ByteSource; offset: number; length: number },
  storage: DType,
  shape: readonly number[],
  numel: number,
  sparsity: SparsityParameters | undefined,
  dequant: Affine | undefined,
  name: string,
): (options?: ReadValuesOptions) => AsyncIterable<NumericArray> {
  const fileName = span.source.name;
  return (options: ReadValuesOptions = {}) => {
    if (!isNumericDType(storage)) {
      return failingIterable(
        new WeightFileError('unsupportedDtype', `${fileName}: tensor "${name}" holds ${storage} values, which have no numeric view.`, { file: fileName, tensor: name }),
      );
    }
    if (sparsity) {
      return readSparse(span, storage, shape, sparsity, dequant, name, options);
    }
    if (storage === 'int4' || storage === 'uint4') {
      return readPacked4(span, storage, numel, dequant, options);
    }
    return readDense(span, storage, dequant, options);
  };
}

/** `name`, or `name (tag)`, `name (tag) 2` ... when taken; records the result in `used`. */
function claimUnique(used: Set<string>, name: string, tag: string): string {
  let n = used.has(name) ? `${name} (${tag})` : name;
  for (let k = 2; used.has(n); k++) {
    n = `${name} (${tag}) ${k}`;
  }
  used.add(n);
  return n;
}

/** Affine dequantization parameters of one tensor. */
interface Affine {
  scale: number[];
  zeroPoint: number[];
  axis?: number;
  inner?: number;
}

function isIntegerDType(d: DType): boolean {
  return d === 'int4' || d === 'uint4' || d === 'int8' || d === 'uint8' || d === 'int16' || d === 'uint16' || d === 'int32' || d === 'uint32' || d === 'int64' || d === 'uint64';
}

/** Float or integer (quantizable) storage: such a constant can be a weight; BOOL/STRING cannot. */
function isWeightLike(type: number): boolean {
  const d = tensorTypeToDType(type);
  return d !== undefined && d !== 'bool' && d !== 'string' && d !== 'resource' && d !== 'variant';
}

function keraActivationName(name: string): string {
  switch (name) {
    case 'NONE':
      return 'linear';
    case 'RELU':
      return 'relu';
    case 'RELU6':
      return 'relu6';
    case 'TANH':
      return 'tanh';
    case 'RELU_N1_TO_1':
      return 'relu_n1_to_1';
    case 'SIGN_BIT':
      return 'sign_bit';
    default:
      return name.toLowerCase();
  }
}

/** Dequantizes a chunk of codes starting at flat element `start`: real = scale[c] * (q - zp[c]) in float64. */
function dequantizeChunk(codes: NumericArray, start: number, a: Affine): Float64Array {
  const out = new Float64Array(codes.length);
  if (a.axis === undefined) {
    const s = a.scale[0]!;
    const z = a.zeroPoint[0]!;
    for (let i = 0; i < codes.length; i++) {
      out[i] = s * (codes[i]! - z);
    }
    return out;
  }
  const inner = a.inner!;
  const n = a.scale.length;
  for (let i = 0; i < codes.length; i++) {
    const c = Math.floor((start + i) / inner) % n;
    out[i] = a.scale[c]! * (codes[i]! - a.zeroPoint[c]!);
  }
  return out;
}

async function* readDense(
  span: { source: ByteSource; offset: number; length: number },
  storage: DType,
  a: Affine | undefined,
  options: ReadValuesOptions,
): AsyncGenerator<NumericArray> {
  let position = 0;
  for await (const chunk of readSpanValues([span], storage, options)) {
    if (a) {
      yield dequantizeChunk(chunk, position, a);
    } else {
      yield chunk;
    }
    position += chunk.length;
  }
}

async function* readPacked4(
  span: { source: ByteSource; offset: number; length: number },
  storage: 'int4' | 'uint4',
  numel: number,
  a: Affine | undefined,
  options: ReadValuesOptions,
): AsyncGenerator<NumericArray> {
  // Two values per byte, low nibble first (7.7); the last byte may hold a single value.
  const chunkBytes = Math.max(1, Math.floor((options.chunkElements ?? defaultChunkElements) / 2));
  let position = 0;
  for (let at = 0; at < span.length; at += chunkBytes) {
    throwIfAborted(options.signal);
    const n = Math.min(chunkBytes, span.length - at);
    let codes = decodeValues(storage, await span.source.read(span.offset + at, n));
    if (position + codes.length > numel) {
      codes = codes.subarray(0, numel - position);
    }
    yield a ? dequantizeChunk(codes, position, a) : codes;
    position += codes.length;
  }
}

async function* readSparse(
  span: { source: ByteSource; offset: number; length: number },
  storage: DType,
  shape: readonly number[],
  sp: SparsityParameters,
  a: Affine | undefined,
  name: string,
  options: ReadValuesOptions,
): AsyncGenerator<NumericArray> {
  throwIfAborted(options.signal);
  const stored = decodeValues(storage, await span.source.read(span.offset, span.length));
  const dense = densify(stored, shape, sp, name);
  const values = a ? dequantizeChunk(dense, 0, a) : dense;
  const chunk = Math.max(1, options.chunkElements ?? defaultChunkElements);
  for (let i = 0; i < values.length; i += chunk) {
    throwIfAborted(options.signal);
    yield values.subarray(i, Math.min(values.length, i + chunk));
  }
}

function failingIterable(error: WeightFileError): AsyncIterable<NumericArray> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<NumericArray> {
      return {
        next: () => Promise.reject(error),
      };
    },
  };
}

/** Decoded `CONVERSION_METADATA` (conversion_metadata.fbs; notes section 7.9). */
export type ConversionMetadata = {
  /** Environment.tensorflow_version, e.g. '2.14.1'. */
  tensorflowVersion?: string;
  /** Environment.api_version (1 = TF1 API, 2 = TF2). */
  apiVersion?: number;
  /** Environment.model_type value. */
  modelType?: number;
  /** Name of the model type, e.g. 'KERAS_MODEL'. */
  modelTypeName?: string;
  /** ConversionOptions.model_optimization_modes values. */
  modelOptimizationModes: number[];
  /** Names of the optimization modes, e.g. 'PTQ_FULL_INTEGER'. */
  modelOptimizationModeNames: string[];
  /** ConversionOptions.allow_custom_ops. */
  allowCustomOps?: boolean;
  /** ConversionOptions.enable_select_tf_ops. */
  enableSelectTfOps?: boolean;
  /** ConversionOptions.force_select_tf_ops. */
  forceSelectTfOps?: boolean;
};

const modelTypeNames = ['NONE', 'TF_SAVED_MODEL', 'KERAS_MODEL', 'TF_CONCRETE_FUNCTIONS', 'TF_GRAPH_DEF', 'TF_SESSION', 'JAX', 'PYTORCH'];
const optimizationModeNames: Readonly<Record<number, string>> = {
  1001: 'PTQ_FLOAT16',
  1002: 'PTQ_DYNAMIC_RANGE',
  1003: 'PTQ_FULL_INTEGER',
  1004: 'PTQ_INT16',
  2000: 'QUANTIZATION_AWARE_TRAINING',
  3001: 'RANDOM_SPARSITY',
  3002: 'BLOCK_SPARSITY',
  3003: 'STRUCTURED_SPARSITY',
};

/** Decodes a CONVERSION_METADATA FlatBuffer (no file identifier; root ConversionMetadata {0 environment, 1 options}). */
export function parseConversionMetadata(fb: FlatBufferReader): ConversionMetadata {
  const root = fb.root();
  const env = root.table(0, 'environment');
  const opts = root.table(1, 'options');
  const modes = opts?.numbers(0, 'int32', 'model_optimization_modes') ?? [];
  const out: ConversionMetadata = { modelOptimizationModes: modes, modelOptimizationModeNames: modes.map((v) => optimizationModeNames[v] ?? `MODE_${v}`) };
  if (env) {
    const version = env.string(0, 'tensorflow_version');
    if (version !== undefined) {
      out.tensorflowVersion = version;
    }
    out.apiVersion = env.scalar(1, 'uint32');
    out.modelType = env.scalar(2, 'int32');
    out.modelTypeName = modelTypeNames[out.modelType] ?? `MODEL_TYPE_${out.modelType}`;
  }
  if (opts) {
    out.allowCustomOps = opts.bool(1);
    out.enableSelectTfOps = opts.bool(2);
    out.forceSelectTfOps = opts.bool(3);
  }
  return out;
}

/** Decoded TFLite Support `ModelMetadata` (metadata_schema.fbs; notes section 7.9), the descriptive fields only. */
export type ModelMetadata = {
  /** `name`. */
  name?: string;
  /** `description`. */
  description?: string;
  /** `version`. */
  version?: string;
  /** `author`. */
  author?: string;
  /** `license`. */
  license?: string;
  /** `min_parser_version`. */
  minParserVersion?: string;
  /** Names of the `subgraph_metadata` entries ('' when unnamed). */
  subgraphs: string[];
  /** `associated_files`: name and AssociatedFileType value (1 DESCRIPTIONS ... 5 VOCABULARY). */
  associatedFiles: { name: string; type: number }[];
};

/** Decodes a TFLITE_METADATA FlatBuffer (identifier "M001"): ModelMetadata {0 name, 1 description, 2 version, 3 subgraph_metadata, 4 author, 5 license, 6 associated_files, 7 min_parser_version}. */
export function parseModelMetadata(fb: FlatBufferReader): ModelMetadata {
  if (fb.identifier() !== 'M001') {
    throw fb.corrupt(`TFLITE_METADATA has identifier ${JSON.stringify(fb.identifier())}, expected "M001"`, 4);
  }
  const root = fb.root();
  const out: ModelMetadata = {
    subgraphs: root.tables(3, 'subgraph_metadata').map((t) => t.string(0, 'name') ?? ''),
    associatedFiles: root.tables(6, 'associated_files').map((t) => ({ name: t.string(0, 'name') ?? '', type: t.scalar(2, 'int8') })),
  };
  const fields: [keyof ModelMetadata, number, string][] = [
    ['name', 0, 'name'],
    ['description', 1, 'description'],
    ['version', 2, 'version'],
    ['author', 4, 'author'],
    ['license', 5, 'license'],
    ['minParserVersion', 7, 'min_parser_version'],
  ];
  for (const [key, id, what] of fields) {
    const v = root.string(id, what);
    if (v !== undefined) {
      (out as Record<string, unknown>)[key] = v;
    }
  }
  return out;
}

function producerOf(description: string | undefined, cm: ConversionMetadata | undefined): string {
  if (cm?.tensorflowVersion) {
    return `TFLite converter (TensorFlow ${cm.tensorflowVersion})`;
  }
  if (description === 'MLIR Converted.') {
    return 'MLIR converter (TF >= 2.2)';
  }
  if (description === 'TOCO Converted.') {
    return 'TOCO (TF 1.x)';
  }
  return 'unknown converter';
}

/** Conversion mode: from CONVERSION_METADATA when present, else judged from the weights (7.6 table). */
function conversionModeOf(tensors: readonly TensorInfo[], cm: ConversionMetadata | undefined): { mode: string; source: string } {
  const names = cm?.modelOptimizationModeNames ?? [];
  if (cm && names.length > 0) {
    const mode = names.includes('PTQ_FULL_INTEGER')
      ? 'full-integer'
      : names.includes('PTQ_INT16')
        ? '16x8'
        : names.includes('PTQ_DYNAMIC_RANGE')
          ? 'dynamic-range'
          : names.includes('PTQ_FLOAT16')
            ? 'float16'
            : names.join('+').toLowerCase();
    return { mode, source: 'CONVERSION_METADATA' };
  }
  if (cm) {
    return { mode: 'float32', source: 'CONVERSION_METADATA' };
  }
  const weights = tensors.filter((t) => t.group === 'model');
  const has = (p: (t: TensorInfo) => boolean): boolean => weights.some(p);
  let mode = 'float32';
  if (has((t) => t.storageDtype === 'int8' && t.quantization !== undefined)) {
    mode = has((t) => t.role === 'bias' && t.storageDtype === 'int32' && t.quantization !== undefined) ? 'full-integer' : 'dynamic-range';
  } else if (has((t) => t.storageDtype === 'float16')) {
    mode = 'float16';
  }
  return { mode, source: 'weights' };
}
