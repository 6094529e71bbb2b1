/**
 * Where Train Model and Run Experiment put their run specs and run folders (`weightscope-runs`).
 * Runs are written with Node's `fs`, so only local (`file:`) places count. No `vscode` import.
 */
import * as path from 'node:path';

/** Folder (under the workspace) holding run specs and run folders. */
export const runsFolderName = 'weightscope-runs';

/** A place as the chooser sees it: a URI's scheme and, for `file:`, its local path. */
export interface RunsPlace {
  /** URI scheme ('file' for the local disk). */
  scheme: string;
  /** Local path (meaningful for `file:` only). */
  fsPath: string;
}

/** What the chooser is given. */
export interface RunsRootInput {
  /** The model being trained; undefined for Run Experiment. */
  target?: RunsPlace;
  /** The workspace folder holding the target, if any. */
  targetFolder?: RunsPlace;
  /** The open workspace folders, in order (none when no folder is open). */
  folders: readonly RunsPlace[];
  /** The extension's global storage folder (a local path). */
  globalStorage: string;
}

/** The chosen runs folder. */
export interface RunsRoot {
  /** Absolute local path of the `weightscope-runs` folder. */
  dir: string;
  /** True when no local workspace folder or model was there to hold it, so it is in the extension's global storage. */
  inGlobalStorage: boolean;
}

/**
 * The runs folder: in the local workspace folder holding the target, else in the first local
 * workspace folder, else beside a local target, else (no folder open, or only folders of other
 * file systems) in the extension's global storage, never in the extension host's working folder.
 */
export function chooseRunsRoot(input: RunsRootInput): RunsRoot {
  const local = (p: RunsPlace | undefined): p is RunsPlace => p?.scheme === 'file';
  const folder = local(input.targetFolder) ? input.targetFolder : input.folders.find(local);
  if (folder) {
    return { dir: path.join(folder.fsPath, runsFolderName), inGlobalStorage: false };
  }
  if (local(input.target)) {
    return { dir: path.join(path.dirname(input.target.fsPath), runsFolderName), inGlobalStorage: false };
  }
  return { dir: path.join(input.globalStorage, runsFolderName), inGlobalStorage: true };
}
