/**
 * Decoding of the tensor-bundle protos stored as `.index` values (notes/weight-formats.md
 * sections 1.2, 1.5, 1.6; tensorflow/core/protobuf/tensor_bundle.proto, see ./proto/).
 */
import type { DType } from '../../core/dtypes';
import { WeightFileError } from '../../core/errors';
import { ProtoReader } from './protobuf';

/** BundleHeaderProto: the value of the empty key. */
export interface BundleHeader {
  /** num_shards = 1: number of `.data-*` files. */
  numShards: number;
  /** endianness = 2: byte order of the data files. */
  endianness: 'little' | 'big';
  /** version.producer. */
  producer: number;
  /** version.min_consumer. */
  minConsumer: number;
  /** version.bad_consumers. */
  badConsumers: number[];
}

/** One extent of a TensorSliceProto: start and length (-1 = the whole dimension). */
export interface SliceExtent {
  /** First index along this dimension. */
  start: number;
  /** Number of indices, or -1 for the full dimension. */
  length: number;
}

/** BundleEntryProto: where a tensor's bytes are and what they are. */
export interface BundleEntry {
  /** dtype = 1: DataType enum value (see tfDataTypeName). */
  dtypeCode: number;
  /** shape = 2: dimension sizes; [] for a scalar. */
  shape: number[];
  /** shape.unknown_rank = 3. */
  unknownRank: boolean;
  /** shard_id = 3: index of the data file. */
  shardId: number;
  /** offset = 4: byte offset in the data file. */
  offset: number;
  /** size = 5: byte length in the data file. */
  size: number;
  /** crc32c = 6: masked CRC32C of the stored bytes, when present. */
  crc32c?: number;
  /** slices = 7: the partitions of a partitioned tensor (empty for ordinary tensors). */
  slices: SliceExtent[][];
}

/** DataType enum names (types.proto), index = enum value. */
const dataTypeNames = [
  'DT_INVALID', 'DT_FLOAT', 'DT_DOUBLE', 'DT_INT32', 'DT_UINT8', 'DT_INT16', 'DT_INT8', 'DT_STRING', 'DT_COMPLEX64',
  'DT_INT64', 'DT_BOOL', 'DT_QINT8', 'DT_QUINT8', 'DT_QINT32', 'DT_BFLOAT16', 'DT_QINT16', 'DT_QUINT16', 'DT_UINT16',
  'DT_COMPLEX128', 'DT_HALF', 'DT_RESOURCE', 'DT_VARIANT', 'DT_UINT32', 'DT_UINT64', 'DT_FLOAT8_E5M2',
  'DT_FLOAT8_E4M3FN', 'DT_FLOAT8_E4M3FNUZ', 'DT_FLOAT8_E4M3B11FNUZ', 'DT_FLOAT8_E5M2FNUZ', 'DT_INT4', 'DT_UINT4',
  'DT_INT2', 'DT_UINT2',
];

/** Weightscope dtype of each DataType value (quantized q-types are their storage ints). */
const dataTypeDTypes: (DType | undefined)[] = [
  undefined, 'float32', 'float64', 'int32', 'uint8', 'int16', 'int8', 'string', 'complex64',
  'int64', 'bool', 'int8', 'uint8', 'int32', 'bfloat16', 'int16', 'uint16', 'uint16',
  'complex128', 'float16', 'resource', 'variant', 'uint32', 'uint64', 'float8_e5m2',
  'float8_e4m3fn', undefined, undefined, undefined, 'int4', 'uint4',
  undefined, undefined,
];

/** Name of a DataType value, e.g. 1 -> 'DT_FLOAT'; `_REF` twins (value + 100) keep their suffix. */
export function tfDataTypeName(code: number): string {
  if (code > 100 && code - 100 < dataTypeNames.length) {
    return `${dataTypeNames[code - 100]}_REF`;
  }
  return dataTypeNames[code] ?? `DataType(${code})`;
}

/** Weightscope dtype of a DataType value, or undefined when it has none (DT_INVALID, FNUZ floats, int2). */
export function tfDataTypeToDType(code: number): DType | undefined {
  return dataTypeDTypes[code > 100 ? code - 100 : code];
}

/** Decodes a BundleHeaderProto and rejects versions this reader may not consume. */
export function decodeBundleHeader(bytes: Uint8Array, context: string): BundleHeader {
  const r = new ProtoReader(bytes, `${context}: bundle header`);
  const header: BundleHeader = { numShards: 0, endianness: 'little', producer: 0, minConsumer: 0, badConsumers: [] };
  let endianCode = 0;
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1) {
      header.numShards = r.int32(wire); // num_shards
    } else if (field === 2) {
      endianCode = r.int32(wire); // endianness: LITTLE = 0, BIG = 1
    } else if (field === 3) {
      decodeVersionDef(r.bytesField(wire), header, context); // version
    } else {
      r.skip(wire);
    }
  }
  if (endianCode !== 0 && endianCode !== 1) {
    throw new WeightFileError('corrupt', `${context}: the bundle header has unknown endianness ${endianCode}.`);
  }
  header.endianness = endianCode === 1 ? 'big' : 'little';
  if (header.numShards < 0 || header.numShards > 100000) {
    throw new WeightFileError('corrupt', `${context}: the bundle header declares ${header.numShards} shards.`);
  }
  // tensor_bundle.cc kTensorBundleVersion = 1: CheckVersions(min_consumer, bad_consumers).
  if (header.minConsumer > 1 || header.badConsumers.includes(1)) {
    throw new WeightFileError(
      'unsupportedFormat',
      `${context}: the bundle needs a newer reader (min_consumer ${header.minConsumer}, bad_consumers [${header.badConsumers.join(', ')}]).`,
    );
  }
  return header;
}

function decodeVersionDef(bytes: Uint8Array, header: BundleHeader, context: string): void {
  const r = new ProtoReader(bytes, `${context}: bundle version`);
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1) {
      header.producer = r.int32(wire); // producer
    } else if (field === 2) {
      header.minConsumer = r.int32(wire); // min_consumer
    } else if (field === 3) {
      header.badConsumers.push(...r.repeatedInt64(wire).map(Number)); // bad_consumers
    } else {
      r.skip(wire);
    }
  }
}

/** Decodes a BundleEntryProto; int64 fields are checked to fit a safe integer. */
export function decodeBundleEntry(bytes: Uint8Array, context: string): BundleEntry {
  const r = new ProtoReader(bytes, context);
  const entry: BundleEntry = { dtypeCode: 0, shape: [], unknownRank: false, shardId: 0, offset: 0, size: 0, slices: [] };
  while (!r.done()) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        entry.dtypeCode = r.int32(wire); // dtype
        break;
      case 2: {
        const shape = decodeTensorShape(r.bytesField(wire), context); // shape
        entry.shape = shape.dims;
        entry.unknownRank = shape.unknownRank;
        break;
      }
      case 3:
        entry.shardId = r.int32(wire); // shard_id
        break;
      case 4:
        entry.offset = r.int64Safe(wire, 'offset'); // offset
        break;
      case 5:
        entry.size = r.int64Safe(wire, 'size'); // size
        break;
      case 6:
        entry.crc32c = r.fixed32(wire); // crc32c (fixed32, masked)
        break;
      case 7:
        entry.slices.push(decodeTensorSlice(r.bytesField(wire), context)); // slices
        break;
      default:
        r.skip(wire);
    }
  }
  if (entry.shardId < 0) {
    throw new WeightFileError('corrupt', `${context}: shard_id ${entry.shardId} is negative.`);
  }
  return entry;
}

/** Decodes a TensorShapeProto: dim = 2 { size = 1, name = 2 }, unknown_rank = 3. */
export function decodeTensorShape(bytes: Uint8Array, context: string): { dims: number[]; unknownRank: boolean } {
  const r = new ProtoReader(bytes, `${context}: shape`);
  const dims: number[] = [];
  let unknownRank = false;
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 2) {
      const d = new ProtoReader(r.bytesField(wire), `${context}: shape dim`);
      let size = 0;
      while (!d.done()) {
        const [f, w] = d.tag();
        if (f === 1) {
          size = d.int64Safe(w, 'dimension size', -1); // size (-1 = unknown)
        } else {
          d.skip(w);
        }
      }
      dims.push(size);
    } else if (field === 3) {
      unknownRank = r.bool(wire);
    } else {
      r.skip(wire);
    }
  }
  return { dims, unknownRank };
}

/** Decodes a TensorSliceProto: extent = 1 { start = 1, length = 2 (absent = full) }. */
export function decodeTensorSlice(bytes: Uint8Array, context: string): SliceExtent[] {
  const r = new ProtoReader(bytes, `${context}: slice`);
  const extents: SliceExtent[] = [];
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1) {
      const e = new ProtoReader(r.bytesField(wire), `${context}: slice extent`);
      const extent: SliceExtent = { start: 0, length: -1 };
      while (!e.done()) {
        const [f, w] = e.tag();
        if (f === 1) {
          extent.start = e.int64Safe(w, 'slice start');
        } else if (f === 2) {
          extent.length = e.int64Safe(w, 'slice length');
        } else {
          e.skip(w);
        }
      }
      extents.push(extent);
    } else {
      r.skip(wire);
    }
  }
  return extents;
}

/**
 * The `.index` key of one slice of a partitioned tensor (tensor_slice_util / checkpoint
 * EncodeTensorNameSlice, notes section 1.5): OrderedCode NumIncreasing(0), String(name),
 * NumIncreasing(rank), then per dimension SignedNumIncreasing(start), SignedNumIncreasing(length).
 */
export function encodeTensorNameSlice(name: Uint8Array, extents: readonly SliceExtent[]): Uint8Array {
  const out: number[] = [];
  writeNumIncreasing(out, 0);
  for (const b of name) {
    if (b === 0x00) {
      out.push(0x00, 0xff);
    } else if (b === 0xff) {
      out.push(0xff, 0x00);
    } else {
      out.push(b);
    }
  }
  out.push(0x00, 0x01);
  writeNumIncreasing(out, extents.length);
  for (const e of extents) {
    writeSignedNumIncreasing(out, e.start);
    writeSignedNumIncreasing(out, e.length);
  }
  return Uint8Array.from(out);
}

/** OrderedCode::WriteNumIncreasing: one length byte, then the value big-endian. */
function writeNumIncreasing(out: number[], v: number): void {
  const bytes: number[] = [];
  let x = BigInt(v);
  while (x > 0n) {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
  }
  out.push(bytes.length, ...bytes);
}

/** OrderedCode kLengthToHeaderBits: header bits xored into the first two bytes, by encoded length. */
const lengthToHeaderBits: readonly [number, number][] = [
  [0, 0], [0x80, 0], [0xc0, 0], [0xe0, 0], [0xf0, 0], [0xf8, 0], [0xfc, 0], [0xfe, 0], [0xff, 0], [0xff, 0x80], [0xff, 0xc0],
];

/**
 * OrderedCode::WriteSignedNumIncreasing: n bytes hold values in [-2^(7n-1), 2^(7n-1)); the value's
 * sign-extended big-endian two's complement, last n bytes, with the length header bits xored in.
 */
function writeSignedNumIncreasing(out: number[], v: number): void {
  const val = BigInt(v);
  const x = val < 0n ? ~val : val;
  const bits = x === 0n ? 0 : x.toString(2).length;
  const n = Math.min(10, Math.floor(bits / 7) + 1); // kBitsToLength
  let u = BigInt.asUintN(80, val);
  const bytes = new Array<number>(10);
  for (let i = 9; i >= 0; i--) {
    bytes[i] = Number(u & 0xffn);
    u >>= 8n;
  }
  const enc = bytes.slice(10 - n);
  const [h0, h1] = lengthToHeaderBits[n]!;
  enc[0] = enc[0]! ^ h0;
  if (n > 1) {
    enc[1] = enc[1]! ^ h1;
  }
  out.push(...enc);
}
