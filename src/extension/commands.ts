/**
 * The palette and menu commands (category "Weightscope").
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TableFormat } from '../protocol/weightsPanel';
import { log, logFailure } from './log';
import { exportReport, pickFormat } from './reportCommands';
import type { WeightsDocumentStore } from './weightsDocument';
import type { WeightsPanelManager } from './weightsPanel';
import type { WeightsTreeNode, WeightsTreeProvider } from './weightsTree';
import type { WeightsViewRegistry } from './weightsView';

/** Ids of the commands contributed in package.json. */
export const commandIds = {
  openFile: 'weightscope.openFile',
  inspect: 'weightscope.inspect',
  refresh: 'weightscope.refresh',
  exportReport: 'weightscope.exportReport',
  showOutput: 'weightscope.showOutput',
  revealInExplorer: 'weightscope.revealInExplorer',
  copyName: 'weightscope.copyName',
} as const;

/** What the commands work with. */
export interface CommandContext {
  /** Shared documents. */
  store: WeightsDocumentStore;
  /** Inspect panels. */
  panels: WeightsPanelManager;
  /** Live views (for the active one). */
  views: WeightsViewRegistry;
  /** The tree. */
  tree: WeightsTreeProvider;
}

/** File-picker filters of "Open Weights File...". */
const openFilters: Record<string, string[]> = {
  'Weight files': ['h5', 'hdf5', 'keras', 'json', 'index', 'pb', 'safetensors', 'npz', 'npy', 'tflite'],
  'All files': ['*'],
};

/**
 * Scheme of the resource the workbench gives a webview panel's editor: menus of the editor title
 * bar pass it to their commands when the active editor is a panel (such as an Inspect panel).
 */
const webviewPanelScheme = 'webview-panel';

/** A URI from a command argument: a Uri, a tree node, or nothing (also for a webview panel's own resource). */
function uriOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) {
    return arg.scheme === webviewPanelScheme ? undefined : arg;
  }
  if (arg && typeof arg === 'object' && 'uri' in arg && (arg as { uri: unknown }).uri instanceof vscode.Uri) {
    return (arg as { uri: vscode.Uri }).uri;
  }
  return undefined;
}

/** The URI of the active editor tab (text or custom editor), if any. */
function activeTabUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) {
    return input.uri;
  }
  return vscode.window.activeTextEditor?.document.uri;
}

/** Asks for a weight file. */
async function pickFile(title: string): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectFiles: true,
    canSelectFolders: false,
    canSelectMany: false,
    openLabel: 'Inspect',
    filters: openFilters,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0];
}

/** Registers every command. */
export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const run = (id: string, fn: (...args: unknown[]) => unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (ex) {
        logFailure(id, ex);
        void vscode.window.showErrorMessage(`Weightscope: ${ex instanceof Error ? ex.message : String(ex)}`);
        return undefined;
      }
    });

  return [
    run(commandIds.openFile, async () => {
      const uri = await pickFile('Open Weights File');
      if (uri) {
        ctx.panels.show(uri);
      }
      return uri;
    }),
    run(commandIds.inspect, async (arg, selected) => {
      const many = Array.isArray(selected) ? selected.map(uriOf).filter((u): u is vscode.Uri => u !== undefined) : [];
      const targets = many.length > 1 ? many : [uriOf(arg) ?? ctx.views.active?.document.uri ?? activeTabUri()].filter((u): u is vscode.Uri => u !== undefined);
      if (targets.length === 0) {
        const uri = await pickFile('Inspect Weights');
        if (uri) {
          targets.push(uri);
        }
      }
      for (const uri of targets) {
        ctx.panels.show(uri);
      }
      return targets;
    }),
    run(commandIds.refresh, async (arg) => {
      ctx.tree.refresh();
      // Without an argument (the Weights view's title bar, the palette) only the file list is
      // refreshed: the last active panel stays "active" while focus is in the sidebar, and
      // reloading it would discard its statistics. A panel reloads through its own Refresh button.
      const uri = uriOf(arg);
      const doc = uri ? ctx.store.find(uri) : undefined;
      if (doc) {
        await doc.reload();
        void doc.analyzeIfSmall();
      }
    }),
    run(commandIds.exportReport, async (arg, formatArg, targetArg) => {
      const uri = uriOf(arg) ?? ctx.views.active?.document.uri ?? activeTabUri() ?? (await pickFile('Export Report of'));
      if (!uri) {
        return null;
      }
      const format = typeof formatArg === 'string' && ['json', 'markdown', 'csv'].includes(formatArg) ? (formatArg as TableFormat) : await pickFormat();
      if (!format) {
        return null;
      }
      const lease = ctx.store.acquire(uri);
      try {
        const doc = lease.document;
        await doc.whenOpened();
        if (!doc.weightFile) {
          throw new Error(doc.error?.message ?? `${doc.fileName} could not be opened.`);
        }
        const written = await exportReport(doc, format, { target: targetArg instanceof vscode.Uri ? targetArg : undefined });
        if (written && !(targetArg instanceof vscode.Uri)) {
          void vscode.window.showInformationMessage(`Weightscope: report written to ${path.basename(written)}.`, 'Open').then((choice) => {
            if (choice === 'Open') {
              void vscode.commands.executeCommand('vscode.open', vscode.Uri.file(written));
            }
          });
        }
        return written;
      } finally {
        lease.dispose();
      }
    }),
    run(commandIds.showOutput, () => log().show(true)),
    run(commandIds.revealInExplorer, async (arg) => {
      const uri = uriOf(arg);
      if (uri) {
        await vscode.commands.executeCommand('revealInExplorer', uri);
      }
    }),
    run(commandIds.copyName, async (arg) => {
      const node = arg as WeightsTreeNode | undefined;
      if (!node) {
        return;
      }
      const text = node.kind === 'tensor' ? node.tensor : node.kind === 'layer' ? node.layer : node.uri.scheme === 'file' ? node.uri.fsPath : node.uri.toString(true);
      await vscode.env.clipboard.writeText(text);
    }),
  ];
}
