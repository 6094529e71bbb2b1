/**
 * Atomic file writes: every file Weightscope writes (reports, exports, checkpoints, sidecars) goes
 * through a temporary sibling and a rename, so nobody ever sees a half-written file and an existing
 * file is replaced whole or not at all.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WeightFileError } from './errors';
import { fileSystemError } from './nodeFileSource';

/**
 * fs.promises.rename, tried again for a few seconds where Windows refuses it while a virus scanner
 * or indexer holds the new files open (EPERM, EACCES, EBUSY), as graceful-fs and VS Code do. A
 * refusal that lasts, or any other error, is thrown.
 */
export async function renameRetrying(from: string, to: string): Promise<void> {
  for (let delay = 10; ; delay *= 2) {
    try {
      await fs.promises.rename(from, to);
      return;
    } catch (ex) {
      const code = (ex as NodeJS.ErrnoException).code;
      if (process.platform !== 'win32' || delay > 2000 || (code !== 'EPERM' && code !== 'EACCES' && code !== 'EBUSY')) {
        throw ex;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Writes `bytes` to `file` atomically (temporary sibling + rename); errors name `file` (see fileSystemError). */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    await fs.promises.writeFile(tmp, bytes);
    await renameRetrying(tmp, file);
  } catch (ex) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw fileSystemError(ex, file, 'write the file');
  }
}

/**
 * Creates the folder `dir` and its missing parents. Unlike `mkdir -p` in Node.js, a parent that
 * exists but takes no new folders (as in /proc) fails instead of being retried forever. Throws a
 * WeightFileError naming the folder (see fileSystemError) when it cannot be made.
 */
export async function makeFolder(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; ) {
    let st: fs.Stats | undefined;
    try {
      st = await fs.promises.stat(d);
    } catch (ex) {
      if ((ex as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw fileSystemError(ex, d, 'create the folder');
      }
    }
    if (st) {
      if (!st.isDirectory()) {
        throw inTheWay(d);
      }
      break;
    }
    missing.unshift(d);
    const up = path.dirname(d);
    if (up === d) {
      break;
    }
    d = up;
  }
  for (const d of missing) {
    try {
      await fs.promises.mkdir(d);
    } catch (ex) {
      const code = (ex as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await fs.promises.stat(d).catch(() => undefined))?.isDirectory()) {
        continue; // made by someone else meanwhile
      }
      throw code === 'ENOENT'
        ? new WeightFileError('permissionDenied', `${d}: cannot create the folder: its parent takes no new folders.`, { file: d }, { cause: ex })
        : code === 'EEXIST' // a dangling symbolic link, or a file made meanwhile
        ? inTheWay(d, ex)
        : fileSystemError(ex, d, 'create the folder');
    }
  }
}

function inTheWay(dir: string, cause?: unknown): WeightFileError {
  return new WeightFileError('notFound', `${dir}: cannot create the folder: a file of that name is in the way.`, { file: dir }, { cause });
}
