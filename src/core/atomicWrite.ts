/**
 * Atomic file writes: every file Weightscope writes (reports, exports, checkpoints, sidecars) goes
 * through a temporary sibling and a rename, so nobody ever sees a half-written file and an existing
 * file is replaced whole or not at all.
 */
import * as fs from 'node:fs';
import { fileSystemError } from './nodeFileSource';

/** Writes `bytes` to `file` atomically (temporary sibling + rename); errors name `file` (see fileSystemError). */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    await fs.promises.writeFile(tmp, bytes);
    await fs.promises.rename(tmp, file);
  } catch (ex) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw fileSystemError(ex, file, 'write the file');
  }
}
