/**
 * Watching given files for changes on disk, inside or outside the workspace: one non-recursive
 * watcher per folder (a RelativePattern of '*' on the folder, which VS Code honours for folders
 * outside the workspace too, and for other file systems that can watch), with events filtered to
 * the files asked for (and the entries of a folder that a caller wants: a run folder that training
 * adds checkpoints to) and coalesced, so that an export writing several files is reported once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

/** Quiet time after the last event before a change is reported, in milliseconds. */
export const fileChangeDelayMs = 500;

/** What happened to a watched file. */
export type FileEvent = 'create' | 'change' | 'delete';

/** Entries of one folder (not below it) to watch besides given files: those `wanted` accepts. */
export interface FolderEntries {
  folder: vscode.Uri;
  wanted(uri: vscode.Uri, event: FileEvent): boolean;
}

/**
 * Watches `files` (created, changed or deleted), and the entries of `entries.folder` that it wants;
 * `onChange` gets the files that changed since the last report, once no event came for `delayMs`.
 * Dispose to stop (a pending report is dropped). Watchers are non-recursive, which VS Code starts
 * reliably for folders outside the workspace too (a recursive one there missed events).
 */
export function watchFiles(files: readonly vscode.Uri[], onChange: (changed: vscode.Uri[]) => void, delayMs = fileChangeDelayMs, entries?: FolderEntries): vscode.Disposable {
  const wanted = new Set(files.map((f) => f.toString()));
  const dirOf = (f: vscode.Uri): vscode.Uri => f.with({ path: path.posix.dirname(f.path) });
  const folders = new Map<string, vscode.Uri>();
  for (const dir of [...files.map(dirOf), ...(entries ? [entries.folder] : [])]) {
    folders.set(dir.toString(), dir);
  }
  const entriesOf = entries?.folder.toString();
  // '*' rather than the file names: no glob escaping of names, and a missing file is seen when created.
  return watchPatterns(
    [...folders.values()].map((dir) => new vscode.RelativePattern(dir, '*')),
    (uri, event) => wanted.has(uri.toString()) || (entries !== undefined && dirOf(uri).toString() === entriesOf && entries.wanted(uri, event)),
    onChange,
    delayMs,
  );
}

/** Watchers of `patterns` whose events for the URIs `wanted` accepts are coalesced into one report per quiet `delayMs`. */
function watchPatterns(patterns: vscode.RelativePattern[], wanted: (uri: vscode.Uri, event: FileEvent) => boolean, onChange: (changed: vscode.Uri[]) => void, delayMs: number): vscode.Disposable {
  const pending = new Map<string, vscode.Uri>();
  let timer: NodeJS.Timeout | undefined;
  const report = (): void => {
    timer = undefined;
    const changed = [...pending.values()];
    pending.clear();
    onChange(changed);
  };
  const seen = (uri: vscode.Uri, event: FileEvent): void => {
    if (wanted(uri, event)) {
      pending.set(uri.toString(), uri);
      clearTimeout(timer);
      timer = setTimeout(report, delayMs);
    }
  };
  const watchers = patterns.map((pattern) => {
    const w = vscode.workspace.createFileSystemWatcher(pattern);
    w.onDidCreate((uri) => seen(uri, 'create'));
    w.onDidChange((uri) => seen(uri, 'change'));
    w.onDidDelete((uri) => seen(uri, 'delete'));
    return w;
  });
  return {
    dispose: () => {
      clearTimeout(timer);
      pending.clear();
      watchers.forEach((w) => w.dispose());
    },
  };
}

/** True when `p` is a folder on the local disk (false when it is anything else or cannot be read). */
export function isLocalFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
