/**
 * The one place that knows when a metadata sidecar changed: saved from any panel (the weights
 * panel's Metadata tab, a diff panel's metadata cards) or edited on disk (one watcher per sidecar
 * that some view shows). The views subscribe and read their sidecars again, so a note saved in one
 * panel shows in every other (and a later save there does not write the old values back).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { statPath } from '../core/nodeFileSource';
import { sidecarPath } from '../core/sidecar';
import { Disposable } from './dispose';
import { watchFiles } from './fileWatch';
import { logFailure } from './log';

/** Sidecar saves and edits on disk, by checkpoint file. */
export class SidecarChanges extends Disposable {
  private readonly onDidChangeEmitter = this.register(new vscode.EventEmitter<string>());
  /** Fires with the checkpoint file (absolute path of the entry file) whose sidecar changed. */
  readonly onDidChange = this.onDidChangeEmitter.event;
  /** Watched sidecars by checkpoint file: the watcher, its users, and the size and mtime last announced. */
  private readonly watched = new Map<string, { watch: vscode.Disposable; users: number; stamp?: string }>();

  constructor() {
    super();
    this.register({ dispose: () => this.watched.forEach((w) => w.watch.dispose()) });
  }

  /** The key of a checkpoint file (as the events carry it). */
  static key(checkpointFile: string): string {
    return path.resolve(checkpointFile);
  }

  /** Announces that the sidecar of `checkpointFile` was just written by one of the views. */
  saved(checkpointFile: string): void {
    void this.announce(SidecarChanges.key(checkpointFile), false);
  }

  /** Watches the sidecar of `checkpointFile` for edits on disk until the returned disposable is disposed. */
  watch(checkpointFile: string): vscode.Disposable {
    const key = SidecarChanges.key(checkpointFile);
    let entry = this.watched.get(key);
    if (!entry) {
      entry = { watch: watchFiles([vscode.Uri.file(sidecarPath(key))], () => void this.announce(key, true)), users: 0 };
      this.watched.set(key, entry);
    }
    entry.users++;
    const e = entry;
    let released = false;
    return {
      dispose: () => {
        if (released) {
          return;
        }
        released = true;
        if (--e.users === 0 && this.watched.get(key) === e) {
          this.watched.delete(key);
          e.watch.dispose();
        }
      },
    };
  }

  /** Fires the change, unless the watcher reports the write a save already announced (same size and mtime). */
  private async announce(key: string, fromWatcher: boolean): Promise<void> {
    try {
      const st = await statPath(sidecarPath(key));
      const stamp = st ? `${st.size}:${st.mtimeMs}` : 'none';
      const entry = this.watched.get(key);
      if (fromWatcher && entry?.stamp === stamp) {
        return;
      }
      if (entry) {
        entry.stamp = stamp;
      }
      if (!this.isDisposed) {
        this.onDidChangeEmitter.fire(key);
      }
    } catch (ex) {
      logFailure(`announcing a change of ${sidecarPath(key)}`, ex);
    }
  }
}
