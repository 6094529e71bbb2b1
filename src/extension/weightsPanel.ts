/**
 * The "Inspect Weights" panels: one WebviewPanel per file, revealed when asked again, restored
 * after a reload by a WebviewPanelSerializer (state: the file's URI).
 */
import * as vscode from 'vscode';
import type { WeightsPanelStateDto } from '../protocol/weightsPanel';
import { Disposable } from './dispose';
import { log } from './log';
import { WeightsDocumentStore, type WeightsDocumentLease } from './weightsDocument';
import { inspectPanelViewType, WeightsView, type WeightsViewRegistry } from './weightsView';

/** Opens and restores weights panels. */
export class WeightsPanelManager extends Disposable implements vscode.WebviewPanelSerializer<WeightsPanelStateDto> {
  /** View type of the panel (also in package.json's `onWebviewPanel:` activation event). */
  static readonly viewType = inspectPanelViewType;

  private readonly panels = new Map<string, WeightsView>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly store: WeightsDocumentStore,
    private readonly registry: WeightsViewRegistry,
  ) {
    super();
    this.register(vscode.window.registerWebviewPanelSerializer(WeightsPanelManager.viewType, this));
  }

  /** Shows the panel of `uri`, creating it when needed. */
  show(uri: vscode.Uri, column: vscode.ViewColumn = vscode.ViewColumn.Active): WeightsView {
    const key = WeightsDocumentStore.key(uri);
    const existing = this.panels.get(key);
    if (existing) {
      existing.panel.reveal(column);
      return existing;
    }
    const lease = this.store.acquire(uri);
    const panel = vscode.window.createWebviewPanel(WeightsPanelManager.viewType, `Weights: ${lease.document.fileName}`, column, {
      retainContextWhenHidden: true,
    });
    return this.attach(key, panel, lease);
  }

  /** The panel showing `uri`, if any. */
  find(uri: vscode.Uri): WeightsView | undefined {
    return this.panels.get(WeightsDocumentStore.key(uri));
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: WeightsPanelStateDto | undefined): Promise<void> {
    if (!state || typeof state.uri !== 'string') {
      log().warn('a weights panel could not be restored: it saved no file URI');
      panel.dispose();
      return;
    }
    let uri: vscode.Uri;
    try {
      uri = vscode.Uri.parse(state.uri, true);
    } catch {
      panel.dispose(); // state from an unknown version: nothing to restore
      return;
    }
    const key = WeightsDocumentStore.key(uri);
    if (this.panels.has(key)) {
      panel.dispose();
      return;
    }
    log().info(`restoring the weights panel of ${uri.toString(true)}`);
    this.attach(key, panel, this.store.acquire(uri));
  }

  private attach(key: string, panel: vscode.WebviewPanel, lease: WeightsDocumentLease): WeightsView {
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'weightscope.svg');
    panel.title = `Weights: ${lease.document.fileName}`;
    const view = new WeightsView(panel, lease, this.extensionUri, this.registry);
    this.panels.set(key, view);
    view.panel.onDidDispose(() => {
      if (this.panels.get(key) === view) {
        this.panels.delete(key);
      }
    });
    return view;
  }

  override dispose(): void {
    for (const v of this.panels.values()) {
      v.dispose();
    }
    this.panels.clear();
    super.dispose();
  }
}
