/**
 * Layer-by-layer comparison of two weight files (any formats Weightscope reads). Tensors are
 * paired by alignTensors, then each pair is streamed in lockstep chunk by chunk (bounded memory,
 * float64 accumulation) to get relative L2 change, cosine similarity, |b-a| statistics, the
 * fractions of changed and sign-flipped elements, and both sides' mean and std. Fingerprints are
 * computed in the same pass; pairs whose fingerprints are already known equal skip the pass.
 */
import { elementCount, isNumericDType, type DType } from '../core/dtypes';
import { summarizeError, throwIfAborted, WeightFileError, type ErrorSummary } from '../core/errors';
import type { FileWarning, TensorInfo, WeightFile } from '../core/model';
import { readAllValues } from '../core/tensorData';
import { alignTensors, isPermutedShape, type AlignmentOverrides, type MatchKind, type TensorPairing } from './alignTensors';
import { conversionCheckFor, type ConversionCheck } from './conversionCheck';
import { fingerprintModel, fingerprintTensor, modelTensors, TensorHasher } from './fingerprint';
import { ReadableTally } from './report';
import { forEachAligned } from './valueCursor';

/** Largest tensor (elements) held in memory to compare a transposed pair. */
export const transposeMaxElements = 1 << 23;

/** How the shapes of a pair relate. */
export type ShapeChange = 'same' | 'transposed' | 'reshaped' | 'incompatible';

/** What happened to a tensor between A and B. */
export type TensorDiffStatus = 'identical' | 'changed' | 'added' | 'removed' | 'incomparable';

/**
 * The comparison of one tensor (or the report of an added/removed one). All numbers JSON-safe:
 * a metric whose float64 sums overflow (values near the float64 limit) is null.
 */
export interface TensorDiff {
  /** Name in A; null for an added tensor. */
  a: string | null;
  /** Name in B; null for a removed tensor. */
  b: string | null;
  /** Layer the tensor belongs to (A's layer, else B's; '' when unknown). */
  layer: string;
  /** Group of the tensor (model weights, optimizer state, other). */
  group: TensorInfo['group'];
  /** Outcome. `incomparable`: shapes do not fit or a side could not be read (see `error`). */
  status: TensorDiffStatus;
  /** How the pair was found; absent for added/removed. */
  matchedBy?: MatchKind;
  /** True when the pair's normalized paths differ (a renamed layer or weight). */
  renamed: boolean;
  /** dtype in A (null when added). */
  dtypeA: DType | null;
  /** dtype in B (null when removed). */
  dtypeB: DType | null;
  /** True when both sides exist and their dtypes differ. */
  dtypeChanged: boolean;
  /** Shape in A (null when added). */
  shapeA: number[] | null;
  /** Shape in B (null when removed). */
  shapeB: number[] | null;
  /** How the shapes relate; null for added/removed. */
  shapeChange: ShapeChange | null;
  /**
   * For `transposed`: B = transpose(A, permutation) (NumPy axes order). Shapes that are a
   * permutation of each other are also compared in plain element order (a reshape); when that
   * is closer, `shapeChange` is `reshaped` and there is no permutation.
   */
  permutation?: number[];
  /** Elements compared (0 when not compared). */
  count: number;
  /** ||B-A|| / ||A||; null when ||A|| is 0 and B differs, or not compared. */
  relL2: number | null;
  /** Cosine similarity of A and B; null when a side has zero norm or not compared. */
  cosine: number | null;
  /** max |B-A|; null when not compared. */
  maxAbsDiff: number | null;
  /** mean |B-A|; null when not compared. */
  meanAbsDiff: number | null;
  /** Fraction of elements with A != B (NaN equals NaN); null when not compared. */
  changedFraction: number | null;
  /** Fraction of elements whose sign flipped (A*B < 0); null when not compared. */
  signFlipFraction: number | null;
  /** ||A|| (L2 over finite pairs); null when not read. */
  normA: number | null;
  /** ||B||; null when not read. */
  normB: number | null;
  /** ||B-A||; null when not compared. */
  diffNorm: number | null;
  /** Mean of A (finite values); null when not read. */
  meanA: number | null;
  /** Mean of B; null when not read. */
  meanB: number | null;
  /** Population std of A; null when not read. */
  stdA: number | null;
  /** Population std of B; null when not read. */
  stdB: number | null;
  /** Smallest finite value of A; null when not read or none. */
  minA: number | null;
  /** Largest finite value of A; null when not read or none. */
  maxA: number | null;
  /** Smallest finite value of B; null when not read or none. */
  minB: number | null;
  /** Largest finite value of B; null when not read or none. */
  maxB: number | null;
  /** Element positions where A or B is NaN/Inf (excluded from the norms and moments). */
  nonFiniteCount: number;
  /** Of those, the positions where A and B differ (NaN equals NaN): values that became, stopped being or changed as NaN/Inf. */
  nonFiniteChanged: number;
  /** SHA-256 fingerprint of A's values (see fingerprint.ts), when computed (for a model-group tensor: whenever it can be read). */
  fingerprintA?: string;
  /** Fingerprint of B's values, when computed. */
  fingerprintB?: string;
  /** How `identical` was decided: known equal fingerprints (no pass) or a full comparison. */
  identicalBy?: 'fingerprint' | 'values';
  /** Why the pair could not be compared (unreadable side). */
  error?: ErrorSummary;
}

/** Change aggregated over one layer's compared tensors. */
export interface LayerDiff {
  /** Layer name. */
  layer: string;
  /** Tensors of the layer in the diff (pairs, added, removed). */
  tensors: number;
  /** Tensors of the layer that were compared element by element (the sums below are over these). */
  compared: number;
  /** sqrt(sum ||A||^2) over compared tensors (0 when none was). */
  normA: number;
  /** sqrt(sum ||B-A||^2) over compared tensors (0 when none was). */
  diffNorm: number;
  /** diffNorm / normA; null when no tensor of the layer was compared, or normA is 0 and something changed. */
  relL2: number | null;
  /** Positions of the layer's tensors where A and B differ and one of them is NaN/Inf. */
  nonFiniteChanged: number;
  /** Summary status: identical, changed, added (all tensors new), removed, incomparable (no tensor could be compared), or mixed. */
  status: 'identical' | 'changed' | 'added' | 'removed' | 'incomparable' | 'mixed';
}

/** Whole-model summary. */
export interface DiffSummary {
  /** Tensors in A (all of them, also those without numeric values). */
  tensorsA: number;
  /** Tensors in B (all of them). */
  tensorsB: number;
  /** Pairs compared or found identical. */
  paired: number;
  /** Pairs with identical values, dtype and shape. */
  identical: number;
  /** Pairs that differ. */
  changed: number;
  /** Tensors only in B. */
  added: number;
  /** Tensors only in A. */
  removed: number;
  /** Pairs matched across a name change. */
  renamed: number;
  /** Pairs whose shape changed (transposed, reshaped or incompatible). */
  shapeChanged: number;
  /** Pairs whose dtype changed. */
  dtypeChanged: number;
  /** Pairs that could not be compared. */
  incomparable: number;
  /** Model-group pairs compared element by element (what relL2 is over). */
  compared: number;
  /** ||B-A|| / ||A|| over all compared model-group tensors; null when none was compared, or ||A|| is 0 and something changed. */
  relL2: number | null;
  /** True when at least one pair was compared, and every tensor is paired and identical. */
  identicalModels: boolean;
  /** Model fingerprint of A, as `weightscope fingerprint` gives it; absent when a model tensor cannot be read. */
  modelFingerprintA?: string;
  /** Model fingerprint of B (same condition). */
  modelFingerprintB?: string;
}

/** Facts about one side of the diff. */
export interface DiffSide {
  /** Path as given. */
  path: string;
  /** Format id. */
  format: WeightFile['format'];
  /** Human-readable format name. */
  formatName: string;
  /** Number of tensors. */
  tensorCount: number;
  /** Set when none of the file's numeric tensors could be read (e.g. its only shard is missing): why, as inspect says it. */
  unreadable?: ErrorSummary;
}

/** A tensor left out of a diff because it holds no numeric values (e.g. a string tensor). */
export interface NonNumericTensor {
  /** Name in its file. */
  name: string;
  /** Its dtype (e.g. 'string'). */
  dtype: DType;
}

/** The result of a diff; JSON-safe. */
export interface DiffResult {
  /** File A (the reference). */
  a: DiffSide;
  /** File B (compared against A). */
  b: DiffSide;
  /**
   * Per numeric tensor: pairs in A's order, then removed, then added. Tensors without numeric
   * values (string tensors such as a TF2 checkpoint's `_CHECKPOINTABLE_OBJECT_GRAPH`) are not
   * compared and not listed here, but in `nonNumeric`.
   */
  tensors: TensorDiff[];
  /** Tensors of A and of B left out of the comparison because they hold no numeric values (file order). */
  nonNumeric: { a: NonNumericTensor[]; b: NonNumericTensor[] };
  /** Per layer, in first-appearance order. */
  layers: LayerDiff[];
  /** Layers that moved most, at most `topLayerCount`: those with NaN/Inf changes first, then by relative change. */
  topLayers: string[];
  /** Whole-model numbers. */
  summary: DiffSummary;
  /** Problems found while opening either file (prefixed 'A:'/'B:'). */
  warnings: FileWarning[];
  /** When one file is a .tflite and the other a float model: the conversion check (see conversionCheck.ts). */
  conversion?: ConversionCheck;
}

/** Fingerprints already known, by tensor name, for A and for B. */
export interface KnownFingerprints {
  /** Fingerprints of A's tensors. */
  a?: ReadonlyMap<string, string>;
  /** Fingerprints of B's tensors. */
  b?: ReadonlyMap<string, string>;
}

/** Options of a diff. */
export interface DiffOptions {
  /** Mapping corrections (A tensor -> B tensor, or null = removed). */
  overrides?: AlignmentOverrides;
  /** Cancels the diff; it then throws a `cancelled` WeightFileError. */
  signal?: AbortSignal;
  /** Preferred read chunk size in elements. */
  chunkElements?: number;
  /** Fingerprints known from earlier runs: equal pairs are not read again. */
  known?: KnownFingerprints;
  /** Called after each tensor pair is done. */
  onTensor?: (diff: TensorDiff, done: number, total: number) => void;
  /** Number of layers listed in topLayers (default 10). */
  topLayerCount?: number;
}

/** Runs the comparison of a list of pairs; the default runs them in this thread, one by one. */
export type PairRunner = (
  pairs: readonly TensorPairing[],
  options: DiffOptions,
  onResult: (index: number, diff: TensorDiff) => void,
) => Promise<void>;

/**
 * Fingerprints tensors of one side of a diff, by name, elsewhere than the calling thread (a
 * pool's worker threads); a tensor that cannot be read maps to undefined. Throws when cancelled.
 */
export type FingerprintRunner = (which: 'a' | 'b', names: readonly string[], options: DiffOptions) => Promise<Map<string, string | undefined>>;

/**
 * Compares two opened files: the pairs through `runner` (else one after another in this thread),
 * the fingerprints of the tensors no comparison read (added, removed) through `fingerprints`.
 */
export async function diffWeightFiles(a: WeightFile, b: WeightFile, options: DiffOptions = {}, runner?: PairRunner, fingerprints?: FingerprintRunner): Promise<DiffResult> {
  // Tensors without numeric values (checkpoint metadata strings) are left out before pairing:
  // nothing to measure, and they must not take a numeric tensor's place in the order matching.
  const layerOrders = { a: a.layers.map((l) => l.name), b: b.layers.map((l) => l.name) };
  const alignment = alignTensors(a.tensors.filter(hasNumericValues), b.tensors.filter(hasNumericValues), options.overrides, layerOrders);
  const results: (TensorDiff | undefined)[] = new Array(alignment.pairs.length);
  let done = 0;
  const total = alignment.pairs.length;
  const onResult = (i: number, d: TensorDiff): void => {
    results[i] = d;
    options.onTensor?.(d, ++done, total);
  };
  if (runner) {
    await runner(alignment.pairs, options, onResult);
  } else {
    const ta = new Map(a.tensors.map((t) => [t.name, t]));
    const tb = new Map(b.tensors.map((t) => [t.name, t]));
    for (let i = 0; i < alignment.pairs.length; i++) {
      const p = alignment.pairs[i]!;
      onResult(i, await diffTensorPair(ta.get(p.a)!, tb.get(p.b)!, p.matchedBy, options));
    }
  }
  throwIfAborted(options.signal);
  const tensors: TensorDiff[] = results.map((d, i) => d ?? unreadPair(a, b, alignment.pairs[i]!));
  const byNameA = new Map(a.tensors.map((t) => [t.name, t]));
  const byNameB = new Map(b.tensors.map((t) => [t.name, t]));
  for (const n of alignment.removed) {
    tensors.push(oneSided(byNameA.get(n)!, 'removed'));
  }
  for (const n of alignment.added) {
    tensors.push(oneSided(byNameB.get(n)!, 'added'));
  }
  await completeFingerprints(a, tensors, 'a', options, fingerprints);
  await completeFingerprints(b, tensors, 'b', options, fingerprints);
  await completeIdenticalNorms(a, tensors, options);
  const result = assembleDiff(a, b, tensors, options.topLayerCount ?? 10);
  const conversion = await conversionCheckFor(a, b, { signal: options.signal });
  return conversion ? { ...result, conversion } : result;
}

/**
 * The norms of model pairs found identical by their known fingerprints (not read), read from A
 * alone when some pair changed: the model's relative change ||B-A|| / ||A|| needs every compared
 * pair's ||A||, else it comes out too large. Nothing is read when nothing changed (the change is 0
 * whatever ||A|| is). A tensor that cannot be read keeps no norm and leaves the comparison.
 */
async function completeIdenticalNorms(a: WeightFile, diffs: TensorDiff[], options: DiffOptions): Promise<void> {
  if (!diffs.some((d) => d.group === 'model' && d.diffNorm !== null && d.diffNorm > 0)) {
    return;
  }
  const byName = new Map(a.tensors.map((t) => [t.name, t]));
  for (const d of diffs) {
    const t = d.a === null ? undefined : byName.get(d.a);
    if (d.identicalBy !== 'fingerprint' || d.group !== 'model' || d.normA !== null || !t) {
      continue;
    }
    throwIfAborted(options.signal);
    try {
      const side = await sideStats(t, options);
      Object.assign(d, { normA: side.norm, normB: side.norm, meanA: side.mean, meanB: side.mean, stdA: side.std, stdB: side.std, minA: side.min, maxA: side.max, minB: side.min, maxB: side.max });
    } catch (ex) {
      if (options.signal?.aborted) {
        throw ex;
      }
      Object.assign(d, { diffNorm: null, relL2: null });
    }
  }
}

/**
 * Fingerprints the model tensors of one side that the comparisons did not (removed or added
 * tensors, the readable side of a pair whose other side failed), so the model fingerprint is
 * reported whenever every model tensor can be read, as `weightscope fingerprint` computes it.
 * Known fingerprints are used as they are; an unreadable tensor keeps none (the model then has none).
 * With `runner` the missing ones are computed there (worker threads), else in this thread.
 */
async function completeFingerprints(file: WeightFile, diffs: TensorDiff[], which: 'a' | 'b', options: DiffOptions, runner?: FingerprintRunner): Promise<void> {
  const entryOf = new Map<string, TensorDiff>();
  for (const d of diffs) {
    const name = d[which];
    if (name !== null) {
      entryOf.set(name, d);
    }
  }
  const key = which === 'a' ? 'fingerprintA' : 'fingerprintB';
  const missing: { t: TensorInfo; d: TensorDiff }[] = [];
  for (const t of modelTensors(file.tensors)) {
    const d = entryOf.get(t.name);
    if (!d || d[key] || t.unavailable) {
      continue;
    }
    const known = (which === 'a' ? options.known?.a : options.known?.b)?.get(t.name);
    if (known) {
      d[key] = known;
    } else {
      missing.push({ t, d });
    }
  }
  if (runner && missing.length > 0) {
    const got = await runner(which, missing.map((m) => m.t.name), options);
    throwIfAborted(options.signal);
    for (const { t, d } of missing) {
      const fp = got.get(t.name);
      if (fp) {
        d[key] = fp;
      }
    }
    return;
  }
  for (const { t, d } of missing) {
    throwIfAborted(options.signal);
    try {
      d[key] = await fingerprintTensor(t, { signal: options.signal, chunkElements: options.chunkElements });
    } catch (ex) {
      if (WeightFileError.is(ex, 'cancelled') || options.signal?.aborted) {
        throw ex;
      }
      // A damaged tensor: no fingerprint, so no model fingerprint for this side.
    }
  }
}

/** True when a tensor's dtype has numeric values to compare (false for strings and the like). */
function hasNumericValues(t: Pick<TensorInfo, 'dtype'>): boolean {
  return isNumericDType(t.dtype);
}

/** The non-numeric tensors of a file, as listed in a diff. */
function nonNumericTensors(f: Pick<WeightFile, 'tensors'>): NonNumericTensor[] {
  return f.tensors.filter((t) => !hasNumericValues(t)).map((t) => ({ name: t.name, dtype: t.dtype }));
}

/** Diff entry of a pair whose comparison never reported (a runner failure). */
function unreadPair(a: WeightFile, b: WeightFile, p: TensorPairing): TensorDiff {
  const ta = a.tensors.find((t) => t.name === p.a)!;
  const tb = b.tensors.find((t) => t.name === p.b)!;
  return { ...emptyPair(ta, tb, p.matchedBy), status: 'incomparable', error: { reason: 'internal', message: `The comparison of '${p.a}' did not finish.` } };
}

/** Builds the result from per-tensor diffs (of the numeric tensors; the others are listed in `nonNumeric`). */
export function assembleDiff(a: Pick<WeightFile, 'path' | 'format' | 'formatName' | 'tensors' | 'warnings'>, b: typeof a, tensors: TensorDiff[], topLayerCount = 10): DiffResult {
  const layers = new Map<string, { tensors: number; compared: number; a2: number; d2: number; nonFiniteChanged: number; statuses: Set<TensorDiffStatus> }>();
  let a2 = 0;
  let d2 = 0;
  const s: DiffSummary = {
    tensorsA: a.tensors.length,
    tensorsB: b.tensors.length,
    paired: 0,
    identical: 0,
    changed: 0,
    added: 0,
    removed: 0,
    renamed: 0,
    shapeChanged: 0,
    dtypeChanged: 0,
    incomparable: 0,
    compared: 0,
    relL2: null,
    identicalModels: false,
  };
  for (const t of tensors) {
    const key = t.layer;
    let l = layers.get(key);
    if (!l) {
      l = { tensors: 0, compared: 0, a2: 0, d2: 0, nonFiniteChanged: 0, statuses: new Set() };
      layers.set(key, l);
    }
    l.tensors++;
    l.nonFiniteChanged += t.nonFiniteChanged;
    l.statuses.add(t.status);
    // Only pairs compared element by element (or known identical by fingerprint, whose ||A|| is
    // then not read) have ||B-A||; a side read alone (incompatible shapes) has ||A|| but says
    // nothing about the change.
    if (t.diffNorm !== null) {
      const na2 = (t.normA ?? 0) ** 2;
      l.compared++;
      l.a2 += na2;
      l.d2 += t.diffNorm * t.diffNorm;
      if (t.group === 'model') {
        s.compared++;
        a2 += na2;
        d2 += t.diffNorm * t.diffNorm;
      }
    }
    if (t.a !== null && t.b !== null) {
      s.paired++;
      s.renamed += t.renamed ? 1 : 0;
      s.dtypeChanged += t.dtypeChanged ? 1 : 0;
      s.shapeChanged += t.shapeChange !== null && t.shapeChange !== 'same' ? 1 : 0;
    }
    s[t.status === 'incomparable' ? 'incomparable' : t.status]++;
  }
  // Nothing compared is no evidence of "no change": null, never 0 (and never "identical").
  s.relL2 = s.compared > 0 ? ratio(Math.sqrt(d2), Math.sqrt(a2)) : null;
  s.identicalModels = s.identical > 0 && s.identical === tensors.length && s.added === 0 && s.removed === 0;
  const fpA = collectFingerprints(a.tensors, tensors, 'a');
  const fpB = collectFingerprints(b.tensors, tensors, 'b');
  if (fpA) {
    s.modelFingerprintA = fpA;
  }
  if (fpB) {
    s.modelFingerprintB = fpB;
  }
  const layerDiffs: LayerDiff[] = [...layers].map(([layer, l]) => ({
    layer,
    tensors: l.tensors,
    compared: l.compared,
    normA: Math.sqrt(l.a2),
    diffNorm: Math.sqrt(l.d2),
    relL2: l.compared > 0 ? ratio(Math.sqrt(l.d2), Math.sqrt(l.a2)) : null,
    nonFiniteChanged: l.nonFiniteChanged,
    status: l.statuses.size === 1 ? [...l.statuses][0]! : 'mixed',
  }));
  const topLayers = layerDiffs
    .filter((l) => l.diffNorm > 0 || l.nonFiniteChanged > 0)
    .sort((x, y) => Number(y.nonFiniteChanged > 0) - Number(x.nonFiniteChanged > 0) || (y.relL2 ?? Infinity) - (x.relL2 ?? Infinity) || y.diffNorm - x.diffNorm)
    .slice(0, topLayerCount)
    .map((l) => l.layer);
  const warnings = [...a.warnings.map((w) => ({ ...w, message: `A: ${w.message}` })), ...b.warnings.map((w) => ({ ...w, message: `B: ${w.message}` }))];
  return {
    a: side(a),
    b: side(b),
    tensors,
    nonNumeric: { a: nonNumericTensors(a), b: nonNumericTensors(b) },
    layers: layerDiffs,
    topLayers,
    summary: s,
    warnings,
  };
}

function side(f: Pick<WeightFile, 'path' | 'format' | 'formatName' | 'tensors'>): DiffSide {
  const tally = new ReadableTally();
  f.tensors.filter(hasNumericValues).forEach((t) => tally.add(t.unavailable ? { error: t.unavailable } : {}));
  const unreadable = tally.unreadableError(f.path);
  return { path: f.path, format: f.format, formatName: f.formatName, tensorCount: f.tensors.length, ...(unreadable ? { unreadable: summarizeError(unreadable) } : {}) };
}

/** The model fingerprint of one side when every model tensor's fingerprint is in the diff. */
function collectFingerprints(infos: readonly Pick<TensorInfo, 'name' | 'group' | 'dtype'>[], diffs: readonly TensorDiff[], which: 'a' | 'b'): string | undefined {
  const fps = new Map<string, string>();
  for (const d of diffs) {
    const name = d[which];
    const fp = which === 'a' ? d.fingerprintA : d.fingerprintB;
    if (name !== null && fp) {
      fps.set(name, fp);
    }
  }
  const covered = modelTensors(infos);
  const list: string[] = [];
  for (const t of covered) {
    const fp = fps.get(t.name);
    if (!fp) {
      return undefined;
    }
    list.push(fp);
  }
  return list.length > 0 ? fingerprintModel(list) : undefined;
}

/** x / y, 0 when both are 0, null when only y is 0. */
function ratio(x: number, y: number): number | null {
  if (y > 0) {
    return x / y;
  }
  return x === 0 ? 0 : null;
}

/** The diff entry of a tensor present on one side only. */
function oneSided(t: TensorInfo, status: 'added' | 'removed'): TensorDiff {
  const isA = status === 'removed';
  return {
    a: isA ? t.name : null,
    b: isA ? null : t.name,
    layer: t.layer || parentPath(t.name),
    group: t.group,
    status,
    renamed: false,
    dtypeA: isA ? t.dtype : null,
    dtypeB: isA ? null : t.dtype,
    dtypeChanged: false,
    shapeA: isA ? [...t.shape] : null,
    shapeB: isA ? null : [...t.shape],
    shapeChange: null,
    count: 0,
    relL2: null,
    cosine: null,
    maxAbsDiff: null,
    meanAbsDiff: null,
    changedFraction: null,
    signFlipFraction: null,
    normA: null,
    normB: null,
    diffNorm: null,
    meanA: null,
    meanB: null,
    stdA: null,
    stdB: null,
    minA: null,
    maxA: null,
    minB: null,
    maxB: null,
    nonFiniteCount: 0,
    nonFiniteChanged: 0,
  };
}

function parentPath(name: string): string {
  const i = name.lastIndexOf('/');
  return i > 0 ? name.slice(0, i) : '';
}

/** The shape relation of a pair and, for transposes, the candidate permutations. */
export function classifyShapes(a: readonly number[], b: readonly number[]): ShapeChange {
  if (a.length === b.length && a.every((d, i) => d === b[i])) {
    return 'same';
  }
  if (isPermutedShape(a, b)) {
    return 'transposed';
  }
  return elementCount(a) === elementCount(b) ? 'reshaped' : 'incompatible';
}

/** A pair entry with nothing measured yet. */
function emptyPair(ta: TensorInfo, tb: TensorInfo, matchedBy: MatchKind): TensorDiff {
  const renamed = matchedBy === 'order' || (matchedBy === 'override' && ta.name !== tb.name);
  return {
    ...oneSided(ta, 'removed'),
    b: tb.name,
    status: 'changed',
    matchedBy,
    renamed,
    dtypeB: tb.dtype,
    dtypeChanged: ta.dtype !== tb.dtype,
    shapeB: [...tb.shape],
    shapeChange: classifyShapes(ta.shape, tb.shape),
  };
}

/** Compares one pair of tensors. Never throws for damaged data (reported on the entry); throws when cancelled. */
export async function diffTensorPair(ta: TensorInfo, tb: TensorInfo, matchedBy: MatchKind, options: DiffOptions = {}): Promise<TensorDiff> {
  const out = emptyPair(ta, tb, matchedBy);
  const unreadable = ta.unavailable ?? tb.unavailable;
  if (unreadable) {
    return { ...out, status: 'incomparable', error: unreadable };
  }
  if (!isNumericDType(ta.dtype) || !isNumericDType(tb.dtype)) {
    return { ...out, status: 'incomparable', error: { reason: 'unsupportedDtype', message: `Tensor '${ta.name}' ('${ta.dtype}') or '${tb.name}' ('${tb.dtype}') has no numeric values to compare.` } };
  }
  const knownA = options.known?.a?.get(ta.name);
  const knownB = options.known?.b?.get(tb.name);
  if (knownA && knownB && knownA === knownB && out.shapeChange === 'same' && !out.dtypeChanged) {
    return {
      ...out,
      status: 'identical',
      identicalBy: 'fingerprint',
      count: elementCount(ta.shape),
      relL2: 0,
      maxAbsDiff: 0,
      meanAbsDiff: 0,
      changedFraction: 0,
      signFlipFraction: 0,
      diffNorm: 0,
      fingerprintA: knownA,
      fingerprintB: knownB,
    };
  }
  try {
    switch (out.shapeChange) {
      case 'same':
      case 'reshaped':
        return await streamPair(out, ta, tb, options);
      case 'transposed':
        if (elementCount(ta.shape) <= transposeMaxElements) {
          return await transposedPair(out, ta, tb, options);
        }
        return await sidesOnly(out, ta, tb, options);
      default:
        return await sidesOnly(out, ta, tb, options);
    }
  } catch (ex) {
    if (WeightFileError.is(ex, 'cancelled') || options.signal?.aborted) {
      throw ex;
    }
    return { ...out, status: 'incomparable', error: summarizeError(ex) };
  }
}

/** Float64 accumulators of a lockstep comparison. */
class PairAccumulator {
  count = 0;
  nonFinite = 0;
  nonFiniteChanged = 0;
  changed = 0;
  flips = 0;
  a2 = 0;
  b2 = 0;
  ab = 0;
  d2 = 0;
  absD = 0;
  maxD = 0;
  // Shifted sums for the moments (shift = first finite value) keep the variance accurate.
  shiftA = NaN;
  shiftB = NaN;
  sa = 0;
  saa = 0;
  sb = 0;
  sbb = 0;
  finite = 0;
  minA = Infinity;
  maxA = -Infinity;
  minB = Infinity;
  maxB = -Infinity;

  /** Adds equally long runs of A and B values. */
  add(a: ArrayLike<number>, b: ArrayLike<number>): void {
    const n = a.length;
    if (this.shiftA !== this.shiftA) {
      this.initShift(a, b);
    }
    const ka = this.shiftA;
    const kb = this.shiftB;
    let changed = 0;
    let flips = 0;
    let a2 = 0;
    let b2 = 0;
    let ab = 0;
    let d2 = 0;
    let absD = 0;
    let maxD = this.maxD;
    let sa = 0;
    let saa = 0;
    let sb = 0;
    let sbb = 0;
    let nonFinite = 0;
    let nonFiniteChanged = 0;
    let minA = this.minA;
    let maxA = this.maxA;
    let minB = this.minB;
    let maxB = this.maxB;
    // Branch-light body (ternaries, one finite/non-finite split): several times faster in V8
    // than if-statements per statistic.
    for (let i = 0; i < n; i++) {
      const x = a[i]!;
      const y = b[i]!;
      const d = y - x;
      // Both finite (d itself may overflow to +-Infinity; it is then counted as such)
      if (x - x + (y - y) === 0) {
        changed += d !== 0 ? 1 : 0;
        flips += x * y < 0 ? 1 : 0;
        a2 += x * x;
        b2 += y * y;
        ab += x * y;
        d2 += d * d;
        const ad = d < 0 ? -d : d;
        absD += ad;
        maxD = ad > maxD ? ad : maxD;
        minA = x < minA ? x : minA;
        maxA = x > maxA ? x : maxA;
        minB = y < minB ? y : minB;
        maxB = y > maxB ? y : maxB;
        const u = x - ka;
        const v = y - kb;
        sa += u;
        saa += u * u;
        sb += v;
        sbb += v * v;
      } else {
        // NaN or infinity on either side; NaN equals NaN here
        nonFinite++;
        const c = x === y || (x !== x && y !== y) ? 0 : 1;
        changed += c;
        nonFiniteChanged += c;
        flips += x * y < 0 ? 1 : 0;
      }
    }
    const finite = n - nonFinite;
    this.count += n;
    this.changed += changed;
    this.flips += flips;
    this.a2 += a2;
    this.b2 += b2;
    this.ab += ab;
    this.d2 += d2;
    this.absD += absD;
    this.maxD = maxD;
    this.sa += sa;
    this.saa += saa;
    this.sb += sb;
    this.sbb += sbb;
    this.finite += finite;
    this.nonFinite += nonFinite;
    this.nonFiniteChanged += nonFiniteChanged;
    this.minA = minA;
    this.maxA = maxA;
    this.minB = minB;
    this.maxB = maxB;
  }

  private initShift(a: ArrayLike<number>, b: ArrayLike<number>): void {
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (x - x === 0 && y - y === 0) {
        this.shiftA = x;
        this.shiftB = y;
        return;
      }
    }
  }

  /** Writes the metrics into a diff entry. */
  finish(out: TensorDiff): TensorDiff {
    const n = this.count;
    const f = this.finite;
    const normA = Math.sqrt(this.a2);
    const normB = Math.sqrt(this.b2);
    const diffNorm = Math.sqrt(this.d2);
    const moments = (s: number, ss: number, k: number): [number | null, number | null] => {
      if (f === 0) {
        return [null, null];
      }
      const m = s / f;
      return [k + m, Math.sqrt(Math.max(0, ss / f - m * m))];
    };
    const [meanA, stdA] = moments(this.sa, this.saa, this.shiftA);
    const [meanB, stdB] = moments(this.sb, this.sbb, this.shiftB);
    const identical = this.changed === 0 && !out.dtypeChanged && out.shapeChange === 'same';
    return {
      ...out,
      status: identical ? 'identical' : 'changed',
      identicalBy: identical ? 'values' : undefined,
      count: n,
      relL2: finiteOrNull(ratio(diffNorm, normA)),
      cosine: normA > 0 && normB > 0 ? finiteOrNull(clamp(this.ab / (normA * normB))) : null,
      maxAbsDiff: f > 0 ? finiteOrNull(this.maxD) : null,
      meanAbsDiff: f > 0 ? finiteOrNull(this.absD / f) : null,
      changedFraction: n > 0 ? this.changed / n : 0,
      signFlipFraction: n > 0 ? this.flips / n : 0,
      normA: finiteOrNull(normA),
      normB: finiteOrNull(normB),
      diffNorm: finiteOrNull(diffNorm),
      meanA: finiteOrNull(meanA),
      meanB: finiteOrNull(meanB),
      stdA: finiteOrNull(stdA),
      stdB: finiteOrNull(stdB),
      minA: f > 0 ? this.minA : null,
      maxA: f > 0 ? this.maxA : null,
      minB: f > 0 ? this.minB : null,
      maxB: f > 0 ? this.maxB : null,
      nonFiniteCount: this.nonFinite,
      nonFiniteChanged: this.nonFiniteChanged,
    };
  }
}

/** Sums of finite values near the float64 limit can overflow; such a metric is reported as null. */
function finiteOrNull(x: number | null): number | null {
  return x !== null && x - x === 0 ? x : null;
}

function clamp(c: number): number {
  return Math.max(-1, Math.min(1, c));
}

/** Same element count: stream both in lockstep, hashing as we go. */
async function streamPair(out: TensorDiff, ta: TensorInfo, tb: TensorInfo, options: DiffOptions): Promise<TensorDiff> {
  const acc = new PairAccumulator();
  const ha = new TensorHasher(ta.dtype, ta.shape);
  const hb = new TensorHasher(tb.dtype, tb.shape);
  const readOpts = { chunkElements: options.chunkElements, signal: options.signal };
  await forEachAligned(
    ta.readValues(readOpts),
    tb.readValues(readOpts),
    (x, y) => {
      acc.add(x, y);
      ha.update(x);
      hb.update(y);
    },
    { a: ta.name, b: tb.name },
    options.signal,
  );
  const expected = elementCount(ta.shape);
  if (acc.count !== expected) {
    throw new WeightFileError('corrupt', `Tensor '${ta.name}' yielded ${acc.count} values for shape [${ta.shape.join(', ')}] (${expected} expected).`);
  }
  const r = acc.finish(out);
  return { ...r, fingerprintA: ha.digest(), fingerprintB: hb.digest() };
}

/**
 * Permuted shapes (e.g. a Keras HWIO kernel against an OHWI one): both tensors are loaded
 * (bounded by transposeMaxElements), every axis permutation that maps A's shape to B's is tried,
 * and so is the plain element order (a reshape such as [30,40] -> [40,30]); the closest is
 * reported, a permutation on a tie.
 */
async function transposedPair(out: TensorDiff, ta: TensorInfo, tb: TensorInfo, options: DiffOptions): Promise<TensorDiff> {
  const readOpts = { chunkElements: options.chunkElements, signal: options.signal };
  const va = await readAllValues(ta, readOpts);
  const vb = await readAllValues(tb, readOpts);
  let best: { perm: number[] | null; acc: PairAccumulator } | undefined;
  for (const perm of [...permutationsMapping(ta.shape, tb.shape), null]) {
    throwIfAborted(options.signal);
    const acc = new PairAccumulator();
    acc.add(perm ? transpose(va, ta.shape, perm) : va, vb);
    if (!best || acc.d2 < best.acc.d2) {
      best = { perm, acc };
    }
  }
  const ha = new TensorHasher(ta.dtype, ta.shape);
  ha.update(va);
  const hb = new TensorHasher(tb.dtype, tb.shape);
  hb.update(vb);
  const r = best!.acc.finish(out);
  const fingerprints = { fingerprintA: ha.digest(), fingerprintB: hb.digest() };
  return best!.perm ? { ...r, permutation: best!.perm, ...fingerprints } : { ...r, shapeChange: 'reshaped', ...fingerprints };
}

/** Every axis permutation p with a[p[k]] === b[k] for all k (at most 720, ranks <= 6 tried). */
export function permutationsMapping(a: readonly number[], b: readonly number[]): number[][] {
  const out: number[][] = [];
  if (a.length > 6) {
    return [[...a.keys()].reverse()].filter((p) => p.every((ai, k) => a[ai] === b[k]));
  }
  const used = new Array<boolean>(a.length).fill(false);
  const cur: number[] = [];
  const rec = (k: number): void => {
    if (k === a.length) {
      out.push([...cur]);
      return;
    }
    for (let i = 0; i < a.length; i++) {
      if (!used[i] && a[i] === b[k]) {
        used[i] = true;
        cur.push(i);
        rec(k + 1);
        cur.pop();
        used[i] = false;
      }
    }
  };
  rec(0);
  return out.filter((p) => p.some((ai, k) => ai !== k));
}

/** NumPy's np.transpose(values.reshape(shape), perm).ravel() as a new Float64Array. */
export function transpose(values: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float64Array {
  const rank = shape.length;
  const strides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) {
    strides[i] = strides[i + 1]! * shape[i + 1]!;
  }
  const outShape = perm.map((p) => shape[p]!);
  const outStrides = perm.map((p) => strides[p]!);
  const n = elementCount(shape);
  const out = new Float64Array(n);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < n; o++) {
    out[o] = values[src]!;
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]!++;
      src += outStrides[k]!;
      if (idx[k]! < outShape[k]!) {
        break;
      }
      src -= outStrides[k]! * outShape[k]!;
      idx[k] = 0;
    }
  }
  return out;
}

/** Incompatible shapes: each side's norm, mean, std and fingerprint, no element-wise metrics. */
async function sidesOnly(out: TensorDiff, ta: TensorInfo, tb: TensorInfo, options: DiffOptions): Promise<TensorDiff> {
  const sa = await sideStats(ta, options);
  const sb = await sideStats(tb, options);
  return {
    ...out,
    status: 'incomparable',
    normA: sa.norm,
    normB: sb.norm,
    meanA: sa.mean,
    meanB: sb.mean,
    stdA: sa.std,
    stdB: sb.std,
    minA: sa.min,
    maxA: sa.max,
    minB: sb.min,
    maxB: sb.max,
    fingerprintA: sa.fingerprint,
    fingerprintB: sb.fingerprint,
  };
}

/**
 * Streaming float64 sums over a tensor's finite values, shifted by its first finite value (so the
 * variance loses no precision to a large mean): count, mean, std, L2 norm, min and max; non-finite
 * values are counted apart. One serves diff's per-side numbers and history's own reads.
 */
export class FiniteMoments {
  private shift = NaN;
  private n = 0;
  private nonFinite = 0;
  private s = 0;
  private ss = 0;
  private sq = 0;
  private min = Infinity;
  private max = -Infinity;

  /** Adds a chunk of values. */
  add(chunk: ArrayLike<number>): void {
    let { shift, n, nonFinite, s, ss, sq, min, max } = this;
    for (let i = 0; i < chunk.length; i++) {
      const x = chunk[i]!;
      if (x - x !== 0) {
        nonFinite++;
        continue;
      }
      if (shift !== shift) {
        shift = x;
      }
      const u = x - shift;
      s += u;
      ss += u * u;
      sq += x * x;
      n++;
      min = x < min ? x : min;
      max = x > max ? x : max;
    }
    Object.assign(this, { shift, n, nonFinite, s, ss, sq, min, max });
  }

  /** The numbers so far (mean, std, min and max null without finite values). */
  result(): { finite: number; nonFinite: number; norm: number; mean: number | null; std: number | null; min: number | null; max: number | null } {
    const { n } = this;
    const m = n > 0 ? this.s / n : 0;
    return {
      finite: n,
      nonFinite: this.nonFinite,
      norm: Math.sqrt(this.sq),
      mean: n > 0 ? this.shift + m : null,
      std: n > 0 ? Math.sqrt(Math.max(0, this.ss / n - m * m)) : null,
      min: n > 0 ? this.min : null,
      max: n > 0 ? this.max : null,
    };
  }
}

/** One tensor's L2 norm, mean, std (finite values) and fingerprint, streamed. */
async function sideStats(t: TensorInfo, options: DiffOptions): Promise<{ norm: number; mean: number | null; std: number | null; min: number | null; max: number | null; fingerprint: string }> {
  const h = new TensorHasher(t.dtype, t.shape);
  const moments = new FiniteMoments();
  for await (const chunk of t.readValues({ chunkElements: options.chunkElements, signal: options.signal })) {
    h.update(chunk);
    moments.add(chunk);
  }
  const { norm, mean, std, min, max } = moments.result();
  return { norm, mean, std, min, max, fingerprint: h.digest() };
}

/** Histograms of one tensor in A and in B on shared edges (np.histogram semantics, last bin closed). */
export interface PairHistograms {
  /** Bin edges, length bins + 1. */
  edges: number[];
  /** Counts of A's finite values (empty without A). */
  countsA: number[];
  /** Counts of B's finite values (empty without B). */
  countsB: number[];
}

/**
 * Streams one or both tensors into histograms over the same range, so they can be overlaid.
 * `range` is [min, max] over both sides when known (from the diff); otherwise a first pass finds it.
 */
export async function pairHistograms(
  ta: TensorInfo | undefined,
  tb: TensorInfo | undefined,
  bins: number,
  options: { range?: [number, number]; signal?: AbortSignal; chunkElements?: number } = {},
): Promise<PairHistograms> {
  const sides = [ta, tb].filter((t): t is TensorInfo => t !== undefined && !t.unavailable && isNumericDType(t.dtype));
  const readOpts = { signal: options.signal, chunkElements: options.chunkElements };
  let range = options.range;
  if (!range) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const t of sides) {
      for await (const chunk of t.readValues(readOpts)) {
        for (let i = 0; i < chunk.length; i++) {
          const x = chunk[i]!;
          if (x - x === 0) {
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
          }
        }
      }
    }
    range = lo <= hi ? [lo, hi] : [0, 1];
  }
  let [lo, hi] = range;
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
  const count = async (t: TensorInfo | undefined): Promise<number[]> => {
    if (!t || !sides.includes(t)) {
      return [];
    }
    const counts = new Array<number>(bins).fill(0);
    const scale = bins / (hi - lo);
    for await (const chunk of t.readValues(readOpts)) {
      for (let i = 0; i < chunk.length; i++) {
        const x = chunk[i]!;
        if (x - x !== 0 || x < lo || x > hi) {
          continue;
        }
        const b = Math.floor((x - lo) * scale);
        counts[b >= bins ? bins - 1 : b]!++;
      }
    }
    return counts;
  };
  return { edges, countsA: await count(ta), countsB: await count(tb) };
}
