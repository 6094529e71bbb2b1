/**
 * ByteSource and FileSet over the local file system. The only core file that touches `node:fs`.
 * Handles are opened lazily and closed when idle, so an open panel never locks a user's file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkRange, maxReadBytes, normalizeRelative, type ByteSource, type FileSet } from './byteSource';
import { WeightFileError } from './errors';

/** Close an idle handle after this long, in milliseconds. */
const idleCloseMs = 5000;

/** A ByteSource reading a local file with a paged FileHandle. */
export class NodeFileSource implements ByteSource {
  private handle: Promise<fs.promises.FileHandle> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private pending = 0;

  private constructor(
    readonly localPath: string,
    readonly name: string,
    readonly size: number,
    readonly mtimeMs: number,
  ) {}

  /** Opens a local file; throws `notFound` or `unrecognized` (a folder) as WeightFileError. */
  static async open(filePath: string, displayName = filePath): Promise<NodeFileSource> {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(filePath);
    } catch (ex) {
      throw new WeightFileError('notFound', `${displayName}: the file does not exist or cannot be read.`, { file: displayName }, { cause: ex });
    }
    if (!stat.isFile()) {
      throw new WeightFileError('unrecognized', `${displayName}: is a folder, not a file.`, { file: displayName });
    }
    return new NodeFileSource(filePath, displayName, stat.size, stat.mtimeMs);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    if (length === 0) {
      return out;
    }
    this.pending++;
    try {
      const fh = await this.getHandle();
      let done = 0;
      while (done < length) {
        const n = Math.min(length - done, maxReadBytes);
        const { bytesRead } = await fh.read(out, done, n, offset + done);
        if (bytesRead === 0) {
          throw new WeightFileError('truncated', `${this.name}: the file ended at offset ${offset + done} while reading; it may have changed on disk.`, {
            file: this.name,
            offset: offset + done,
          });
        }
        done += bytesRead;
      }
      return out;
    } finally {
      this.pending--;
      this.scheduleIdleClose();
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const h = this.handle;
    this.handle = undefined;
    if (h) {
      await (await h).close().catch(() => undefined); // already closed is fine
    }
  }

  private getHandle(): Promise<fs.promises.FileHandle> {
    clearTimeout(this.idleTimer);
    if (!this.handle) {
      this.handle = fs.promises.open(this.localPath, 'r');
      this.handle.catch(() => {
        this.handle = undefined;
      });
    }
    return this.handle;
  }

  private scheduleIdleClose(): void {
    if (this.pending > 0) {
      return;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.close(), idleCloseMs);
    this.idleTimer.unref();
  }
}

/** Companion files in a local folder. */
export class NodeFileSet implements FileSet {
  readonly dirName: string;
  constructor(readonly localDir: string) {
    this.dirName = localDir;
  }

  async open(relativePath: string): Promise<NodeFileSource | undefined> {
    const rel = normalizeRelative(relativePath);
    const full = path.join(this.localDir, rel);
    try {
      return await NodeFileSource.open(full);
    } catch (ex) {
      if (WeightFileError.is(ex, 'notFound') || WeightFileError.is(ex, 'unrecognized')) {
        return undefined;
      }
      throw ex;
    }
  }

  async list(relativeDir = ''): Promise<string[]> {
    try {
      const entries = await fs.promises.readdir(path.join(this.localDir, normalizeRelative(relativeDir)), { withFileTypes: true });
      return entries.filter((e) => e.isFile()).map((e) => e.name);
    } catch {
      return []; // a missing folder simply has no files
    }
  }
}

/** What a local path is. */
export async function statPath(p: string): Promise<{ kind: 'file' | 'dir'; size: number; mtimeMs: number } | undefined> {
  try {
    const s = await fs.promises.stat(p);
    return { kind: s.isDirectory() ? 'dir' : 'file', size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return undefined;
  }
}

/** Lists a local folder (files and sub-folders), sorted; empty when it cannot be read. */
export async function listDir(p: string): Promise<{ name: string; isDir: boolean }[]> {
  try {
    const entries = await fs.promises.readdir(p, { withFileTypes: true });
    return entries.map((e) => ({ name: e.name, isDir: e.isDirectory() })).sort((a, b) => a.name.localeCompare(b.name));
  } catch {
    return [];
  }
}
