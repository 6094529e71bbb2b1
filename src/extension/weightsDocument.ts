/**
 * One opened weight file shared by every surface: the custom editor, the tree and the panels.
 * It owns the parsed headers (WeightFile), the per-tensor statistics, and the analysis that
 * computes them in worker threads (local files) with progress and cancellation, and reads and
 * writes the metadata sidecar of a local file. It reloads itself when a file it was read from (the
 * file, its shards or other companions) changes on disk.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkpointStamp } from '../analysis/checkpointFiles';
import { runCheckInThread, runCheckInWorker } from '../analysis/checkClient';
import type { CheckReport } from '../analysis/diagnostics/check';
import { fingerprintedModel, type FileFingerprint, type TensorFingerprint } from '../analysis/fingerprint';
import { runFingerprintInThread, runFingerprintInWorker } from '../analysis/fingerprintClient';
import type { JobLimiter } from '../analysis/jobLimiter';
import { analyzeFileCached, fingerprintFileCached, type FingerprintRunner, type StatsCache } from '../analysis/statsCache';
import type { StatsPool, TensorResult } from '../analysis/statsPool';
import type { TensorStats } from '../analysis/statsTypes';
import { computeTensorStats } from '../analysis/tensorStats';
import { summarizeError, WeightFileError, type ErrorSummary } from '../core/errors';
import type { WeightFile } from '../core/model';
import type { SidecarFingerprints } from '../core/sidecar';
import { changesFolderModel, resolveLocalEntry } from '../formats/registry';
import type { SidecarDto } from '../protocol/sidecar';
import type { AnalysisStatusDto, DiagnosticsSnapshotDto, DiagnosticsStatusDto, FingerprintStatusDto, MetadataDto, ModelSnapshotDto } from '../protocol/weightsPanel';
import { Disposable } from './dispose';
import { inspectTarget, openWeightUri } from './fileAccess';
import { isLocalFolder, watchFiles, type FileEvent } from './fileWatch';
import { log, logFailure } from './log';
import type { WeightscopeSettings } from './settings';
import { SidecarChanges } from './sidecarChanges';
import { createSidecar, readSidecarDto, saveSidecarEdit } from './sidecarEdit';
import { toSnapshot } from './weightsDto';

/** How often batched stats updates are announced while analysing, in milliseconds. */
const statsFlushIntervalMs = 250;

/** Tensor names collected between announcements, announced together at most once per interval. */
class NameBatch {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly announce: (names: string[]) => void,
  ) {}

  /** Adds a name; the batch is announced within the interval. */
  add(name: string): void {
    this.pending.add(name);
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  /** Announces what is pending now (nothing when empty); returns how many names were announced. */
  flush(): number {
    const names = [...this.pending];
    this.clear();
    if (names.length > 0) {
      this.announce(names);
    }
    return names.length;
  }

  /** Drops what is pending without announcing it. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}

/** What a document needs from the extension. */
export interface DocumentServices {
  /** The shared worker pool (created on first use). */
  statsPool(): StatsPool;
  /** Current settings. */
  settings(): WeightscopeSettings;
  /** The statistics and fingerprint cache of local files; undefined: no cache. */
  statsCache?(): StatsCache | undefined;
  /** Sidecar saves from every view and edits on disk (the Metadata tabs follow them). */
  sidecars: SidecarChanges;
  /** Limits the diagnostics and fingerprint workers of all documents running at once; undefined: no limit. */
  workerJobs?: JobLimiter;
}

/** Where a document stands. */
export type DocumentStatus = 'opening' | 'open' | 'failed';

/** One weight file and its statistics. */
export class WeightsDocument extends Disposable implements vscode.CustomDocument {
  /** Tensor results by name (stats or per-tensor error). */
  readonly results = new Map<string, TensorResult>();

  private file: WeightFile | undefined;
  private openError: ErrorSummary | undefined;
  private localPath: string | undefined;
  /** The files the content was read from, and the watcher that reloads the document when one of them changes. */
  private sources: vscode.Uri[] = [];
  private sourcesWatch: vscode.Disposable | undefined;
  /** The sidecar watched (local files: that of the entry file), by SidecarChanges key. */
  private sidecarKey: string | undefined;
  private sidecarWatch: vscode.Disposable | undefined;
  private opening: Promise<void>;
  private openAbort = new AbortController();
  private analysisState: AnalysisStatusDto = { state: 'idle', done: 0, total: 0 };
  private analysisAbort: AbortController | undefined;
  private analysisRun: Promise<void> | undefined;
  private readonly pendingStats = new NameBatch(statsFlushIntervalMs, (names) => {
    if (!this.isDisposed) {
      this.onDidUpdateStatsEmitter.fire(names);
      this.onDidChangeAnalysisEmitter.fire(this.analysis);
    }
  });
  private generation = 0;
  /** The reload running now, and the one waiting for it (see reload()). */
  private reloadRunning: Promise<void> | undefined;
  private reloadQueued: Promise<void> | undefined;
  private checkState: DiagnosticsStatusDto = { state: 'waiting', done: 0, total: 0 };
  private checkReport: CheckReport | undefined;
  private checkAbort: AbortController | undefined;
  private checkRun: Promise<void> | undefined;
  private statsCached = 0;
  private readonly fingerprintMap = new Map<string, string>();
  private fingerprintState: FingerprintStatusDto = { state: 'idle', done: 0, total: 0 };
  private fingerprintAbort: AbortController | undefined;
  private fingerprintRun: Promise<void> | undefined;
  /** Size and latest mtime of the checkpoint's files when the fingerprints were started (local files). */
  private fingerprintStamp: { size: number; mtimeMs: number } | undefined;
  private readonly pendingFingerprints = new NameBatch(statsFlushIntervalMs, (names) => {
    if (!this.isDisposed) {
      this.onDidUpdateFingerprintsEmitter.fire(names);
      this.onDidChangeFingerprintEmitter.fire(this.fingerprintStatus);
    }
  });

  private readonly onDidChangeModelEmitter = this.register(new vscode.EventEmitter<void>());
  /** Fires when the file was (re)opened or failed to open. */
  readonly onDidChangeModel = this.onDidChangeModelEmitter.event;
  private readonly onDidUpdateStatsEmitter = this.register(new vscode.EventEmitter<string[]>());
  /** Fires with the names of tensors whose results arrived (batched). */
  readonly onDidUpdateStats = this.onDidUpdateStatsEmitter.event;
  private readonly onDidChangeAnalysisEmitter = this.register(new vscode.EventEmitter<AnalysisStatusDto>());
  /** Fires when the analysis starts, progresses, ends or is cancelled. */
  readonly onDidChangeAnalysis = this.onDidChangeAnalysisEmitter.event;
  private readonly onDidChangeDiagnosticsEmitter = this.register(new vscode.EventEmitter<DiagnosticsStatusDto>());
  /** Fires when the diagnostics start, progress, finish, fail or are dropped. */
  readonly onDidChangeDiagnostics = this.onDidChangeDiagnosticsEmitter.event;
  private readonly onDidUpdateFingerprintsEmitter = this.register(new vscode.EventEmitter<string[]>());
  /** Fires with the names of tensors whose fingerprints arrived (batched, with the status after them). */
  readonly onDidUpdateFingerprints = this.onDidUpdateFingerprintsEmitter.event;
  private readonly onDidChangeFingerprintEmitter = this.register(new vscode.EventEmitter<FingerprintStatusDto>());
  /** Fires when fingerprinting starts, progresses, finishes, fails or is cancelled. */
  readonly onDidChangeFingerprint = this.onDidChangeFingerprintEmitter.event;
  private readonly onDidChangeMetadataEmitter = this.register(new vscode.EventEmitter<void>());
  /** Fires when the metadata sidecar was saved or created from any view, or edited on disk. */
  readonly onDidChangeMetadata = this.onDidChangeMetadataEmitter.event;
  private readonly onDidDisposeEmitter = new vscode.EventEmitter<void>();
  /** Fires once when the document is disposed. */
  readonly onDidDispose = this.onDidDisposeEmitter.event;

  constructor(
    /** URI of the file (a checkpoint data shard is mapped to its `.index`). */
    readonly uri: vscode.Uri,
    private readonly services: DocumentServices,
  ) {
    super();
    this.register(
      services.sidecars.onDidChange((key) => {
        if (key === this.sidecarKey && !this.isDisposed) {
          this.onDidChangeMetadataEmitter.fire();
        }
      }),
    );
    this.opening = this.open();
  }

  /** Base name of the file. */
  get fileName(): string {
    return path.posix.basename(this.uri.path) || this.uri.toString(true);
  }

  /** opening, open or failed. */
  get status(): DocumentStatus {
    return this.file ? 'open' : this.openError ? 'failed' : 'opening';
  }

  /** The parsed file, when open. */
  get weightFile(): WeightFile | undefined {
    return this.file;
  }

  /** Why opening failed, when it did. */
  get error(): ErrorSummary | undefined {
    return this.openError;
  }

  /** The files the last open read (the entry file and its companions; just the file when opening failed), all watched for changes. */
  get sourceFiles(): readonly vscode.Uri[] {
    return this.sources;
  }

  /** Analysis progress. */
  get analysis(): AnalysisStatusDto {
    return { ...this.analysisState };
  }

  /** Where the diagnostics stand. */
  get diagnosticsStatus(): DiagnosticsStatusDto {
    return { ...this.checkState };
  }

  /** The diagnostics report of the current file, once computed. */
  get diagnosticsReport(): CheckReport | undefined {
    return this.checkReport;
  }

  /** The panel's diagnostics snapshot (the full report when done). */
  diagnosticsSnapshot(): DiagnosticsSnapshotDto {
    return { status: this.diagnosticsStatus, ...(this.checkReport ? { report: this.checkReport } : {}) };
  }

  /** Resolves when the diagnostics started by the last completed analysis have finished (or at once). */
  whenDiagnosed(): Promise<void> {
    return this.checkRun ?? Promise.resolve();
  }

  /** Where the fingerprints stand (with the model fingerprint when done). */
  get fingerprintStatus(): FingerprintStatusDto {
    return { ...this.fingerprintState };
  }

  /** Tensor fingerprints computed (or taken from the cache) so far, by tensor name. */
  get fingerprints(): ReadonlyMap<string, string> {
    return this.fingerprintMap;
  }

  /** Tensors whose statistics the last analysis took from the cache. */
  get statsFromCache(): number {
    return this.statsCached;
  }

  /** Resolves when the fingerprinting started by the last completed analysis has finished (or at once). */
  whenFingerprinted(): Promise<void> {
    return this.fingerprintRun ?? Promise.resolve();
  }

  /** Resolves when the current open attempt finished (successfully or not). */
  whenOpened(): Promise<void> {
    return this.opening;
  }

  /** Total stored bytes of the tensors, 0 while not open. */
  get tensorBytes(): number {
    return this.file?.tensors.reduce((s, t) => s + t.byteLength, 0) ?? 0;
  }

  /** The panel snapshot of the current state. */
  snapshot(): ModelSnapshotDto {
    return toSnapshot({
      uri: this.uri.toString(),
      fileName: this.fileName,
      file: this.file,
      error: this.openError,
      results: this.results,
      analysis: this.analysis,
      fingerprints: this.fingerprintMap,
      fingerprint: this.fingerprintStatus,
    });
  }

  /** The file the sidecar belongs to (a folder's entry file); undefined for files that are not local. */
  async sidecarEntry(): Promise<string | undefined> {
    return this.uri.scheme === 'file' ? resolveLocalEntry(this.uri.fsPath) : undefined;
  }

  /** The sidecar part of the Metadata tab (the view adds the naming check). */
  async metadata(): Promise<Omit<MetadataDto, 'naming'>> {
    if (this.uri.scheme !== 'file') {
      return {
        available: false,
        unavailableReason: `Metadata sidecars are kept next to local files only; ${this.fileName} is opened through '${this.uri.scheme}:'.`,
      };
    }
    let entry: string;
    try {
      entry = (await this.sidecarEntry())!;
    } catch (ex) {
      return { available: true, error: summarizeError(ex) };
    }
    const read = await readSidecarDto(entry);
    const fingerprints = await this.fingerprintsToRecord(entry);
    const recorded = fingerprints ? { fingerprintToRecord: fingerprints.model } : {};
    return 'sidecar' in read ? { available: true, sidecar: read.sidecar, sidecarPath: read.sidecar.path, ...recorded } : { available: true, error: read.error, sidecarPath: read.path, ...recorded };
  }

  /** Saves an edit from a panel into the sidecar (validated; atomic; the checkpoint is untouched). */
  async saveMetadata(edit: unknown): Promise<SidecarDto> {
    const entry = await this.localSidecarEntry();
    const saved = await saveSidecarEdit(entry, edit);
    log().info(`saved the metadata of ${this.fileName} to ${saved.path}`);
    this.services.sidecars.saved(entry);
    return saved;
  }

  /** Creates the sidecar with the creation time, the git commit and the model fingerprint when known. */
  async createMetadata(): Promise<SidecarDto> {
    const entry = await this.localSidecarEntry();
    const created = await createSidecar(entry, await this.fingerprintsToRecord(entry));
    log().info(`created the metadata sidecar ${created.path}`);
    this.services.sidecars.saved(entry);
    return created;
  }

  private async localSidecarEntry(): Promise<string> {
    const entry = await this.sidecarEntry();
    if (entry === undefined) {
      throw new WeightFileError('unsupportedFormat', `${this.uri.toString(true)}: metadata sidecars are kept next to local files only (scheme '${this.uri.scheme}').`);
    }
    return entry;
  }

  /**
   * The fingerprints a sidecar may record: complete (not partial) and computed from the files as
   * they are now (same total size and latest mtime as when fingerprinting started); else undefined.
   */
  private async fingerprintsToRecord(entry: string): Promise<SidecarFingerprints | undefined> {
    const f = this.fingerprintState;
    const stamp = this.fingerprintStamp;
    if (f.state !== 'done' || f.model === undefined || f.partial || !stamp) {
      return undefined;
    }
    const now = await checkpointStamp(entry).catch(() => undefined);
    if (!now || now.size !== stamp.size || now.mtimeMs !== stamp.mtimeMs) {
      return undefined;
    }
    return { model: f.model, size: stamp.size, mtimeMs: stamp.mtimeMs, tensors: Object.fromEntries(this.fingerprintMap) };
  }

  private async open(): Promise<void> {
    const generation = this.generation;
    const started = Date.now();
    try {
      const opened = await openWeightUri(this.uri, this.openAbort.signal);
      if (this.isDisposed || generation !== this.generation) {
        await opened.file.close();
        return;
      }
      this.file = opened.file;
      this.localPath = opened.localPath;
      this.watchSources(opened.files);
      log().info(`opened ${this.uri.toString(true)}: ${opened.file.formatName}, ${opened.file.tensors.length} tensors (${Date.now() - started} ms)`);
      for (const w of opened.file.warnings) {
        log().warn(`${this.fileName}: [${w.reason}] ${w.message}`);
      }
    } catch (ex) {
      if (this.isDisposed || generation !== this.generation) {
        return;
      }
      this.openError = summarizeError(ex);
      logFailure(`cannot open ${this.uri.toString(true)}`, ex);
      this.watchSources([this.uri]); // a file fixed or created again is opened again
    }
    this.onDidChangeModelEmitter.fire();
  }

  /**
   * Watches the files the content was read from (inside or outside the workspace); a change,
   * creation or deletion of any of them reloads the document once the writes have settled. A
   * document opened from a local folder also follows the folder's entries: a model file added
   * (to a folder that held none, or besides its model) or removed reloads it. The watcher is kept
   * while the set stays the same (replacing it could miss an event meanwhile). The entry file's
   * sidecar is watched too (edits on disk refresh the Metadata tabs).
   */
  private watchSources(files: vscode.Uri[]): void {
    const same = files.length === this.sources.length && files.every((f, i) => f.toString() === this.sources[i]!.toString());
    if (same && this.sourcesWatch) {
      return;
    }
    const folder = this.uri.scheme === 'file' && isLocalFolder(this.uri.fsPath) ? this.uri : undefined;
    const entries = folder ? { folder, wanted: (u: vscode.Uri, event: FileEvent) => event !== 'change' && changesFolderModel(path.basename(u.fsPath)) } : undefined;
    this.sourcesWatch?.dispose();
    this.sidecarWatch?.dispose();
    this.sources = files;
    const entry = files[0]?.scheme === 'file' ? files[0].fsPath : undefined;
    this.sidecarKey = entry !== undefined ? SidecarChanges.key(entry) : undefined;
    this.sidecarWatch = entry !== undefined ? this.services.sidecars.watch(entry) : undefined;
    this.sourcesWatch = watchFiles(files, (changed) => {
      if (this.isDisposed) {
        return;
      }
      log().info(`${changed.map((u) => path.posix.basename(u.path)).join(', ')} changed on disk; reloading ${this.fileName}`);
      this.reload()
        .then(() => this.analyzeIfSmall())
        .catch((ex: unknown) => logFailure(`reloading ${this.fileName}`, ex));
    }, undefined, entries);
  }

  /**
   * Re-reads the file from disk: cancels analysis, drops results, reopens. Reloads run one at a
   * time (a file watcher reports one write several times): a reload asked for while another runs
   * follows it, and requests made before that one starts join it.
   */
  reload(): Promise<void> {
    if (this.reloadQueued) {
      return this.reloadQueued;
    }
    const run: Promise<void> = (this.reloadRunning?.catch(() => undefined) ?? Promise.resolve())
      .then(() => {
        this.reloadQueued = undefined;
        this.reloadRunning = run;
        return this.reloadNow();
      })
      .finally(() => {
        if (this.reloadRunning === run) {
          this.reloadRunning = undefined;
        }
      });
    this.reloadQueued = run;
    return run;
  }

  private async reloadNow(): Promise<void> {
    if (this.isDisposed) {
      return;
    }
    this.cancelAnalysis();
    this.checkAbort?.abort();
    await this.analysisRun?.catch(() => undefined);
    await this.checkRun;
    await this.fingerprintRun;
    this.fingerprintMap.clear();
    this.fingerprintStamp = undefined;
    this.pendingFingerprints.clear();
    this.statsCached = 0;
    this.setFingerprint({ state: 'idle', done: 0, total: 0 });
    this.checkReport = undefined;
    this.setDiagnostics({ state: 'waiting', done: 0, total: 0 });
    this.generation++;
    const old = this.file;
    this.file = undefined;
    this.openError = undefined;
    this.localPath = undefined;
    this.results.clear();
    this.pendingStats.clear();
    this.setAnalysis({ state: 'idle', done: 0, total: 0 });
    this.onDidChangeModelEmitter.fire();
    await old?.close().catch(() => undefined); // closing a stale handle cannot fail the reload
    this.opening = this.open();
    await this.opening;
  }

  /** Starts the analysis automatically unless the tensors hold more bytes than the setting allows. */
  async analyzeIfSmall(): Promise<void> {
    await this.opening;
    if (!this.file || this.analysisState.state !== 'idle') {
      return;
    }
    const limit = this.services.settings().autoAnalyzeMaxBytes;
    if (this.tensorBytes > limit) {
      this.setAnalysis({
        state: 'skipped',
        done: 0,
        total: this.analysableNames().length,
        note: `The tensors hold ${this.tensorBytes} bytes, more than weightscope.autoAnalyzeMaxBytes (${limit}); analyse on request.`,
      });
      return;
    }
    await this.analyze();
  }

  /** Tensors the analysis can read. */
  private analysableNames(): string[] {
    return (this.file?.tensors ?? []).filter((t) => !t.unavailable && t.dtype !== 'string' && t.dtype !== 'bool').map((t) => t.name);
  }

  /** Computes stats of every tensor not analysed yet; joins a running analysis. */
  analyze(): Promise<void> {
    if (this.analysisRun) {
      return this.analysisRun;
    }
    const run = this.runAnalysis().finally(() => {
      if (this.analysisRun === run) {
        this.analysisRun = undefined;
      }
    });
    this.analysisRun = run;
    return run;
  }

  /** Cancels a running analysis (results so far are kept), running diagnostics and fingerprinting. */
  cancelAnalysis(): void {
    this.analysisAbort?.abort();
    this.checkAbort?.abort();
    this.fingerprintAbort?.abort();
  }

  private async runAnalysis(): Promise<void> {
    await this.opening;
    const file = this.file;
    if (!file || this.isDisposed) {
      return;
    }
    const names = this.analysableNames().filter((n) => !this.results.has(n));
    const already = this.analysableNames().length - names.length;
    const total = already + names.length;
    if (names.length === 0) {
      this.setAnalysis({ state: 'done', done: total, total });
      this.diagnoseIfEnabled();
      this.fingerprintIfNeeded();
      return;
    }
    const abort = new AbortController();
    this.analysisAbort = abort;
    const generation = this.generation;
    let done = already;
    this.setAnalysis({ state: 'running', done, total });
    const settings = this.services.settings();
    const started = Date.now();
    const onResult = (name: string, result: TensorResult): void => {
      if (generation !== this.generation || this.isDisposed) {
        return;
      }
      this.results.set(name, result);
      if (!result.ok && result.error.reason !== 'cancelled') {
        log().warn(`${this.fileName}: tensor '${name}': [${result.error.reason}] ${result.error.message}`);
      }
      done++;
      this.analysisState = { state: 'running', done, total };
      this.pendingStats.add(name);
    };
    try {
      const cache = this.services.statsCache?.();
      if (this.localPath !== undefined && cache) {
        // The pool is asked only for what the cache does not hold (and not even created when it holds everything).
        const pool = { analyzeFile: (...args: Parameters<StatsPool['analyzeFile']>) => this.services.statsPool().analyzeFile(...args) };
        await analyzeFileCached(pool, cache, this.localPath, names, {
          histogramBins: settings.histogramBins,
          signal: abort.signal,
          onResult,
          onCached: (hits) => {
            if (generation === this.generation) {
              this.statsCached = hits.length;
            }
          },
        });
      } else if (this.localPath !== undefined) {
        await this.services.statsPool().analyzeFile(this.localPath, names, { histogramBins: settings.histogramBins, signal: abort.signal, onResult });
      } else {
        // Virtual file systems: the bytes are already in memory (size-limited), read in-process chunk by chunk.
        for (const name of names) {
          if (abort.signal.aborted) {
            break;
          }
          const tensor = file.tensors.find((t) => t.name === name)!;
          try {
            onResult(name, { ok: true, stats: await computeTensorStats(tensor, { histogramBins: settings.histogramBins, signal: abort.signal }) });
          } catch (ex) {
            if (WeightFileError.is(ex, 'cancelled')) {
              break;
            }
            onResult(name, { ok: false, error: summarizeError(ex) });
          }
        }
      }
    } catch (ex) {
      if (!WeightFileError.is(ex, 'cancelled') && !abort.signal.aborted) {
        logFailure(`analysis of ${this.fileName} failed`, ex);
      }
    } finally {
      if (this.analysisAbort === abort) {
        this.analysisAbort = undefined;
      }
    }
    if (generation !== this.generation || this.isDisposed) {
      return;
    }
    // Results of tensors cut short by a cancel are not results: forget them so a later run redoes them.
    for (const [name, r] of this.results) {
      if (!r.ok && r.error.reason === 'cancelled') {
        this.results.delete(name);
        done--;
      }
    }
    this.pendingStats.flush();
    const cancelled = abort.signal.aborted;
    const cachedNote = this.statsCached > 0 ? `, ${this.statsCached} from the cache` : '';
    log().info(`${cancelled ? 'cancelled' : 'analysed'} ${this.fileName}: ${done}/${total} tensors${cachedNote} (${Date.now() - started} ms)`);
    this.setAnalysis({ state: cancelled ? 'cancelled' : 'done', done, total });
    if (!cancelled) {
      this.diagnoseIfEnabled();
      this.fingerprintIfNeeded();
    }
  }

  /** Starts fingerprinting (in a worker for local files) unless it is running or done. */
  private fingerprintIfNeeded(): void {
    if (this.fingerprintRun || this.fingerprintState.state === 'done' || !this.file || this.isDisposed) {
      return;
    }
    const run = this.runFingerprints().finally(() => {
      if (this.fingerprintRun === run) {
        this.fingerprintRun = undefined;
      }
    });
    this.fingerprintRun = run;
  }

  /** Fingerprints every tensor and the model; cached ones are not read again. Never rejects. */
  private async runFingerprints(): Promise<void> {
    const file = this.file;
    if (!file) {
      return;
    }
    const generation = this.generation;
    const abort = new AbortController();
    this.fingerprintAbort = abort;
    const total = file.tensors.length;
    let done = 0;
    const started = Date.now();
    this.setFingerprint({ state: 'running', done, total });
    const onTensor = (t: TensorFingerprint): void => {
      if (generation !== this.generation || this.isDisposed) {
        return;
      }
      done++;
      if (t.fingerprint) {
        this.fingerprintMap.set(t.name, t.fingerprint);
        this.pendingFingerprints.add(t.name);
      }
      this.fingerprintState = { state: 'running', done, total };
    };
    try {
      const cache = this.services.statsCache?.();
      const localPath = this.localPath;
      let result: FileFingerprint & { fromCache?: number };
      if (localPath !== undefined) {
        // The stamp before the files are read: a sidecar records the fingerprints only while it still holds.
        const stamp = await checkpointStamp(await resolveLocalEntry(localPath)).catch(() => undefined);
        if (generation === this.generation) {
          this.fingerprintStamp = stamp;
        }
        const run: FingerprintRunner = (known, each) => this.inWorkerSlot(() => runFingerprintInWorker(localPath, { signal: abort.signal, known, onTensor: each }), abort.signal);
        result = cache ? await fingerprintFileCached(run, cache, localPath, { tensors: file.tensors, onTensor }) : await run(new Map(), onTensor);
      } else {
        result = await runFingerprintInThread(file, { signal: abort.signal, onTensor });
      }
      if (generation !== this.generation || this.isDisposed) {
        return;
      }
      for (const t of result.tensors) {
        if (t.fingerprint && this.fingerprintMap.get(t.name) !== t.fingerprint) {
          this.fingerprintMap.set(t.name, t.fingerprint);
          this.pendingFingerprints.add(t.name);
        }
      }
      const fromCache = result.fromCache ?? 0;
      log().info(
        `fingerprinted ${this.fileName}: model ${fingerprintedModel(result)?.slice(0, 16).concat('…') ?? 'none'} over ${result.modelTensorCount} tensors${result.partial ? ' (partial)' : ''}${fromCache > 0 ? `, ${fromCache} from the cache` : ''} (${Date.now() - started} ms)`,
      );
      const model = fingerprintedModel(result);
      this.fingerprintState = {
        state: 'done',
        done: total,
        total,
        ...(model !== undefined ? { model } : {}),
        modelTensorCount: result.modelTensorCount,
        partial: result.partial,
        fromCache,
      };
      this.announceFingerprints();
    } catch (ex) {
      if (generation !== this.generation || this.isDisposed) {
        return;
      }
      if (abort.signal.aborted || WeightFileError.is(ex, 'cancelled')) {
        this.fingerprintState = { state: 'cancelled', done, total };
      } else {
        logFailure(`fingerprints of ${this.fileName} failed`, ex);
        this.fingerprintState = { state: 'failed', done, total, error: summarizeError(ex) };
      }
      this.announceFingerprints();
    } finally {
      if (this.fingerprintAbort === abort) {
        this.fingerprintAbort = undefined;
      }
    }
  }

  private setFingerprint(status: FingerprintStatusDto): void {
    this.fingerprintState = status;
    if (!this.isDisposed) {
      this.onDidChangeFingerprintEmitter.fire(this.fingerprintStatus);
    }
  }

  /** Announces pending fingerprints and the status (even when no fingerprint is pending). */
  private announceFingerprints(): void {
    if (this.pendingFingerprints.flush() === 0 && !this.isDisposed) {
      this.onDidChangeFingerprintEmitter.fire(this.fingerprintStatus);
    }
  }

  /**
   * Applies a change of `weightscope.diagnostics.enabled`: a file whose statistics are complete and
   * whose diagnostics were off gets them now (else the panel kept saying they are off until a Refresh).
   */
  diagnosticsSettingChanged(): void {
    if (this.isDisposed || this.analysisState.state !== 'done' || this.checkState.state !== 'disabled') {
      return;
    }
    this.diagnoseIfEnabled();
  }

  /** Starts the diagnostics (in a worker for local files) unless they are off, running or done. */
  private diagnoseIfEnabled(): void {
    const settings = this.services.settings();
    if (!settings.diagnosticsEnabled) {
      this.setDiagnostics({ state: 'disabled', done: 0, total: 0 });
      return;
    }
    if (this.checkRun || this.checkReport) {
      return;
    }
    const run = this.runDiagnostics(settings.diagnosticsPrecision).finally(() => {
      if (this.checkRun === run) {
        this.checkRun = undefined;
      }
    });
    this.checkRun = run;
  }

  /** Runs the check on the stats computed so far; never rejects (failures become the 'failed' state and a log line). */
  private async runDiagnostics(precision: boolean): Promise<void> {
    const file = this.file;
    if (!file || this.isDisposed) {
      return;
    }
    const generation = this.generation;
    const abort = new AbortController();
    this.checkAbort = abort;
    const stats = new Map<string, TensorStats>();
    for (const [name, r] of this.results) {
      if (r.ok) {
        stats.set(name, r.stats);
      }
    }
    const started = Date.now();
    this.setDiagnostics({ state: 'running', done: 0, total: 0 });
    const onProgress = (done: number, total: number): void => {
      if (generation === this.generation && !this.isDisposed) {
        this.setDiagnostics({ state: 'running', done, total });
      }
    };
    try {
      const options = { signal: abort.signal, onProgress, precision };
      const localPath = this.localPath;
      const report = localPath !== undefined ? await this.inWorkerSlot(() => runCheckInWorker(localPath, stats, options), abort.signal) : await runCheckInThread(file, stats, options);
      if (generation !== this.generation || this.isDisposed) {
        return;
      }
      this.checkReport = report;
      const s = report.summary;
      log().info(`diagnosed ${this.fileName}: ${s.errors} errors, ${s.warnings} warnings, ${s.infos} infos (${Date.now() - started} ms)`);
      this.setDiagnostics({ state: 'done', done: 0, total: 0 });
    } catch (ex) {
      if (generation !== this.generation || this.isDisposed) {
        return;
      }
      if (abort.signal.aborted || WeightFileError.is(ex, 'cancelled')) {
        this.setDiagnostics({ state: 'cancelled', done: 0, total: 0 });
        return;
      }
      logFailure(`diagnostics of ${this.fileName} failed`, ex);
      this.setDiagnostics({ state: 'failed', done: 0, total: 0, error: summarizeError(ex) });
    } finally {
      if (this.checkAbort === abort) {
        this.checkAbort = undefined;
      }
    }
  }

  /** Runs a job that starts a worker once the shared limit allows (all documents' diagnostics and fingerprints together). */
  private inWorkerSlot<T>(job: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return this.services.workerJobs ? this.services.workerJobs.run(job, signal) : job();
  }

  private setDiagnostics(status: DiagnosticsStatusDto): void {
    this.checkState = status;
    if (!this.isDisposed) {
      this.onDidChangeDiagnosticsEmitter.fire(this.diagnosticsStatus);
    }
  }

  private setAnalysis(status: AnalysisStatusDto): void {
    this.analysisState = status;
    this.onDidChangeAnalysisEmitter.fire(this.analysis);
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.openAbort.abort();
    this.sourcesWatch?.dispose();
    this.sidecarWatch?.dispose();
    this.cancelAnalysis();
    this.checkAbort?.abort();
    this.fingerprintAbort?.abort();
    this.pendingStats.clear();
    this.pendingFingerprints.clear();
    const file = this.file;
    this.file = undefined;
    void file?.close().catch(() => undefined); // releasing handles of a closed document cannot be reported anywhere useful
    super.dispose();
    this.onDidDisposeEmitter.fire();
    this.onDidDisposeEmitter.dispose();
  }
}

/** A counted reference to a shared document; dispose() releases it. */
export interface WeightsDocumentLease extends vscode.Disposable {
  /** The shared document. */
  readonly document: WeightsDocument;
}

/** The shared documents, one per file, kept while someone holds a lease. */
export class WeightsDocumentStore extends Disposable {
  private readonly entries = new Map<string, { document: WeightsDocument; refs: number }>();
  private readonly onDidCreateEmitter = this.register(new vscode.EventEmitter<WeightsDocument>());
  /** Fires when a document is created. */
  readonly onDidCreateDocument = this.onDidCreateEmitter.event;

  constructor(private readonly services: DocumentServices) {
    super();
  }

  /** Key of a URI (data shards share their index's document). */
  static key(uri: vscode.Uri): string {
    return inspectTarget(uri).toString();
  }

  /** Returns a lease on the document of `uri`, opening it when needed. */
  acquire(uri: vscode.Uri): WeightsDocumentLease {
    const key = WeightsDocumentStore.key(uri);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { document: new WeightsDocument(inspectTarget(uri), this.services), refs: 0 };
      this.entries.set(key, entry);
      this.onDidCreateEmitter.fire(entry.document);
    }
    entry.refs++;
    const e = entry;
    let released = false;
    return {
      document: e.document,
      dispose: () => {
        if (released) {
          return;
        }
        released = true;
        e.refs--;
        if (e.refs === 0 && this.entries.get(key) === e) {
          this.entries.delete(key);
          e.document.dispose();
        }
      },
    };
  }

  /** The open document of `uri`, if any. */
  find(uri: vscode.Uri): WeightsDocument | undefined {
    return this.entries.get(WeightsDocumentStore.key(uri))?.document;
  }

  /** All open documents. */
  all(): WeightsDocument[] {
    return [...this.entries.values()].map((e) => e.document);
  }

  override dispose(): void {
    for (const e of this.entries.values()) {
      e.document.dispose();
    }
    this.entries.clear();
    super.dispose();
  }
}
