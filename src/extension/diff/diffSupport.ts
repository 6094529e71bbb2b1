/**
 * Compare and history commands: "Compare Weights" (two files selected in the explorer), "Compare
 * With...", "Select Weights for Compare" / "Compare Weights with Selected" (explorer and Weights tree), "Compare
 * with HEAD", "Compare with Previous Commit" and "Show Weight History" (a folder), all opening the
 * diff panel, and "Find Duplicate Weights" (equal model fingerprints across the workspace).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkpointFiles } from '../../analysis/checkpointFiles';
import { DiffPool } from '../../analysis/diffPool';
import { resolveLocalEntry } from '../../formats/registry';
import { localPathOf } from '../fileAccess';
import { log, logFailure } from '../log';
import { readSettings } from '../settings';
import type { SidecarChanges } from '../sidecarChanges';
import { DiffPanelManager, type DiffPanelView, type DiffTarget } from './diffPanel';
import { findDuplicateWeights } from './duplicates';
import { commitsTouching, describeCommit, extractAtRevision, gitLocation } from './gitRevisions';

/** Ids of the compare commands (also in package.json). */
export const diffCommandIds = {
  compareWeights: 'weightscope.compareWeights',
  compareWith: 'weightscope.compareWith',
  selectForCompare: 'weightscope.selectForCompare',
  compareWithSelected: 'weightscope.compareWithSelected',
  compareWithHead: 'weightscope.compareWithHead',
  compareWithPrevious: 'weightscope.compareWithPrevious',
  showHistory: 'weightscope.showHistory',
  findDuplicates: 'weightscope.findDuplicates',
} as const;

/** Context key set while a file is selected for compare. */
export const compareSelectionContextKey = 'weightscope.hasCompareSelection';

/** What the compare support needs from the rest of the extension. */
export interface DiffSupportDeps {
  /** Opens a file in the weights panel ("Inspect Weights"). */
  inspect(uri: vscode.Uri): void;
  /** Sidecar saves from every view and edits on disk (the panels' metadata cards follow them). */
  sidecars: SidecarChanges;
}

/** What registerDiffSupport returns (for the integration tests). */
export interface DiffSupport {
  /** The diff panels. */
  panels: DiffPanelManager;
  /** Command ids. */
  commands: typeof diffCommandIds;
  /** The file selected for compare, if any. */
  selection(): vscode.Uri | undefined;
  /** The worker pool comparisons run in (created on first use, sized by weightscope.workerCount). */
  pool(): DiffPool;
}

/**
 * A URI from a command argument: a Uri, or an object with a `uri` (the Weights tree's nodes:
 * WeightsTreeNode in src/extension/weightsTree.ts carries `uri` on every kind).
 */
function uriOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) {
    return arg;
  }
  if (arg && typeof arg === 'object' && 'uri' in arg && (arg as { uri: unknown }).uri instanceof vscode.Uri) {
    return (arg as { uri: vscode.Uri }).uri;
  }
  return undefined;
}

/** The active editor tab's URI (text or custom editor). */
function activeUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) {
    return input.uri;
  }
  return undefined;
}

/** A short label for a file: its name, with the parent folder for generic names. */
export function labelOf(uri: vscode.Uri): string {
  const base = path.posix.basename(uri.path);
  const generic = ['model.json', 'checkpoint', 'saved_model.pb', 'model.weights.h5'];
  return generic.includes(base) || base.endsWith('.index') ? `${path.posix.basename(path.posix.dirname(uri.path))}/${base}` : base;
}

/** Registers the compare commands and the diff panel; everything goes onto context.subscriptions. */
export function registerDiffSupport(context: vscode.ExtensionContext, deps: DiffSupportDeps): DiffSupport {
  let pool: DiffPool | undefined;
  // The setting as the statistics pool reads it: clamped to 1..32 and rounded, 0 = automatic.
  const sharedPool = (): DiffPool => (pool ??= new DiffPool({ workers: readSettings().workerCount }));
  const panels = new DiffPanelManager(context.extensionUri, {
    pool: sharedPool,
    inspect: (uri) => deps.inspect(uri),
    sidecars: deps.sidecars,
    namingPattern: () => vscode.workspace.getConfiguration('weightscope').get<string>('namingConvention', ''),
  });
  let selected: vscode.Uri | undefined;

  const open = (target: DiffTarget): DiffPanelView => {
    log().info(target.mode === 'diff' ? `comparing ${target.a.toString(true)} with ${target.b.toString(true)}` : `history of ${target.dir.toString(true)}`);
    return panels.open(target);
  };
  const compare = (a: vscode.Uri, b: vscode.Uri): DiffPanelView => {
    // Refused before a panel opens: the comparison reads both files with Node's fs.
    localPathOf(a, 'comparing');
    localPathOf(b, 'comparing');
    return open({ mode: 'diff', a, b, labelA: labelOf(a), labelB: labelOf(b) });
  };
  const pick = async (title: string): Promise<vscode.Uri | undefined> =>
    (
      await vscode.window.showOpenDialog({
        title,
        canSelectFiles: true,
        canSelectFolders: true,
        canSelectMany: false,
        openLabel: 'Compare',
        defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      })
    )?.[0];

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

  const atRevision = async (uri: vscode.Uri, which: 'head' | 'previous'): Promise<DiffPanelView | undefined> => {
    const { root, rel } = await gitLocation(localPathOf(uri, 'comparing with git'));
    if (which === 'head') {
      const old = await extractAtRevision(root, 'HEAD', rel);
      try {
        const desc = await describeCommit(root, 'HEAD');
        return open({ mode: 'diff', a: vscode.Uri.file(old.file), b: uri, labelA: `${labelOf(uri)} @ HEAD (${desc.split(' ')[0]})`, labelB: `${labelOf(uri)} (working tree)`, cleanup: old.cleanup });
      } catch (ex) {
        old.cleanup(); // no panel owns the extracted copy
        throw ex;
      }
    }
    const files = await checkpointFiles(await resolveLocalEntry(uri.fsPath));
    const real = (f: string): string => (fs.existsSync(f) ? fs.realpathSync(f) : f);
    const rels = files.map((f) => path.relative(real(root), real(f)).split(path.sep).join('/'));
    const commits = await commitsTouching(root, rels.length > 0 ? rels : [rel], 2);
    if (commits.length < 2) {
      void vscode.window.showInformationMessage(`Weightscope: ${rel} has no earlier commit to compare with.`);
      return undefined;
    }
    const [newer, older] = commits as [string, string];
    const a = await extractAtRevision(root, older, rel);
    let b: Awaited<ReturnType<typeof extractAtRevision>>;
    try {
      b = await extractAtRevision(root, newer, rel);
    } catch (ex) {
      a.cleanup();
      throw ex;
    }
    const cleanup = (): void => {
      a.cleanup();
      b.cleanup();
    };
    try {
      return open({ mode: 'diff', a: vscode.Uri.file(a.file), b: vscode.Uri.file(b.file), labelA: `${labelOf(uri)} @ ${older.slice(0, 7)}`, labelB: `${labelOf(uri)} @ ${newer.slice(0, 7)}`, cleanup });
    } catch (ex) {
      cleanup(); // no panel owns the extracted copies
      throw ex;
    }
  };

  context.subscriptions.push(
    panels,
    { dispose: () => void pool?.dispose() },
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('weightscope.workerCount') && pool) {
        // New comparisons get a pool of the new size; the old one goes once the running ones are
        // done (terminating its workers now would fail every pair they had left).
        const old = pool;
        pool = undefined;
        void Promise.all(panels.all().map((v) => v.whenDone.catch(() => undefined))).then(async () => {
          await old.dispose().catch((ex: unknown) => logFailure('stopping the old worker pool', ex));
        });
      }
    }),
    run(diffCommandIds.compareWeights, async (arg, many) => {
      const uris = (Array.isArray(many) ? many.map(uriOf) : [uriOf(arg)]).filter((u): u is vscode.Uri => u !== undefined);
      if (uris.length === 2) {
        // The explorer's selection order is not the click order: the path that sorts first
        // (numbers compared as numbers, so epoch-2 before epoch-10) is A. The panel can swap.
        uris.sort((x, y) => x.path.localeCompare(y.path, 'en', { numeric: true }));
        return compare(uris[0]!, uris[1]!);
      }
      if (uris.length > 2) {
        throw new Error(`Compare Weights needs exactly two files; ${uris.length} are selected.`);
      }
      const first = uris[0] ?? activeUri() ?? (await pick('Compare Weights: first file'));
      const second = first ? await pick(`Compare ${labelOf(first)} with...`) : undefined;
      return first && second ? compare(first, second) : undefined;
    }),
    run(diffCommandIds.compareWith, async (arg) => {
      const first = uriOf(arg) ?? activeUri() ?? (await pick('Compare Weights: first file'));
      const second = first ? await pick(`Compare ${labelOf(first)} with...`) : undefined;
      return first && second ? compare(first, second) : undefined;
    }),
    run(diffCommandIds.selectForCompare, async (arg) => {
      const uri = uriOf(arg) ?? activeUri();
      if (!uri) {
        return undefined;
      }
      localPathOf(uri, 'comparing');
      selected = uri;
      await vscode.commands.executeCommand('setContext', compareSelectionContextKey, true);
      vscode.window.setStatusBarMessage(`Weightscope: ${labelOf(uri)} selected for compare`, 4000);
      return uri;
    }),
    run(diffCommandIds.compareWithSelected, async (arg) => {
      const uri = uriOf(arg) ?? activeUri();
      if (!selected) {
        throw new Error('No file is selected for compare; use "Select Weights for Compare" on the first file.');
      }
      if (!uri) {
        return undefined;
      }
      return compare(selected, uri);
    }),
    run(diffCommandIds.compareWithHead, async (arg) => {
      const uri = uriOf(arg) ?? activeUri();
      return uri ? atRevision(uri, 'head') : undefined;
    }),
    run(diffCommandIds.compareWithPrevious, async (arg) => {
      const uri = uriOf(arg) ?? activeUri();
      return uri ? atRevision(uri, 'previous') : undefined;
    }),
    run(diffCommandIds.showHistory, async (arg) => {
      const dir =
        uriOf(arg) ??
        (
          await vscode.window.showOpenDialog({ title: 'Show Weight History of', canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Show History' })
        )?.[0];
      if (!dir) {
        return undefined;
      }
      localPathOf(dir, 'showing a weight history');
      return open({ mode: 'history', dir, label: path.posix.basename(dir.path) });
    }),
    run(diffCommandIds.findDuplicates, async (arg) => findDuplicateWeights((uri) => deps.inspect(uri), { quiet: arg === 'quiet' })),
  );
  return { panels, commands: diffCommandIds, selection: () => selected, pool: sharedPool };
}
