/**
 * Activation: registrations only. Everything is pushed onto `context.subscriptions`.
 */
import * as vscode from 'vscode';
import { StatsPool } from '../analysis/statsPool';
import { AnalysisProgress } from './analysisProgress';
import { commandIds, registerCommands } from './commands';
import { registerDiffSupport, type DiffSupport } from './diff/diffSupport';
import { log } from './log';
import { registerRuntimeSupport } from './runtime/runtimeSupport';
import { readSettings } from './settings';
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
}

export function activate(context: vscode.ExtensionContext): WeightscopeApi {
  let pool: StatsPool | undefined;
  const store = new WeightsDocumentStore({
    statsPool: () => (pool ??= new StatsPool({ workers: readSettings().workerCount })),
    settings: readSettings,
  });
  const views = new WeightsViewRegistry();
  const panels = new WeightsPanelManager(context.extensionUri, store, views);
  const editors = new WeightsEditorProvider(context.extensionUri, store, views);
  const tree = new WeightsTreeProvider(store);
  const treeView = vscode.window.createTreeView(WeightsTreeProvider.viewId, { treeDataProvider: tree, showCollapseAll: true });
  context.subscriptions.push(
    log(),
    store,
    panels,
    editors,
    tree,
    treeView,
    new AnalysisProgress(store),
    ...registerCommands({ store, panels, views, tree }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('weightscope.workerCount') && pool) {
        const old = pool;
        pool = undefined;
        void old.dispose();
      }
    }),
    { dispose: () => void pool?.dispose() },
  );
  const diff = registerDiffSupport(context, { inspect: (uri) => panels.show(uri) });
  context.subscriptions.push(...registerRuntimeSupport(context, { refreshTree: () => tree.refresh() }));
  // Scan once at start so the explorer's folder menu (model folders context key) works before the view is opened.
  void tree.listFiles();
  log().info(`Weightscope ${String(context.extension.packageJSON.version)} activated`);
  return { store, panels, views, tree, commands: commandIds, diff };
}

export function deactivate(): void {
  // everything is released through context.subscriptions
}
