/**
 * Watching given files for changes on disk, inside or outside the workspace: one non-recursive
 * watcher per folder (a RelativePattern of '*' on the folder, which VS Code honours for folders
 * outside the workspace too, and for other file systems that can watch), with events filtered to
 * the files asked for and coalesced, so that an export writing several files is reported once.
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
  const pending = new Map<string, vscode.Uri>();
  let timer: NodeJS.Timeout | undefined;
  const report = (): void => {
    timer = undefined;
    const changed = [...pending.values()];
    pending.clear();
    onChange(changed);
  };
  const seen = (uri: vscode.Uri): void => {
    if (wanted.has(uri.toString())) {
      pending.set(uri.toString(), uri);
      clearTimeout(timer);
      timer = setTimeout(report, delayMs);
    }
  };
  const folders = new Map<string, vscode.Uri>();
  for (const f of files) {
    const dir = f.with({ path: path.posix.dirname(f.path) });
    folders.set(dir.toString(), dir);
  }
  // '*' rather than the file names: no glob escaping of names, and a missing file is seen when created.
  const watchers = [...folders.values()].map((dir) => {
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(dir, '*'));
    w.onDidCreate(seen);
    w.onDidChange(seen);
    w.onDidDelete(seen);
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
