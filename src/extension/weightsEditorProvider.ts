/**
 * The read-only custom editor: the default editor for binary weight files and an "Open With..."
 * choice for `model.json`. Its document is a lease on the shared WeightsDocument, so the editor,
 * the tree and the panels of one file share one parse and one set of statistics.
 */
import * as vscode from 'vscode';
import { Disposable } from './dispose';
import type { WeightsDocument, WeightsDocumentLease, WeightsDocumentStore } from './weightsDocument';
import { WeightsView, type WeightsViewRegistry } from './weightsView';

/** The custom editor's document: a lease on the shared document. */
class WeightsEditorDocument implements vscode.CustomDocument {
  constructor(private readonly lease: WeightsDocumentLease) {}

  get uri(): vscode.Uri {
    return this.lease.document.uri;
  }

  get document(): WeightsDocument {
    return this.lease.document;
  }

  /** A second lease for one editor view (released with the view). */
  viewLease(store: WeightsDocumentStore): WeightsDocumentLease {
    return store.acquire(this.lease.document.uri);
  }

  dispose(): void {
    this.lease.dispose();
  }
}

/** Provider of both editor view types. */
export class WeightsEditorProvider extends Disposable implements vscode.CustomReadonlyEditorProvider<WeightsEditorDocument> {
  /** Default editor for binary weight files. */
  static readonly viewType = 'weightscope.weightsEditor';
  /** "Open With..." editor for JSON model files (model.json), not the default. */
  static readonly jsonViewType = 'weightscope.weightsEditor.json';

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly store: WeightsDocumentStore,
    private readonly registry: WeightsViewRegistry,
  ) {
    super();
    for (const viewType of [WeightsEditorProvider.viewType, WeightsEditorProvider.jsonViewType]) {
      this.register(
        vscode.window.registerCustomEditorProvider(viewType, this, {
          supportsMultipleEditorsPerDocument: true,
          webviewOptions: { retainContextWhenHidden: true },
        }),
      );
    }
  }

  async openCustomDocument(uri: vscode.Uri): Promise<WeightsEditorDocument> {
    return new WeightsEditorDocument(this.store.acquire(uri));
  }

  async resolveCustomEditor(document: WeightsEditorDocument, panel: vscode.WebviewPanel): Promise<void> {
    new WeightsView(panel, document.viewLease(this.store), this.extensionUri, this.registry);
  }
}
