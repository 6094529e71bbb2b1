/**
 * Paged, read-only access to the bytes of one file. Readers never see file handles, only this
 * interface, so the same reader serves local files, in-memory buffers and VS Code's virtual
 * file systems.
 */
import { WeightFileError } from './errors';

/** Read-only random access to a file's bytes. */
export interface ByteSource {
  /** Display name (usually the path) used in error messages. */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** Local filesystem path when the source is a plain file, else undefined. */
  readonly localPath?: string;
  /**
   * Reads `length` bytes at `offset`. Throws a `truncated` WeightFileError, before allocating,
   * when the range goes past the end of the file.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the underlying handle. Further reads reopen it or fail. */
  close(): Promise<void>;
}

/** Largest single read a source performs, in bytes (Node's fs read length is a signed int32). */
export const maxReadBytes = 1024 * 1024 * 1024;

/** Throws the one `truncated` error shape when [offset, offset+length) is not inside the file. */
export function checkRange(source: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new WeightFileError('corrupt', `${source.name}: invalid byte range at offset ${offset} with length ${length}.`, {
      file: source.name,
      offset,
    });
  }
  if (offset + length > source.size) {
    throw new WeightFileError(
      'truncated',
      `${source.name}: expected ${offset + length - source.size} more bytes at offset ${offset} (file size ${source.size}); the file might be truncated.`,
      { file: source.name, offset },
    );
  }
}

/** A ByteSource over bytes already in memory (tests, ZIP members, small virtual files). */
export class MemoryByteSource implements ByteSource {
  readonly size: number;
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {
    this.size = bytes.byteLength;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }

  async close(): Promise<void> {
    // nothing to release
  }
}

/** A window [start, start+size) of another source, e.g. a STORED member inside a ZIP archive. */
export class SliceByteSource implements ByteSource {
  constructor(
    readonly name: string,
    private readonly parent: ByteSource,
    private readonly start: number,
    readonly size: number,
  ) {
    checkRange(parent, start, size);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.parent.read(this.start + offset, length);
  }

  async close(): Promise<void> {
    // the parent owns the handle
  }
}

/** Companion files next to the main file (shards, `.data-*`, `config.json`), by relative path. */
export interface FileSet {
  /** Display name of the folder, for messages. */
  readonly dirName: string;
  /** Local folder path when the files live on disk, else undefined. */
  readonly localDir?: string;
  /** Opens a companion file; undefined when it does not exist. */
  open(relativePath: string): Promise<ByteSource | undefined>;
  /** Names of the files (not folders) directly in the folder, or in a sub-folder of it. */
  list(relativeDir?: string): Promise<string[]>;
}

/** A FileSet over an in-memory map of relative path to bytes (tests, generated models). */
export class MemoryFileSet implements FileSet {
  constructor(
    readonly dirName: string,
    private readonly files: ReadonlyMap<string, Uint8Array>,
  ) {}

  async open(relativePath: string): Promise<ByteSource | undefined> {
    const bytes = this.files.get(normalizeRelative(relativePath));
    return bytes ? new MemoryByteSource(`${this.dirName}/${relativePath}`, bytes) : undefined;
  }

  async list(relativeDir = ''): Promise<string[]> {
    const prefix = relativeDir ? `${normalizeRelative(relativeDir)}/` : '';
    return [...this.files.keys()]
      .filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/'))
      .map((k) => k.slice(prefix.length));
  }
}

/**
 * A FileSet that remembers every companion asked for, found or not: the files an opened model
 * depends on (a missing shard counts too, since creating it changes what the model holds).
 */
export class RecordingFileSet implements FileSet {
  private readonly asked = new Set<string>();

  constructor(private readonly inner: FileSet) {}

  get dirName(): string {
    return this.inner.dirName;
  }

  get localDir(): string | undefined {
    return this.inner.localDir;
  }

  /** Relative paths asked for so far (normalized, '/' separators), in the order first asked. */
  get requested(): string[] {
    return [...this.asked];
  }

  open(relativePath: string): Promise<ByteSource | undefined> {
    this.asked.add(normalizeRelative(relativePath));
    return this.inner.open(relativePath);
  }

  list(relativeDir?: string): Promise<string[]> {
    return this.inner.list(relativeDir);
  }
}

/** Normalizes `./a//b` to `a/b` (no `..` resolution: companions never leave their folder). */
export function normalizeRelative(p: string): string {
  return p
    .split(/[\\/]+/)
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

/** Reads a whole (small) source into memory, refusing sources above `limitBytes`. */
export async function readAll(source: ByteSource, limitBytes: number): Promise<Uint8Array> {
  if (source.size > limitBytes) {
    throw new WeightFileError(
      'tooLarge',
      `${source.name}: ${source.size} bytes is more than the ${limitBytes}-byte limit for this kind of file.`,
      { file: source.name },
    );
  }
  return source.read(0, source.size);
}
