/**
 * The stable, JSON-safe report of one weight file: what `weightscope inspect --json` prints and
 * what "Export Report" writes. Schema documented in README.md ("JSON report").
 */
import { WeightFileError, type ErrorSummary } from '../core/errors';
import { countUnknownShapes, knownElementCount, type FileWarning, type QuantizationInfo, type TensorGroup, type TensorInfo, type TensorRole, type WeightFile } from '../core/model';
import { summarizeLayers, type LayerSummary } from './layerSummary';
import type { StatsResult, TensorStats } from './statsTypes';

/** Report version; bumped only on incompatible changes. */
export const reportSchemaVersion = 1;

/** One tensor in the report (`S`: its statistics; a table may keep only the few it shows). */
export interface TensorReport<S = TensorStats> {
  /** Full name in the file. */
  name: string;
  /** Layer name ('' when unknown). */
  layer: string;
  /** Role inside the layer ('kernel', 'bias', ...). */
  role: TensorRole;
  /** 'model', 'optimizer' or 'other'. */
  group: TensorGroup;
  /** Element type of the analysed values. */
  dtype: string;
  /** Element type as stored, when it differs from dtype (quantized tensors). */
  storageDtype?: string;
  /** Shape, [] for scalars; -1 for an unknown dimension, [] for an unknown rank (then shapeUnknown is set). */
  shape: number[];
  /** True when the file does not give the whole shape; absent when it does. */
  shapeUnknown?: boolean;
  /** Stored bytes. */
  byteLength: number;
  /** Quantization parameters, when the stored values are quantized. */
  quantization?: QuantizationInfo;
  /** Statistics; null when not computed (strings, unavailable tensors, --no-stats). */
  stats: S | null;
  /** Why the tensor could not be read or analysed, when it could not. */
  error?: ErrorSummary;
}

/** The report of one file. */
export interface FileReport<S = TensorStats> {
  /** Report schema version. */
  schemaVersion: number;
  /** Format id, e.g. 'keras-h5'. */
  format: string;
  /** Human-readable format name. */
  formatName: string;
  /** Path as given. */
  path: string;
  /** Model class from the architecture, when known. */
  modelClass?: string;
  /** Total parameter count: elements of all model-group tensors (layered or not) whose shape is known. */
  params: number;
  /** Model-group tensors of unknown shape, which `params` leaves out; absent when none. */
  unknownShapeTensors?: number;
  /** Total stored bytes of all tensors. */
  bytes: number;
  /** File-level metadata from the format. */
  metadata: Record<string, unknown>;
  /** Partial damage found while opening. */
  warnings: FileWarning[];
  /** Tensors in file order (after filtering). */
  tensors: TensorReport<S>[];
  /** Layers with parameter counts. */
  layers: LayerSummary[];
}

/** Which tensors a report covers. */
export interface ReportFilter {
  /** Only tensors of this group ('all' = every group). */
  group?: TensorGroup | 'all';
  /** Only tensors with exactly this name, or whose name contains it when no exact match exists. */
  tensor?: string;
}

/** Tensors of a file selected by a filter, in file order. */
export function selectTensors(file: WeightFile, filter: ReportFilter = {}): WeightFile['tensors'] {
  let tensors = file.tensors.filter((t) => !filter.group || filter.group === 'all' || t.group === filter.group);
  if (filter.tensor) {
    const exact = tensors.filter((t) => t.name === filter.tensor);
    tensors = exact.length > 0 ? exact : tensors.filter((t) => t.name.includes(filter.tensor!));
  }
  return tensors;
}

/** Builds the report from an opened file and the per-tensor results (missing results → stats null). */
export function buildFileReport<S = TensorStats>(file: WeightFile, results: ReadonlyMap<string, StatsResult<S>>, filter: ReportFilter = {}): FileReport<S> {
  const tensors = selectTensors(file, filter);
  const layers = summarizeLayers(file);
  const names = new Set(tensors.map((t) => t.name));
  const unknownShapes = countUnknownShapes(file.tensors);
  return {
    schemaVersion: reportSchemaVersion,
    format: file.format,
    formatName: file.formatName,
    path: file.path,
    ...(file.modelClass ? { modelClass: file.modelClass } : {}),
    params: file.tensors.filter((t) => t.group === 'model').reduce((s, t) => s + (knownElementCount(t) ?? 0), 0),
    ...(unknownShapes > 0 ? { unknownShapeTensors: unknownShapes } : {}),
    bytes: file.tensors.reduce((s, t) => s + t.byteLength, 0),
    metadata: { ...file.metadata },
    warnings: [...file.warnings],
    tensors: tensors.map((t) => tensorReport(t, results.get(t.name))),
    layers: filter.tensor || (filter.group && filter.group !== 'all')
      ? layers.map((l) => ({ ...l, tensors: l.tensors.filter((n) => names.has(n)) })).filter((l) => l.tensors.length > 0)
      : layers,
  };
}

/** The report of one tensor of a file, given its result (undefined: not analysed, stats null). */
export function tensorReport<S = TensorStats>(t: TensorInfo, r: StatsResult<S> | undefined): TensorReport<S> {
  const error = t.unavailable ?? (r && !r.ok ? r.error : undefined);
  return {
    ...tensorIdentity(t),
    byteLength: t.byteLength,
    ...(t.quantization ? { quantization: t.quantization } : {}),
    stats: r && r.ok ? r.stats : null,
    ...(error ? { error } : {}),
  };
}

/**
 * What reports and views say of a tensor before its numbers, in this order: name, layer, role,
 * group, dtype, the stored dtype when it differs (quantized tensors), shape (a copy) and whether it is unknown.
 */
export function tensorIdentity(t: TensorInfo): Pick<TensorReport, 'name' | 'layer' | 'role' | 'group' | 'dtype' | 'storageDtype' | 'shape' | 'shapeUnknown'> {
  return {
    name: t.name,
    layer: t.layer,
    role: t.role,
    group: t.group,
    dtype: t.dtype,
    ...(t.storageDtype !== t.dtype ? { storageDtype: t.storageDtype } : {}),
    shape: [...t.shape],
    ...(t.shapeUnknown ? { shapeUnknown: true } : {}),
  };
}

/**
 * Tallies the tensors of a report as they are written, for `unreadableError`: a file whose every
 * tensor failed (a missing shard, a file cut short) is unreadable, though it opened.
 */
export class ReadableTally {
  private count = 0;
  private failed = 0;
  private first: ErrorSummary | undefined;

  add(t: Pick<TensorReport<unknown>, 'error'>): void {
    this.count++;
    if (t.error) {
      this.failed++;
      if (!this.first || (this.first.reason === 'internal' && t.error.reason !== 'internal')) {
        this.first = t.error;
      }
    }
  }

  /**
   * The error for file `path` when it has tensors and none could be read, else undefined: a
   * WeightFileError with the first tensor's reason, or a plain Error (a bug) when every tensor
   * failed with an internal error.
   */
  unreadableError(path: string): Error | undefined {
    const first = this.first;
    if (this.count === 0 || this.failed < this.count || !first) {
      return undefined;
    }
    const what = this.count === 1 ? 'its one tensor' : `any of its ${this.count} tensors`;
    const cause = (first.message.startsWith(`${path}: `) ? first.message.slice(path.length + 2) : first.message).replace(/\.$/, '');
    const message = `${path}: could not read ${what} (${this.count === 1 ? '' : 'the first: '}${cause}).`;
    return first.reason === 'internal' ? new Error(message) : new WeightFileError(first.reason, message, { file: path });
  }
}
