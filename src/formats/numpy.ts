/**
 * NumPy `.npy` (one array) and `.npz` (a ZIP of `.npy` members, from np.savez / np.savez_compressed).
 * `.npy` layout (numpy/lib/format.py, NEP 1): magic `\x93NUMPY`, u8 major, u8 minor, header length
 * (u16 LE in v1.0, u32 LE in v2.0/v3.0), a Python dict literal `{'descr': '<f4', 'fortran_order':
 * False, 'shape': (2, 3), }` padded with spaces and ending in '\n' (latin-1 in v1/v2, UTF-8 in v3),
 * then the raw array bytes. `.npz` members are read through src/core/zip.ts (STORED in place,
 * DEFLATED inflated in streaming chunks).
 */
import type { ByteSource, FileSet } from '../core/byteSource';
import type { DType, NumericArray } from '../core/dtypes';
import { summarizeError, throwIfAborted, WeightFileError, type WeightFileErrorReason } from '../core/errors';
import type { FileWarning, LayerInfo, ReadValuesOptions, TensorInfo, WeightFile } from '../core/model';
import { defaultChunkElements, readSpanValues } from '../core/tensorData';
import { looksLikeZip, openZipEntry, readZipDirectory, zipMethodDeflated, zipMethodStored, type ZipEntry } from '../core/zip';
import type { FormatReader, OpenOptions, SniffInput } from './formatReader';
import { roleFromWeightName, splitWeightName } from './kerasConfig';

/** Largest `.npy` header accepted, in bytes (numpy itself refuses headers above 10,000 bytes unless told otherwise). */
const maxNpyHeaderBytes = 1024 * 1024;

/** Largest rank accepted for an array shape. */
const maxRank = 64;

const npyMagic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The parsed header of one `.npy` stream. */
export interface NpyHeader {
  /** Format version, e.g. '1.0'. */
  version: string;
  /** The `descr` string, e.g. '<f4'. */
  descr: string;
  /** Element type; undefined when the descr is not a numeric type Weightscope decodes. */
  dtype?: DType;
  /** True when the bytes are big-endian. */
  bigEndian: boolean;
  /** True for column-major (Fortran-order) data. */
  fortranOrder: boolean;
  /** Array shape; [] for a 0-d array. */
  shape: number[];
  /** Offset of the array bytes from the start of the `.npy` stream. */
  dataOffset: number;
  /** Bytes per element (for `descr` types of fixed size), else undefined. */
  itemSize?: number;
}

/** `descr` kind+size → DType (numpy typestr: kind letter and byte count). */
const descrTypes: ReadonlyMap<string, DType> = new Map<string, DType>([
  ['b1', 'bool'],
  ['i1', 'int8'],
  ['u1', 'uint8'],
  ['i2', 'int16'],
  ['u2', 'uint16'],
  ['i4', 'int32'],
  ['u4', 'uint32'],
  ['i8', 'int64'],
  ['u8', 'uint64'],
  ['f2', 'float16'],
  ['f4', 'float32'],
  ['f8', 'float64'],
  ['c8', 'complex64'],
  ['c16', 'complex128'],
]);

/** The `.npy` reader. */
export const npyReader: FormatReader = {
  id: 'npy',
  displayName: 'NumPy array (.npy)',
  sniff: (input: SniffInput) => (startsWithMagic(input.head) ? 100 : /\.npy$/i.test(input.fileName) ? 50 : undefined),
  open: openNpy,
};

/** The `.npz` reader. */
export const npzReader: FormatReader = {
  id: 'npz',
  displayName: 'NumPy archive (.npz)',
  sniff: sniffNpz,
  open: openNpz,
};

function startsWithMagic(head: Uint8Array): boolean {
  return head.length >= 6 && npyMagic.every((b, i) => head[i] === b);
}

/** A ZIP named `.npz`, or a ZIP whose first member is a `.npy` file. Never throws. */
function sniffNpz(input: SniffInput): number | undefined {
  const byName = /\.npz$/i.test(input.fileName);
  if (!looksLikeZip(input.head)) {
    return byName ? 50 : undefined;
  }
  if (byName) {
    return 100;
  }
  // First local header: name length at 26, name at 30 (APPNOTE 4.3.7).
  if (input.head.length >= 30) {
    const nameLength = input.head[26]! | (input.head[27]! << 8);
    const name = new TextDecoder('latin1').decode(input.head.subarray(30, 30 + nameLength));
    if (name.endsWith('.npy')) {
      return 90;
    }
  }
  return undefined;
}

/** Python literal values that appear in `.npy` headers. */
type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** Parses the Python dict literal of a `.npy` header (strings, ints, True/False/None, tuples, lists, dicts). */
export function parsePythonLiteral(text: string): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at character ${i} near ${JSON.stringify(text.slice(Math.max(0, i - 8), i + 12))}`);
  };
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) {
      i++;
    }
  };
  let depth = 0;
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === '{' || c === '(' || c === '[') {
      if (++depth > 32) {
        fail('nesting too deep');
      }
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      i++;
      const items: PyValue[] = [];
      const dict: { [key: string]: PyValue } = {};
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          break;
        }
        const item = value();
        if (c === '{') {
          ws();
          if (text[i] !== ':') {
            fail("expected ':'");
          }
          i++;
          if (typeof item !== 'string') {
            fail('dict keys must be strings');
          }
          dict[item as string] = value();
        } else {
          items.push(item);
        }
        ws();
        if (text[i] === ',') {
          i++;
        } else if (text[i] !== close) {
          fail(`expected ',' or '${close}'`);
        }
      }
      depth--;
      return c === '{' ? dict : items;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) {
        fail('unterminated string');
      }
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 32));
    if (!m) {
      return fail('unexpected token');
    }
    i += m[0].length;
    return m[0] === 'True' ? true : m[0] === 'False' ? false : m[0] === 'None' ? null : Number(m[0].replace(/L$/, ''));
  };
  const result = value();
  ws();
  if (i < text.length) {
    fail('unexpected text after the header dict');
  }
  return result;
}

/**
 * Reads and checks a `.npy` header from a source. Throws WeightFileError (`unrecognized` without
 * the magic, `truncated`, `corrupt` for a bad dict, `tooLarge` for an absurd header length).
 */
export async function readNpyHeader(source: ByteSource): Promise<NpyHeader> {
  const file = source.name;
  if (source.size < 10) {
    throw new WeightFileError('truncated', `${file}: ${source.size} bytes is too short for a .npy file (at least 10 header bytes).`, { file });
  }
  const pre = await source.read(0, 12 <= source.size ? 12 : 10);
  if (!startsWithMagic(pre)) {
    const hex = [...pre.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new WeightFileError('unrecognized', `${file}: not a .npy file (starts with bytes ${hex}, expected 93 4e 55 4d 50 59 = \\x93NUMPY).`, { file });
  }
  const major = pre[6]!;
  const minor = pre[7]!;
  if (major < 1 || major > 3) {
    throw new WeightFileError('unsupportedFormat', `${file}: .npy format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are).`, { file, offset: 6 });
  }
  const view = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
  // Header length: u16 at 8 (v1), u32 at 8 (v2, v3).
  if (major >= 2 && pre.length < 12) {
    throw new WeightFileError('truncated', `${file}: the .npy ${major}.${minor} header length is cut short.`, { file, offset: 8 });
  }
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (headerLength > maxNpyHeaderBytes) {
    throw new WeightFileError('tooLarge', `${file}: the .npy header claims ${headerLength} bytes, more than the ${maxNpyHeaderBytes}-byte limit.`, { file, offset: 8 });
  }
  if (headerStart + headerLength > source.size) {
    throw new WeightFileError('truncated', `${file}: the .npy header claims ${headerLength} bytes but only ${source.size - headerStart} follow.`, { file, offset: 8 });
  }
  const raw = await source.read(headerStart, headerLength);
  const text = new TextDecoder(major >= 3 ? 'utf-8' : 'latin1').decode(raw);
  let dict: PyValue;
  try {
    dict = parsePythonLiteral(text.replace(/[\s\0]+$/, ''));
  } catch (ex) {
    throw new WeightFileError('corrupt', `${file}: the .npy header ${quoteHeader(text)} is not a Python dict literal (${ex instanceof Error ? ex.message : String(ex)}).`, {
      file,
      offset: headerStart,
    });
  }
  if (typeof dict !== 'object' || dict === null || Array.isArray(dict)) {
    throw new WeightFileError('corrupt', `${file}: the .npy header ${quoteHeader(text)} is not a dict.`, { file, offset: headerStart });
  }
  // numpy's read_array_header refuses a header without all three keys.
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!Object.hasOwn(dict, key)) {
      throw new WeightFileError('corrupt', `${file}: the .npy header ${quoteHeader(text)} has no '${key}' key.`, { file, offset: headerStart });
    }
  }
  const { descr, fortran_order: fortran, shape } = dict;
  if (Array.isArray(shape) && shape.length > maxRank) {
    throw new WeightFileError('corrupt', `${file}: the .npy header has a shape of ${shape.length} dimensions, more than the ${maxRank} Weightscope reads.`, { file, offset: headerStart });
  }
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    // A flat tuple is quoted as written: a number past 2^53 would be shown rounded.
    const written = Array.isArray(shape) ? /['"]shape['"]\s*:\s*(\([^()]*\))/.exec(text)?.[1] : undefined;
    throw new WeightFileError('corrupt', `${file}: the .npy header has shape ${clip(written ?? JSON.stringify(shape) ?? String(shape))}, expected a tuple of non-negative integers.`, {
      file,
      offset: headerStart,
    });
  }
  if (typeof fortran !== 'boolean') {
    throw new WeightFileError('corrupt', `${file}: the .npy header has fortran_order ${JSON.stringify(fortran)}, expected True or False.`, { file, offset: headerStart });
  }
  const header: NpyHeader = {
    version: `${major}.${minor}`,
    descr: typeof descr === 'string' ? descr : JSON.stringify(descr),
    bigEndian: false,
    fortranOrder: fortran,
    shape: shape as number[],
    dataOffset: headerStart + headerLength,
  };
  if (typeof descr === 'string') {
    // typestr: byte order ('<' little, '>' big, '|' n/a, '=' native), kind letter, size in bytes.
    const m = /^([<>|=]?)([biufcSUV])(\d+)$/.exec(descr);
    if (m) {
      header.bigEndian = m[1] === '>';
      header.itemSize = Number(m[3]) * (m[2] === 'U' ? 4 : 1);
      const dtype = descrTypes.get(`${m[2]}${m[3]}`);
      if (dtype) {
        header.dtype = dtype;
      }
    }
  }
  return header;
}

/** Header text quoted for a message: trailing padding dropped, at most 60 characters. */
function quoteHeader(text: string): string {
  return JSON.stringify(clip(text.replace(/[\s\0]+$/, '')));
}

/** At most 60 characters of `text` (then '...'), for a message. */
function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

/** Builds the TensorInfo of one array, with problems confined to it. */
function makeArrayTensor(
  name: string,
  source: ByteSource | undefined,
  header: NpyHeader | undefined,
  error: WeightFileError | undefined,
  extra: Record<string, unknown>,
  randomAccess = false,
): TensorInfo {
  const { layer, weight } = name.includes('/') ? splitWeightName(name) : { layer: '', weight: name };
  const shape = header?.shape ?? [];
  const count = shape.reduce((a, d) => a * d, 1);
  // A descr Weightscope cannot decode (objects, records, datetimes, float128) is an opaque 'variant'.
  const dtype: DType = header?.dtype ?? (header && /^[<>|=]?[SU]\d+$/.test(header.descr) ? 'string' : 'variant');
  const byteLength = header?.itemSize !== undefined ? count * header.itemSize : 0;
  let problem = error;
  if (!problem && header && source) {
    if (!header.dtype && dtype !== 'string') {
      problem = new WeightFileError('unsupportedDtype', `${source.name}: array '${name}' has descr ${JSON.stringify(header.descr)}, which Weightscope cannot decode.`, {
        file: source.name,
        tensor: name,
      });
    } else if (isFortran(header) && byteLength > fortranHoldBytes && !(randomAccess && shape.length === 2)) {
      problem = new WeightFileError(
        'unsupportedFormat',
        `${source.name}: array '${name}' of shape (${shape.join(', ')}) is stored in Fortran (column-major) order and is too large to reorder here (over ${fortranHoldBytes / 2 ** 20} MiB${shape.length === 2 ? ' in a compressed archive' : ' with more than 2 dimensions'}); save it with np.ascontiguousarray.`,
        { file: source.name, tensor: name },
      );
    } else if (!Number.isSafeInteger(byteLength)) {
      problem = new WeightFileError('corrupt', `${source.name}: array '${name}' has shape (${shape.join(', ')}) whose byte size is not representable.`, { file: source.name, tensor: name });
    } else if (header.dataOffset + byteLength > source.size) {
      problem = new WeightFileError(
        'truncated',
        `${source.name}: array '${name}' needs ${byteLength} data bytes after its header but only ${source.size - header.dataOffset} are stored; the file might be truncated.`,
        { file: source.name, tensor: name, offset: header.dataOffset },
      );
    }
  }
  const frozen = problem;
  return {
    name,
    layer,
    weight,
    role: roleFromWeightName(weight),
    group: 'model',
    dtype,
    storageDtype: dtype,
    shape,
    // No byte count for a shape whose size is not representable (it would be summed into the file's size).
    byteLength: Number.isSafeInteger(byteLength) ? byteLength : 0,
    ...(frozen ? { unavailable: summarizeError(frozen) } : {}),
    extra: { ...extra, ...(header ? { descr: header.descr, npyVersion: header.version, fortranOrder: header.fortranOrder } : {}) },
    readValues: (options?: ReadValuesOptions) => {
      if (frozen || !header || !source) {
        return failing(frozen ?? new WeightFileError('corrupt', `${source?.name ?? name}: array '${name}' has no readable header.`, { tensor: name }));
      }
      if (dtype === 'string') {
        return failing(new WeightFileError('unsupportedDtype', `${source.name}: array '${name}' holds strings, which are listed but not analysed.`, { file: source.name, tensor: name }));
      }
      if (isFortran(header)) {
        return readFortranValues(source, header, dtype, byteLength, options);
      }
      return readSpanValues([{ source, offset: header.dataOffset, length: byteLength }], dtype, { ...options, littleEndian: !header.bigEndian });
    },
  };
}

/** True when the stored order differs from row-major: Fortran order with more than one dimension above 1. */
function isFortran(header: NpyHeader): boolean {
  return header.fortranOrder && header.shape.filter((d) => d !== 1).length > 1;
}

/** Largest Fortran-order array reordered in memory; larger 2-D arrays are read a block of rows at a time. */
const fortranHoldBytes = 256 * 1024 * 1024;

/**
 * The values of a Fortran-order (column-major) array in row-major order, as every reader yields
 * them: up to `holdBytes` the array is read once and reordered in memory; a larger 2-D one
 * (rows x cols) a block of rows at a time, each block one read of its part of every column.
 */
export async function* readFortranValues(
  source: ByteSource,
  header: NpyHeader,
  dtype: DType,
  byteLength: number,
  options: ReadValuesOptions = {},
  holdBytes = fortranHoldBytes,
): AsyncGenerator<NumericArray> {
  const shape = header.shape;
  const count = shape.reduce((a, d) => a * d, 1);
  const item = byteLength / Math.max(1, count);
  const read = { signal: options.signal, littleEndian: !header.bigEndian };
  const chunk = Math.max(1, Math.floor(options.chunkElements ?? defaultChunkElements));
  if (byteLength <= holdBytes || shape.length !== 2) {
    const stored = await readAll(readSpanValues([{ source, offset: header.dataOffset, length: byteLength }], dtype, read), count);
    if (!stored) {
      return;
    }
    // Odometer over the row-major index (last dimension fastest), with the element's Fortran offset.
    const strides = shape.map((_, k) => shape.slice(0, k).reduce((a, d) => a * d, 1));
    const index = shape.map(() => 0);
    let at = 0;
    for (let done = 0; done < count; ) {
      throwIfAborted(options.signal);
      const out = newLike(stored, Math.min(chunk, count - done));
      for (let j = 0; j < out.length; j++) {
        out[j] = stored[at]!;
        let k = shape.length - 1;
        index[k]!++;
        at += strides[k]!;
        while (k > 0 && index[k] === shape[k]) {
          at -= strides[k]! * shape[k]!;
          index[k] = 0;
          k--;
          index[k]!++;
          at += strides[k]!;
        }
      }
      done += out.length;
      yield out;
    }
    return;
  }
  // A large rows x cols array: rows [r, r + n) are, in the file, n values of each column in turn.
  const [rows, cols] = shape as [number, number];
  const blockRows = Math.max(1, Math.floor(chunk / cols));
  for (let r = 0; r < rows; r += blockRows) {
    const n = Math.min(blockRows, rows - r);
    const spans = Array.from({ length: cols }, (_, c) => ({ source, offset: header.dataOffset + (c * rows + r) * item, length: n * item }));
    const block = await readAll(readSpanValues(spans, dtype, read), n * cols);
    if (!block) {
      return;
    }
    const out = newLike(block, n * cols);
    for (let c = 0; c < cols; c++) {
      for (let i = 0; i < n; i++) {
        out[i * cols + c] = block[c * n + i]!;
      }
    }
    yield out;
  }
}

/** The chunks of `values` in one array of their kind, `count` long (undefined when there are none). */
async function readAll(values: AsyncIterable<NumericArray>, count: number): Promise<NumericArray | undefined> {
  let all: NumericArray | undefined;
  let at = 0;
  for await (const chunk of values) {
    all ??= newLike(chunk, count);
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** A new zeroed array of the same kind as `like`. */
function newLike(like: NumericArray, length: number): NumericArray {
  return new (like.constructor as new (n: number) => NumericArray)(length);
}

async function* failing(error: WeightFileError): AsyncGenerator<never> {
  throw error;
}

function layersOf(tensors: readonly TensorInfo[]): LayerInfo[] {
  const layers = new Map<string, LayerInfo>();
  for (const t of tensors) {
    if (t.layer !== '') {
      const l = layers.get(t.layer) ?? { name: t.layer, tensors: [] };
      l.tensors.push(t.name);
      layers.set(t.layer, l);
    }
  }
  return [...layers.values()];
}

async function openNpy(source: ByteSource, _files: FileSet, options: OpenOptions = {}): Promise<WeightFile> {
  throwIfAborted(options.signal);
  const header = await readNpyHeader(source);
  const base = source.name.split(/[\\/]/).pop() ?? source.name;
  const name = base.replace(/\.npy$/i, '') || base;
  const tensor = makeArrayTensor(name, source, header, undefined, {}, true);
  const warnings: FileWarning[] = tensor.unavailable ? [{ ...tensor.unavailable, tensor: name }] : [];
  return {
    format: 'npy',
    formatName: `NumPy array (.npy ${header.version})`,
    path: source.name,
    tensors: [tensor],
    layers: [],
    metadata: { npyVersion: header.version, descr: header.descr, fortranOrder: header.fortranOrder },
    warnings,
    close: () => source.close(),
  };
}

async function openNpz(source: ByteSource, _files: FileSet, options: OpenOptions = {}): Promise<WeightFile> {
  throwIfAborted(options.signal);
  const entries = await readZipDirectory(source);
  const warnings: FileWarning[] = [];
  const tensors: TensorInfo[] = [];
  const members: ByteSource[] = [];
  let compressed = 0;
  for (const entry of entries) {
    throwIfAborted(options.signal);
    if (entry.isDirectory) {
      continue;
    }
    if (!entry.name.endsWith('.npy')) {
      warnings.push({ reason: 'unrecognized', message: `${source.name}: the member '${entry.name}' is not a .npy array and is skipped.` });
      continue;
    }
    if (entry.method === zipMethodDeflated) {
      compressed++;
    }
    const name = entry.name.slice(0, -4);
    const tensor = await openMember(source, entry, name, members);
    if (tensor.unavailable) {
      warnings.push({ ...tensor.unavailable, tensor: name });
    }
    tensors.push(tensor);
  }
  return {
    format: 'npz',
    formatName: compressed > 0 ? 'NumPy archive (.npz, compressed)' : 'NumPy archive (.npz)',
    path: source.name,
    tensors,
    layers: layersOf(tensors),
    metadata: { members: entries.length, compressedMembers: compressed },
    warnings,
    close: async () => {
      await Promise.all([source, ...members].map((m) => m.close()));
    },
  };
}

/** Opens one `.npz` member and reads its `.npy` header; damage stays on this array. */
async function openMember(source: ByteSource, entry: ZipEntry, name: string, members: ByteSource[]): Promise<TensorInfo> {
  const extra = { zipMember: entry.name, zipMethod: entry.method, compressedSize: entry.compressedSize };
  try {
    const member = await openZipEntry(source, entry);
    members.push(member);
    const header = await readNpyHeader(member);
    // Release the inflater state (if any) until values are read.
    await member.close();
    return makeArrayTensor(name, member, header, undefined, extra, entry.method === zipMethodStored);
  } catch (ex) {
    if (!WeightFileError.is(ex) || ex.reason === 'cancelled') {
      throw ex;
    }
    const reason: WeightFileErrorReason = ex.reason;
    const err = new WeightFileError(reason, ex.message.startsWith(source.name) ? ex.message : `${source.name}: member '${entry.name}': ${ex.message}`, {
      file: source.name,
      tensor: name,
    });
    return makeArrayTensor(name, undefined, undefined, err, extra);
  }
}
