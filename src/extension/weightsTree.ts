/**
 * The "Weights" tree of the Weightscope view: the workspace's weight files (found by the
 * `weightscope.fileGlobs` setting and kept current by file watchers), each expanding to its layers
 * and tensors from the headers at once; stats fill in as the analysis delivers them. A file shows
 * its model fingerprint once known (FingerprintIndex: opened documents, the cache, sidecars, Find
 * Duplicate Weights), and files with equal fingerprints are grouped under a "Duplicates" node.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Diagnostic } from '../analysis/diagnostics/diagnostic';
import { shortFingerprint } from '../analysis/fingerprint';
import type { StatsCache } from '../analysis/statsCache';
import { shapeText, type TensorInfo } from '../core/model';
import type { TensorIssueDto } from '../protocol/weightsPanel';
import { Disposable } from './dispose';
import { FingerprintIndex } from './fingerprintIndex';
import { logFailure } from './log';
import { readSettings } from './settings';
import { WeightsDocumentStore, type WeightsDocument, type WeightsDocumentLease } from './weightsDocument';
import { tensorIssues, toLayerRows } from './weightsDto';

/** A node of the tree. */
export type WeightsTreeNode =
  | { kind: 'file'; uri: vscode.Uri }
  | { kind: 'layer'; uri: vscode.Uri; layer: string; className?: string; tensors: string[]; params: number }
  | { kind: 'tensor'; uri: vscode.Uri; tensor: string; layer: string }
  | { kind: 'message'; uri: vscode.Uri; text: string; detail?: string; severity: 'error' | 'info' };

/** A node of the "Duplicates" part of the tree: the root, one group per fingerprint, its files. */
export type DuplicateTreeNode =
  | { kind: 'duplicates' }
  | { kind: 'duplicateGroup'; fingerprint: string; files: vscode.Uri[] }
  | { kind: 'duplicateFile'; uri: vscode.Uri; fingerprint: string };

/** Any node of the tree. */
export type WeightsTreeElement = WeightsTreeNode | DuplicateTreeNode;

/** What the tree uses besides the documents. */
export interface WeightsTreeServices {
  /** Known model fingerprints (shown, grouped, and looked up in the cache for listed files). */
  fingerprints: FingerprintIndex;
  /** The statistics and fingerprint cache; undefined: none. */
  statsCache(): StatsCache | undefined;
}

/** Delay before re-scanning after file-system events, in milliseconds. */
const rescanDelayMs = 300;

/** Delay that coalesces refreshes of one file's subtree, in milliseconds. */
const treeRefreshDelayMs = 300;

/** Largest number of files listed. */
const maxFiles = 2000;

/** Context key holding the model folders (SavedModel or checkpoint) for the explorer menu. */
export const modelFoldersContextKey = 'weightscope.modelFolders';

/** Short human text for a number of elements. */
function formatStat(v: number | null | undefined): string {
  if (v === null || v === undefined) {
    return '–';
  }
  if (v === 0) {
    return '0';
  }
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3);
}

/** The tree data provider. */
export class WeightsTreeProvider extends Disposable implements vscode.TreeDataProvider<WeightsTreeElement> {
  /** Id of the view in package.json. */
  static readonly viewId = 'weightscope.files';

  private readonly onDidChangeTreeDataEmitter = this.register(new vscode.EventEmitter<WeightsTreeElement | undefined>());
  /** Fires when nodes change. */
  readonly onDidChangeTreeData = this.onDidChangeTreeDataEmitter.event;
  private readonly leases = new Map<string, WeightsDocumentLease>();
  private readonly fileNodes = new Map<string, WeightsTreeNode & { kind: 'file' }>();
  private files: Promise<vscode.Uri[]> | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private watchers: vscode.Disposable[] = [];
  private fingerprintTimer: NodeJS.Timeout | undefined;
  /** The files of the last completed scan (duplicates are named among these only). */
  private listed: vscode.Uri[] = [];
  private readonly duplicatesNode: DuplicateTreeNode = { kind: 'duplicates' };
  private readonly fingerprintIndex: FingerprintIndex;

  constructor(
    private readonly store: WeightsDocumentStore,
    private readonly services: WeightsTreeServices = { fingerprints: new FingerprintIndex(), statsCache: () => undefined },
  ) {
    super();
    this.fingerprintIndex = services.fingerprints;
    // Coalesced: a search fingerprints many files in a row; one refresh of the list every few hundred ms is plenty.
    this.register(
      this.fingerprintIndex.onDidChange(() => {
        clearTimeout(this.fingerprintTimer);
        this.fingerprintTimer = setTimeout(() => this.onDidChangeTreeDataEmitter.fire(undefined), treeRefreshDelayMs);
      }),
    );
    this.register({ dispose: () => clearTimeout(this.fingerprintTimer) });
    this.watch();
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('weightscope.fileGlobs')) {
          this.watch();
          this.refresh();
        }
      }),
    );
    this.register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()));
    this.register({ dispose: () => this.releaseAll() });
    this.register({ dispose: () => this.watchers.forEach((w) => w.dispose()) });
  }

  /** Forgets the file list and every expanded file, and re-reads them. */
  refresh(): void {
    this.files = undefined;
    this.releaseAll();
    this.onDidChangeTreeDataEmitter.fire(undefined);
  }

  /** The files currently listed (scans when needed). */
  listFiles(): Promise<vscode.Uri[]> {
    this.files ??= this.scan();
    return this.files;
  }

  private releaseAll(): void {
    for (const l of this.leases.values()) {
      l.dispose();
    }
    this.leases.clear();
  }

  private watch(): void {
    this.watchers.forEach((w) => w.dispose());
    this.watchers = [];
    for (const glob of [...readSettings().fileGlobs, '**/checkpoint']) {
      const w = vscode.workspace.createFileSystemWatcher(glob);
      w.onDidCreate(() => this.scheduleRescan());
      w.onDidDelete((uri) => {
        this.fingerprintIndex.delete(uri);
        this.leases.get(WeightsDocumentStore.key(uri))?.dispose();
        this.leases.delete(WeightsDocumentStore.key(uri));
        this.scheduleRescan();
      });
      // An open document reloads itself: it watches every file it was read from (WeightsDocument.watchSources).
      w.onDidChange((uri) => this.fingerprintIndex.delete(uri));
      this.watchers.push(w);
    }
  }

  private scheduleRescan(): void {
    clearTimeout(this.rescanTimer);
    this.rescanTimer = setTimeout(() => {
      this.files = undefined;
      this.onDidChangeTreeDataEmitter.fire(undefined);
    }, rescanDelayMs);
  }

  private async scan(): Promise<vscode.Uri[]> {
    if (!vscode.workspace.workspaceFolders?.length) {
      void vscode.commands.executeCommand('setContext', modelFoldersContextKey, []);
      return [];
    }
    const globs = readSettings().fileGlobs;
    const exclude = '**/{node_modules,.git}/**';
    const found = new Map<string, vscode.Uri>();
    try {
      for (const g of globs) {
        for (const uri of await vscode.workspace.findFiles(g, exclude, maxFiles)) {
          found.set(uri.toString(), uri);
        }
      }
      const checkpoints = await vscode.workspace.findFiles('**/checkpoint', exclude, maxFiles);
      const folders = new Set<string>();
      for (const uri of [...found.values(), ...checkpoints]) {
        const name = path.posix.basename(uri.path);
        if (name === 'saved_model.pb' || name === 'checkpoint') {
          folders.add(vscode.Uri.joinPath(uri, '..').fsPath);
        }
      }
      void vscode.commands.executeCommand('setContext', modelFoldersContextKey, [...folders]);
    } catch (ex) {
      logFailure('listing weight files', ex);
    }
    const files = [...found.values()].sort((a, b) => a.path.localeCompare(b.path)).slice(0, maxFiles);
    this.listed = files;
    void this.lookupFingerprints(files);
    return files;
  }

  /** Fills the fingerprint index from the cache and sidecars for the listed files (no tensor is read). */
  private async lookupFingerprints(files: readonly vscode.Uri[]): Promise<void> {
    const cache = this.services.statsCache();
    for (const uri of files) {
      if (this.isDisposed) {
        return;
      }
      await this.fingerprintIndex.lookup(uri, cache);
    }
  }

  /** Groups of listed files with equal model fingerprints. */
  private async duplicateGroups(): Promise<{ fingerprint: string; files: vscode.Uri[] }[]> {
    const files = await this.listFiles();
    return this.fingerprintIndex.groups(files).map((g) => ({ fingerprint: g.fingerprint, files: g.keys }));
  }

  /** The lease on the document of a file node, acquired on first expansion. */
  private documentOf(uri: vscode.Uri): WeightsDocument {
    const key = WeightsDocumentStore.key(uri);
    let lease = this.leases.get(key);
    if (!lease) {
      lease = this.store.acquire(uri);
      this.leases.set(key, lease);
      const doc = lease.document;
      const fileNode = this.fileNodes.get(key);
      let timer: NodeJS.Timeout | undefined;
      // Coalesced: stats arrive in batches, and one refresh per file every few hundred ms is plenty.
      const changed = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => this.onDidChangeTreeDataEmitter.fire(fileNode), treeRefreshDelayMs);
      };
      // Model changes matter after the first open (reloads); the first open is awaited by getChildren.
      let opened = false;
      void doc.whenOpened().then(() => (opened = true));
      const subs = [
        doc.onDidUpdateStats(changed),
        doc.onDidChangeDiagnostics((status) => {
          if (status.state !== 'running') {
            changed();
          }
        }),
        doc.onDidChangeModel(() => {
          if (opened) {
            changed();
          }
        }),
        { dispose: () => clearTimeout(timer) },
      ];
      const inner = lease;
      lease = {
        document: doc,
        dispose: () => {
          subs.forEach((s) => s.dispose());
          inner.dispose();
        },
      };
      this.leases.set(key, lease);
    }
    return lease.document;
  }

  async getChildren(node?: WeightsTreeElement): Promise<WeightsTreeElement[]> {
    if (!node) {
      const files = await this.listFiles();
      const groups = await this.duplicateGroups();
      const fileNodes = files.map((uri) => {
        const key = WeightsDocumentStore.key(uri);
        let n = this.fileNodes.get(key);
        if (!n || n.uri.toString() !== uri.toString()) {
          n = { kind: 'file', uri };
          this.fileNodes.set(key, n);
        }
        return n;
      });
      return groups.length > 0 ? [this.duplicatesNode, ...fileNodes] : fileNodes;
    }
    if (node.kind === 'duplicates') {
      return (await this.duplicateGroups()).map((g): DuplicateTreeNode => ({ kind: 'duplicateGroup', fingerprint: g.fingerprint, files: g.files }));
    }
    if (node.kind === 'duplicateGroup') {
      return node.files.map((uri): DuplicateTreeNode => ({ kind: 'duplicateFile', uri, fingerprint: node.fingerprint }));
    }
    if (node.kind === 'file') {
      const doc = this.documentOf(node.uri);
      await doc.whenOpened();
      const file = doc.weightFile;
      if (!file) {
        return [
          {
            kind: 'message',
            uri: node.uri,
            text: doc.error ? `error[${doc.error.reason}]` : 'not open',
            detail: doc.error?.message,
            severity: 'error',
          },
        ];
      }
      void doc.analyzeIfSmall();
      const layers = toLayerRows(file).filter((l) => l.tensors.length > 0);
      const inLayer = new Set(layers.flatMap((l) => l.tensors));
      const loose = file.tensors.filter((t) => !inLayer.has(t.name));
      return [
        ...layers.map((l): WeightsTreeNode => ({ kind: 'layer', uri: node.uri, layer: l.name, className: l.className, tensors: l.tensors, params: l.params })),
        ...loose.map((t): WeightsTreeNode => ({ kind: 'tensor', uri: node.uri, tensor: t.name, layer: t.layer })),
      ];
    }
    if (node.kind === 'layer') {
      return node.tensors.map((t) => ({ kind: 'tensor', uri: node.uri, tensor: t, layer: node.layer }));
    }
    return [];
  }

  getParent(node: WeightsTreeElement): WeightsTreeElement | undefined {
    if (node.kind === 'file' || node.kind === 'duplicates') {
      return undefined;
    }
    if (node.kind === 'duplicateGroup') {
      return this.duplicatesNode;
    }
    if (node.kind === 'duplicateFile') {
      const files = this.fingerprintIndex.groups().find((g) => g.fingerprint === node.fingerprint)?.keys ?? [node.uri];
      return { kind: 'duplicateGroup', fingerprint: node.fingerprint, files };
    }
    const fileNode = this.fileNodes.get(WeightsDocumentStore.key(node.uri));
    if (node.kind === 'tensor' && node.layer) {
      const doc = this.store.find(node.uri);
      const layer = doc?.weightFile ? toLayerRows(doc.weightFile).find((l) => l.name === node.layer && l.tensors.includes(node.tensor)) : undefined;
      if (layer) {
        return { kind: 'layer', uri: node.uri, layer: layer.name, className: layer.className, tensors: layer.tensors, params: layer.params };
      }
    }
    return fileNode;
  }

  // Items carry no explicit ids: VS Code then derives handles from the parent and the label, and a
  // refresh that overlaps a pending getChildren cannot fail with "Element with id ... is already registered".
  getTreeItem(node: WeightsTreeElement): vscode.TreeItem {
    switch (node.kind) {
      case 'file':
        return this.fileItem(node.uri);
      case 'layer': {
        const item = new vscode.TreeItem(node.layer || '(no layer)', vscode.TreeItemCollapsibleState.Collapsed);
        item.description = `${node.className ? `${node.className} · ` : ''}${node.params.toLocaleString('en-US')} params`;
        item.iconPath = new vscode.ThemeIcon('layers');
        item.contextValue = 'weightscope.layer';
        const issues = this.layerIssues(node);
        const diagnostics = this.diagnosticsOf(node.uri, (d) => d.layer === node.layer && (d.tensor === undefined || node.tensors.includes(d.tensor)));
        if (issues.length > 0 || diagnostics.length > 0) {
          const error = issues.some((i) => i.severity === 'error') || diagnostics.some((d) => d.severity === 'error');
          item.iconPath = new vscode.ThemeIcon(error ? 'error' : 'warning', new vscode.ThemeColor(error ? 'problemsErrorIcon.foreground' : 'problemsWarningIcon.foreground'));
          const md = new vscode.MarkdownString();
          md.appendText(issues.length > 0 ? `${node.layer}: ${issues.length} tensor problem(s)` : node.layer);
          appendDiagnostics(md, diagnostics);
          item.tooltip = md;
        }
        return item;
      }
      case 'tensor':
        return this.tensorItem(node);
      case 'duplicates': {
        const item = new vscode.TreeItem('Duplicates', vscode.TreeItemCollapsibleState.Collapsed);
        item.description = 'files with the same weights';
        item.tooltip = 'Weight files whose model fingerprints (SHA-256 over the tensor values) are equal, whatever their formats.';
        item.iconPath = new vscode.ThemeIcon('copy');
        item.contextValue = 'weightscope.duplicates';
        return item;
      }
      case 'duplicateGroup': {
        const item = new vscode.TreeItem(`${shortFingerprint(node.fingerprint)}`, vscode.TreeItemCollapsibleState.Expanded);
        item.description = `${node.files.length} files with the same weights`;
        item.tooltip = `Model fingerprint ${node.fingerprint}`;
        item.iconPath = new vscode.ThemeIcon('key');
        item.contextValue = 'weightscope.duplicateGroup';
        return item;
      }
      case 'duplicateFile': {
        const item = new vscode.TreeItem(vscode.workspace.asRelativePath(node.uri), vscode.TreeItemCollapsibleState.None);
        item.resourceUri = node.uri;
        item.tooltip = `${node.uri.scheme === 'file' ? node.uri.fsPath : node.uri.toString(true)}\n\nModel fingerprint ${node.fingerprint}`;
        item.contextValue = 'weightscope.duplicateFile';
        item.command = { command: 'weightscope.inspect', title: 'Inspect Weights', arguments: [node.uri] };
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.description = node.detail;
        item.tooltip = node.detail;
        item.iconPath = new vscode.ThemeIcon(node.severity === 'error' ? 'error' : 'info', node.severity === 'error' ? new vscode.ThemeColor('problemsErrorIcon.foreground') : undefined);
        item.contextValue = 'weightscope.message';
        return item;
      }
    }
  }

  private fileItem(uri: vscode.Uri): vscode.TreeItem {
    const item = new vscode.TreeItem(uri, vscode.TreeItemCollapsibleState.Collapsed);
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    const rel = folder ? path.posix.relative(folder.uri.path, path.posix.dirname(uri.path)) : path.posix.dirname(uri.path);
    item.description = rel;
    // Comparisons read both files with Node's fs: their menu items are offered on local files only
    // (package.json's view/item/context), as the explorer's are.
    item.contextValue = uri.scheme === 'file' ? 'weightscope.file' : 'weightscope.virtualFile';
    const doc = this.store.find(uri);
    const md = new vscode.MarkdownString();
    md.appendText(uri.scheme === 'file' ? uri.fsPath : uri.toString(true));
    if (doc?.weightFile) {
      md.appendText(`\n\n${doc.weightFile.formatName} · ${doc.weightFile.tensors.length} tensors`);
      const s = doc.diagnosticsReport?.summary;
      if (s) {
        const counts = `${s.errors} error${s.errors === 1 ? '' : 's'}, ${s.warnings} warning${s.warnings === 1 ? '' : 's'}`;
        md.appendText(`\n\nDiagnostics: ${counts}, ${s.infos} note${s.infos === 1 ? '' : 's'}`);
        if (s.errors + s.warnings > 0) {
          item.description = rel ? `${rel} · ${counts}` : counts;
        }
      } else if (doc.diagnosticsStatus.state === 'failed') {
        md.appendText(`\n\nDiagnostics failed: ${doc.diagnosticsStatus.error?.message ?? ''}`);
      }
    } else if (doc?.error) {
      item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'));
      md.appendText(`\n\nerror[${doc.error.reason}]: ${doc.error.message}`);
    }
    const fp = this.fingerprintIndex.get(uri);
    if (fp) {
      md.appendText(`\n\nModel fingerprint: ${fp.model}${fp.partial ? ' (partial: some tensors could not be read)' : ''}`);
      const same = this.fingerprintIndex.sameAs(uri, this.listed);
      const first = same[0];
      const note = first ? `same weights as ${vscode.workspace.asRelativePath(first)}${same.length > 1 ? ` and ${same.length - 1} more` : ''}` : shortFingerprint(fp.model);
      if (first) {
        md.appendText(`\n\nSame weights as ${same.map((u) => vscode.workspace.asRelativePath(u)).join(', ')}`);
      }
      item.description = item.description ? `${String(item.description)} · ${note}` : note;
    }
    item.tooltip = md;
    return item;
  }

  private tensorOf(node: { uri: vscode.Uri; tensor: string }): { t: TensorInfo; doc: WeightsDocument } | undefined {
    const doc = this.store.find(node.uri);
    const t = doc?.weightFile?.tensors.find((x) => x.name === node.tensor);
    return doc && t ? { t, doc } : undefined;
  }

  /** Error and warning diagnostics of the document of `uri` that `match` accepts. */
  private diagnosticsOf(uri: vscode.Uri, match: (d: Diagnostic) => boolean): Diagnostic[] {
    return (this.store.find(uri)?.diagnosticsReport?.diagnostics ?? []).filter((d) => d.severity !== 'info' && match(d));
  }

  private layerIssues(node: WeightsTreeNode & { kind: 'layer' }): TensorIssueDto[] {
    return node.tensors.flatMap((name) => {
      const found = this.tensorOf({ uri: node.uri, tensor: name });
      return found ? tensorIssues(found.t, found.doc.results.get(name)) : [];
    });
  }

  private tensorItem(node: WeightsTreeNode & { kind: 'tensor' }): vscode.TreeItem {
    const short = node.layer && node.tensor.startsWith(`${node.layer}/`) ? node.tensor.slice(node.layer.length + 1) : node.tensor;
    const item = new vscode.TreeItem(short, vscode.TreeItemCollapsibleState.None);
    item.contextValue = 'weightscope.tensor';
    const found = this.tensorOf(node);
    if (!found) {
      return item;
    }
    const { t, doc } = found;
    const result = doc.results.get(t.name);
    const stats = result?.ok ? result.stats : undefined;
    const dtype = t.storageDtype !== t.dtype ? `${t.dtype}<${t.storageDtype}` : t.dtype;
    item.description = `${shapeText(t)} ${dtype}${stats ? `  ${formatStat(stats.mean)} ± ${formatStat(stats.std)}` : ''}`;
    const issues = tensorIssues(t, result);
    const diagnostics = this.diagnosticsOf(node.uri, (d) => d.tensor === t.name);
    const worst = [...issues, ...diagnostics].find((i) => i.severity === 'error') ?? issues[0] ?? diagnostics[0];
    item.iconPath = worst
      ? new vscode.ThemeIcon(worst.severity === 'error' ? 'error' : 'warning', new vscode.ThemeColor(worst.severity === 'error' ? 'problemsErrorIcon.foreground' : 'problemsWarningIcon.foreground'))
      : new vscode.ThemeIcon('symbol-array');
    const md = new vscode.MarkdownString();
    md.appendText(t.name);
    md.appendMarkdown(`\n\n\`${dtype}\` · shape ${shapeText(t, ', ')} · ${t.byteLength.toLocaleString('en-US')} bytes`);
    if (stats) {
      md.appendMarkdown(
        `\n\nmean ${formatStat(stats.mean)} · std ${formatStat(stats.std)} · min ${formatStat(stats.min)} · max ${formatStat(stats.max)} · zeros ${
          stats.count > 0 ? ((100 * stats.zeroCount) / stats.count).toFixed(1) : '0'
        }%`,
      );
    }
    for (const i of issues) {
      md.appendMarkdown(`\n\n${i.severity === 'error' ? '$(error)' : '$(warning)'} `);
      md.appendText(i.message);
    }
    appendDiagnostics(md, diagnostics);
    md.supportThemeIcons = true;
    item.tooltip = md;
    item.command = { command: 'weightscope.inspect', title: 'Inspect Weights', arguments: [node.uri] };
    return item;
  }
}

/** Appends diagnostics to a tooltip: an icon, the code, and the message as text. */
function appendDiagnostics(md: vscode.MarkdownString, diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) {
    md.appendMarkdown(`\n\n${d.severity === 'error' ? '$(error)' : '$(warning)'} `);
    md.appendText(`${d.code}: ${d.message}`);
  }
  md.supportThemeIcons = true;
}
