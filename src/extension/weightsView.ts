/**
 * Connects one webview (a panel or a custom editor) to a shared WeightsDocument: sends the
 * snapshot after the webview's `ready`, forwards stats and analysis progress and the Metadata tab
 * (sidecar and naming check), and answers the webview's requests.
 */
import * as vscode from 'vscode';
import { WeightFileError } from '../core/errors';
import type { MetadataDto, WeightsPanelEvent, WeightsPanelNotification, WeightsPanelRequests } from '../protocol/weightsPanel';
import { Disposable } from './dispose';
import { logFailure } from './log';
import { HostMessenger, type RequestHandlers } from './messenger';
import { checkNaming, checkpointLabel } from './namingCheck';
import { copyReport, exportReport } from './reportCommands';
import { tableFormatOf } from './reportExport';
import type { WeightsDocument, WeightsDocumentLease } from './weightsDocument';
import { toTensorDetail, toTensorRow } from './weightsDto';
import { webviewHtml, webviewOptions } from './webviewHtml';

/** The bundle name of the weights panel (dist/webview/weightsPanel.js, media/weightsPanel.css). */
export const weightsPanelBundle = 'weightsPanel';

/** View type of the Inspect panels (WeightsPanelManager.viewType). */
export const inspectPanelViewType = 'weightscope.weightsPanel';

/** All live views, and which one is active (for Refresh and Export Report). */
export class WeightsViewRegistry {
  private readonly views = new Set<WeightsView>();
  private activeView: WeightsView | undefined;

  /** The focused weights view, if any. */
  get active(): WeightsView | undefined {
    return this.activeView;
  }

  /** Every live view. */
  all(): WeightsView[] {
    return [...this.views];
  }

  /** Adds a view. */
  add(view: WeightsView): void {
    this.views.add(view);
  }

  /** Removes a view. */
  remove(view: WeightsView): void {
    this.views.delete(view);
    if (this.activeView === view) {
      this.activeView = undefined;
    }
  }

  /** Marks a view as focused. */
  setActive(view: WeightsView, active: boolean): void {
    if (active) {
      this.activeView = view;
    } else if (this.activeView === view) {
      this.activeView = undefined;
    }
  }
}

/** The naming-convention pattern the diff and history use ('' = none). */
function namingPattern(): string {
  return vscode.workspace.getConfiguration('weightscope').get<string>('namingConvention', '');
}

/** One webview showing one document. */
export class WeightsView extends Disposable {
  private readonly messenger: HostMessenger<WeightsPanelRequests, WeightsPanelNotification, WeightsPanelEvent>;
  /** The handlers of the webview's requests (the integration tests call them as the webview would). */
  readonly requests: RequestHandlers<WeightsPanelRequests>;
  private readyCount = 0;
  private metadataSent = 0;

  constructor(
    /** The panel hosting the webview. */
    readonly panel: vscode.WebviewPanel,
    private readonly lease: WeightsDocumentLease,
    extensionUri: vscode.Uri,
    private readonly registry: WeightsViewRegistry,
  ) {
    super();
    const webview = panel.webview;
    webview.options = webviewOptions(extensionUri);
    this.requests = {
      getTensorDetail: async ({ name }) => {
        const file = this.document.weightFile;
        const t = file?.tensors.find((x) => x.name === name);
        if (!t) {
          throw new WeightFileError('notFound', `No tensor named '${name}' in ${this.document.fileName}.`);
        }
        return toTensorDetail(t, this.document.results.get(name), this.document.fingerprints.get(name));
      },
      analyze: async () => {
        void this.document.analyze();
        return null;
      },
      cancelAnalysis: async () => {
        this.document.cancelAnalysis();
        return null;
      },
      refresh: async () => {
        await this.document.reload();
        void this.document.analyzeIfSmall();
        return null;
      },
      copyTable: async ({ format, tensors }) => ({ rows: await copyReport(this.document, tableFormatOf(format), validNames(tensors)) }),
      exportTable: async ({ format, tensors }) => ({ path: await exportReport(this.document, tableFormatOf(format), { names: validNames(tensors) }) }),
      reopenWith: async () => {
        if (this.panel.viewType === inspectPanelViewType) {
          // An Inspect panel is no editor of its file, and Reopen Editor With acts on the active
          // editor only: open the file in its default editor in the panel's place, then offer the others.
          // Without taking focus: a webview editor that takes it once loaded would close the picker below.
          await vscode.commands.executeCommand('vscode.open', this.document.uri, { viewColumn: this.panel.viewColumn, preview: false, preserveFocus: true });
          this.panel.dispose();
        }
        await vscode.commands.executeCommand('workbench.action.reopenWithEditor', this.document.uri);
        return null;
      },
      copyFingerprint: async ({ tensor }) => {
        const doc = this.document;
        const fingerprint = typeof tensor === 'string' ? doc.fingerprints.get(tensor) : doc.fingerprintStatus.model;
        if (fingerprint === undefined) {
          const what = typeof tensor === 'string' ? `tensor '${tensor}'` : 'the model';
          throw new WeightFileError('notFound', `The fingerprint of ${what} in ${doc.fileName} is not computed yet.`);
        }
        await vscode.env.clipboard.writeText(fingerprint);
        return { fingerprint };
      },
      saveSidecar: (edit) => this.document.saveMetadata(edit),
      createSidecar: () => this.document.createMetadata(),
    };
    this.messenger = this.register(
      new HostMessenger<WeightsPanelRequests, WeightsPanelNotification, WeightsPanelEvent>(
        webview,
        this.requests,
        (event) => {
          if (event.type === 'ready') {
            this.readyCount++;
            void this.messenger.notify({ type: 'didChangeModel', snapshot: this.document.snapshot() });
            void this.messenger.notify({ type: 'didChangeDiagnostics', diagnostics: this.document.diagnosticsSnapshot() });
            this.sendMetadata();
          }
        },
        ['ready'],
      ),
    );
    const doc = this.document;
    this.register(
      doc.onDidChangeModel(() => {
        void this.messenger.notify({ type: 'didChangeModel', snapshot: doc.snapshot() });
        this.sendMetadata();
      }),
    );
    this.register(doc.onDidChangeMetadata(() => this.sendMetadata()));
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('weightscope.namingConvention')) {
          this.sendMetadata();
        }
      }),
    );
    this.register(
      doc.onDidUpdateStats((names) => {
        const file = doc.weightFile;
        if (!file) {
          return;
        }
        const byName = new Map(file.tensors.map((t) => [t.name, t]));
        const updates = names.flatMap((n) => {
          const t = byName.get(n);
          if (!t) {
            return [];
          }
          const row = toTensorRow(t, doc.results.get(n));
          return [{ name: n, ...(row.stats ? { stats: row.stats } : {}), issues: row.issues }];
        });
        void this.messenger.notify({ type: 'didUpdateStats', updates, analysis: doc.analysis });
      }),
    );
    this.register(doc.onDidChangeAnalysis((analysis) => void this.messenger.notify({ type: 'didChangeAnalysis', analysis })));
    this.register(
      doc.onDidUpdateFingerprints((names) => {
        const updates = names.flatMap((name) => {
          const fingerprint = doc.fingerprints.get(name);
          return fingerprint ? [{ name, fingerprint }] : [];
        });
        void this.messenger.notify({ type: 'didUpdateFingerprints', updates, fingerprint: doc.fingerprintStatus });
      }),
    );
    this.register(
      doc.onDidChangeFingerprint((fingerprint) => {
        void this.messenger.notify({ type: 'didUpdateFingerprints', updates: [], fingerprint });
        if (fingerprint.state === 'done') {
          this.sendMetadata(); // the fingerprint a new sidecar would record is known now
        }
      }),
    );
    this.register(doc.onDidChangeDiagnostics(() => void this.messenger.notify({ type: 'didChangeDiagnostics', diagnostics: doc.diagnosticsSnapshot() })));
    this.register(panel.onDidChangeViewState((e) => this.registry.setActive(this, e.webviewPanel.active)));
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(lease);
    registry.add(this);
    if (panel.active) {
      registry.setActive(this, true);
    }
    webview.html = webviewHtml(webview, extensionUri, weightsPanelBundle, doc.fileName);
    void doc.analyzeIfSmall();
  }

  /** The document shown. */
  get document(): WeightsDocument {
    return this.lease.document;
  }

  /** The Metadata tab's content: the sidecar and the naming check of the file's name. */
  async metadata(): Promise<MetadataDto> {
    const doc = this.document;
    const naming = checkNaming(namingPattern(), checkpointLabel(doc.uri.path));
    return { ...(await doc.metadata()), naming };
  }

  /** Sends the Metadata tab's content (the latest request wins when several overlap). */
  private sendMetadata(): void {
    const id = ++this.metadataSent;
    this.metadata().then(
      (metadata) => {
        if (id === this.metadataSent) {
          void this.messenger.notify({ type: 'didChangeMetadata', metadata });
        }
      },
      (ex: unknown) => logFailure(`metadata of ${this.document.fileName}`, ex),
    );
  }

  /** How many times the webview said `ready` (1 after the first load). */
  get readyMessages(): number {
    return this.readyCount;
  }

  override dispose(): void {
    this.registry.remove(this);
    super.dispose();
  }
}

/** Names from the webview, checked to be a string array (the boundary validates its input). */
function validNames(names: unknown): string[] | undefined {
  return Array.isArray(names) && names.every((n) => typeof n === 'string') ? names : undefined;
}
