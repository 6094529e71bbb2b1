/**
 * "Find Duplicate Weights": fingerprints every weight file of the workspace (in a worker thread,
 * reusing fingerprints already known to the FingerprintIndex, the statistics cache or a sidecar
 * when the files are unchanged) and lists the files whose model fingerprints are equal, grouped,
 * whatever their formats. The groups come from the same FingerprintIndex the Weights tree shows.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { shortFingerprint } from '../../analysis/fingerprint';
import { runFingerprintInWorker } from '../../analysis/fingerprintClient';
import { fingerprintFileCached, type FingerprintRunner, type StatsCache } from '../../analysis/statsCache';
import { summarizeError } from '../../core/errors';
import { inspectTarget } from '../fileAccess';
import { FingerprintIndex, type KnownModelFingerprint } from '../fingerprintIndex';
import { log } from '../log';
import { defaultFileGlobs } from '../settings';

/** Most files fingerprinted in one search. */
const maxFiles = 2000;

/** One group of files with the same model fingerprint. */
export interface DuplicateGroup {
  /** The shared model fingerprint. */
  fingerprint: string;
  /** The files (entry URIs). */
  files: vscode.Uri[];
}

/** What the search shares with the rest of the extension. */
export interface DuplicateServices {
  /** The known model fingerprints (read and filled). */
  index: FingerprintIndex;
  /** The statistics and fingerprint cache; undefined: none. */
  statsCache(): StatsCache | undefined;
}

/** Services set by activation; a private index and no cache until then. */
let services: DuplicateServices = { index: new FingerprintIndex(), statsCache: () => undefined };

/** Connects the search to the extension's fingerprint index and cache (called once at activation). */
export function setDuplicateServices(s: DuplicateServices): void {
  services = s;
}

/** The model fingerprint of a local file: known (index, cache, sidecar), else computed in a worker and cached. */
async function modelFingerprint(uri: vscode.Uri, token: vscode.CancellationToken): Promise<KnownModelFingerprint> {
  const cache = services.statsCache();
  const known = await services.index.lookup(uri, cache, { revalidate: true });
  if (known) {
    return known;
  }
  const controller = new AbortController();
  const sub = token.onCancellationRequested(() => controller.abort());
  try {
    const target = inspectTarget(uri).fsPath;
    const run: FingerprintRunner = (k, each) => runFingerprintInWorker(target, { signal: controller.signal, known: k, onTensor: each });
    const r = cache ? await fingerprintFileCached(run, cache, target) : await run(new Map(), () => undefined);
    const fp: KnownModelFingerprint = { model: r.model, modelTensorCount: r.modelTensorCount, partial: r.partial, source: 'computed' };
    services.index.set(uri, fp);
    return fp;
  } finally {
    sub.dispose();
  }
}

/** Fingerprints the workspace's weight files and groups equal ones; shows the groups in a quick pick. */
export async function findDuplicateWeights(openFile: (uri: vscode.Uri) => void, options: { quiet?: boolean } = {}): Promise<DuplicateGroup[]> {
  const globs = vscode.workspace.getConfiguration('weightscope').get<string[]>('fileGlobs', [...defaultFileGlobs]);
  const found = new Map<string, vscode.Uri>();
  // Fingerprints are computed by a worker reading the disk: files of other file systems are left out (and counted).
  const notLocal = new Set<string>();
  for (const g of globs) {
    for (const uri of await vscode.workspace.findFiles(g, '**/{node_modules,.git}/**', maxFiles)) {
      if (uri.scheme === 'file') {
        found.set(FingerprintIndex.key(uri), uri);
      } else {
        notLocal.add(uri.toString());
      }
    }
  }
  const leftOut = notLocal.size === 0 ? '' : `${notLocal.size} weight ${notLocal.size === 1 ? 'file' : 'files'} not on the local file system ${notLocal.size === 1 ? 'was' : 'were'} left out`;
  if (leftOut) {
    log().info(`Find Duplicate Weights: ${found.size} local weight files; ${leftOut}`);
  }
  const files = [...found.values()].sort((a, b) => a.path.localeCompare(b.path)).slice(0, maxFiles);
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Weightscope: fingerprinting weight files', cancellable: true },
    async (progress, token) => {
      let done = 0;
      for (const uri of files) {
        if (token.isCancellationRequested) {
          break;
        }
        progress.report({ message: `${++done}/${files.length} ${path.basename(uri.fsPath)}`, increment: 100 / files.length });
        try {
          await modelFingerprint(uri, token);
        } catch (ex) {
          if (!token.isCancellationRequested) {
            const e = summarizeError(ex);
            log().info(`fingerprint of ${uri.fsPath} skipped: [${e.reason}] ${e.message}`);
          }
        }
      }
    },
  );
  const groups = services.index.groups(files).map((g) => ({ fingerprint: g.fingerprint, files: g.keys }));
  for (const g of groups) {
    log().info(`duplicate weights ${g.fingerprint.slice(0, 16)}: ${g.files.map((u) => vscode.workspace.asRelativePath(u)).join(', ')}`);
  }
  if (options.quiet) {
    return groups;
  }
  if (groups.length === 0) {
    void vscode.window.showInformationMessage(`Weightscope: no duplicate weights among ${found.size} local weight files${leftOut ? `; ${leftOut}` : ''}.`);
    return groups;
  }
  const items: (vscode.QuickPickItem & { uri?: vscode.Uri })[] = [];
  for (const g of groups) {
    items.push({ label: `model fingerprint ${shortFingerprint(g.fingerprint)}…`, kind: vscode.QuickPickItemKind.Separator });
    for (const uri of g.files) {
      items.push({ label: vscode.workspace.asRelativePath(uri), description: `${g.files.length} files with these weights`, uri });
    }
  }
  const picked = await vscode.window.showQuickPick(items, { title: `Duplicate weights: ${groups.length} groups`, placeHolder: `Pick a file to inspect${leftOut ? ` (${leftOut})` : ''}` });
  if (picked?.uri) {
    openFile(picked.uri);
  }
  return groups;
}
