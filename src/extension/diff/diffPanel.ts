/**
 * The diff panel controller: one webview per compared pair (or per history folder), running the
 * comparison in the diff worker pool with progress and cancellation, answering the webview's
 * requests (overlaid histograms, mapping overrides, metadata sidecars), and restoring itself
 * after a reload through a WebviewPanelSerializer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { pairHistograms, type DiffResult } from '../../analysis/diff';
import type { DiffPool } from '../../analysis/diffPool';
import { diffLocalFiles } from '../../analysis/diffPool';
import { affectsHistory, computeHistory, HistoryCache, orderingSidecars, type HistoryResult } from '../../analysis/history';
import { compileNamingConvention, type NamingConvention } from '../../analysis/namingConvention';
import { summarizeError, throwIfAborted, WeightFileError } from '../../core/errors';
import { resolveLocalEntry, openLocalPath } from '../../formats/registry';
import { readSidecar } from '../../core/sidecar';
import { checkpointFiles } from '../../analysis/checkpointFiles';
import type { WeightFile } from '../../core/model';
import type { DiffPanelEvent, DiffPanelNotification, DiffPanelRequests, DiffPanelStateDto, DiffResultDto, DiffSidecarsDto, HistoryResultDto } from '../../protocol/diffPanel';
import type { SidecarDto } from '../../protocol/sidecar';
import { Disposable } from '../dispose';
import { localPathOf } from '../fileAccess';
import { isLocalFolder, watchFiles, type FileEvent } from '../fileWatch';
import { log, logFailure } from '../log';
import { HostMessenger, type RequestHandlers } from '../messenger';
import { SidecarChanges } from '../sidecarChanges';
import { saveSidecarEdit, toSidecarDto } from '../sidecarEdit';
import { diffSideOf, tensorPairingOf } from './diffRequests';
import { revisionFolderOf } from './gitRevisions';
import { webviewHtml, webviewOptions } from '../webviewHtml';

/** The bundle of the panel (dist/webview/diffPanel.js, media/diffPanel.css). */
export const diffPanelBundle = 'diffPanel';

/** What the panels need from the rest of the extension. */
export interface DiffPanelHost {
  /** The shared worker pool (created on first use). */
  pool(): DiffPool;
  /** Opens a file in the weights panel. */
  inspect(uri: vscode.Uri): void;
  /** The naming-convention pattern from the settings ('' = none). */
  namingPattern(): string;
  /** Sidecar saves from every view and edits on disk (the metadata cards follow them). */
  sidecars: SidecarChanges;
}

/** Quiet time after a change in a history's folder before it is read again (checkpoints are large writes). */
const historyChangeDelayMs = 1000;

/** What one panel compares. */
export type DiffTarget =
  | { mode: 'diff'; a: vscode.Uri; b: vscode.Uri; labelA: string; labelB: string; overrides?: [string, string | null][]; cleanup?: () => void }
  | { mode: 'history'; dir: vscode.Uri; label: string };

/** A local path for a URI, or a clear error for other schemes. */
function localPath(uri: vscode.Uri): string {
  return localPathOf(uri, 'comparing');
}

/** One open diff or history panel. */
export class DiffPanelView extends Disposable {
  private readonly messenger: HostMessenger<DiffPanelRequests, DiffPanelNotification, DiffPanelEvent>;
  /** The handlers of the webview's requests (the integration tests call them as the webview would). */
  readonly requests: RequestHandlers<DiffPanelRequests>;
  private overrides: Map<string, string | null>;
  private running: AbortController | undefined;
  private result: DiffResult | undefined;
  private history: HistoryResult | undefined;
  /** A history's results kept between its runs: a checkpoint added costs its own reads only. */
  readonly historyCache = new HistoryCache();
  /** The naming convention of the last history run (it decides which checkpoints their sidecars order). */
  private historyNaming: NamingConvention | undefined;
  /** Resolves when the latest run finished (tests and e2e wait on it). */
  whenDone: Promise<void> = Promise.resolve();
  /** The sidecars last pushed after a change (undefined until one changed; the integration tests read it). */
  lastSidecarsPosted: DiffSidecarsDto | undefined;
  /** Keys (SidecarChanges.key) of the compared files whose sidecars this panel shows. */
  private readonly sidecarKeys = new Set<string>();
  private sidecarsPosts = 0;
  /** The watcher of what the panel compares (both checkpoints' files, or the history's folder tree) and the files it watches. */
  private sourcesWatch: vscode.Disposable | undefined;
  private sourcesKey: string | undefined;
  private sourcesWatchCalls = 0;
  /** The compared files as opened for histograms, kept while the result they belong to is shown (opened on first request). */
  private histogramFiles: { a?: Promise<WeightFile>; b?: Promise<WeightFile> } = {};
  /** The histogram request being answered; a new one aborts it (arrowing through rows asks once per row). */
  private histogramRequest: AbortController | undefined;
  /** Settles when the latest histogram request has (its files are closed only after that). */
  private histogramSettled: Promise<unknown> = Promise.resolve();
  /** Files opened for histograms so far (the integration tests read it). */
  histogramOpens = 0;

  constructor(
    /** The hosting panel. */
    readonly panel: vscode.WebviewPanel,
    /** What it shows (A and B trade places on swap). */
    public target: DiffTarget,
    private readonly host: DiffPanelHost,
    extensionUri: vscode.Uri,
  ) {
    super();
    this.overrides = new Map(target.mode === 'diff' ? (target.overrides ?? []) : []);
    panel.webview.options = webviewOptions(extensionUri);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'weightscope.svg');
    this.requests = {
      getHistograms: (p) => this.histograms(p.a, p.b, p.bins),
      setMapping: async (p) => {
        const [a, b] = tensorPairingOf(p.a, p.b);
        this.overrides.set(a, b);
        this.start();
        return { ok: true };
      },
      resetMapping: async () => {
        this.overrides.clear();
        this.start();
        return { ok: true };
      },
      getSidecars: () => this.sidecars(),
      saveSidecar: async ({ side, ...edit }) => {
        const entry = await this.entryOf(diffSideOf(side));
        const saved = await saveSidecarEdit(entry, edit);
        this.host.sidecars.saved(entry);
        return saved;
      },
      inspect: async (p) => {
        const side = diffSideOf(p.side);
        if (this.target.mode === 'diff') {
          this.host.inspect(side === 'a' ? this.target.a : this.target.b);
        }
        return { ok: true };
      },
    };
    this.messenger = this.register(
      new HostMessenger<DiffPanelRequests, DiffPanelNotification, DiffPanelEvent>(
        panel.webview,
        this.requests,
        (e) => this.onEvent(e),
        ['ready', 'cancel', 'rerun', 'swap'],
      ),
    );
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(
      host.sidecars.onDidChange((key) => {
        if (this.sidecarKeys.has(key)) {
          this.postSidecars();
        }
      }),
    );
    void this.watchSidecars();
    panel.webview.html = webviewHtml(panel.webview, extensionUri, diffPanelBundle, panel.title);
  }

  /** Watches the sidecars of both compared files (local ones), so that saves and edits elsewhere show here. */
  private async watchSidecars(): Promise<void> {
    for (const side of ['a', 'b'] as const) {
      const uri = this.target.mode === 'diff' ? this.target[side] : undefined;
      if (uri?.scheme !== 'file') {
        continue;
      }
      try {
        const entry = await this.entryOf(side);
        if (!this.isDisposed) {
          this.sidecarKeys.add(SidecarChanges.key(entry));
          this.register(this.host.sidecars.watch(entry));
        }
      } catch {
        // a file that cannot be resolved has no sidecar to show; the comparison reports the file itself
      }
    }
  }

  /** Pushes both sidecars to the webview (the latest push wins when several overlap). */
  private postSidecars(): void {
    const id = ++this.sidecarsPosts;
    this.sidecars().then(
      (s) => {
        if (id === this.sidecarsPosts && !this.isDisposed) {
          this.lastSidecarsPosted = s;
          void this.messenger.notify({ type: 'sidecars', ...s });
        }
      },
      (ex: unknown) => logFailure('reading the compared files\' sidecars', ex),
    );
  }

  private async sidecars(): Promise<DiffSidecarsDto> {
    return { a: await this.sidecar('a'), b: await this.sidecar('b') };
  }

  /** The latest diff result (undefined while running or in history mode). */
  get diffResult(): DiffResult | undefined {
    return this.result;
  }

  /** The latest history result. */
  get historyResult(): HistoryResult | undefined {
    return this.history;
  }

  /** State saved for the serializer. */
  state(): DiffPanelStateDto {
    return this.target.mode === 'diff'
      ? {
          mode: 'diff',
          a: this.target.a.toString(),
          b: this.target.b.toString(),
          labelA: this.target.labelA,
          labelB: this.target.labelB,
          overrides: [...this.overrides],
          ...(this.target.cleanup ? { temporary: true } : {}),
        }
      : { mode: 'history', a: this.target.dir.toString(), labelA: this.target.label };
  }

  private onEvent(e: DiffPanelEvent): void {
    switch (e.type) {
      case 'ready':
        void this.messenger.notify({ type: 'init', state: this.state() });
        if (this.result) {
          void this.messenger.notify({ type: 'diff', result: this.result satisfies DiffResultDto, overrides: [...this.overrides] });
        } else if (this.history) {
          void this.messenger.notify({ type: 'history', result: this.history satisfies HistoryResultDto });
        } else if (!this.running) {
          this.start();
        }
        break;
      case 'cancel':
        this.running?.abort();
        break;
      case 'rerun':
        this.start();
        break;
      case 'swap':
        if (this.target.mode === 'diff') {
          const t = this.target;
          this.target = { ...t, a: t.b, b: t.a, labelA: t.labelB, labelB: t.labelA };
          this.overrides.clear(); // overrides name A's tensors
          this.panel.title = `Diff: ${this.target.labelA} ↔ ${this.target.labelB}`;
          void this.messenger.notify({ type: 'init', state: this.state() });
          this.start();
        }
        break;
    }
  }

  /** (Re)starts the comparison or history. */
  start(): void {
    this.running?.abort();
    this.closeHistogramFiles(); // the files may have changed, or A and B traded places
    const controller = new AbortController();
    this.running = controller;
    this.result = undefined;
    this.history = undefined;
    this.whenDone = vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: this.target.mode === 'diff' ? 'Comparing weights' : 'Reading weight history', cancellable: false },
      async (progress) => {
        try {
          if (this.target.mode === 'diff') {
            const r = await diffLocalFiles(localPath(this.target.a), localPath(this.target.b), {
              pool: this.host.pool(),
              overrides: this.overrides,
              signal: controller.signal,
              onTensor: (_d, done, total) => {
                if (this.running !== controller) {
                  return; // replaced: its successor reports progress
                }
                void this.messenger.notify({ type: 'progress', done, total });
                progress.report({ message: `${done}/${total}` });
              },
            });
            throwIfAborted(controller.signal); // a result that came in after a cancel is not shown
            this.result = r;
            log().info(`compared ${this.target.labelA} with ${this.target.labelB}: ${r.summary.changed} changed, ${r.summary.added} added, ${r.summary.removed} removed`);
            await this.messenger.notify({ type: 'diff', result: r satisfies DiffResultDto, overrides: [...this.overrides] });
          } else {
            const pattern = this.host.namingPattern();
            this.historyNaming = pattern ? compileNamingConvention(pattern) : undefined;
            const h = await computeHistory(localPath(this.target.dir), {
              signal: controller.signal,
              naming: this.historyNaming,
              cache: this.historyCache,
              onProgress: (done, total) => {
                if (this.running === controller) {
                  void this.messenger.notify({ type: 'progress', done, total });
                }
              },
            });
            throwIfAborted(controller.signal);
            this.history = h;
            await this.messenger.notify({ type: 'history', result: h satisfies HistoryResultDto });
          }
        } catch (ex) {
          if (!controller.signal.aborted) {
            logFailure(this.target.mode === 'diff' ? 'compare weights' : 'weight history', ex);
          }
          // A run replaced by a rerun, a swap or a new pairing says nothing: its 'cancelled' would
          // arrive after its successor's progress (or result) and leave the panel showing an error.
          if (this.running === controller) {
            await this.messenger.notify({ type: 'error', error: summarizeError(ex) });
          }
        } finally {
          if (this.running === controller) {
            this.running = undefined;
            void this.watchSources();
          }
        }
      },
    ) as Promise<void>;
  }

  /**
   * Watches what the panel compares, so that a change on disk runs it again: the files of both
   * checkpoints (entry and companions; a path that does not resolve now, itself, so that creating
   * it counts), for a history those of its checkpoints, the sidecars that order checkpoints whose
   * names carry no epoch/step, and its folder's entries (a checkpoint added or removed; not other
   * sidecars, nor the logs training writes there). Called after each run,
   * since a run can find other files (a shard restored, a folder's entry file replaced).
   */
  private async watchSources(): Promise<void> {
    const call = ++this.sourcesWatchCalls;
    const onChange = (changed: vscode.Uri[]): void => {
      if (this.isDisposed) {
        return;
      }
      const files = changed.map((u) => path.basename(u.fsPath));
      log().info(`${files.join(', ')} changed on disk; ${this.target.mode === 'diff' ? 'comparing' : 'reading the history'} again`);
      void this.messenger.notify({ type: 'changed', files });
      this.start();
    };
    const target = this.target;
    const checkpoints =
      target.mode === 'diff' ? [target.a, target.b].filter((u) => u.scheme === 'file').map((u) => u.fsPath) : [...(this.history?.checkpoints ?? []), ...(this.history?.skipped ?? [])].map((c) => c.path);
    const files: vscode.Uri[] = [];
    for (const p of checkpoints) {
      const paths = await resolveLocalEntry(p).then(checkpointFiles, () => [p]);
      files.push(...paths.map((f) => vscode.Uri.file(f)));
    }
    // The sidecars that order a history's checkpoints whose names carry no epoch/step.
    if (target.mode === 'history' && this.history) {
      files.push(...orderingSidecars(this.history.checkpoints, this.historyNaming).map((f) => vscode.Uri.file(f)));
    }
    // A history also watches its folder's entries: a checkpoint added (a folder or a weight file
    // made there) or removed; not the logs training writes there (affectsHistory).
    const entries =
      target.mode === 'history' && target.dir.scheme === 'file'
        ? { folder: target.dir, wanted: (u: vscode.Uri, event: FileEvent) => event === 'delete' || affectsHistory(path.basename(u.fsPath)) || (event === 'create' && isLocalFolder(u.fsPath)) }
        : undefined;
    const key = [...files.map(String).sort(), ...(entries ? [entries.folder.toString()] : [])].join('\n');
    if (call !== this.sourcesWatchCalls || this.isDisposed || key === this.sourcesKey) {
      return; // a later call decides, the panel is gone, or the same files are watched already
    }
    this.sourcesWatch?.dispose();
    this.sourcesKey = key;
    this.sourcesWatch = watchFiles(files, onChange, target.mode === 'history' ? historyChangeDelayMs : undefined, entries);
  }

  /** Files watched for changes (the integration tests read it). */
  get watchedSources(): string | undefined {
    return this.sourcesKey;
  }

  private async entryOf(side: 'a' | 'b'): Promise<string> {
    if (this.target.mode !== 'diff') {
      throw new WeightFileError('notFound', 'The history view has no compared files.');
    }
    return resolveLocalEntry(localPath(side === 'a' ? this.target.a : this.target.b));
  }

  private async sidecar(side: 'a' | 'b'): Promise<SidecarDto | null> {
    if (this.target.mode !== 'diff' || (side === 'a' ? this.target.a : this.target.b).scheme !== 'file') {
      return null;
    }
    const file = await this.entryOf(side);
    return toSidecarDto(await readSidecar(file).catch(() => undefined), file);
  }

  private histograms(a: string | null, b: string | null, bins: number): Promise<{ edges: number[]; countsA: number[]; countsB: number[] }> {
    if (this.target.mode !== 'diff') {
      return Promise.reject(new WeightFileError('notFound', 'The history view has no tensor pairs.'));
    }
    this.histogramRequest?.abort();
    const controller = new AbortController();
    this.histogramRequest = controller;
    const run = this.readHistograms(a, b, bins, controller.signal);
    this.histogramSettled = Promise.all([this.histogramSettled, run.catch(() => undefined)]).then(() => undefined);
    return run.finally(() => {
      if (this.histogramRequest === controller) {
        this.histogramRequest = undefined;
      }
    });
  }

  private async readHistograms(a: string | null, b: string | null, bins: number, signal: AbortSignal): Promise<{ edges: number[]; countsA: number[]; countsB: number[] }> {
    const binsChecked = Math.max(2, Math.min(512, Math.floor(bins) || 64));
    const entry = this.result?.tensors.find((t) => t.a === a && t.b === b);
    const fa = a !== null ? await this.histogramFile('a') : undefined;
    const fb = b !== null ? await this.histogramFile('b') : undefined;
    throwIfAborted(signal);
    const lo = Math.min(entry?.minA ?? Infinity, entry?.minB ?? Infinity);
    const hi = Math.max(entry?.maxA ?? -Infinity, entry?.maxB ?? -Infinity);
    const range: [number, number] | undefined = entry && entry.status !== 'incomparable' && lo <= hi ? [lo, hi] : undefined;
    return pairHistograms(
      fa?.tensors.find((t) => t.name === a),
      fb?.tensors.find((t) => t.name === b),
      binsChecked,
      { range, signal },
    );
  }

  /** One compared file opened for histograms: opened on first use and kept until the next run; a failed open is tried again next time. */
  private histogramFile(side: 'a' | 'b'): Promise<WeightFile> {
    if (this.target.mode !== 'diff') {
      throw new WeightFileError('notFound', 'The history view has no compared files.');
    }
    const files = this.histogramFiles;
    let opening = files[side];
    if (!opening) {
      this.histogramOpens++;
      opening = openLocalPath(localPath(this.target[side]));
      files[side] = opening;
      opening.catch(() => {
        if (files[side] === opening) {
          delete files[side];
        }
      });
    }
    return opening;
  }

  /** Aborts the histogram request and closes the files opened for it (a new run, a swap, the panel closed). */
  private closeHistogramFiles(): void {
    this.histogramRequest?.abort();
    this.histogramRequest = undefined;
    const old = this.histogramFiles;
    this.histogramFiles = {};
    const settled = this.histogramSettled;
    this.histogramSettled = Promise.resolve();
    // Closed once the aborted request stopped reading them.
    void settled.then(() => {
      for (const f of [old.a, old.b]) {
        f?.then((w) => w.close()).catch(() => undefined);
      }
    });
  }

  override dispose(): void {
    this.running?.abort();
    this.closeHistogramFiles();
    this.sourcesWatch?.dispose();
    this.sourcesWatch = undefined;
    if (this.target.mode === 'diff') {
      this.target.cleanup?.();
    }
    super.dispose();
  }
}

/** Opens, tracks and restores diff panels. */
export class DiffPanelManager extends Disposable implements vscode.WebviewPanelSerializer<DiffPanelStateDto> {
  /** View type (also in package.json's onWebviewPanel activation event). */
  static readonly viewType = 'weightscope.diffPanel';

  private readonly views = new Set<DiffPanelView>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly host: DiffPanelHost,
  ) {
    super();
    this.register(vscode.window.registerWebviewPanelSerializer(DiffPanelManager.viewType, this));
  }

  /** Every open panel. */
  all(): DiffPanelView[] {
    return [...this.views];
  }

  /** Opens a panel for a target. */
  open(target: DiffTarget): DiffPanelView {
    const title = target.mode === 'diff' ? `Diff: ${target.labelA} ↔ ${target.labelB}` : `History: ${target.label}`;
    const panel = vscode.window.createWebviewPanel(DiffPanelManager.viewType, title, vscode.ViewColumn.Active, { retainContextWhenHidden: true });
    return this.attach(panel, target);
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: DiffPanelStateDto | undefined): Promise<void> {
    try {
      if (!state || typeof state.a !== 'string') {
        throw new Error('no saved state');
      }
      const a = vscode.Uri.parse(state.a, true);
      if (state.temporary === true) {
        // Compare with HEAD / Previous Commit: its files were extracted from git for that panel and
        // removed when it closed (a folder left by a crash is removed now), so there is nothing to compare.
        for (const u of [state.a, state.b]) {
          const dir = typeof u === 'string' ? revisionFolderOf(vscode.Uri.parse(u, true).fsPath) : undefined;
          if (dir) {
            fs.rmSync(dir, { recursive: true, force: true });
          }
        }
        const what = `${state.labelA ?? 'A'} ↔ ${state.labelB ?? 'B'}`;
        log().info(`the diff panel ${what} compared files extracted from git; not restored`);
        void vscode.window.showInformationMessage(`Weightscope: the comparison ${what} is not restored after the reload (its files were extracted from git for it); run it again.`);
        panel.dispose();
        return;
      }
      if (state.mode === 'history') {
        this.attach(panel, { mode: 'history', dir: a, label: state.labelA ?? path.basename(a.fsPath) });
      } else if (typeof state.b === 'string') {
        const b = vscode.Uri.parse(state.b, true);
        this.attach(panel, { mode: 'diff', a, b, labelA: state.labelA ?? path.basename(a.fsPath), labelB: state.labelB ?? path.basename(b.fsPath), overrides: state.overrides });
      } else {
        throw new Error('no second file');
      }
    } catch (ex) {
      log().warn(`a diff panel could not be restored: ${ex instanceof Error ? ex.message : String(ex)}`);
      panel.dispose();
    }
  }

  private attach(panel: vscode.WebviewPanel, target: DiffTarget): DiffPanelView {
    const view = new DiffPanelView(panel, target, this.host, this.extensionUri);
    this.views.add(view);
    panel.onDidDispose(() => this.views.delete(view));
    return view;
  }

  override dispose(): void {
    for (const v of this.views) {
      v.panel.dispose();
    }
    this.views.clear();
    super.dispose();
  }
}
