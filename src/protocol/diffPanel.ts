/**
 * Messages and DTOs of the diff panel ("Compare Weights") and of its history mode ("Show Weight
 * History"). JSON-safe: numbers that do not exist are null, never NaN or infinities. The shapes
 * mirror src/analysis/diff.ts and src/analysis/history.ts (the host assigns those results to
 * these types, so the compiler checks they stay in step).
 */
import type { ConversionCheckDto } from './conversionCheck';
import type { ErrorDto } from './envelope';
import type { SidecarDto, SidecarEditDto } from './sidecar';

/** One tensor's comparison (see TensorDiff in src/analysis/diff.ts). */
export interface TensorDiffDto {
  /** Name in A; null when added. */
  a: string | null;
  /** Name in B; null when removed. */
  b: string | null;
  /** Layer. */
  layer: string;
  /** Group: model, optimizer, other. */
  group: string;
  /** identical | changed | added | removed | incomparable. */
  status: 'identical' | 'changed' | 'added' | 'removed' | 'incomparable';
  /** How the pair was found (name, path, order, override). */
  matchedBy?: string;
  /** True when paired across a rename. */
  renamed: boolean;
  /** dtype in A. */
  dtypeA: string | null;
  /** dtype in B. */
  dtypeB: string | null;
  /** True when the dtype changed. */
  dtypeChanged: boolean;
  /** Shape in A. */
  shapeA: number[] | null;
  /** Shape in B. */
  shapeB: number[] | null;
  /** same | transposed | reshaped | incompatible; null for added/removed. */
  shapeChange: string | null;
  /** Axis permutation of a transposed pair. */
  permutation?: number[];
  /** Elements compared. */
  count: number;
  /** ||B-A|| / ||A||. */
  relL2: number | null;
  /** Cosine similarity. */
  cosine: number | null;
  /** max |B-A|. */
  maxAbsDiff: number | null;
  /** mean |B-A|. */
  meanAbsDiff: number | null;
  /** Fraction of changed elements. */
  changedFraction: number | null;
  /** Fraction of sign flips. */
  signFlipFraction: number | null;
  /** ||A||. */
  normA: number | null;
  /** ||B||. */
  normB: number | null;
  /** ||B-A||. */
  diffNorm: number | null;
  /** Mean of A. */
  meanA: number | null;
  /** Mean of B. */
  meanB: number | null;
  /** Std of A. */
  stdA: number | null;
  /** Std of B. */
  stdB: number | null;
  /** Min of A. */
  minA: number | null;
  /** Max of A. */
  maxA: number | null;
  /** Min of B. */
  minB: number | null;
  /** Max of B. */
  maxB: number | null;
  /** NaN/Inf positions. */
  nonFiniteCount: number;
  /** NaN/Inf positions where A and B differ. */
  nonFiniteChanged: number;
  /** Fingerprint of A's tensor. */
  fingerprintA?: string;
  /** Fingerprint of B's tensor. */
  fingerprintB?: string;
  /** How identity was decided. */
  identicalBy?: 'fingerprint' | 'values';
  /** Why the pair could not be compared. */
  error?: ErrorDto;
}

/** One layer's aggregated change. */
export interface LayerDiffDto {
  /** Layer name. */
  layer: string;
  /** Tensors in the layer. */
  tensors: number;
  /** Tensors of the layer compared element by element. */
  compared: number;
  /** ||A|| over the layer. */
  normA: number;
  /** ||B-A|| over the layer. */
  diffNorm: number;
  /** Relative change; null when nothing was compared or ||A|| is 0. */
  relL2: number | null;
  /** NaN/Inf positions where A and B differ. */
  nonFiniteChanged: number;
  /** identical | changed | added | removed | incomparable | mixed. */
  status: string;
}

/** One side of the comparison. */
export interface DiffSideDto {
  /** Path. */
  path: string;
  /** Format id. */
  format: string;
  /** Format name. */
  formatName: string;
  /** Tensor count. */
  tensorCount: number;
  /** Set when none of its numeric tensors could be read: why. */
  unreadable?: { reason: string; message: string };
}

/** Whole-model numbers. */
export interface DiffSummaryDto {
  /** Tensors in A. */
  tensorsA: number;
  /** Tensors in B. */
  tensorsB: number;
  /** Pairs. */
  paired: number;
  /** Identical pairs. */
  identical: number;
  /** Changed pairs. */
  changed: number;
  /** Added tensors. */
  added: number;
  /** Removed tensors. */
  removed: number;
  /** Renamed pairs. */
  renamed: number;
  /** Shape changes. */
  shapeChanged: number;
  /** dtype changes. */
  dtypeChanged: number;
  /** Incomparable pairs. */
  incomparable: number;
  /** Model-group pairs compared element by element. */
  compared: number;
  /** Model relative L2 change; null when nothing was compared. */
  relL2: number | null;
  /** True when identical. */
  identicalModels: boolean;
  /** Model fingerprint of A. */
  modelFingerprintA?: string;
  /** Model fingerprint of B. */
  modelFingerprintB?: string;
}

/** A file-level warning. */
export interface DiffWarningDto {
  /** Reason. */
  reason: string;
  /** Message. */
  message: string;
  /** Tensor, when confined to one. */
  tensor?: string;
}

/** The whole diff. */
export interface DiffResultDto {
  /** File A. */
  a: DiffSideDto;
  /** File B. */
  b: DiffSideDto;
  /** Per numeric tensor. */
  tensors: TensorDiffDto[];
  /** Tensors without numeric values (e.g. strings), not compared, per side. */
  nonNumeric: { a: { name: string; dtype: string }[]; b: { name: string; dtype: string }[] };
  /** Per layer. */
  layers: LayerDiffDto[];
  /** Layers that moved most. */
  topLayers: string[];
  /** Summary. */
  summary: DiffSummaryDto;
  /** Warnings from opening the files. */
  warnings: DiffWarningDto[];
  /** The conversion check, when one file is a .tflite and the other its float source. */
  conversion?: ConversionCheckDto;
}

/** Histograms of one tensor in A and in B on shared bin edges. */
export interface OverlayHistogramDto {
  /** Bin edges (counts.length + 1). */
  edges: number[];
  /** Counts of A's values (empty when A has no such tensor). */
  countsA: number[];
  /** Counts of B's values (empty when B has no such tensor). */
  countsB: number[];
}

/** One layer over time in the history mode (see LayerHistory in src/analysis/history.ts). */
export interface LayerHistoryDto {
  /** Layer. */
  layer: string;
  /** Element count. */
  count: number;
  /** Points per checkpoint; null where the checkpoint lacks the layer. */
  points: ({
    count: number;
    missingTensors: string[];
    norm: number;
    mean: number | null;
    std: number | null;
    distanceFromFirst: number | null;
    relDistanceFromFirst: number | null;
    relStepChange: number | null;
    min: number | null;
    max: number | null;
    nonFiniteCount: number;
    histogram: number[];
  } | null)[];
  /** Checkpoint indexes where some of the layer's tensors could not be read (left out there). */
  unreadable?: number[];
  /** Shared histogram edges. */
  histogramEdges: number[];
}

/** The history of a folder. */
export interface HistoryResultDto {
  /** Folder. */
  dir: string;
  /** Checkpoints in order. */
  checkpoints: { path: string; label: string; epoch?: number; step?: number; mtimeMs: number }[];
  /** Checkpoints that could not be opened and were left out, with why. */
  skipped?: { path: string; label: string; reason: string; message: string }[];
  /** Ordering used. */
  orderedBy: string;
  /** Layers. */
  layers: LayerHistoryDto[];
  /** Model distance from the first checkpoint (over the tensors present in both). */
  relDistanceFromFirst: (number | null)[];
  /** Model change per checkpoint (over the tensors present in both). */
  relStepChange: (number | null)[];
  /** Warnings about layers. */
  warnings: { layer: string; kind: string; checkpoint: string; message: string }[];
  /** Naming findings. */
  namingWarnings: { name: string; kind: string; message: string }[];
}

/** Requests the diff webview sends. */
export interface DiffPanelRequests {
  /** Overlaid histograms of one pair. */
  getHistograms: { params: { a: string | null; b: string | null; bins: number }; result: OverlayHistogramDto };
  /** Overrides the pairing of A's tensor `a` (b = null: unpaired); the host re-runs the diff. */
  setMapping: { params: { a: string; b: string | null }; result: { ok: true } };
  /** Drops every override; the host re-runs the diff. */
  resetMapping: { params: Record<string, never>; result: { ok: true } };
  /** The metadata sidecars of both files. */
  getSidecars: { params: Record<string, never>; result: DiffSidecarsDto };
  /** Saves one file's sidecar (written atomically next to it; the checkpoint is untouched). */
  saveSidecar: { params: SidecarEditDto & { side: 'a' | 'b' }; result: SidecarDto };
  /** Opens one side in the weights panel. */
  inspect: { params: { side: 'a' | 'b' }; result: { ok: true } };
}

/** The metadata sidecars of the compared files (null: a file that is not local has none). */
export interface DiffSidecarsDto {
  /** A's sidecar. */
  a: SidecarDto | null;
  /** B's sidecar. */
  b: SidecarDto | null;
}

/** What the host pushes. */
export type DiffPanelNotification =
  | { type: 'init'; state: DiffPanelStateDto }
  | { type: 'progress'; done: number; total: number }
  | { type: 'diff'; result: DiffResultDto; overrides: [string, string | null][] }
  | { type: 'history'; result: HistoryResultDto }
  | { type: 'error'; error: ErrorDto }
  /** Files compared (or in the history's folder) changed on disk; a new run follows. */
  | { type: 'changed'; files: string[] }
  /** The sidecars again, after one of them was saved (from any panel) or edited on disk. */
  | ({ type: 'sidecars' } & DiffSidecarsDto);

/** What the webview sends without a reply. */
export type DiffPanelEvent = { type: 'ready' } | { type: 'cancel' } | { type: 'rerun' } | { type: 'swap' };

/** Persisted webview state (restores the panel after a reload). */
export interface DiffPanelStateDto {
  /** diff or history. */
  mode: 'diff' | 'history';
  /** URI of A (diff) or of the folder (history). */
  a: string;
  /** URI of B (diff only). */
  b?: string;
  /** Display labels. */
  labelA?: string;
  /** Display label of B. */
  labelB?: string;
  /** Pairing overrides. */
  overrides?: [string, string | null][];
  /** True when A or B were extracted from git into a temporary folder for this panel only (such a panel is not restored after a reload). */
  temporary?: boolean;
  /** Column the table is sorted by. */
  sortKey?: string;
  /** Descending sort. */
  sortDesc?: boolean;
  /** Selected row key. */
  selected?: string;
}
