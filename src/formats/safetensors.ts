/**
 * safetensors: `u64 LE header length N`, N bytes of JSON header, then the data buffer
 * (notes/weight-formats.md section 4; huggingface/safetensors `safetensors/src/tensor.rs`,
 * `Metadata::validate`). The header is parsed at open; tensor bytes are read lazily.
 */
import * as fs from 'node:fs';
import type { ByteSource, FileSet } from '../core/byteSource';
import type { DType } from '../core/dtypes';
import { summarizeError, throwIfAborted, WeightFileError } from '../core/errors';
import type { FileWarning, ReadValuesOptions, TensorInfo, TensorRole, WeightFile } from '../core/model';
import { readSpanValues } from '../core/tensorData';
import type { FormatReader, OpenOptions, SniffInput } from './formatReader';
import { roleFromWeightName } from './kerasConfig';
import { parseFileJson } from '../core/json';
import { openRegularFileSync } from '../core/nodeFileSource';

/** Largest header accepted, in bytes (the reference implementation's MAX_HEADER_SIZE). */
export const maxSafetensorsHeaderBytes = 100_000_000;

/** Largest rank accepted for a tensor shape. */
const maxRank = 64;

/** safetensors dtype names (tensor.rs `Dtype`) → element type and size in bits; `opaque`: listed but not decoded. */
const safetensorsDtypes: ReadonlyMap<string, { dtype: DType; bits: number; opaque?: true }> = new Map<string, { dtype: DType; bits: number; opaque?: true }>([
  ['BOOL', { dtype: 'bool' as DType, bits: 8 }],
  ['U8', { dtype: 'uint8' as DType, bits: 8 }],
  ['I8', { dtype: 'int8' as DType, bits: 8 }],
  ['F8_E5M2', { dtype: 'float8_e5m2' as DType, bits: 8 }],
  ['F8_E4M3', { dtype: 'float8_e4m3fn' as DType, bits: 8 }],
  ['I16', { dtype: 'int16' as DType, bits: 16 }],
  ['U16', { dtype: 'uint16' as DType, bits: 16 }],
  ['F16', { dtype: 'float16' as DType, bits: 16 }],
  ['BF16', { dtype: 'bfloat16' as DType, bits: 16 }],
  ['I32', { dtype: 'int32' as DType, bits: 32 }],
  ['U32', { dtype: 'uint32' as DType, bits: 32 }],
  ['F32', { dtype: 'float32' as DType, bits: 32 }],
  ['F64', { dtype: 'float64' as DType, bits: 64 }],
  ['I64', { dtype: 'int64' as DType, bits: 64 }],
  ['U64', { dtype: 'uint64' as DType, bits: 64 }],
  ['C64', { dtype: 'complex64' as DType, bits: 64 }],
  ['F4', { dtype: 'float4_e2m1fn' as DType, bits: 4, opaque: true as const }],
  ['F6_E2M3', { dtype: 'float6_e2m3fn' as DType, bits: 6, opaque: true as const }],
  ['F6_E3M2', { dtype: 'float6_e3m2fn' as DType, bits: 6, opaque: true as const }],
  ['F8_E8M0', { dtype: 'float8_e8m0fnu' as DType, bits: 8, opaque: true as const }],
]);

/** The safetensors reader. */
export const safetensorsReader: FormatReader = {
  id: 'safetensors',
  displayName: 'safetensors',
  sniff: sniffSafetensors,
  open: openSafetensors,
};

/** An 8-byte length that fits the file, followed by '{'; or the `.safetensors` name. Never throws. */
function sniffSafetensors(input: SniffInput): number | undefined {
  const byName = /\.safetensors$/i.test(input.fileName);
  if (input.head.length >= 9) {
    const n = new DataView(input.head.buffer, input.head.byteOffset, 8).getBigUint64(0, true);
    if (n >= 2n && n <= BigInt(maxSafetensorsHeaderBytes) && 8n + n <= BigInt(input.size) && input.head[8] === 0x7b) {
      return byName ? 100 : 85;
    }
  }
  return byName ? 50 : undefined;
}

/**
 * True when the local file at `hostPath` begins as a safetensors file does (a header length that
 * fits it, then '{'): every tensor it can read then has a rawSource. False when it cannot be read.
 */
export function isSafetensorsFile(hostPath: string): boolean {
  let fd: number | undefined;
  try {
    fd = openRegularFileSync(hostPath);
    const head = new Uint8Array(9);
    const got = fs.readSync(fd, head, 0, head.length, 0);
    const score = sniffSafetensors({ head: head.subarray(0, got), tail: new Uint8Array(0), size: fs.fstatSync(fd).size, fileName: '' });
    return score !== undefined && score >= 85;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) {
      fs.closeSync(fd);
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function quote(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** 'has no KEY' when the key is absent, else 'has KEY <value quoted>'. */
function has(key: string, v: unknown): string {
  return v === undefined ? `has no ${key}` : `has ${key} ${quote(v)}`;
}

/** One header entry, checked. */
interface Entry {
  name: string;
  dtypeName: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
  /** True once data_offsets parsed (the entry takes part in the tiling check). */
  located: boolean;
  /** True when the header gives no usable shape. */
  shapeUnknown?: boolean;
  error?: WeightFileError;
}

async function openSafetensors(source: ByteSource, _files: FileSet, options: OpenOptions = {}): Promise<WeightFile> {
  throwIfAborted(options.signal);
  const file = source.name;
  if (source.size < 8) {
    throw new WeightFileError('truncated', `${file}: ${source.size} bytes is too short for a safetensors file (an 8-byte header length comes first).`, { file });
  }
  const lenBytes = await source.read(0, 8);
  const n = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(maxSafetensorsHeaderBytes)) {
    throw new WeightFileError('tooLarge', `${file}: the header length field claims ${n} bytes, more than the ${maxSafetensorsHeaderBytes}-byte limit; not a safetensors file or damaged.`, {
      file,
      offset: 0,
    });
  }
  const headerLength = Number(n);
  if (8 + headerLength > source.size) {
    throw new WeightFileError('truncated', `${file}: the header length field claims ${headerLength} bytes but the file has only ${source.size - 8} after it.`, { file, offset: 0 });
  }
  const headerBytes = await source.read(8, headerLength);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new WeightFileError('corrupt', `${file}: the ${headerLength}-byte header is not UTF-8 text.`, { file, offset: 8 });
  }
  let header: unknown;
  try {
    header = parseFileJson(text.replace(/\0+$/, '')) as unknown;
  } catch (ex) {
    const detail = ex instanceof Error ? ex.message : String(ex);
    throw new WeightFileError('corrupt', `${file}: the header is not valid JSON (${detail}); it starts with ${quote(text.slice(0, 24))}.`, { file, offset: 8 });
  }
  if (!isObject(header)) {
    throw new WeightFileError('corrupt', `${file}: the header is ${quote(header)}, not a JSON object of tensors.`, { file, offset: 8 });
  }
  const dataStart = 8 + headerLength;
  const bufferLength = source.size - dataStart;
  const entries: Entry[] = [];
  let userMetadata: unknown;
  const names = Object.keys(header);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name === '__metadata__') {
      userMetadata = header[name];
      continue;
    }
    entries.push(parseEntry(file, name, header[name], bufferLength));
  }
  const warnings: FileWarning[] = [];
  // Tiling (Metadata::validate): sorted by offset, the first begins at 0, each begins where the previous ended, the last ends at the buffer's end.
  const located = entries.filter((e) => e.located).sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of located) {
    if (e.begin !== expected) {
      warnings.push({
        reason: 'corrupt',
        message: `${file}: tensor '${e.name}' starts at data byte ${e.begin} but the previous tensor ends at ${expected}; the tensors do not tile the data buffer (${e.begin > expected ? 'gap' : 'overlap'}).`,
        tensor: e.name,
      });
    }
    expected = Math.max(expected, e.end);
  }
  if (expected !== bufferLength) {
    warnings.push({ reason: 'corrupt', message: `${file}: the tensors end at data byte ${expected} but the data buffer has ${bufferLength} bytes.` });
  }
  if (userMetadata !== undefined && !isObject(userMetadata)) {
    warnings.push({ reason: 'corrupt', message: `${file}: '__metadata__' is ${quote(userMetadata)}, expected an object of strings.` });
  }
  for (const e of entries) {
    if (e.error) {
      warnings.push({ ...summarizeError(e.error), tensor: e.name });
    }
  }
  // File order: by data offset; entries without usable offsets last.
  const ordered = [...entries].sort((a, b) => (a.located ? a.begin : Number.MAX_SAFE_INTEGER) - (b.located ? b.begin : Number.MAX_SAFE_INTEGER));
  const tensors = ordered.map((e) => makeTensor(source, e, dataStart));
  const metadata: Record<string, unknown> = { headerLength, dataBytes: bufferLength };
  if (isObject(userMetadata)) {
    metadata.userMetadata = userMetadata;
    if (typeof userMetadata.format === 'string') {
      metadata.framework = userMetadata.format;
    }
  }
  return {
    format: 'safetensors',
    formatName: 'safetensors',
    path: file,
    tensors,
    layers: layersFromTensors(tensors),
    metadata,
    warnings,
    close: () => source.close(),
  };
}

/** True when `v` is an array of at most `maxLength` safe integers >= 0. */
function isIndexList(v: unknown, maxLength: number): v is number[] {
  if (!Array.isArray(v) || v.length > maxLength) {
    return false;
  }
  for (let i = 0; i < v.length; i++) {
    if (!Number.isSafeInteger(v[i]) || (v[i] as number) < 0) {
      return false;
    }
  }
  return true;
}

/** Marks `entry` as failed for `reason` (the rest of the file stays usable). */
function failEntry(entry: Entry, file: string, reason: 'corrupt' | 'truncated' | 'unsupportedDtype', message: string): Entry {
  entry.error = new WeightFileError(reason, `${file}: tensor '${entry.name}' ${message}`, { file, tensor: entry.name });
  return entry;
}

/** Checks one `{dtype, shape, data_offsets}` entry; problems are confined to this tensor. */
function parseEntry(file: string, name: string, raw: unknown, bufferLength: number): Entry {
  const entry: Entry = { name, dtypeName: '', dtype: 'variant', shape: [], begin: 0, end: 0, located: false };
  if (!isObject(raw)) {
    entry.shapeUnknown = true;
    return failEntry(entry, file, 'corrupt', `is ${quote(raw)}, expected {dtype, shape, data_offsets}.`);
  }
  // dtype and shape first: a tensor whose offsets are damaged is still listed as the header describes it.
  entry.dtypeName = typeof raw.dtype === 'string' ? raw.dtype : '';
  const info = safetensorsDtypes.get(entry.dtypeName);
  if (info) {
    entry.dtype = info.dtype;
  }
  const shape = raw.shape;
  const shapeOk = isIndexList(shape, maxRank);
  if (shapeOk) {
    entry.shape = shape;
  } else {
    entry.shapeUnknown = true;
  }
  const offsets = raw.data_offsets;
  if (!isIndexList(offsets, 2) || offsets.length !== 2 || offsets[0]! > offsets[1]!) {
    return failEntry(entry, file, 'corrupt', `${has('data_offsets', offsets)}, expected [begin, end] with 0 <= begin <= end.`);
  }
  entry.begin = offsets[0]!;
  entry.end = offsets[1]!;
  entry.located = true;
  if (!shapeOk) {
    return failEntry(entry, file, 'corrupt', `${has('shape', shape)}, expected a list of non-negative integers.`);
  }
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    count *= shape[i]!;
  }
  if (!Number.isSafeInteger(count)) {
    return failEntry(entry, file, 'corrupt', `has shape ${quote(shape)} with more elements than can be addressed.`);
  }
  if (!info) {
    return failEntry(entry, file, 'unsupportedDtype', raw.dtype === undefined ? 'has no dtype.' : `has dtype ${quote(raw.dtype)}, which is not a safetensors dtype.`);
  }
  const bytes = Math.ceil((count * info.bits) / 8);
  if (entry.end - entry.begin !== bytes) {
    return failEntry(entry, file, 'corrupt', `has data_offsets ${quote(offsets)} (${entry.end - entry.begin} bytes) but shape ${quote(shape)} of ${entry.dtypeName} needs ${bytes} bytes.`);
  }
  if (entry.end > bufferLength) {
    return failEntry(entry, file, 'truncated', `needs data bytes ${entry.begin}..${entry.end} but the data buffer has only ${bufferLength} bytes; the file might be truncated.`);
  }
  if (info.opaque) {
    return failEntry(entry, file, 'unsupportedDtype', `has dtype ${entry.dtypeName}, which Weightscope lists but cannot decode.`);
  }
  return entry;
}

/** Splits 'model.layers.0.mlp.up_proj.weight' or 'dense/kernel' into layer and short weight name. */
function splitTensorName(name: string): { layer: string; weight: string } {
  const at = name.includes('/') ? name.lastIndexOf('/') : name.lastIndexOf('.');
  return at > 0 ? { layer: name.slice(0, at), weight: name.slice(at + 1) } : { layer: '', weight: name };
}

/** Role from the short name; PyTorch 'weight' is a kernel (rank >= 2), a norm scale (rank 1) or an embedding table. */
function roleOf(layer: string, weight: string, rank: number): TensorRole {
  if (weight === 'weight') {
    if (/embed/i.test(layer) && rank === 2) {
      return 'embeddings';
    }
    return rank >= 2 ? 'kernel' : rank === 1 ? 'gamma' : 'other';
  }
  if (weight === 'running_var') {
    return 'moving_variance';
  }
  return roleFromWeightName(weight);
}

function makeTensor(source: ByteSource, e: Entry, dataStart: number): TensorInfo {
  const { layer, weight } = splitTensorName(e.name);
  const byteLength = e.end - e.begin;
  const error = e.error;
  return {
    name: e.name,
    layer,
    weight,
    role: roleOf(layer, weight, e.shape.length),
    group: 'model',
    dtype: e.dtype,
    storageDtype: e.dtype,
    shape: e.shape,
    ...(e.shapeUnknown ? { shapeUnknown: true } : {}),
    byteLength,
    ...(error ? { unavailable: summarizeError(error) } : {}),
    extra: { safetensorsDtype: e.dtypeName, dataOffsets: [e.begin, e.end], fileOffset: dataStart + e.begin },
    rawSource: () => (error || source.localPath === undefined ? undefined : { localPath: source.localPath, offset: dataStart + e.begin, byteLength }),
    readValues: (options?: ReadValuesOptions) => {
      if (error) {
        return failingValues(error);
      }
      return readSpanValues([{ source, offset: dataStart + e.begin, length: byteLength }], e.dtype, options);
    },
  };
}

async function* failingValues(error: WeightFileError): AsyncGenerator<never> {
  throw error;
}

/** Layers derived from tensor names, in first-appearance order. */
function layersFromTensors(tensors: readonly TensorInfo[]): WeightFile['layers'] {
  const layers = new Map<string, { name: string; tensors: string[] }>();
  for (const t of tensors) {
    if (t.layer === '') {
      continue;
    }
    let l = layers.get(t.layer);
    if (!l) {
      l = { name: t.layer, tensors: [] };
      layers.set(t.layer, l);
    }
    l.tensors.push(t.name);
  }
  return [...layers.values()];
}
