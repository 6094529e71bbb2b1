/**
 * "Find Duplicate Weights": fingerprints every weight file of the workspace (reusing fingerprints
 * cached in sidecars when the files are unchanged) and lists the files whose model fingerprints
 * are equal, grouped, whatever their formats.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkpointStamp } from '../../analysis/checkpointFiles';
import { fingerprintFile } from '../../analysis/fingerprint';
import { summarizeError } from '../../core/errors';
import { readSidecar } from '../../core/sidecar';
import { openLocalPath, resolveLocalEntry } from '../../formats/registry';
import { log } from '../log';

/** Most files fingerprinted in one search. */
const maxFiles = 2000;

/** One group of files with the same model fingerprint. */
export interface DuplicateGroup {
  /** The shared model fingerprint. */
  fingerprint: string;
  /** The files (entry URIs). */
  files: vscode.Uri[];
}

/** The model fingerprint of a local checkpoint: from a valid sidecar cache, else computed. */
async function modelFingerprint(file: string, token: vscode.CancellationToken): Promise<string> {
  const entry = await resolveLocalEntry(file);
  const [side, stamp] = await Promise.all([readSidecar(entry).catch(() => undefined), checkpointStamp(entry)]);
  const fp = side?.fingerprints;
  if (fp && fp.size === stamp.size && fp.mtimeMs === stamp.mtimeMs) {
    return fp.model;
  }
  const controller = new AbortController();
  const sub = token.onCancellationRequested(() => controller.abort());
  const wf = await openLocalPath(entry);
  try {
    return (await fingerprintFile(wf, { signal: controller.signal })).model;
  } finally {
    sub.dispose();
    await wf.close();
  }
}

/** Fingerprints the workspace's weight files and groups equal ones; shows the groups in a quick pick. */
export async function findDuplicateWeights(openFile: (uri: vscode.Uri) => void, options: { quiet?: boolean } = {}): Promise<DuplicateGroup[]> {
  const globs = vscode.workspace.getConfiguration('weightscope').get<string[]>('fileGlobs', ['**/*.{h5,hdf5,keras,safetensors,npz,tflite}', '**/model.json', '**/*.index', '**/saved_model.pb']);
  const found = new Map<string, vscode.Uri>();
  for (const g of globs) {
    for (const uri of await vscode.workspace.findFiles(g, '**/{node_modules,.git}/**', maxFiles)) {
      if (uri.scheme === 'file') {
        found.set(uri.fsPath, uri);
      }
    }
  }
  const byFingerprint = new Map<string, vscode.Uri[]>();
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Weightscope: fingerprinting weight files', cancellable: true },
    async (progress, token) => {
      const files = [...found.values()].slice(0, maxFiles);
      let done = 0;
      for (const uri of files) {
        if (token.isCancellationRequested) {
          break;
        }
        progress.report({ message: `${++done}/${files.length} ${path.basename(uri.fsPath)}`, increment: 100 / files.length });
        try {
          const fp = await modelFingerprint(uri.fsPath, token);
          byFingerprint.set(fp, [...(byFingerprint.get(fp) ?? []), uri]);
        } catch (ex) {
          if (!token.isCancellationRequested) {
            const e = summarizeError(ex);
            log().info(`fingerprint of ${uri.fsPath} skipped: [${e.reason}] ${e.message}`);
          }
        }
      }
    },
  );
  const groups = [...byFingerprint].filter(([, files]) => files.length > 1).map(([fingerprint, files]) => ({ fingerprint, files }));
  for (const g of groups) {
    log().info(`duplicate weights ${g.fingerprint.slice(0, 16)}: ${g.files.map((u) => vscode.workspace.asRelativePath(u)).join(', ')}`);
  }
  if (options.quiet) {
    return groups;
  }
  if (groups.length === 0) {
    void vscode.window.showInformationMessage(`Weightscope: no duplicate weights among ${found.size} weight files.`);
    return groups;
  }
  const items: (vscode.QuickPickItem & { uri?: vscode.Uri })[] = [];
  for (const g of groups) {
    items.push({ label: `model fingerprint ${g.fingerprint.slice(0, 16)}…`, kind: vscode.QuickPickItemKind.Separator });
    for (const uri of g.files) {
      items.push({ label: vscode.workspace.asRelativePath(uri), description: `${g.files.length} files with these weights`, uri });
    }
  }
  const picked = await vscode.window.showQuickPick(items, { title: `Duplicate weights: ${groups.length} groups`, placeHolder: 'Pick a file to inspect' });
  if (picked?.uri) {
    openFile(picked.uri);
  }
  return groups;
}
