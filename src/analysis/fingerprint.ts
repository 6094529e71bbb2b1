/**
 * Content fingerprints of tensors and models. A tensor's fingerprint is the SHA-256 of its
 * canonical bytes: a header with the analysed dtype and the shape, then the values little-endian
 * in the dtype's canonical width (float16/bfloat16/float8 widened to float32, 64-bit integers to
 * float64 — both exact, see src/core/dtypes.ts). It does not depend on the file format, the
 * tensor's name, quantization storage or sharding, so the same weights saved as Keras `.h5` and
 * as TF.js get the same fingerprint. A model's fingerprint hashes the sorted fingerprints of its
 * model-group tensors (names excluded: a renamed layer keeps the model's identity).
 */
import { createHash, type Hash } from 'node:crypto';
import { isNumericDType, type DType, type NumericArray } from '../core/dtypes';
import { summarizeError, throwIfAborted, type ErrorSummary } from '../core/errors';
import type { TensorInfo, WeightFile } from '../core/model';

/** Version tag hashed into every fingerprint; bumped when the canonical bytes change. */
export const fingerprintVersion = 'weightscope-fp-v1';

/** Typed-array constructors that values of each dtype are canonically encoded as. */
type CanonicalArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** The canonical typed-array kind of a dtype's values. */
function canonicalKind(dtype: DType): 'f32' | 'f64' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' {
  switch (dtype) {
    case 'float64':
    case 'int64':
    case 'uint64':
    case 'complex128':
      return 'f64';
    case 'int8':
    case 'int4':
      return 'i8';
    case 'uint8':
    case 'uint4':
    case 'bool':
      return 'u8';
    case 'int16':
      return 'i16';
    case 'uint16':
      return 'u16';
    case 'int32':
      return 'i32';
    case 'uint32':
      return 'u32';
    default:
      return 'f32';
  }
}

/** Returns `values` as the canonical typed array of `dtype` (a view when it already is one). */
function toCanonical(values: NumericArray, kind: ReturnType<typeof canonicalKind>): CanonicalArray {
  switch (kind) {
    case 'f32':
      return values instanceof Float32Array ? values : Float32Array.from(values);
    case 'f64':
      return values instanceof Float64Array ? values : Float64Array.from(values);
    case 'i8':
      return values instanceof Int8Array ? values : Int8Array.from(values);
    case 'u8':
      return values instanceof Uint8Array ? values : Uint8Array.from(values);
    case 'i16':
      return values instanceof Int16Array ? values : Int16Array.from(values);
    case 'u16':
      return values instanceof Uint16Array ? values : Uint16Array.from(values);
    case 'i32':
      return values instanceof Int32Array ? values : Int32Array.from(values);
    case 'u32':
      return values instanceof Uint32Array ? values : Uint32Array.from(values);
  }
}

/** Incremental SHA-256 of one tensor's canonical bytes: feed chunks in row-major order. */
export class TensorHasher {
  private readonly hash: Hash;
  private readonly kind: ReturnType<typeof canonicalKind>;

  /** Starts the hash with the header (version, dtype, shape). */
  constructor(dtype: DType, shape: readonly number[]) {
    this.kind = canonicalKind(dtype);
    this.hash = createHash('sha256');
    this.hash.update(`${fingerprintVersion}\0tensor\0${dtype}\0${shape.join(',')}\0`);
  }

  /** Adds the next chunk of values (little-endian host byte order, as on every Node platform). */
  update(values: NumericArray): void {
    const c = toCanonical(values, this.kind);
    this.hash.update(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
  }

  /** The fingerprint as 64 lowercase hex digits. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** Fingerprint of one tensor, streaming its values. Throws what readValues throws. */
export async function fingerprintTensor(
  tensor: Pick<TensorInfo, 'dtype' | 'shape' | 'readValues'>,
  options: { signal?: AbortSignal; chunkElements?: number } = {},
): Promise<string> {
  const h = new TensorHasher(tensor.dtype, tensor.shape);
  for await (const chunk of tensor.readValues(options)) {
    throwIfAborted(options.signal);
    h.update(chunk);
  }
  return h.digest();
}

/** Fingerprint of a model from its tensors' fingerprints (order does not matter). */
export function fingerprintModel(tensorFingerprints: Iterable<string>): string {
  const sorted = [...tensorFingerprints].sort();
  const h = createHash('sha256');
  h.update(`${fingerprintVersion}\0model\0${sorted.length}\0`);
  h.update(sorted.join('\n'));
  return h.digest('hex');
}

/** One tensor's fingerprint or why it has none. */
export interface TensorFingerprint {
  /** Tensor name in the file. */
  name: string;
  /** Model weights, optimizer state or other. */
  group: TensorInfo['group'];
  /** SHA-256 hex of the canonical bytes; absent when the tensor cannot be read. */
  fingerprint?: string;
  /** Why there is no fingerprint (unavailable, damaged or non-numeric tensor). */
  error?: ErrorSummary;
}

/** Fingerprints of a whole file. */
export interface FileFingerprint {
  /** Model fingerprint over the model-group tensors (all tensors when none is marked as model). */
  model: string;
  /** How many tensors went into the model fingerprint. */
  modelTensorCount: number;
  /** True when some model tensor could not be read, so `model` covers only the readable ones. */
  partial: boolean;
  /** Every tensor's fingerprint, in file order. */
  tensors: TensorFingerprint[];
}

/** The tensors a model fingerprint covers: the model group, or every tensor when none is marked. */
export function modelTensors<T extends Pick<TensorInfo, 'group' | 'dtype'>>(tensors: readonly T[]): T[] {
  const numeric = tensors.filter((t) => isNumericDType(t.dtype));
  const model = numeric.filter((t) => t.group === 'model');
  return model.length > 0 ? model : numeric;
}

/**
 * Fingerprints every tensor of a file and the model. `known` supplies fingerprints already
 * computed (by tensor name) so those tensors are not read again.
 */
export async function fingerprintFile(
  file: WeightFile,
  options: { signal?: AbortSignal; known?: ReadonlyMap<string, string>; onTensor?: (fp: TensorFingerprint) => void } = {},
): Promise<FileFingerprint> {
  const tensors: TensorFingerprint[] = [];
  for (const t of file.tensors) {
    throwIfAborted(options.signal);
    let fp: TensorFingerprint;
    if (t.unavailable) {
      fp = { name: t.name, group: t.group, error: t.unavailable };
    } else if (!isNumericDType(t.dtype)) {
      fp = { name: t.name, group: t.group, error: { reason: 'unsupportedDtype', message: `Tensor '${t.name}' has dtype '${t.dtype}', which has no numeric values.` } };
    } else {
      const known = options.known?.get(t.name);
      try {
        fp = { name: t.name, group: t.group, fingerprint: known ?? (await fingerprintTensor(t, options)) };
      } catch (ex) {
        if (options.signal?.aborted) {
          throw ex;
        }
        fp = { name: t.name, group: t.group, error: summarizeError(ex) };
      }
    }
    tensors.push(fp);
    options.onTensor?.(fp);
  }
  return summarizeFingerprints(file.tensors, tensors);
}

/** Builds the FileFingerprint from per-tensor fingerprints (same order as `infos`). */
export function summarizeFingerprints(infos: readonly Pick<TensorInfo, 'name' | 'group' | 'dtype'>[], tensors: TensorFingerprint[]): FileFingerprint {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const covered = modelTensors(infos).map((t) => byName.get(t.name));
  const fps = covered.flatMap((t) => (t?.fingerprint ? [t.fingerprint] : []));
  return { model: fingerprintModel(fps), modelTensorCount: fps.length, partial: fps.length < covered.length, tensors };
}

/**
 * A file's model fingerprint for display, or undefined when it covers no tensor (none could be read,
 * or the file holds no numeric tensor): the hash of nothing is the same for every such file.
 */
export function fingerprintedModel(fp: Pick<FileFingerprint, 'model' | 'modelTensorCount'>): string | undefined {
  return fp.modelTensorCount > 0 ? fp.model : undefined;
}

/** A file's model fingerprint as grouping input: `key` identifies the file (a path, a URI). */
export interface KeyedModelFingerprint<K> {
  /** The file. */
  key: K;
  /** Its model fingerprint. */
  model: string;
  /** Tensors the fingerprint covers. */
  modelTensorCount: number;
  /** True when some model tensor could not be read. */
  partial: boolean;
}

/** Files with equal model fingerprints. */
export interface FingerprintGroup<K> {
  /** The shared model fingerprint. */
  fingerprint: string;
  /** The files, in input order (at least two). */
  keys: K[];
}

/**
 * Groups files by equal model fingerprints: only groups of two or more, in order of first
 * appearance. Partial fingerprints (unreadable tensors) and fingerprints over no tensor at all
 * say nothing about the weights being the same and are left out; a key listed twice counts once.
 */
export function groupByModelFingerprint<K>(items: Iterable<KeyedModelFingerprint<K>>, keyId: (key: K) => string = String): FingerprintGroup<K>[] {
  const groups = new Map<string, { keys: K[]; ids: Set<string> }>();
  for (const it of items) {
    if (it.partial || it.modelTensorCount === 0) {
      continue;
    }
    let g = groups.get(it.model);
    if (!g) {
      g = { keys: [], ids: new Set() };
      groups.set(it.model, g);
    }
    const id = keyId(it.key);
    if (!g.ids.has(id)) {
      g.ids.add(id);
      g.keys.push(it.key);
    }
  }
  return [...groups].filter(([, g]) => g.keys.length > 1).map(([fingerprint, g]) => ({ fingerprint, keys: g.keys }));
}

/** The short form of a fingerprint shown in tables and trees (the first 12 hex digits). */
export function shortFingerprint(fingerprint: string): string {
  return fingerprint.slice(0, 12);
}
