/**
 * Watching given files for changes on disk, inside or outside the workspace: one non-recursive
 * watcher per folder (a RelativePattern of '*' on the folder, which VS Code honours for folders
 * outside the workspace too, and for other file systems that can watch), with events filtered to
 * the files asked for and coalesced, so that an export writing several files is reported once;
 * or a whole folder tree (a run folder that training adds checkpoints to).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';

/** Quiet time after the last event before a change is reported, in milliseconds. */
export const fileChangeDelayMs = 500;

/**
 * Watches `files` (created, changed or deleted); `onChange` gets the files that changed since the
 * last report, once no event came for `delayMs`. Dispose to stop (a pending report is dropped).
 */
export function watchFiles(files: readonly vscode.Uri[], onChange: (changed: vscode.Uri[]) => void, delayMs = fileChangeDelayMs): vscode.Disposable {
  const wanted = new Set(files.map((f) => f.toString()));
  const folders = new Map<string, vscode.Uri>();
  for (const f of files) {
    const dir = f.with({ path: path.posix.dirname(f.path) });
    folders.set(dir.toString(), dir);
  }
  // '*' rather than the file names: no glob escaping of names, and a missing file is seen when created.
  return watchPatterns(
    [...folders.values()].map((dir) => new vscode.RelativePattern(dir, '*')),
    (uri) => wanted.has(uri.toString()),
    onChange,
    delayMs,
  );
}

/** What happened to a watched file. */
export type FileEvent = 'create' | 'change' | 'delete';

/**
 * Watches everything below `folder` (created, changed or deleted files and folders, at any depth)
 * that `wanted` accepts; reports as watchFiles does.
 */
export function watchFolder(folder: vscode.Uri, wanted: (uri: vscode.Uri, event: FileEvent) => boolean, onChange: (changed: vscode.Uri[]) => void, delayMs = fileChangeDelayMs): vscode.Disposable {
  return watchPatterns([new vscode.RelativePattern(folder, '**/*')], wanted, onChange, delayMs);
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
