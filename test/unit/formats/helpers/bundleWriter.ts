/**
 * A small TensorFlow tensor-bundle writer for tests and the benchmark: emits `PREFIX.index` (an
 * SSTable with restart points, several data blocks, optional Snappy compression) and
 * `PREFIX.data-SSSSS-of-NNNNN` shards, following tensor_bundle.cc / tsl table_builder.cc
 * (notes/weight-formats.md section 1). It shares no code with the reader: its CRC32C, Snappy,
 * protobuf and OrderedCode encoders are written independently here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** DataType enum values (types.proto) by the names tests use. */
export const dtCodes = {
  float32: 1,
  float64: 2,
  int32: 3,
  uint8: 4,
  int16: 5,
  int8: 6,
  string: 7,
  int64: 9,
  bool: 10,
  bfloat16: 14,
  uint16: 17,
  float16: 19,
  uint32: 22,
  uint64: 23,
} as const;

/** A dtype name the writer serializes. */
export type WriterDType = keyof typeof dtCodes;

// ---- CRC32C, byte-at-a-time table (independent of the reader's slicing-by-8 code) ----

const crcTable = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    }
    t[n] = c;
  }
  return t;
})();

/** Running CRC32C (start with 0). */
export function writerCrc(crc: number, bytes: Uint8Array): number {
  let c = crc ^ -1;
  for (let i = 0; i < bytes.length; i++) {
    c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ -1) >>> 0;
}

/** TF's checksum masking. */
export function writerMask(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ---- byte helpers ----

class Bytes {
  private buf = new Uint8Array(256);
  length = 0;

  push(...bytes: number[]): void {
    this.ensure(bytes.length);
    for (const b of bytes) {
      this.buf[this.length++] = b & 0xff;
    }
  }

  append(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) {
        b |= 0x80;
      }
      this.push(b);
    } while (x > 0n);
  }

  fixed32(v: number): void {
    this.push(v, v >>> 8, v >>> 16, v >>> 24);
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  private ensure(n: number): void {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
  }
}

// ---- protobuf encoding ----

function fieldVarint(out: Bytes, field: number, v: number | bigint): void {
  out.varint(field * 8);
  out.varint(v);
}

function fieldBytes(out: Bytes, field: number, value: Uint8Array): void {
  out.varint(field * 8 + 2);
  out.varint(value.length);
  out.append(value);
}

/** One extent of a slice: start and length (-1 = the full dimension). */
export interface WriterExtent {
  /** Start index. */
  start: number;
  /** Length, or -1 for the whole dimension. */
  length: number;
}

/** TensorShapeProto { repeated Dim dim = 2 { int64 size = 1 }; bool unknown_rank = 3 } (a size of -1: an unknown dimension). */
function encodeShape(shape: readonly number[], unknownRank = false): Uint8Array {
  const s = new Bytes();
  for (const d of shape) {
    const dim = new Bytes();
    fieldVarint(dim, 1, d);
    fieldBytes(s, 2, dim.bytes());
  }
  if (unknownRank) {
    fieldVarint(s, 3, 1);
  }
  return s.bytes();
}

function encodeSlice(extents: readonly WriterExtent[]): Uint8Array {
  const s = new Bytes();
  for (const e of extents) {
    const x = new Bytes();
    if (e.start !== 0) {
      fieldVarint(x, 1, e.start);
    }
    if (e.length >= 0) {
      fieldVarint(x, 2, e.length);
    }
    fieldBytes(s, 1, x.bytes());
  }
  return s.bytes();
}

/** A BundleEntryProto, field by field. */
export interface WriterEntry {
  /** DataType value. */
  dtype: number;
  /** Shape. */
  shape: readonly number[];
  /** shape.unknown_rank. */
  unknownRank?: boolean;
  /** shard_id. */
  shardId: number;
  /** offset. */
  offset: number | bigint;
  /** size. */
  size: number | bigint;
  /** crc32c (masked); omitted when undefined. */
  crc?: number;
  /** slices. */
  slices?: readonly (readonly WriterExtent[])[];
}

/** Encodes a BundleEntryProto (proto3: zero values omitted). */
export function encodeEntry(e: WriterEntry): Uint8Array {
  const out = new Bytes();
  if (e.dtype !== 0) {
    fieldVarint(out, 1, e.dtype);
  }
  fieldBytes(out, 2, encodeShape(e.shape, e.unknownRank));
  if (e.shardId !== 0) {
    fieldVarint(out, 3, e.shardId);
  }
  if (BigInt(e.offset) !== 0n) {
    fieldVarint(out, 4, e.offset);
  }
  if (BigInt(e.size) !== 0n) {
    fieldVarint(out, 5, e.size);
  }
  if (e.crc !== undefined) {
    out.varint(6 * 8 + 5);
    out.fixed32(e.crc);
  }
  for (const s of e.slices ?? []) {
    fieldBytes(out, 7, encodeSlice(s));
  }
  return out.bytes();
}

/** Encodes a BundleHeaderProto. */
export function encodeHeader(numShards: number, bigEndian: boolean, version: { producer: number; minConsumer?: number; badConsumers?: number[] } = { producer: 1 }): Uint8Array {
  const out = new Bytes();
  fieldVarint(out, 1, numShards);
  if (bigEndian) {
    fieldVarint(out, 2, 1);
  }
  const v = new Bytes();
  fieldVarint(v, 1, version.producer);
  if (version.minConsumer) {
    fieldVarint(v, 2, version.minConsumer);
  }
  for (const b of version.badConsumers ?? []) {
    fieldVarint(v, 3, b);
  }
  fieldBytes(out, 3, v.bytes());
  return out.bytes();
}

// ---- OrderedCode slice keys (independent implementation) ----

/** EncodeTensorNameSlice(name, slice) for slice keys. */
export function sliceKey(name: string, extents: readonly WriterExtent[]): Uint8Array {
  const out: number[] = [0x00]; // WriteNumIncreasing(0): length byte 0
  for (const b of new TextEncoder().encode(name)) {
    if (b === 0) {
      out.push(0, 0xff);
    } else if (b === 0xff) {
      out.push(0xff, 0);
    } else {
      out.push(b);
    }
  }
  out.push(0x00, 0x01);
  out.push(...(extents.length === 0 ? [0] : [1, extents.length])); // WriteNumIncreasing(rank), rank < 256
  for (const e of extents) {
    out.push(...signedIncreasing(e.start), ...signedIncreasing(e.length));
  }
  return Uint8Array.from(out);
}

/** WriteSignedNumIncreasing for |v| < 2^13 (one or two bytes) — enough for test shapes. */
function signedIncreasing(v: number): number[] {
  if (v >= -64 && v < 64) {
    return [(0x80 ^ (v & 0xff)) & 0xff];
  }
  if (v >= -8192 && v < 8192) {
    const u = v & 0xffff;
    return [((u >> 8) ^ 0xc0) & 0xff, u & 0xff];
  }
  throw new RangeError(`test slice offsets are limited to 2^13, got ${v}`);
}

// ---- Snappy (literal runs + offset-1 copies for byte runs) ----

/** Raw Snappy compression that emits literals and overlapping offset-1 copies for runs. */
export function snappyCompressSimple(input: Uint8Array): Uint8Array {
  const out = new Bytes();
  out.varint(input.length);
  let litStart = 0;
  const flushLiteral = (end: number): void => {
    let pos = litStart;
    while (pos < end) {
      const n = Math.min(65536, end - pos);
      if (n <= 60) {
        out.push((n - 1) << 2);
      } else if (n <= 256) {
        out.push(60 << 2, n - 1);
      } else {
        out.push(61 << 2, (n - 1) & 0xff, (n - 1) >> 8);
      }
      out.append(input.subarray(pos, pos + n));
      pos += n;
    }
  };
  let i = 0;
  while (i < input.length) {
    let run = 1;
    while (i + run < input.length && input[i + run] === input[i] && run < 65) {
      run++;
    }
    if (run >= 9) {
      // Keep byte i as a literal, then copy (offset 1) the next run-1 bytes: a 2-byte-offset copy.
      flushLiteral(i + 1);
      const len = run - 1;
      out.push(((len - 1) << 2) | 2, 1, 0);
      i += run;
      litStart = i;
    } else {
      i += run;
    }
  }
  flushLiteral(input.length);
  return out.bytes();
}

// ---- SSTable ----

/** Options of the table layout. */
export interface TableOptions {
  /** Target data block size in bytes (TF: 256 KiB); small values force several blocks. */
  blockSizeBytes?: number;
  /** Entries between restart points in data blocks (TF: 16). */
  restartInterval?: number;
  /** Compress data blocks with Snappy (type 1). */
  snappy?: boolean;
}

function buildBlock(entries: readonly [Uint8Array, Uint8Array][], restartInterval: number): Uint8Array {
  const out = new Bytes();
  const restarts: number[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  entries.forEach(([key, value], i) => {
    let shared = 0;
    if (i % restartInterval === 0) {
      restarts.push(out.length);
    } else {
      while (shared < prev.length && shared < key.length && prev[shared] === key[shared]) {
        shared++;
      }
    }
    out.varint(shared);
    out.varint(key.length - shared);
    out.varint(value.length);
    out.append(key.subarray(shared));
    out.append(value);
    prev = key;
  });
  if (restarts.length === 0) {
    restarts.push(0);
  }
  for (const r of restarts) {
    out.fixed32(r);
  }
  out.fixed32(restarts.length);
  return out.bytes();
}

/** Builds a whole table file from sorted entries. */
export function buildTable(entries: readonly [Uint8Array, Uint8Array][], options: TableOptions = {}): Uint8Array {
  const blockSize = options.blockSizeBytes ?? 256 * 1024;
  const restartInterval = options.restartInterval ?? 16;
  const file = new Bytes();
  const writeBlock = (contents: Uint8Array, compress: boolean): { offset: number; size: number } => {
    let stored = contents;
    let type = 0;
    if (compress) {
      const c = snappyCompressSimple(contents);
      if (c.length < contents.length - contents.length / 8) {
        stored = c;
        type = 1;
      }
    }
    const offset = file.length;
    file.append(stored);
    file.push(type);
    file.fixed32(writerMask(writerCrc(writerCrc(0, stored), Uint8Array.of(type))));
    return { offset, size: stored.length };
  };
  const indexEntries: [Uint8Array, Uint8Array][] = [];
  let pending: [Uint8Array, Uint8Array][] = [];
  let pendingBytes = 0;
  const flush = (): void => {
    if (pending.length === 0) {
      return;
    }
    const handle = writeBlock(buildBlock(pending, restartInterval), options.snappy ?? false);
    const h = new Bytes();
    h.varint(handle.offset);
    h.varint(handle.size);
    indexEntries.push([pending[pending.length - 1]![0], h.bytes()]);
    pending = [];
    pendingBytes = 0;
  };
  for (const e of entries) {
    pending.push(e);
    pendingBytes += e[0].length + e[1].length + 3;
    if (pendingBytes >= blockSize) {
      flush();
    }
  }
  flush();
  const meta = writeBlock(buildBlock([], 1), false);
  const index = writeBlock(buildBlock(indexEntries, 1), false);
  const footer = new Bytes();
  footer.varint(meta.offset);
  footer.varint(meta.size);
  footer.varint(index.offset);
  footer.varint(index.size);
  while (footer.length < 40) {
    footer.push(0);
  }
  footer.push(0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb);
  file.append(footer.bytes());
  return file.bytes();
}

// ---- values ----

/** Serializes numbers as `dtype` in the given byte order (float16/bfloat16 take raw 16-bit patterns). */
export function encodeValues(dtype: WriterDType, values: ArrayLike<number | bigint>, bigEndian = false): Uint8Array {
  const size = { float32: 4, float64: 8, int32: 4, uint8: 1, int16: 2, int8: 1, int64: 8, bool: 1, bfloat16: 2, uint16: 2, float16: 2, uint32: 4, uint64: 8, string: 0 }[dtype];
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  const le = !bigEndian;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const at = i * size;
    switch (dtype) {
      case 'float32':
        view.setFloat32(at, Number(v), le);
        break;
      case 'float64':
        view.setFloat64(at, Number(v), le);
        break;
      case 'int32':
        view.setInt32(at, Number(v), le);
        break;
      case 'uint32':
        view.setUint32(at, Number(v), le);
        break;
      case 'int16':
        view.setInt16(at, Number(v), le);
        break;
      case 'uint16':
      case 'float16':
      case 'bfloat16':
        view.setUint16(at, Number(v), le);
        break;
      case 'int8':
        view.setInt8(at, Number(v));
        break;
      case 'uint8':
      case 'bool':
        view.setUint8(at, Number(v));
        break;
      case 'int64':
        view.setBigInt64(at, BigInt(v), le);
        break;
      case 'uint64':
        view.setBigUint64(at, BigInt(v), le);
        break;
      case 'string':
        throw new TypeError('use stringTensorBytes for strings');
    }
  }
  return out;
}

/** Serializes a DT_STRING tensor (varint lengths, masked length CRC, bytes) and its entry CRC. */
export function stringTensorBytes(elements: readonly Uint8Array[]): { bytes: Uint8Array; crc: number } {
  const out = new Bytes();
  let crc = 0;
  for (const e of elements) {
    out.varint(e.length);
    const fixed = new Uint8Array(4);
    new DataView(fixed.buffer).setUint32(0, e.length, true);
    crc = writerCrc(crc, fixed);
  }
  const lengthsCrc = writerMask(crc);
  out.fixed32(lengthsCrc);
  const crcBytes = new Uint8Array(4);
  new DataView(crcBytes.buffer).setUint32(0, lengthsCrc, true);
  crc = writerCrc(crc, crcBytes);
  for (const e of elements) {
    out.append(e);
    crc = writerCrc(crc, e);
  }
  return { bytes: out.bytes(), crc: writerMask(crc) };
}

// ---- bundle ----

/** Where tensor bytes go: in memory (tests) or a sink per shard (large files on disk). */
export interface ShardSink {
  /** Appends bytes to shard `shard`. */
  write(shard: number, bytes: Uint8Array): void;
}

/** Options of a bundle. */
export interface BundleOptions extends TableOptions {
  /** Number of data shards (default 1). */
  numShards?: number;
  /** Write values and declare the header big-endian. */
  bigEndian?: boolean;
  /** Bytes of zero padding between tensors (TF's data_alignment). */
  alignment?: number;
  /** Header version fields. */
  version?: { producer: number; minConsumer?: number; badConsumers?: number[] };
}

/** Accumulates tensors, then emits the index. */
export class BundleWriter {
  private readonly entries: [Uint8Array, Uint8Array][] = [];
  private readonly shardSizes: number[];
  private readonly memory: Bytes[] | undefined;

  /** With no sink the shards are kept in memory (see `files`). */
  constructor(
    readonly prefix: string,
    readonly options: BundleOptions = {},
    private readonly sink?: ShardSink,
  ) {
    const n = options.numShards ?? 1;
    this.shardSizes = new Array<number>(n).fill(0);
    this.memory = sink ? undefined : Array.from({ length: n }, () => new Bytes());
  }

  private write(shard: number, bytes: Uint8Array): number {
    const align = this.options.alignment ?? 1;
    const pad = (align - (this.shardSizes[shard]! % align)) % align;
    if (pad) {
      this.emit(shard, new Uint8Array(pad));
    }
    const offset = this.shardSizes[shard]!;
    this.emit(shard, bytes);
    return offset;
  }

  private emit(shard: number, bytes: Uint8Array): void {
    if (this.memory) {
      this.memory[shard]!.append(bytes);
    } else {
      this.sink!.write(shard, bytes);
    }
    this.shardSizes[shard]! += bytes.length;
  }

  /** Adds a numeric tensor from values (serialized with the bundle's byte order). */
  add(name: string, dtype: WriterDType, shape: readonly number[], values: ArrayLike<number | bigint>, shard = 0): void {
    this.addRaw(name, dtcodeOf(dtype), shape, encodeValues(dtype, values, this.options.bigEndian), shard);
  }

  /** Adds a tensor from raw stored bytes (its CRC is computed here). */
  addRaw(name: string | Uint8Array, dtype: number, shape: readonly number[], bytes: Uint8Array, shard = 0, crcOverride?: number): void {
    const offset = this.write(shard, bytes);
    const crc = crcOverride ?? writerMask(writerCrc(0, bytes));
    this.put(name, { dtype, shape, shardId: shard, offset, size: bytes.length, crc });
  }

  /** Adds a tensor whose bytes are produced in chunks (large tensors); `fill` returns successive chunks. */
  addStreamed(name: string, dtype: WriterDType, shape: readonly number[], chunks: Iterable<Uint8Array>, shard = 0): void {
    let offset = -1;
    let size = 0;
    let crc = 0;
    for (const c of chunks) {
      const at = this.write(shard, c);
      if (offset < 0) {
        offset = at;
      }
      size += c.length;
      crc = writerCrc(crc, c);
    }
    this.put(name, { dtype: dtcodeOf(dtype), shape, shardId: shard, offset: Math.max(0, offset), size, crc: writerMask(crc) });
  }

  /** Adds a DT_STRING tensor. */
  addStrings(name: string, shape: readonly number[], elements: readonly Uint8Array[], shard = 0): void {
    const { bytes, crc } = stringTensorBytes(elements);
    const offset = this.write(shard, bytes);
    this.put(name, { dtype: dtCodes.string, shape, shardId: shard, offset, size: bytes.length, crc });
  }

  /** Adds a partitioned tensor: the full entry with `slices`, plus one entry per slice under its OrderedCode key. */
  addSliced(name: string, dtype: WriterDType, fullShape: readonly number[], slices: readonly { extents: readonly WriterExtent[]; values: ArrayLike<number> }[], shard = 0): void {
    this.put(name, { dtype: dtcodeOf(dtype), shape: fullShape, shardId: 0, offset: 0, size: 0, slices: slices.map((s) => s.extents) });
    for (const s of slices) {
      const shape = s.extents.map((e, d) => (e.length < 0 ? fullShape[d]! : e.length));
      this.addRaw(sliceKey(name, s.extents), dtcodeOf(dtype), shape, encodeValues(dtype, s.values, this.options.bigEndian), shard);
    }
  }

  /** Adds an entry exactly as given (for malformed-entry tests). */
  put(name: string | Uint8Array, entry: WriterEntry): void {
    this.entries.push([typeof name === 'string' ? new TextEncoder().encode(name) : name, encodeEntry(entry)]);
  }

  /** Adds an entry value exactly as given (for malformed-entry tests). */
  putValue(name: string, value: Uint8Array): void {
    this.entries.push([new TextEncoder().encode(name), value]);
  }

  /** The `.index` bytes: header under the empty key, then all entries in bytewise key order. */
  index(): Uint8Array {
    const sorted = [...this.entries].sort((a, b) => compare(a[0], b[0]));
    const header: [Uint8Array, Uint8Array] = [new Uint8Array(0), encodeHeader(this.shardSizes.length, this.options.bigEndian ?? false, this.options.version)];
    return buildTable([header, ...sorted], this.options);
  }

  /** Name of shard `s`. */
  shardName(s: number): string {
    return `${this.prefix}.data-${String(s).padStart(5, '0')}-of-${String(this.shardSizes.length).padStart(5, '0')}`;
  }

  /** All files (index and in-memory shards) by name. */
  files(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>([[`${this.prefix}.index`, this.index()]]);
    this.memory?.forEach((m, s) => out.set(this.shardName(s), m.bytes()));
    return out;
  }
}

/**
 * Writes a TF1-named checkpoint 'model.ckpt' into `dir` and returns its index path: one layer
 * 'dense' with 'kernel' [2, 3] = 1..6 and 'bias' [3] = 0.5, plus two entries whose shape is
 * unknown: 'scale' with a dimension of -1 (12 stored bytes) and 'state' of unknown rank (16 bytes).
 * Only the shapes make the last two unreadable.
 */
export function writeUnknownShapeCheckpoint(dir: string): string {
  const w = new BundleWriter('model.ckpt');
  w.add('dense/kernel', 'float32', [2, 3], [1, 2, 3, 4, 5, 6]);
  w.add('dense/bias', 'float32', [3], [0.5, 0.5, 0.5]);
  w.addRaw('dense/scale', dtCodes.float32, [-1, 3], new Uint8Array(12));
  w.put('dense/state', { dtype: dtCodes.float32, shape: [], unknownRank: true, shardId: 0, offset: 0, size: 16 });
  for (const [name, bytes] of w.files()) {
    fs.writeFileSync(path.join(dir, name), bytes);
  }
  return path.join(dir, 'model.ckpt.index');
}

function dtcodeOf(dtype: WriterDType): number {
  return dtCodes[dtype];
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      return a[i]! - b[i]!;
    }
  }
  return a.length - b.length;
}

// ---- object graph ----

/** A TrackableObjectGraph node for tests. */
export interface WriterNode {
  /** Children: [node id, local name]. */
  children?: [number, string][];
  /** Attributes: [name, full name, checkpoint key]. */
  attributes?: [string, string, string][];
  /** Slot variables: [original variable node id, slot name, slot variable node id]. */
  slots?: [number, string, number][];
}

/** Serializes a TrackableObjectGraph. */
export function encodeObjectGraph(nodes: readonly WriterNode[]): Uint8Array {
  const g = new Bytes();
  const enc = new TextEncoder();
  for (const n of nodes) {
    const node = new Bytes();
    for (const [id, local] of n.children ?? []) {
      const r = new Bytes();
      if (id) {
        fieldVarint(r, 1, id);
      }
      fieldBytes(r, 2, enc.encode(local));
      fieldBytes(node, 1, r.bytes());
    }
    for (const [name, full, key] of n.attributes ?? []) {
      const a = new Bytes();
      fieldBytes(a, 1, enc.encode(name));
      fieldBytes(a, 2, enc.encode(full));
      fieldBytes(a, 3, enc.encode(key));
      fieldBytes(node, 2, a.bytes());
    }
    for (const [orig, slot, slotNode] of n.slots ?? []) {
      const s = new Bytes();
      fieldVarint(s, 1, orig);
      fieldBytes(s, 2, enc.encode(slot));
      fieldVarint(s, 3, slotNode);
      fieldBytes(node, 3, s.bytes());
    }
    fieldBytes(g, 1, node.bytes());
  }
  return g.bytes();
}

// ---- SavedModel (saved_model.pb) ----

/** A SavedObjectGraph node for tests. */
export interface WriterSavedObject {
  /** Children: [node id, local name]. */
  children?: [number, string][];
  /** user_object.identifier, e.g. '_tf_keras_layer'. */
  identifier?: string;
  /** user_object.metadata (Keras JSON). */
  metadata?: string;
  /** variable.name (makes the node a SavedVariable). */
  variableName?: string;
}

/** Serializes SavedModel { meta_graphs { meta_info_def, signature_def, object_graph_def } }. */
export function encodeSavedModel(objects: readonly WriterSavedObject[], signatures: Record<string, { inputs: Record<string, [string, number, number[] | null]>; outputs: Record<string, [string, number, number[] | null]> }> = {}): Uint8Array {
  const enc = new TextEncoder();
  const meta = new Bytes();
  const info = new Bytes();
  fieldBytes(info, 4, enc.encode('serve'));
  fieldBytes(info, 5, enc.encode('2.9.1'));
  fieldBytes(meta, 1, info.bytes());
  const tensorInfo = ([name, dtype, shape]: [string, number, number[] | null]): Uint8Array => {
    const t = new Bytes();
    fieldBytes(t, 1, enc.encode(name));
    fieldVarint(t, 2, dtype);
    const sh = new Bytes();
    if (shape === null) {
      fieldVarint(sh, 3, 1);
    } else {
      for (const d of shape) {
        const dim = new Bytes();
        fieldVarint(dim, 1, d);
        fieldBytes(sh, 2, dim.bytes());
      }
    }
    fieldBytes(t, 3, sh.bytes());
    return t.bytes();
  };
  for (const [key, sig] of Object.entries(signatures)) {
    const def = new Bytes();
    for (const [field, map] of [[1, sig.inputs], [2, sig.outputs]] as const) {
      for (const [k, v] of Object.entries(map)) {
        const e = new Bytes();
        fieldBytes(e, 1, enc.encode(k));
        fieldBytes(e, 2, tensorInfo(v));
        fieldBytes(def, field, e.bytes());
      }
    }
    fieldBytes(def, 3, enc.encode('tensorflow/serving/predict'));
    const entry = new Bytes();
    fieldBytes(entry, 1, enc.encode(key));
    fieldBytes(entry, 2, def.bytes());
    fieldBytes(meta, 5, entry.bytes());
  }
  const graph = new Bytes();
  for (const o of objects) {
    const node = new Bytes();
    for (const [id, local] of o.children ?? []) {
      const r = new Bytes();
      fieldVarint(r, 1, id);
      fieldBytes(r, 2, enc.encode(local));
      fieldBytes(node, 1, r.bytes());
    }
    if (o.variableName !== undefined) {
      const v = new Bytes();
      fieldVarint(v, 3, 1);
      fieldBytes(v, 6, enc.encode(o.variableName));
      fieldBytes(node, 7, v.bytes());
    } else {
      const u = new Bytes();
      fieldBytes(u, 1, enc.encode(o.identifier ?? '_generic_user_object'));
      if (o.metadata !== undefined) {
        fieldBytes(u, 3, enc.encode(o.metadata));
      }
      fieldBytes(node, 4, u.bytes());
    }
    fieldBytes(graph, 1, node.bytes());
  }
  fieldBytes(meta, 7, graph.bytes());
  const top = new Bytes();
  fieldVarint(top, 1, 1);
  fieldBytes(top, 2, meta.bytes());
  return top.bytes();
}

/** Serializes keras_metadata.pb: SavedMetadata { nodes { node_id = 2; node_path = 3; identifier = 4; metadata = 5 } }. */
export function encodeKerasMetadata(nodes: readonly { nodeId: number; nodePath: string; identifier: string; metadata: string }[]): Uint8Array {
  const enc = new TextEncoder();
  const out = new Bytes();
  for (const n of nodes) {
    const node = new Bytes();
    if (n.nodeId) {
      fieldVarint(node, 2, n.nodeId);
    }
    fieldBytes(node, 3, enc.encode(n.nodePath));
    fieldBytes(node, 4, enc.encode(n.identifier));
    fieldBytes(node, 5, enc.encode(n.metadata));
    fieldBytes(out, 1, node.bytes());
  }
  return out.bytes();
}
