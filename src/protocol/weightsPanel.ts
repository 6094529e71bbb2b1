/**
 * Messages and DTOs of the weights panel (the webview shown by "Inspect Weights" and by the
 * read-only custom editor). Everything here is JSON-safe: no NaN, no infinities, no typed arrays.
 */
import type { CheckReport } from '../analysis/diagnostics/check';
import type { Histogram, TensorStats } from '../analysis/statsTypes';
import type { ErrorDto } from './envelope';
import type { SidecarDto, SidecarEditDto } from './sidecar';

/** A histogram as the panel receives it (bin edges and counts). */
export type HistogramDto = Histogram;

/** Formats the table can be copied or exported in. */
export type TableFormat = 'csv' | 'markdown' | 'json';

/** A count of tensors per dtype. */
export interface DtypeCountDto {
  /** Element type, e.g. 'float32'. */
  dtype: string;
  /** Number of tensors with that dtype. */
  tensors: number;
}

/** A labelled fact about the file (producer, versions ...). */
export interface FactDto {
  /** Label, e.g. 'keras_version'. */
  label: string;
  /** Value rendered as text. */
  value: string;
}

/** What the summary header shows. */
export interface ModelSummaryDto {
  /** Format id, e.g. 'keras-h5'. */
  format: string;
  /** Human-readable format name. */
  formatName: string;
  /** Model class from the architecture ('Sequential' ...); absent when the file has none. */
  modelClass?: string;
  /** Number of layers. */
  layerCount: number;
  /** Number of tensors (all groups). */
  tensorCount: number;
  /** Parameters (elements) of the model group whose shape is known. */
  params: number;
  /** Model-group tensors of unknown shape, which `params` leaves out; absent when none. */
  unknownShapeTensors?: number;
  /** Parameters (elements) of optimizer state and other bookkeeping. */
  otherParams: number;
  /** Stored bytes of all tensors. */
  bytes: number;
  /** Tensors per dtype, most frequent first. */
  dtypes: DtypeCountDto[];
  /** True when the file carries an architecture (layer classes). */
  hasArchitecture: boolean;
  /** Selected file-level metadata, as text. */
  facts: FactDto[];
}

/** A health problem of one tensor. */
export interface TensorIssueDto {
  /** Kind of problem. */
  kind: 'unavailable' | 'analysisFailed' | 'nonFinite' | 'allZero';
  /** 'error' when the data cannot be used, 'warning' when it can but looks wrong. */
  severity: 'error' | 'warning';
  /** One-sentence description. */
  message: string;
}

/** The per-tensor stats the table shows (the full stats come with TensorDetailDto). */
export interface TensorRowStatsDto {
  /** Number of elements. */
  count: number;
  /** Mean of finite values; null when none. */
  mean: number | null;
  /** Population standard deviation of finite values; null when none. */
  std: number | null;
  /** Smallest finite value; null when none. */
  min: number | null;
  /** Largest finite value; null when none. */
  max: number | null;
  /** Fraction of elements exactly 0, in [0, 1]. */
  zeroFraction: number;
  /** NaN + infinite elements. */
  nonFiniteCount: number;
}

/** One row of the tensor table. */
export interface TensorRowDto {
  /** Full tensor name (unique in the file); rendered as text only. */
  name: string;
  /** Layer name ('' when unknown). */
  layer: string;
  /** Role inside the layer ('kernel', 'bias' ...). */
  role: string;
  /** 'model', 'optimizer' or 'other'. */
  group: string;
  /** Element type of the analysed values. */
  dtype: string;
  /** Element type as stored, when it differs (quantized tensors). */
  storageDtype?: string;
  /** Shape, [] for scalars; -1 for an unknown dimension, [] for an unknown rank (then shapeUnknown is set). */
  shape: number[];
  /** True when the file does not give the whole shape; absent when it does. */
  shapeUnknown?: boolean;
  /** Number of elements; null when the shape is unknown. */
  params: number | null;
  /** Stored bytes. */
  byteLength: number;
  /** Stats; absent while not analysed or when analysis failed. */
  stats?: TensorRowStatsDto;
  /** Health problems found so far (empty when none). */
  issues: TensorIssueDto[];
  /** SHA-256 content fingerprint of the values (64 hex digits); absent until computed or when unreadable. */
  fingerprint?: string;
}

/** One row of the layer table. */
export interface LayerRowDto {
  /** Layer name; rendered as text only. */
  name: string;
  /** Keras class name; absent when the file has no architecture. */
  className?: string;
  /** Activation name, when the layer has one. */
  activation?: string;
  /** Parameters (elements) of the layer's tensors. */
  params: number;
  /** Names of the layer's tensors. */
  tensors: string[];
}

/** A file-level warning (partial damage found while opening). */
export interface FileWarningDto {
  /** WeightFileError reason. */
  reason: string;
  /** One-sentence message. */
  message: string;
  /** Tensor concerned, when confined to one. */
  tensor?: string;
}

/** Where the statistics computation stands. */
export interface AnalysisStatusDto {
  /** idle: not started; skipped: above the auto-analyse size limit; running; done; cancelled. */
  state: 'idle' | 'skipped' | 'running' | 'done' | 'cancelled';
  /** Tensors analysed so far. */
  done: number;
  /** Tensors to analyse. */
  total: number;
  /** Why analysis did not start by itself (state 'skipped'). */
  note?: string;
}

/** Where the content fingerprints of the file stand. */
export interface FingerprintStatusDto {
  /** idle: not started (waits for the statistics); running; done; cancelled; failed: see `error`. */
  state: 'idle' | 'running' | 'done' | 'cancelled' | 'failed';
  /** Tensors fingerprinted so far. */
  done: number;
  /** Tensors in the file. */
  total: number;
  /** Model fingerprint (SHA-256 hex, 64 digits) over the model tensors, when state is 'done' and it covers at least one tensor. */
  model?: string;
  /** Tensors the model fingerprint covers (state 'done'). */
  modelTensorCount?: number;
  /** True when some model tensor could not be read, so `model` covers only the readable ones. */
  partial?: boolean;
  /** Tensors whose fingerprints came from the cache instead of being computed (state 'done'). */
  fromCache?: number;
  /** Why fingerprinting failed (state 'failed'). */
  error?: ErrorDto;
}

/** New fingerprints of some tensors. */
export interface TensorFingerprintUpdateDto {
  /** Tensor name. */
  name: string;
  /** Its fingerprint (64 hex digits). */
  fingerprint: string;
}

/** Everything the panel shows, sent once after `ready` and after every reopen. */
export interface ModelSnapshotDto {
  /** URI of the file, as a string (kept in the webview state for restoring). */
  uri: string;
  /** Base name of the file. */
  fileName: string;
  /** opening: headers being parsed; open; failed: see `error`. */
  status: 'opening' | 'open' | 'failed';
  /** Why the file could not be opened (status 'failed'). */
  error?: ErrorDto;
  /** Summary header; absent unless status is 'open'. */
  summary?: ModelSummaryDto;
  /** Tensors in file order. */
  tensors: TensorRowDto[];
  /** Layers in model order. */
  layers: LayerRowDto[];
  /** File-level warnings. */
  warnings: FileWarningDto[];
  /** Analysis progress. */
  analysis: AnalysisStatusDto;
  /** Content fingerprints: progress and, when done, the model fingerprint (tensor fingerprints are in the rows). */
  fingerprint: FingerprintStatusDto;
}

/** The weight-health report of `weightscope check` (diagnostics, signal forecast, precision), JSON-safe as is. */
export type CheckReportDto = CheckReport;

/** One diagnostic of the report. */
export type DiagnosticDto = CheckReportDto['diagnostics'][number];

/** Where the diagnostics of the file stand. */
export interface DiagnosticsStatusDto {
  /** disabled: off in the settings; waiting: for the statistics; running; done; failed: see `error`; cancelled. */
  state: 'disabled' | 'waiting' | 'running' | 'done' | 'failed' | 'cancelled';
  /** Tensor reads done (state 'running'). */
  done: number;
  /** Tensor reads in all (state 'running'). */
  total: number;
  /** Why the check failed (state 'failed'). */
  error?: ErrorDto;
}

/** The diagnostics as the panel shows them: always the full report, never a delta. */
export interface DiagnosticsSnapshotDto {
  /** Where the check stands. */
  status: DiagnosticsStatusDto;
  /** The report; present when state is 'done'. */
  report?: CheckReportDto;
}

/** New or changed stats of some tensors. */
export interface TensorStatsUpdateDto {
  /** Tensor name. */
  name: string;
  /** Stats; absent when analysis of this tensor failed. */
  stats?: TensorRowStatsDto;
  /** Health problems (replaces the row's list). */
  issues: TensorIssueDto[];
}

/** Everything known about one tensor. */
export interface TensorDetailDto {
  /** The table row. */
  row: TensorRowDto;
  /** Full statistics with histograms; null when not (yet) computed. */
  stats: TensorStats | null;
  /** Why the tensor could not be read or analysed. */
  error?: ErrorDto;
  /** Quantization parameters as text lines, when quantized. */
  quantization?: string;
}

/** The naming-convention check of the file's name (setting `weightscope.namingConvention`). */
export interface NamingCheckDto {
  /** off: no convention set; match; mismatch: the name does not follow it; ambiguous: it parses two ways; invalidPattern: the setting cannot be parsed. */
  state: 'off' | 'match' | 'mismatch' | 'ambiguous' | 'invalidPattern';
  /** The configured pattern ('' when off). */
  pattern: string;
  /** The name checked: the file name, or the folder name for generic entry files such as model.json. */
  name: string;
  /** Why the name or the pattern is not right (one sentence quoting it); absent on a clean match. */
  message?: string;
  /** Fields parsed from the name in pattern order (match and ambiguous: the first reading). */
  fields?: { name: string; value: number | string }[];
  /** Problems of the pattern itself (placeholders without a separator ...). */
  problems: string[];
}

/** The Metadata tab: the file's sidecar (local files only) and its naming check. */
export interface MetadataDto {
  /** False for files that are not local (the sidecar lives next to a local file only). */
  available: boolean;
  /** Why the sidecar is unavailable (available false), one sentence. */
  unavailableReason?: string;
  /** The sidecar (exists false when there is none yet); absent when unavailable or unreadable. */
  sidecar?: SidecarDto;
  /** Path of the sidecar file, when the file is local. */
  sidecarPath?: string;
  /** Why the existing sidecar cannot be read (invalid JSON, a bad field ...). */
  error?: ErrorDto;
  /**
   * The model fingerprint a new sidecar would record: the file's, once computed in full and while
   * the file is unchanged since; absent otherwise.
   */
  fingerprintToRecord?: string;
  /** The naming-convention check. */
  naming: NamingCheckDto;
}

/** Requests the webview sends; the host answers each with a result or an ErrorDto. */
export interface WeightsPanelRequests {
  /** Full stats and histograms of one tensor. */
  getTensorDetail: { params: { name: string }; result: TensorDetailDto };
  /** Starts computing statistics (when not started automatically). */
  analyze: { params: Record<string, never>; result: null };
  /** Cancels a running analysis. */
  cancelAnalysis: { params: Record<string, never>; result: null };
  /** Re-reads the file from disk. */
  refresh: { params: Record<string, never>; result: null };
  /** Copies the given tensors' table to the clipboard; returns the row count. */
  copyTable: { params: { format: TableFormat; tensors: string[] }; result: { rows: number } };
  /** Exports the given tensors' table to a new file chosen by a save dialog; null when cancelled. */
  exportTable: { params: { format: TableFormat; tensors: string[] }; result: { path: string | null } };
  /** Reopens the file with another editor (from the error state). */
  reopenWith: { params: Record<string, never>; result: null };
  /** Copies the full model fingerprint, or a tensor's when `tensor` is given, to the clipboard; returns it. */
  copyFingerprint: { params: { tensor?: string }; result: { fingerprint: string } };
  /** Saves the edited metadata into the file's sidecar (written atomically next to it; the checkpoint is untouched). */
  saveSidecar: { params: SidecarEditDto; result: SidecarDto };
  /** Creates the file's sidecar with the creation time, the workspace's git commit and the model fingerprint when known. */
  createSidecar: { params: Record<string, never>; result: SidecarDto };
}

/** Notifications the host sends. */
export type WeightsPanelNotification =
  | { type: 'didChangeModel'; snapshot: ModelSnapshotDto }
  | { type: 'didUpdateStats'; updates: TensorStatsUpdateDto[]; analysis: AnalysisStatusDto }
  | { type: 'didChangeAnalysis'; analysis: AnalysisStatusDto }
  | { type: 'didChangeDiagnostics'; diagnostics: DiagnosticsSnapshotDto }
  | { type: 'didUpdateFingerprints'; updates: TensorFingerprintUpdateDto[]; fingerprint: FingerprintStatusDto }
  | { type: 'didChangeMetadata'; metadata: MetadataDto };

/** Notifications the webview sends. */
export type WeightsPanelEvent = { type: 'ready' };

/** UI state the webview persists (getState/setState) and the serializer restores. */
export interface WeightsPanelStateDto {
  /** URI of the file shown. */
  uri: string;
  /** Active tab id. */
  tab?: string;
  /** Selected tensor name. */
  selected?: string;
  /** Table filter text. */
  filter?: string;
  /** Sort column key. */
  sortKey?: string;
  /** Sort direction: 1 ascending, -1 descending. */
  sortDir?: 1 | -1;
}
