/**
 * A tensor bundle: the `.index` table decoded into entries, the `.data-*` shards opened, and
 * lazy, CRC-checked value streams (notes/weight-formats.md sections 1.2, 1.3, 1.5;
 * tensorflow/core/util/tensor_bundle/tensor_bundle.cc).
 */
import type { ByteSource, FileSet } from '../../core/byteSource';
import { decodeValues, elementCount, itemSizeBytes, type DType, type NumericArray } from '../../core/dtypes';
import { summarizeError, throwIfAborted, WeightFileError, type ErrorSummary } from '../../core/errors';
import type { ReadValuesOptions } from '../../core/model';
import { defaultChunkElements } from '../../core/tensorData';
import { decodeBundleEntry, decodeBundleHeader, encodeTensorNameSlice, type BundleEntry, type BundleHeader, type SliceExtent } from './bundleProto';
import { crc32cUpdate, maskCrc, unmaskCrc } from './crc32c';
import { hex32, TableReader } from './sstable';

/** One stored entry of the index (header excluded). */
export interface BundleItem {
  /** Key decoded as UTF-8 (slice keys are binary; see `isSliceKey`). */
  name: string;
  /** Raw key bytes as a latin1 string (binary-safe map key). */
  rawKey: string;
  /** Decoded BundleEntryProto (a placeholder of unknown rank when `problem` is set). */
  entry: BundleEntry;
  /** Why this entry cannot be used (a malformed entry, a shard the header does not declare); undefined when it can. */
  problem?: WeightFileError;
}

/** An opened bundle: header and entries parsed, shards opened (or found missing). */
export interface TensorBundle {
  /** The `.index` source. */
  index: ByteSource;
  /** Decoded BundleHeaderProto. */
  header: BundleHeader;
  /** Entries in key order, slice entries included. */
  items: BundleItem[];
  /** Entries by raw key (latin1 string of the key bytes). */
  byRawKey: Map<string, BundleItem>;
  /** Shard sources by shard id; undefined when the file is missing. */
  shards: (ByteSource | undefined)[];
  /** File names of the shards, by shard id. */
  shardNames: string[];
  /** Number of data blocks in the table. */
  dataBlockCount: number;
  /** Problems confined to some tensors (missing shards). */
  shardProblems: Map<number, ErrorSummary>;
}

/** True when the key is an OrderedCode slice key (starts with byte 0). */
export function isSliceKey(rawKey: string): boolean {
  return rawKey.length > 0 && rawKey.charCodeAt(0) === 0;
}

const utf8 = new TextDecoder('utf-8');

/** Bytes as a binary-safe string (one char per byte, ISO-8859-1). */
function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The answer for a legacy V1 checkpoint (SavedTensorSlices table, notes section 1.4). */
export function legacyV1Error(name: string): WeightFileError {
  return new WeightFileError(
    'unsupportedFormat',
    `${name}: this is a legacy V1 checkpoint (SavedTensorSlices, written by tf.train.Saver with write_version=V1); Weightscope reads V2 checkpoints (a .index file with .data-* shards), so re-save it with a V2 Saver.`,
    { file: name },
  );
}

/** The data file name of a shard: PREFIX.data-SSSSS-of-NNNNN (tensor_bundle.cc DataFilename). */
export function dataFileName(prefix: string, shard: number, numShards: number): string {
  return `${prefix}.data-${String(shard).padStart(5, '0')}-of-${String(numShards).padStart(5, '0')}`;
}

/** Opens a bundle: parses the whole index (all blocks, CRC-checked) and opens the shards. */
export async function openTensorBundle(index: ByteSource, files: FileSet, prefix: string, signal?: AbortSignal): Promise<TensorBundle> {
  const table = await TableReader.open(index);
  let header: BundleHeader | undefined;
  const items: BundleItem[] = [];
  const byRawKey = new Map<string, BundleItem>();
  for await (const e of table.entries(signal)) {
    const rawKey = latin1(e.key);
    if (header === undefined) {
      if (e.key.length !== 0) {
        throw new WeightFileError('corrupt', `${index.name}: the first key is '${utf8.decode(e.key.subarray(0, 64))}', not the empty header key.`, {
          file: index.name,
        });
      }
      if (e.value[0] === 0x0a) {
        // Field 1 as a message: SavedTensorSlices { meta = 1 }, not BundleHeaderProto { int32 num_shards = 1 }.
        throw legacyV1Error(index.name);
      }
      header = decodeBundleHeader(e.value, index.name);
      continue;
    }
    const name = isSliceKey(rawKey) ? rawKey : utf8.decode(e.key);
    // A malformed entry is damage confined to its tensor: the others still open.
    let item: BundleItem;
    try {
      item = { name, rawKey, entry: decodeBundleEntry(e.value, `${index.name}: entry '${name}'`) };
    } catch (ex) {
      if (!WeightFileError.is(ex)) {
        throw ex;
      }
      item = { name, rawKey, entry: unusableEntry(), problem: new WeightFileError(ex.reason, ex.message, { file: index.name, tensor: name }, { cause: ex }) };
    }
    items.push(item);
    byRawKey.set(rawKey, item);
  }
  if (header === undefined) {
    throw new WeightFileError('corrupt', `${index.name}: the index holds no bundle header (no entries at all).`, { file: index.name });
  }
  const numShards = header.numShards;
  const shards: (ByteSource | undefined)[] = [];
  const shardNames: string[] = [];
  const shardProblems = new Map<number, ErrorSummary>();
  for (const item of items) {
    if (!item.problem && item.entry.slices.length === 0 && item.entry.shardId >= numShards) {
      item.problem = new WeightFileError('corrupt', `${index.name}: entry '${item.name}' is in shard ${item.entry.shardId} but the header declares ${numShards} shards.`, {
        file: index.name,
        tensor: item.name,
      });
      item.entry = unusableEntry();
    }
  }
  const used = new Set(items.filter((i) => !i.problem && i.entry.slices.length === 0).map((i) => i.entry.shardId));
  for (let s = 0; s < numShards; s++) {
    const fileName = dataFileName(prefix, s, numShards);
    shardNames.push(fileName);
    const src = used.has(s) ? await files.open(fileName) : undefined;
    shards.push(src);
    if (!src && used.has(s)) {
      shardProblems.set(
        s,
        summarizeError(
          new WeightFileError('missingCompanionFile', `${index.name}: the data shard '${fileName}' is missing; the tensors stored in it cannot be read.`, {
            file: index.name,
          }),
        ),
      );
    }
  }
  return { index, header, items, byRawKey, shards, shardNames, dataBlockCount: table.dataBlocks.length, shardProblems };
}

/** The entry kept for an item with a `problem`: no dtype, unknown rank, nothing stored. */
function unusableEntry(): BundleEntry {
  return { dtypeCode: 0, shape: [], unknownRank: true, shardId: 0, offset: 0, size: 0, slices: [] };
}

/** A stored byte range of a tensor (the whole tensor, or one slice). */
export interface DataPart {
  /** Shard id. */
  shard: number;
  /** Byte offset in the shard. */
  offset: number;
  /** Byte length. */
  size: number;
  /** Masked CRC32C from the entry, when present. */
  crc?: number;
  /** Shape of this part (the tensor's, or the slice's). */
  shape: number[];
  /** Start of this part in each dimension of the full tensor (all 0 for an unsliced tensor). */
  start: number[];
}

/** Checksum state of a part, updated when it is first read fully. */
export type CrcState = 'unverified' | 'ok' | 'mismatch' | 'absent';

/** Largest partitioned tensor assembled in memory when its slices are not simple row blocks, in bytes. */
export const maxAssembledBytes = 256 * 1024 * 1024;

/**
 * Resolves the stored parts of an entry: itself, or for a partitioned tensor its slice entries
 * (looked up by their OrderedCode keys). Throws `corrupt` when a slice is missing or out of bounds.
 */
export function resolveParts(bundle: TensorBundle, item: BundleItem): { parts: DataPart[]; rowBlocks: boolean } {
  if (item.problem) {
    throw item.problem;
  }
  const e = item.entry;
  if (e.slices.length === 0) {
    return { parts: [{ shard: e.shardId, offset: e.offset, size: e.size, crc: e.crc32c, shape: e.shape, start: e.shape.map(() => 0) }], rowBlocks: true };
  }
  const nameBytes = new TextEncoder().encode(item.name);
  const parts: DataPart[] = [];
  let covered = 0;
  for (const extents of e.slices) {
    const fail = (detail: string): WeightFileError =>
      new WeightFileError('corrupt', `${bundle.index.name}: partitioned tensor '${item.name}' ${detail}.`, { file: bundle.index.name, tensor: item.name });
    if (extents.length !== e.shape.length) {
      throw fail(`has a slice of rank ${extents.length} for shape [${e.shape.join(', ')}]`);
    }
    const shape = extents.map((x: SliceExtent, d) => (x.length < 0 ? e.shape[d]! : x.length));
    const start = extents.map((x: SliceExtent) => (x.length < 0 ? 0 : x.start));
    for (let d = 0; d < shape.length; d++) {
      if (start[d]! + shape[d]! > e.shape[d]!) {
        throw fail(`has a slice [${start[d]}, +${shape[d]}) outside dimension ${d} of size ${e.shape[d]}`);
      }
    }
    const key = latin1(encodeTensorNameSlice(nameBytes, extents));
    const sliceItem = bundle.byRawKey.get(key);
    if (!sliceItem) {
      throw fail(`lacks the entry of its slice ${describeSlice(extents)}`);
    }
    if (sliceItem.problem) {
      throw fail(`has an unusable slice ${describeSlice(extents)} (${sliceItem.problem.message})`);
    }
    const se = sliceItem.entry;
    parts.push({ shard: se.shardId, offset: se.offset, size: se.size, crc: se.crc32c, shape, start });
    covered += elementCount(shape);
  }
  const total = elementCount(e.shape);
  if (covered !== total) {
    throw new WeightFileError('corrupt', `${bundle.index.name}: the slices of '${item.name}' hold ${covered} elements but the shape [${e.shape.join(', ')}] has ${total}.`, {
      file: bundle.index.name,
      tensor: item.name,
    });
  }
  // Row blocks: every slice spans all dimensions but the first, and the slices tile dimension 0.
  const sorted = [...parts].sort((a, b) => (a.start[0] ?? 0) - (b.start[0] ?? 0));
  let next = 0;
  let rowBlocks = e.shape.length > 0;
  for (const p of sorted) {
    if (p.start[0] !== next || p.shape.slice(1).some((d, i) => d !== e.shape[i + 1])) {
      rowBlocks = false;
      break;
    }
    next += p.shape[0]!;
  }
  return { parts: rowBlocks ? sorted : parts, rowBlocks };
}

/** Human-readable slice spec in TF's own notation, e.g. '0,2:-' (start,length or '-' for full). */
export function describeSlice(extents: readonly SliceExtent[]): string {
  return extents.map((x) => (x.length < 0 ? '-' : `${x.start},${x.length}`)).join(':');
}

/** Everything needed to stream one tensor. */
export interface TensorData {
  /** Bundle the tensor belongs to. */
  bundle: TensorBundle;
  /** Stored tensor name (for messages). */
  name: string;
  /** Element type. */
  dtype: DType;
  /** Full shape. */
  shape: readonly number[];
  /** Stored parts. */
  parts: DataPart[];
  /** True when the parts, in order, are the row-major tensor (no assembly needed). */
  rowBlocks: boolean;
  /** CRC state per part. */
  crc: CrcState[];
  /** Called once when a part's CRC mismatches. */
  onMismatch(error: WeightFileError): void;
}

/**
 * Streams a tensor's values. Each part's CRC32C is checked on its first full read: parts that
 * fit one chunk are checked before their values are yielded; longer ones as they stream, the
 * stream then ending in a `checksumMismatch` error. Later reads of a mismatched part fail at once.
 */
export async function* streamTensor(data: TensorData, options: ReadValuesOptions = {}): AsyncGenerator<NumericArray> {
  const item = itemSizeBytes(data.dtype);
  if (item === undefined) {
    throw new WeightFileError('unsupportedDtype', `${data.bundle.index.name}: tensor '${data.name}' holds ${data.dtype} values, which are listed but not analysed.`, {
      file: data.bundle.index.name,
      tensor: data.name,
    });
  }
  const littleEndian = data.bundle.header.endianness === 'little';
  const elementsPerChunk = Math.max(2, Math.floor(options.chunkElements ?? defaultChunkElements));
  const chunkBytes = Math.max(16, Math.floor((elementsPerChunk * item) / 16) * 16);
  if (!data.rowBlocks) {
    yield* streamAssembled(data, item, chunkBytes, littleEndian, options);
    return;
  }
  for (let i = 0; i < data.parts.length; i++) {
    const part = data.parts[i]!;
    const source = partSource(data, part);
    checkPartRange(data, part, source);
    if (data.crc[i] === 'mismatch') {
      throw mismatchError(data, part, undefined);
    }
    const verify = data.crc[i] === 'unverified';
    let running = 0;
    for (let pos = 0; pos < part.size; ) {
      throwIfAborted(options.signal);
      const n = Math.min(chunkBytes, part.size - pos);
      const bytes = await source.read(part.offset + pos, n);
      pos += n;
      if (verify) {
        running = crc32cUpdate(running, bytes);
        if (pos === part.size) {
          settleCrc(data, i, running);
        }
      }
      yield decodeValues(data.dtype, bytes, littleEndian);
    }
    if (part.size === 0 && verify) {
      settleCrc(data, i, 0);
    }
  }
}

function settleCrc(data: TensorData, i: number, actual: number): void {
  const part = data.parts[i]!;
  if (part.crc === undefined) {
    data.crc[i] = 'absent';
    return;
  }
  if (unmaskCrc(part.crc) === actual) {
    data.crc[i] = 'ok';
    return;
  }
  data.crc[i] = 'mismatch';
  const err = mismatchError(data, part, actual);
  data.onMismatch(err);
  throw err;
}

function mismatchError(data: TensorData, part: DataPart, actual: number | undefined): WeightFileError {
  const shardName = data.bundle.shardNames[part.shard] ?? `shard ${part.shard}`;
  const computed = actual === undefined ? '' : `, computed 0x${hex32(maskCrc(actual))}`;
  return new WeightFileError(
    'checksumMismatch',
    `${shardName}: the bytes of tensor '${data.name}' at offset ${part.offset} fail their CRC32C check (stored 0x${hex32(part.crc ?? 0)}${computed}); the data file is damaged.`,
    { file: shardName, tensor: data.name, offset: part.offset },
  );
}

function partSource(data: TensorData, part: DataPart): ByteSource {
  const source = data.bundle.shards[part.shard];
  if (!source) {
    const problem = data.bundle.shardProblems.get(part.shard);
    throw new WeightFileError(
      'missingCompanionFile',
      problem?.message ?? `${data.bundle.index.name}: the data shard '${data.bundle.shardNames[part.shard] ?? part.shard}' is missing.`,
      { file: data.bundle.index.name, tensor: data.name },
    );
  }
  return source;
}

/** Throws when a part's byte range is not inside its shard or does not match the shape. */
export function checkPartRange(data: Pick<TensorData, 'bundle' | 'name' | 'dtype'>, part: DataPart, source: ByteSource): void {
  const item = itemSizeBytes(data.dtype);
  if (item !== undefined) {
    const expected = Math.ceil(elementCount(part.shape) * item);
    if (expected !== part.size) {
      throw new WeightFileError(
        'corrupt',
        `${data.bundle.index.name}: tensor '${data.name}' stores ${part.size} bytes but ${data.dtype} [${part.shape.join(', ')}] needs ${expected}.`,
        { file: data.bundle.index.name, tensor: data.name },
      );
    }
  }
  if (part.offset + part.size > source.size) {
    throw new WeightFileError(
      'truncated',
      `${source.name}: tensor '${data.name}' needs bytes [${part.offset}, ${part.offset + part.size}) but the file has ${source.size}; the data file is truncated.`,
      { file: source.name, tensor: data.name, offset: part.offset },
    );
  }
}

/** Assembles a partitioned tensor whose slices are not row blocks, in memory (bounded). */
async function* streamAssembled(data: TensorData, item: number, chunkBytes: number, littleEndian: boolean, options: ReadValuesOptions): AsyncGenerator<NumericArray> {
  const total = elementCount(data.shape) * item;
  if (!Number.isInteger(item) || total > maxAssembledBytes) {
    throw new WeightFileError(
      'tooLarge',
      `${data.bundle.index.name}: partitioned tensor '${data.name}' (${total} bytes of ${data.dtype}) is too large to assemble from its column slices; its slices are listed in 'extra.slices'.`,
      { file: data.bundle.index.name, tensor: data.name },
    );
  }
  const full = new Uint8Array(total);
  const fullStrides = strides(data.shape);
  for (let i = 0; i < data.parts.length; i++) {
    throwIfAborted(options.signal);
    const part = data.parts[i]!;
    const source = partSource(data, part);
    checkPartRange(data, part, source);
    if (data.crc[i] === 'mismatch') {
      throw mismatchError(data, part, undefined);
    }
    const bytes = await source.read(part.offset, part.size);
    if (data.crc[i] === 'unverified') {
      settleCrc(data, i, crc32cUpdate(0, bytes));
    }
    copySlice(bytes, part, full, fullStrides, item);
  }
  for (let pos = 0; pos < total; pos += chunkBytes) {
    throwIfAborted(options.signal);
    yield decodeValues(data.dtype, full.slice(pos, Math.min(total, pos + chunkBytes)), littleEndian);
  }
}

function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) {
    out[d] = out[d + 1]! * shape[d + 1]!;
  }
  return out;
}

/** Copies a row-major slice into its place in the row-major full tensor, one last-dimension run at a time. */
function copySlice(src: Uint8Array, part: DataPart, full: Uint8Array, fullStrides: number[], item: number): void {
  const rank = part.shape.length;
  if (rank === 0) {
    full.set(src, 0);
    return;
  }
  const run = part.shape[rank - 1]! * item;
  const rows = elementCount(part.shape.slice(0, -1));
  const idx = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    let dst = (part.start[rank - 1] ?? 0) * fullStrides[rank - 1]!;
    for (let d = 0; d < rank - 1; d++) {
      dst += (part.start[d]! + idx[d]!) * fullStrides[d]!;
    }
    full.set(src.subarray(r * run, (r + 1) * run), dst * item);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      if (idx[d]! < part.shape[d]!) {
        break;
      }
      idx[d] = 0;
    }
  }
}

/**
 * Reads a DT_STRING tensor (tensor_bundle.cc WriteStringTensor): varint64 lengths, a fixed32
 * masked CRC of the lengths, then the bytes. Verifies both the length CRC and the entry CRC
 * (which covers each length as fixed32 LE, or fixed64 LE above 2^32 - 1, the 4 length-CRC
 * bytes, then the strings). Returns the elements.
 */
export async function readStringTensor(bundle: TensorBundle, item: BundleItem, maxBytes: number): Promise<Uint8Array[]> {
  if (item.problem) {
    throw item.problem;
  }
  const e = item.entry;
  const name = bundle.index.name;
  const source = bundle.shards[e.shardId];
  if (!source) {
    throw new WeightFileError('missingCompanionFile', bundle.shardProblems.get(e.shardId)?.message ?? `${name}: the shard of '${item.name}' is missing.`, {
      file: name,
      tensor: item.name,
    });
  }
  if (e.size > maxBytes) {
    throw new WeightFileError('tooLarge', `${source.name}: the string tensor '${item.name}' is ${e.size} bytes, more than the ${maxBytes}-byte limit.`, {
      file: source.name,
      tensor: item.name,
    });
  }
  const count = elementCount(e.shape);
  checkPartRange({ bundle, name: item.name, dtype: 'string' }, { shard: e.shardId, offset: e.offset, size: e.size, shape: e.shape, start: [] }, source);
  const bytes = await source.read(e.offset, e.size);
  const fail = (detail: string): WeightFileError =>
    new WeightFileError('corrupt', `${source.name}: string tensor '${item.name}' is malformed, ${detail}.`, { file: source.name, tensor: item.name });
  if (count > e.size) {
    throw fail(`${count} elements cannot fit in ${e.size} bytes`);
  }
  const lengths: number[] = [];
  let pos = 0;
  let lengthsCrc = 0;
  for (let i = 0; i < count; i++) {
    let v = 0;
    let k = 0;
    for (;;) {
      if (pos >= bytes.length || k >= 10) {
        throw fail(`length ${i} is cut off or longer than 10 bytes`);
      }
      const b = bytes[pos++]!;
      v += (b & 0x7f) * 2 ** (7 * k++);
      if ((b & 0x80) === 0) {
        break;
      }
    }
    if (v > e.size) {
      throw fail(`element ${i} declares ${v} bytes`);
    }
    lengths.push(v);
    const fixed = v > 0xffffffff ? new Uint8Array(8) : new Uint8Array(4);
    const view = new DataView(fixed.buffer);
    if (fixed.length === 8) {
      view.setBigUint64(0, BigInt(v), true);
    } else {
      view.setUint32(0, v, true);
    }
    lengthsCrc = crc32cUpdate(lengthsCrc, fixed);
  }
  if (pos + 4 > bytes.length) {
    throw fail('the length checksum is cut off');
  }
  const storedLengthsCrc = new DataView(bytes.buffer, bytes.byteOffset + pos, 4).getUint32(0, true);
  if (unmaskCrc(storedLengthsCrc) !== lengthsCrc) {
    throw new WeightFileError('checksumMismatch', `${source.name}: the element lengths of string tensor '${item.name}' fail their CRC32C check.`, {
      file: source.name,
      tensor: item.name,
    });
  }
  let entryCrc = crc32cUpdate(lengthsCrc, bytes.subarray(pos, pos + 4));
  pos += 4;
  const stringsStart = pos;
  const out: Uint8Array[] = [];
  for (const len of lengths) {
    if (pos + len > bytes.length) {
      throw fail(`an element of ${len} bytes runs past the end`);
    }
    out.push(bytes.subarray(pos, pos + len));
    pos += len;
  }
  entryCrc = crc32cUpdate(entryCrc, bytes.subarray(stringsStart, pos));
  if (e.crc32c !== undefined && unmaskCrc(e.crc32c) !== entryCrc) {
    throw new WeightFileError('checksumMismatch', `${source.name}: string tensor '${item.name}' fails its CRC32C check (stored 0x${hex32(e.crc32c)}).`, {
      file: source.name,
      tensor: item.name,
    });
  }
  return out;
}
