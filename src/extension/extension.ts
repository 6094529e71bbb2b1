/**
 * Activation: registrations only. Everything is pushed onto `context.subscriptions`.
 */
import * as vscode from 'vscode';
import { JobLimiter } from '../analysis/jobLimiter';
import { StatsCache } from '../analysis/statsCache';
import { StatsPool } from '../analysis/statsPool';
import { AnalysisProgress } from './analysisProgress';
import { commandIds, registerCommands } from './commands';
import { registerDiffSupport, type DiffSupport } from './diff/diffSupport';
import { setDuplicateServices } from './diff/duplicates';
import { FingerprintIndex } from './fingerprintIndex';
import { log, logFailure } from './log';
import { registerRuntimeSupport, stopRuntimeSupport } from './runtime/runtimeSupport';
import { readSettings } from './settings';
import { SidecarChanges } from './sidecarChanges';
import { WeightsDocumentStore } from './weightsDocument';
import { WeightsEditorProvider } from './weightsEditorProvider';
import { WeightsPanelManager } from './weightsPanel';
import { WeightsTreeProvider } from './weightsTree';
import { WeightsViewRegistry } from './weightsView';

/** What activate() returns: the extension's objects, for the integration tests. */
export interface WeightscopeApi {
  /** Shared documents. */
  store: WeightsDocumentStore;
  /** Inspect panels. */
  panels: WeightsPanelManager;
  /** Live webviews. */
  views: WeightsViewRegistry;
  /** The Weights tree. */
  tree: WeightsTreeProvider;
  /** Command ids. */
  commands: typeof commandIds;
  /** Compare Weights / weight history support. */
  diff: DiffSupport;
  /** Model fingerprints known per file (tree, Find Duplicate Weights). */
  fingerprints: FingerprintIndex;
  /** The statistics and fingerprint cache in use (on disk under globalStorageUri unless turned off). */
  statsCache(): StatsCache;
}

/** Id of the command that empties the statistics and fingerprint cache. */
export const clearCacheCommandId = 'weightscope.clearCache';

export function activate(context: vscode.ExtensionContext): WeightscopeApi {
  let pool: StatsPool | undefined;
  // One cache on disk under the extension's global storage (never next to the user's files), one in memory only.
  const cacheDir = vscode.Uri.joinPath(context.globalStorageUri, 'stats-cache').fsPath;
  const diskCache = new StatsCache({ cacheDir });
  const memoryCache = new StatsCache();
  const statsCache = (): StatsCache => (readSettings().cacheOnDisk ? diskCache : memoryCache);
  const fingerprints = new FingerprintIndex();
  setDuplicateServices({ index: fingerprints, statsCache });
  // Sidecar saves from the weights and diff panels and edits on disk: every panel showing that sidecar reads it again.
  const sidecars = new SidecarChanges();
  // Diagnostics and fingerprints start a worker per file: all files' together run at most as many
  // at once as the statistics pool has workers (expanding 20 files in the tree would start 40).
  const workerJobs = new JobLimiter(() => readSettings().workerCount);
  const store = new WeightsDocumentStore({
    statsPool: () => (pool ??= new StatsPool({ workers: readSettings().workerCount })),
    settings: readSettings,
    statsCache,
    sidecars,
    workerJobs,
  });
  // Model fingerprints of opened documents feed the index; a reload (changed file) forgets the old one.
  const documentFingerprints = store.onDidCreateDocument((doc) => {
    const sub = doc.onDidChangeFingerprint((f) => {
      if (f.state === 'done' && f.model !== undefined) {
        fingerprints.set(doc.uri, { model: f.model, modelTensorCount: f.modelTensorCount ?? 0, partial: f.partial ?? false, source: 'document' });
      } else if (f.state === 'idle') {
        fingerprints.delete(doc.uri);
      }
    });
    doc.onDidDispose(() => {
      sub.dispose();
      // Without its document nothing keeps the entry current: later searches check it against the file again.
      const known = fingerprints.get(doc.uri);
      if (known?.source === 'document') {
        fingerprints.set(doc.uri, { ...known, source: 'cache' });
      }
    });
  });
  const views = new WeightsViewRegistry();
  const panels = new WeightsPanelManager(context.extensionUri, store, views);
  const editors = new WeightsEditorProvider(context.extensionUri, store, views);
  const tree = new WeightsTreeProvider(store, { fingerprints, statsCache });
  const treeView = vscode.window.createTreeView(WeightsTreeProvider.viewId, { treeDataProvider: tree, showCollapseAll: true });
  context.subscriptions.push(
    log(),
    fingerprints,
    sidecars,
    documentFingerprints,
    store,
    panels,
    editors,
    tree,
    treeView,
    new AnalysisProgress(store),
    ...registerCommands({ store, panels, views, tree }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('weightscope.diagnostics.enabled')) {
        for (const doc of store.all()) {
          doc.diagnosticsSettingChanged();
        }
      }
      if (e.affectsConfiguration('weightscope.workerCount') && pool) {
        // New analyses get a pool of the new size; the old one is disposed once the analyses running
        // on it are done (disposing it now would mark each of their remaining tensors as failed).
        const old = pool;
        pool = undefined;
        const running = store.all().filter((d) => d.analysis.state === 'running');
        void Promise.all(running.map((d) => d.analyze().catch(() => undefined))).then(async () => {
          await old.dispose().catch((ex: unknown) => logFailure('stopping the old worker pool', ex));
        });
      }
    }),
    { dispose: () => void pool?.dispose() },
    vscode.commands.registerCommand(clearCacheCommandId, async () => {
      memoryCache.clearMemory();
      try {
        const removed = await diskCache.clear();
        log().info(`cleared the statistics cache in ${cacheDir}: ${removed} entries`);
        void vscode.window.showInformationMessage(`Weightscope: cleared the statistics cache (${removed} entries).`);
      } catch (ex) {
        logFailure(`clearing the statistics cache in ${cacheDir}`, ex);
        void vscode.window.showErrorMessage(`Weightscope: cannot clear the statistics cache in ${cacheDir}: ${ex instanceof Error ? ex.message : String(ex)}`);
      }
    }),
  );
  const diff = registerDiffSupport(context, { inspect: (uri) => panels.show(uri), sidecars });
  context.subscriptions.push(...registerRuntimeSupport(context, { refreshTree: () => tree.refresh() }));
  // Scan once at start so the explorer's folder menu (model folders context key) works before the view is opened.
  void tree.listFiles();
  log().info(`Weightscope ${String(context.extension.packageJSON.version)} activated`);
  log().info(`statistics cache: ${readSettings().cacheOnDisk ? cacheDir : 'in memory only (weightscope.cache.onDisk is off)'}`);
  return { store, panels, views, tree, commands: commandIds, diff, fingerprints, statsCache };
}

export function deactivate(): Promise<void> {
  // everything else is released through context.subscriptions; the TF.js worker is stopped here
  // so that VS Code waits for the tidying of the runs it stops (temporary checkpoint folders, run.json)
  return stopRuntimeSupport();
}
