/**
 * Maps an opened WeightFile and its statistics to the JSON-safe DTOs of the weights panel and to
 * the health problems the tree and the panel show. No `vscode` import: unit-tested in plain Node.
 */
import { summarizeLayers } from '../analysis/layerSummary';
import { tensorIdentity } from '../analysis/report';
import type { TensorResult } from '../analysis/statsPool';
import type { TensorStats } from '../analysis/statsTypes';
import { countUnknownShapes, knownElementCount, type TensorInfo, type WeightFile } from '../core/model';
import type {
  AnalysisStatusDto,
  FactDto,
  FingerprintStatusDto,
  LayerRowDto,
  ModelSnapshotDto,
  ModelSummaryDto,
  TensorDetailDto,
  TensorIssueDto,
  TensorRowDto,
  TensorRowStatsDto,
} from '../protocol/weightsPanel';

/** Roles whose values are legitimately all zero (freshly initialised biases, BN shifts/means). */
const zeroOkRoles: ReadonlySet<string> = new Set(['bias', 'beta', 'moving_mean', 'step', 'optimizer_state']);

/** Largest metadata value rendered as a fact, in characters. */
const maxFactChars = 120;

/** The table's summary of full stats. */
export function toRowStats(s: TensorStats): TensorRowStatsDto {
  return {
    count: s.count,
    mean: s.mean,
    std: s.std,
    min: s.min,
    max: s.max,
    zeroFraction: s.count > 0 ? s.zeroCount / s.count : 0,
    nonFiniteCount: s.nanCount + s.posInfCount + s.negInfCount,
  };
}

/** Health problems of one tensor given what is known so far (result absent: not analysed yet). */
export function tensorIssues(t: TensorInfo, result: TensorResult | undefined): TensorIssueDto[] {
  if (t.unavailable) {
    return [{ kind: 'unavailable', severity: 'error', message: t.unavailable.message }];
  }
  if (!result) {
    return [];
  }
  if (!result.ok) {
    return [{ kind: 'analysisFailed', severity: 'error', message: result.error.message }];
  }
  const s = result.stats;
  const issues: TensorIssueDto[] = [];
  const nonFinite = s.nanCount + s.posInfCount + s.negInfCount;
  if (nonFinite > 0) {
    issues.push({
      kind: 'nonFinite',
      severity: 'warning',
      message: `${nonFinite} of ${s.count} values are not finite (NaN ${s.nanCount}, +Inf ${s.posInfCount}, -Inf ${s.negInfCount}).`,
    });
  }
  if (s.count > 1 && s.zeroCount === s.count && t.group === 'model' && !zeroOkRoles.has(t.role)) {
    issues.push({ kind: 'allZero', severity: 'warning', message: `All ${s.count} values are zero.` });
  }
  return issues;
}

/** One table row (`fingerprint`: the tensor's content fingerprint, when computed). */
export function toTensorRow(t: TensorInfo, result: TensorResult | undefined, fingerprint?: string): TensorRowDto {
  return {
    ...tensorIdentity(t),
    params: knownElementCount(t) ?? null,
    byteLength: t.byteLength,
    ...(result?.ok ? { stats: toRowStats(result.stats) } : {}),
    issues: tensorIssues(t, result),
    ...(fingerprint !== undefined ? { fingerprint } : {}),
  };
}

/** Renders a metadata value as a short line of text, or undefined when it is not worth a line. */
function factValue(v: unknown): string | undefined {
  if (v === null || v === undefined) {
    return undefined;
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
    const s = String(v);
    return s.length > maxFactChars ? `${s.slice(0, maxFactChars - 1)}…` : s;
  }
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) {
    const s = v.join(', ');
    return s.length > maxFactChars ? `${s.slice(0, maxFactChars - 1)}…` : s;
  }
  return undefined;
}

/** The summary header of an opened file. */
export function toSummary(file: WeightFile, layerCount: number): ModelSummaryDto {
  const dtypes = new Map<string, number>();
  let params = 0;
  let otherParams = 0;
  let bytes = 0;
  for (const t of file.tensors) {
    dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0) + 1);
    const n = knownElementCount(t) ?? 0;
    if (t.group === 'model') {
      params += n;
    } else {
      otherParams += n;
    }
    bytes += t.byteLength;
  }
  const unknownShapes = countUnknownShapes(file.tensors);
  const facts: FactDto[] = [];
  for (const [label, v] of Object.entries(file.metadata)) {
    const value = factValue(v);
    if (value !== undefined) {
      facts.push({ label, value });
    }
  }
  return {
    format: file.format,
    formatName: file.formatName,
    ...(file.modelClass ? { modelClass: file.modelClass } : {}),
    layerCount,
    tensorCount: file.tensors.length,
    params,
    ...(unknownShapes > 0 ? { unknownShapeTensors: unknownShapes } : {}),
    otherParams,
    bytes,
    dtypes: [...dtypes].map(([dtype, tensors]) => ({ dtype, tensors })).sort((a, b) => b.tensors - a.tensors || a.dtype.localeCompare(b.dtype)),
    hasArchitecture: file.layers.some((l) => l.className !== undefined),
    facts,
  };
}

/** Layer rows from the shared layer summary. */
export function toLayerRows(file: WeightFile): LayerRowDto[] {
  return summarizeLayers(file).map((l) => ({
    name: l.name,
    ...(l.className ? { className: l.className } : {}),
    ...(l.activation ? { activation: l.activation } : {}),
    params: l.params,
    tensors: [...l.tensors],
  }));
}

/** What a document knows, as input to toSnapshot. */
export interface SnapshotInput {
  /** URI string of the file. */
  uri: string;
  /** Base name. */
  fileName: string;
  /** Opened file, when open. */
  file?: WeightFile;
  /** Opening error, when failed. */
  error?: { reason: string; message: string };
  /** Stats results by tensor name. */
  results: ReadonlyMap<string, TensorResult>;
  /** Analysis progress. */
  analysis: AnalysisStatusDto;
  /** Tensor fingerprints by name, as far as computed (none when absent). */
  fingerprints?: ReadonlyMap<string, string>;
  /** Fingerprint progress and the model fingerprint (idle when absent). */
  fingerprint?: FingerprintStatusDto;
}

/** The fingerprint status of a file not fingerprinted yet. */
export const idleFingerprintStatus: FingerprintStatusDto = { state: 'idle', done: 0, total: 0 };

/** The full panel snapshot. */
export function toSnapshot(input: SnapshotInput): ModelSnapshotDto {
  const { file } = input;
  if (!file) {
    return {
      uri: input.uri,
      fileName: input.fileName,
      status: input.error ? 'failed' : 'opening',
      ...(input.error ? { error: { reason: input.error.reason, message: input.error.message } } : {}),
      tensors: [],
      layers: [],
      warnings: [],
      analysis: input.analysis,
      fingerprint: { ...(input.fingerprint ?? idleFingerprintStatus) },
    };
  }
  const layers = toLayerRows(file);
  return {
    uri: input.uri,
    fileName: input.fileName,
    status: 'open',
    summary: toSummary(file, layers.length),
    tensors: file.tensors.map((t) => toTensorRow(t, input.results.get(t.name), input.fingerprints?.get(t.name))),
    layers,
    warnings: file.warnings.map((w) => ({ reason: w.reason, message: w.message, ...(w.tensor ? { tensor: w.tensor } : {}) })),
    analysis: input.analysis,
    fingerprint: { ...(input.fingerprint ?? idleFingerprintStatus) },
  };
}

/** Describes quantization parameters in a line of text. */
function describeQuantization(t: TensorInfo): string | undefined {
  const q = t.quantization;
  if (!q) {
    return undefined;
  }
  const num = (x: number): string => String(Number(x.toPrecision(6)));
  const list = (xs: number[] | undefined): string | undefined =>
    xs === undefined ? undefined : xs.length <= 4 ? xs.map(num).join(', ') : `${xs.length} values (per channel)`;
  const parts = [`${q.scheme}, stored as ${q.storageDtype}`];
  const scale = list(q.scale);
  if (scale !== undefined) {
    parts.push(`scale ${scale}`);
  }
  if (q.min !== undefined) {
    parts.push(`min ${num(q.min)}`);
  }
  const zp = list(q.zeroPoint);
  if (zp !== undefined) {
    parts.push(`zero point ${zp}`);
  }
  if (q.axis !== undefined) {
    parts.push(`axis ${q.axis}`);
  }
  return parts.join('; ');
}

/** Everything about one tensor for the detail view. */
export function toTensorDetail(t: TensorInfo, result: TensorResult | undefined, fingerprint?: string): TensorDetailDto {
  const error = t.unavailable ?? (result && !result.ok ? result.error : undefined);
  const quantization = describeQuantization(t);
  return {
    row: toTensorRow(t, result, fingerprint),
    stats: result?.ok ? result.stats : null,
    ...(error ? { error: { reason: error.reason, message: error.message } } : {}),
    ...(quantization ? { quantization } : {}),
  };
}
