/**
 * ByteSource and FileSet over the local file system. The only core file that touches `node:fs`.
 * Handles are opened lazily and closed when idle, so an open panel never locks a user's file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkRange, maxReadBytes, normalizeRelative, type ByteSource, type FileSet } from './byteSource';
import { WeightFileError, type WeightFileErrorReason } from './errors';

/** Close an idle handle after this long, in milliseconds. */
const idleCloseMs = 5000;

/** Reads shorter than this that follow the previous read are served from a read-ahead window. */
const readAheadBelow = 64 * 1024;

/** Bytes of a read-ahead window. */
const readAheadBytes = 1024 * 1024;

/**
 * A ByteSource reading a local file with a paged FileHandle. Small reads in a row (the values of
 * many small tensors) share one read of up to a megabyte, kept until the handle closes when idle.
 */
export class NodeFileSource implements ByteSource {
  private handle: Promise<fs.promises.FileHandle> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private pending = 0;
  /** End of the last read, to tell reads in a row. */
  private lastEnd = -Infinity;
  /** Bytes read ahead for small reads in a row; dropped with the handle. */
  private window: { offset: number; bytes: Uint8Array } | undefined;

  private constructor(
    readonly localPath: string,
    readonly name: string,
    readonly size: number,
    readonly mtimeMs: number,
  ) {}

  /**
   * Opens a local file; throws `notFound`, `unrecognized` (a folder) or `notRegularFile` (a FIFO,
   * device or socket) as WeightFileError. The handle is opened at the first read, whose
   * failures (`permissionDenied`, ...) name the file too.
   */
  static async open(filePath: string, displayName = filePath): Promise<NodeFileSource> {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(filePath);
    } catch (ex) {
      throw fileSystemError(ex, displayName, 'read the file');
    }
    checkRegularFile(stat, displayName);
    return new NodeFileSource(filePath, displayName, stat.size, stat.mtimeMs);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length === 0) {
      return new Uint8Array(0);
    }
    const sequential = offset >= this.lastEnd && offset - this.lastEnd < readAheadBelow;
    this.lastEnd = offset + length;
    if (length < readAheadBelow) {
      // Small reads in a row (many small tensors one after another) are served from one larger read.
      const w = this.window;
      if (w && offset >= w.offset && offset + length <= w.offset + w.bytes.length) {
        return w.bytes.slice(offset - w.offset, offset - w.offset + length);
      }
      const ahead = Math.min(readAheadBytes, this.size - offset);
      if (sequential && ahead > length) {
        // A file that ended early or failed is left to the exact read below, which reports it.
        const bytes = await this.readExact(offset, ahead).catch(() => undefined);
        if (bytes) {
          this.window = { offset, bytes };
          return bytes.slice(0, length);
        }
      }
    }
    return this.readExact(offset, length);
  }

  private async readExact(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
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
    this.window = undefined;
    const h = this.handle;
    this.handle = undefined;
    if (h) {
      await (await h).close().catch(() => undefined); // already closed is fine
    }
  }

  private getHandle(): Promise<fs.promises.FileHandle> {
    clearTimeout(this.idleTimer);
    if (!this.handle) {
      this.handle = openRegularFile(this.localPath, this.name);
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

/** Flags that open a file for reading without waiting for a writer (a FIFO) or a carrier (a device). */
const readFlags = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/**
 * Throws unless `stat` is a regular file: `unrecognized` for a folder, `notRegularFile` for a FIFO,
 * device or socket (opening one for reading can block forever or never end).
 */
export function checkRegularFile(stat: fs.Stats, file: string): void {
  if (stat.isFile()) {
    return;
  }
  if (stat.isDirectory()) {
    throw new WeightFileError('unrecognized', `${file}: is a folder, not a file.`, { file });
  }
  const kind = stat.isFIFO() ? 'a FIFO' : stat.isSocket() ? 'a socket' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : 'a special file';
  throw new WeightFileError('notRegularFile', `${file}: is not a regular file (${kind}).`, { file });
}

/**
 * A WeightFileError naming `file` for a failed file-system call on it (`notFound`,
 * `permissionDenied`, `notRegularFile`), saying it could not `action` (e.g. 'read the file');
 * other errors (not the file's fault) are returned as they are.
 */
export function fileSystemError(ex: unknown, file: string, action: string): unknown {
  if (WeightFileError.is(ex)) {
    return ex;
  }
  const why: Partial<Record<string, [WeightFileErrorReason, string]>> = {
    ENOENT: ['notFound', 'no such file or folder'],
    ENOTDIR: ['notFound', 'a part of its path is not a folder'],
    ENAMETOOLONG: ['notFound', 'its path is too long'],
    ELOOP: ['notFound', 'its path has a loop of symbolic links'],
    EACCES: ['permissionDenied', 'permission denied'],
    EPERM: ['permissionDenied', 'permission denied'],
    EROFS: ['permissionDenied', 'the file system is read-only'],
    EISDIR: ['notRegularFile', 'it is a folder'],
    ENOSPC: ['tooLarge', 'the disk is full'],
    EDQUOT: ['tooLarge', 'the disk quota is used up'],
  };
  const hit = why[(ex as NodeJS.ErrnoException | undefined)?.code ?? ''];
  return hit ? new WeightFileError(hit[0], `${file}: cannot ${action}: ${hit[1]}.`, { file }, { cause: ex }) : ex;
}

/** Opens a regular file for reading (refusing others before opening them); errors as fileSystemError. */
export async function openRegularFile(filePath: string, displayName = filePath): Promise<fs.promises.FileHandle> {
  try {
    checkRegularFile(await fs.promises.stat(filePath), displayName);
    const fh = await fs.promises.open(filePath, readFlags);
    try {
      checkRegularFile(await fh.stat(), displayName); // replaced between stat and open
    } catch (ex) {
      await fh.close();
      throw ex;
    }
    return fh;
  } catch (ex) {
    throw fileSystemError(ex, displayName, 'read the file');
  }
}

/** The synchronous openRegularFile: a file descriptor for reading; the caller closes it. */
export function openRegularFileSync(filePath: string, displayName = filePath): number {
  try {
    checkRegularFile(fs.statSync(filePath), displayName);
    const fd = fs.openSync(filePath, readFlags);
    try {
      checkRegularFile(fs.fstatSync(fd), displayName);
    } catch (ex) {
      fs.closeSync(fd);
      throw ex;
    }
    return fd;
  } catch (ex) {
    throw fileSystemError(ex, displayName, 'read the file');
  }
}

/** Reads a whole regular file as UTF-8 text, refusing ones larger than `maxBytes`; errors as openRegularFile, `tooLarge`. */
export async function readRegularTextFile(filePath: string, maxBytes: number, displayName = filePath): Promise<string> {
  const fh = await openRegularFile(filePath, displayName);
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) {
      throw new WeightFileError('tooLarge', `${displayName}: the file is ${size} bytes, more than the ${maxBytes} accepted.`, { file: displayName });
    }
    return await fh.readFile('utf8');
  } catch (ex) {
    throw fileSystemError(ex, displayName, 'read the file');
  } finally {
    await fh.close();
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

/**
 * The error for a path statPath found nothing at: `permissionDenied` when a folder on its way may
 * not be searched, else `notFound`.
 */
export async function missingPathError(p: string): Promise<WeightFileError> {
  const denied = await fs.promises.stat(p).then(
    () => undefined,
    (ex: NodeJS.ErrnoException) => (ex.code === 'EACCES' || ex.code === 'EPERM' ? fileSystemError(ex, p, 'read the file') : undefined),
  );
  return WeightFileError.is(denied) ? denied : new WeightFileError('notFound', `${p}: the file does not exist or cannot be read.`, { file: p });
}

/** Lists a local folder (files and sub-folders), sorted; throws as fileSystemError when it cannot be read. */
export async function readFolder(p: string): Promise<{ name: string; isDir: boolean }[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(p, { withFileTypes: true });
  } catch (ex) {
    throw fileSystemError(ex, p, 'list the folder');
  }
  return entries.map((e) => ({ name: e.name, isDir: e.isDirectory() })).sort((a, b) => a.name.localeCompare(b.name));
}

/** Lists a local folder (files and sub-folders), sorted; empty when it cannot be read. */
export async function listDir(p: string): Promise<{ name: string; isDir: boolean }[]> {
  return readFolder(p).catch(() => []);
}
