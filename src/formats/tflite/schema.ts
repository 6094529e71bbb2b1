/**
 * The subset of the TFLite schema (tensorflow/compiler/mlir/lite/schema/schema.fbs, file
 * identifier "TFL3") the weight reader needs, decoded from FlatTables into plain objects.
 * Field ids follow notes/weight-formats.md section 7.2; absent fields take the schema default.
 */
import type { DType } from '../../core/dtypes';
import type { FlatBufferReader, FlatTable } from './flatBufferReader';
import { builtinOperatorNames, tensorTypeNames } from './schemaTables';

/** `TensorType` value -> element type; undefined for INT2 and values newer than this reader. */
export function tensorTypeToDType(type: number): DType | undefined {
  return tensorTypeDTypes[type];
}

// schema.fbs `enum TensorType : byte`; 19..22 from the newest schema (INT2 has no DType).
const tensorTypeDTypes: Readonly<Record<number, DType>> = {
  0: 'float32',
  1: 'float16',
  2: 'int32',
  3: 'uint8',
  4: 'int64',
  5: 'string',
  6: 'bool',
  7: 'int16',
  8: 'complex64',
  9: 'int8',
  10: 'float64',
  11: 'complex128',
  12: 'uint64',
  13: 'resource',
  14: 'variant',
  15: 'uint32',
  16: 'uint16',
  17: 'int4',
  18: 'bfloat16',
  20: 'uint4',
  21: 'float8_e4m3fn',
  22: 'float8_e5m2',
};

/** Schema name of a TensorType value ('TYPE_<n>' for values newer than the generated table). */
export function tensorTypeName(type: number): string {
  return tensorTypeNames[type] || (type === 19 ? 'INT2' : `TYPE_${type}`);
}

/** Name of a builtin operator code ('BUILTIN_<n>' when newer than the generated table). */
export function builtinOperatorName(code: number): string {
  return builtinOperatorNames[code] || `BUILTIN_${code}`;
}

/** Builtin codes the reader treats specially. */
export const Op = {
  add: 0,
  conv2d: 3,
  depthwiseConv2d: 4,
  dequantize: 6,
  embeddingLookup: 7,
  fullyConnected: 9,
  lstm: 16,
  mul: 18,
  rnn: 24,
  svdf: 27,
  custom: 32,
  unidirectionalSequenceRnn: 35,
  gather: 36,
  sub: 41,
  unidirectionalSequenceLstm: 44,
  bidirectionalSequenceRnn: 46,
  bidirectionalSequenceLstm: 52,
  prelu: 54,
  transposeConv: 67,
  densify: 124,
  batchMatmul: 126,
  conv3d: 132,
  conv3dTranspose: 141,
  assignVariable: 144,
} as const;

/** `table OperatorCode`. */
export interface OperatorCode {
  /** `max(builtin_code, deprecated_builtin_code)` (schema_utils.cc GetBuiltinCode). */
  builtinCode: number;
  /** Builtin operator name, or the custom code for CUSTOM ops. */
  name: string;
  /** `custom_code` (CUSTOM ops). */
  customCode?: string;
  /** `version` (default 1). */
  version: number;
}

/** `table Operator` (the fields the reader uses). */
export interface Operator {
  /** Position in SubGraph.operators. */
  index: number;
  /** `opcode_index`. */
  opcodeIndex: number;
  /** `inputs` (-1 = omitted optional input). */
  inputs: number[];
  /** `outputs`. */
  outputs: number[];
  /** `builtin_options_type` (BuiltinOptions union member, 0 = NONE). */
  builtinOptionsType: number;
  /** `builtin_options` table, when present. */
  builtinOptions?: FlatTable;
}

/** `table QuantizationParameters`. */
export interface QuantizationParameters {
  /** `min` (optional float range). */
  min?: number[];
  /** `max`. */
  max?: number[];
  /** `scale`. */
  scale?: number[];
  /** `zero_point` (int64 as numbers). */
  zeroPoint?: number[];
  /** `details_type` (QuantizationDetails union: 1 Custom, 2 Blockwise ...; 0 = NONE). */
  detailsType: number;
  /** `quantized_dimension` (default 0). */
  quantizedDimension: number;
}

/** A SparseIndexVector (Int32Vector, Uint16Vector or Uint8Vector) decoded to numbers. */
export type SparseIndexArray = Int32Array;

/** `table DimensionMetadata`. */
export interface DimensionMetadata {
  /** `format`: 0 DENSE, 1 SPARSE_CSR. */
  format: number;
  /** `dense_size` (DENSE dimensions). */
  denseSize: number;
  /** `array_segments` (SPARSE_CSR). */
  arraySegments?: SparseIndexArray;
  /** `array_indices` (SPARSE_CSR). */
  arrayIndices?: SparseIndexArray;
}

/** `table SparsityParameters`. */
export interface SparsityParameters {
  /** `traversal_order`. */
  traversalOrder: number[];
  /** `block_map` (empty unless block-sparse). */
  blockMap: number[];
  /** `dim_metadata`, one per traversal_order entry. */
  dimMetadata: DimensionMetadata[];
}

/** `table Tensor`, with its nested tables decoded lazily by the caller. */
export interface Tensor {
  /** Position in SubGraph.tensors. */
  index: number;
  /** `shape`; undefined when the field is absent (unknown shape). */
  shape?: number[];
  /** `type` (TensorType, default FLOAT32 = 0). */
  type: number;
  /** `buffer` (index into Model.buffers, default 0). */
  buffer: number;
  /** `name`. */
  name?: string;
  /** `is_variable`. */
  isVariable: boolean;
  /** `shape_signature` (-1 = dynamic dimension). */
  shapeSignature?: number[];
  /** `has_rank`. */
  hasRank: boolean;
  /** The raw table, for `quantization` (4) and `sparsity` (6). */
  table: FlatTable;
}

/** `table SubGraph`. */
export interface SubGraph {
  /** `tensors`. */
  tensors: Tensor[];
  /** `inputs` (tensor indices). */
  inputs: number[];
  /** `outputs` (tensor indices). */
  outputs: number[];
  /** `operators`, in execution order. */
  operators: Operator[];
  /** `name`. */
  name?: string;
}

/** `table TensorMap`. */
export interface TensorMap {
  /** `name` (the signature's alias). */
  name: string;
  /** `tensor_index`. */
  tensorIndex: number;
}

/** `table SignatureDef`. */
export interface SignatureDef {
  /** `signature_key`. */
  key: string;
  /** `subgraph_index`. */
  subgraphIndex: number;
  /** `inputs`. */
  inputs: TensorMap[];
  /** `outputs`. */
  outputs: TensorMap[];
}

/** Where a buffer's bytes are: inside the FlatBuffer (`data`) or at `offset`/`size` (> 2 GB layout). */
export interface BufferLocation {
  /** Absolute byte offset in the file. */
  offset: number;
  /** Length in bytes (0 = empty buffer). */
  length: number;
  /** True when the location came from Buffer.offset/size rather than Buffer.data. */
  external: boolean;
}

/** `table Model` (root), with buffers resolved on demand. */
export interface Model {
  /** `version` (3 for every file seen). */
  version: number;
  /** `operator_codes`. */
  operatorCodes: OperatorCode[];
  /** `subgraphs` ([0] = main graph). */
  subgraphs: SubGraph[];
  /** `description`. */
  description?: string;
  /** Number of entries of `buffers`. */
  bufferCount: number;
  /** `metadata_buffer` (deprecated bare buffer indices). */
  metadataBuffer?: number[];
  /** `metadata`. */
  metadata: { name: string; buffer: number }[];
  /** `signature_defs`. */
  signatureDefs: SignatureDef[];
  /** Resolves `buffers[i]`; throws a WeightFileError when that entry is damaged. */
  buffer(i: number): BufferLocation;
}

/** Decodes the root Model table (7.2). Throws WeightFileError on structural damage. */
export function parseModel(fb: FlatBufferReader): Model {
  const m = fb.root();
  const operatorCodes = m.tables(1, 'operator_codes').map((t): OperatorCode => {
    const deprecated = t.scalar(0, 'int8'); // deprecated_builtin_code: byte
    const extended = t.scalar(3, 'int32'); // builtin_code: BuiltinOperator (int32)
    const builtinCode = Math.max(deprecated, extended);
    const customCode = t.string(1, 'custom_code');
    return {
      builtinCode,
      name: builtinCode === Op.custom && customCode ? customCode : builtinOperatorName(builtinCode),
      ...(customCode !== undefined ? { customCode } : {}),
      version: t.scalar(2, 'int32', 1),
    };
  });
  const subgraphs = m.tables(2, 'subgraphs').map((sg) => parseSubGraph(sg));
  const bufferCount = m.tableCount(4, 'buffers');
  const metadata = m.tables(6, 'metadata').map((t) => ({
    name: t.string(0, 'name') ?? '',
    buffer: t.scalar(1, 'uint32'),
  }));
  const signatureDefs = m.tables(7, 'signature_defs').map((t): SignatureDef => {
    const maps = (id: number, what: string): TensorMap[] =>
      t.tables(id, what).map((x) => ({ name: x.string(0, 'name') ?? '', tensorIndex: x.scalar(1, 'uint32') }));
    return {
      key: t.string(2, 'signature_key') ?? '',
      subgraphIndex: t.scalar(4, 'uint32'),
      inputs: maps(0, 'inputs'),
      outputs: maps(1, 'outputs'),
    };
  });
  const description = m.string(3, 'description');
  const metadataBuffer = m.numbers(5, 'int32', 'metadata_buffer');
  return {
    version: m.scalar(0, 'uint32'),
    operatorCodes,
    subgraphs,
    ...(description !== undefined ? { description } : {}),
    bufferCount,
    ...(metadataBuffer !== undefined ? { metadataBuffer } : {}),
    metadata,
    signatureDefs,
    buffer(i: number): BufferLocation {
      if (!Number.isInteger(i) || i < 0 || i >= bufferCount) {
        throw fb.corrupt(`buffer index ${i} is out of range (the model has ${bufferCount} buffers)`, m.pos);
      }
      const b = m.tableAt(4, i, 'buffers');
      const data = b.vector(0, 1, `buffers[${i}].data`);
      if (data && data.length > 0) {
        return { offset: data.start, length: data.length, external: false };
      }
      // > 2 GB layout (7.5): `offset`/`size` from the start of the file, valid only if offset > 1.
      const offset = b.scalar(1, 'uint64');
      const size = b.scalar(2, 'uint64');
      if (offset > 1) {
        return { offset, length: size, external: true };
      }
      return { offset: 0, length: 0, external: false };
    },
  };
}

function parseSubGraph(sg: FlatTable): SubGraph {
  const tensors = sg.tables(0, 'tensors').map((t, index): Tensor => {
    const shape = t.numbers(0, 'int32', 'shape');
    const name = t.string(3, 'name');
    const shapeSignature = t.numbers(7, 'int32', 'shape_signature');
    return {
      index,
      ...(shape !== undefined ? { shape } : {}),
      type: t.scalar(1, 'int8'),
      buffer: t.scalar(2, 'uint32'),
      ...(name !== undefined ? { name } : {}),
      isVariable: t.bool(5),
      ...(shapeSignature !== undefined ? { shapeSignature } : {}),
      hasRank: t.bool(8),
      table: t,
    };
  });
  const operators = sg.tables(3, 'operators').map((o, index): Operator => {
    const options = o.union(3, 4, 'builtin_options');
    return {
      index,
      opcodeIndex: o.scalar(0, 'uint32'),
      inputs: o.numbers(1, 'int32', 'inputs') ?? [],
      outputs: o.numbers(2, 'int32', 'outputs') ?? [],
      builtinOptionsType: options.type,
      ...(options.table ? { builtinOptions: options.table } : {}),
    };
  });
  const name = sg.string(4, 'name');
  return {
    tensors,
    inputs: sg.numbers(1, 'int32', 'inputs') ?? [],
    outputs: sg.numbers(2, 'int32', 'outputs') ?? [],
    operators,
    ...(name !== undefined ? { name } : {}),
  };
}

/** Decodes `Tensor.quantization` (field 4); undefined when absent. */
export function parseQuantization(t: Tensor): QuantizationParameters | undefined {
  const q = t.table.table(4, 'quantization');
  if (!q) {
    return undefined;
  }
  const min = q.numbers(0, 'float32', 'min');
  const max = q.numbers(1, 'float32', 'max');
  const scale = q.numbers(2, 'float32', 'scale');
  const zeroPoint = q.numbers(3, 'int64', 'zero_point');
  return {
    ...(min !== undefined ? { min } : {}),
    ...(max !== undefined ? { max } : {}),
    ...(scale !== undefined ? { scale } : {}),
    ...(zeroPoint !== undefined ? { zeroPoint } : {}),
    detailsType: q.scalar(4, 'uint8'),
    quantizedDimension: q.scalar(6, 'int32'),
  };
}

/** Decodes `Tensor.sparsity` (field 6); undefined when absent. */
export function parseSparsity(t: Tensor): SparsityParameters | undefined {
  const s = t.table.table(6, 'sparsity');
  if (!s) {
    return undefined;
  }
  const dimMetadata = s.tables(2, 'dim_metadata').map(
    (d): DimensionMetadata => ({
      format: d.scalar(0, 'int8'),
      denseSize: d.scalar(1, 'int32'),
      ...optionalIndexArray('arraySegments', d, 2, 3, 'array_segments'),
      ...optionalIndexArray('arrayIndices', d, 4, 5, 'array_indices'),
    }),
  );
  return {
    traversalOrder: s.numbers(0, 'int32', 'traversal_order') ?? [],
    blockMap: s.numbers(1, 'int32', 'block_map') ?? [],
    dimMetadata,
  };
}

function optionalIndexArray(key: 'arraySegments' | 'arrayIndices', d: FlatTable, typeId: number, valueId: number, what: string): Partial<DimensionMetadata> {
  // union SparseIndexVector: 1 Int32Vector, 2 Uint16Vector, 3 Uint8Vector, each { 0 values: [...] }.
  const u = d.union(typeId, valueId, what);
  if (!u.table) {
    return {};
  }
  const kind = u.type === 1 ? 'int32' : u.type === 2 ? 'uint16' : u.type === 3 ? 'uint8' : undefined;
  if (!kind) {
    throw d.fb.corrupt(`${d.what}.${what} has unknown SparseIndexVector type ${u.type}`, d.pos);
  }
  const values = u.table.numbers(0, kind, `${what}.values`) ?? [];
  return { [key]: Int32Array.from(values) };
}

/** Decodes a `min_runtime_version`-style ASCII metadata value, cut at the first NUL. */
export function cutAtNul(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder('latin1').decode(end < 0 ? bytes : bytes.subarray(0, end));
}
