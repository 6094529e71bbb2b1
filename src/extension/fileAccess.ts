/**
 * Turns a URI into an opened WeightFile. `file:` URIs go through the Node file source (paged
 * reads, handle closed when idle); other schemes (remote, virtual file systems) through
 * `vscode.workspace.fs`, which has no ranged reads, so such files are read whole, up to
 * `maxVirtualFileBytes`, with a clear message above it.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkRange, normalizeRelative, type ByteSource, type FileSet } from '../core/byteSource';
import { WeightFileError } from '../core/errors';
import type { WeightFile } from '../core/model';
import { folderEntryName, noModelInFolder, openLocalPath, openWeightSource, resolveLocalEntry } from '../formats/registry';
import { maxModelJsonBytes } from '../formats/tfjs';

/** Largest file read through vscode.workspace.fs (non-`file:` schemes), in bytes. */
export const maxVirtualFileBytes = 512 * 1024 * 1024;

/** A TensorFlow checkpoint data shard name: `<prefix>.data-00000-of-00002`. */
const dataShardPattern = /^(.*)\.data-\d{5}-of-\d{5}$/;

/**
 * The URI to open for a user's choice: a checkpoint data shard opens through its `.index`;
 * everything else as is (folders are resolved by the reader side).
 */
export function inspectTarget(uri: vscode.Uri): vscode.Uri {
  const m = dataShardPattern.exec(path.posix.basename(uri.path));
  if (m) {
    return uri.with({ path: path.posix.join(path.posix.dirname(uri.path), `${m[1]}.index`) });
  }
  return uri;
}

/**
 * The local path of `uri` for work that needs the file on the local disk (comparing, history,
 * training, gradient probes, git); a URI of another file system (a virtual workspace) is refused
 * with one sentence naming the file and the work, e.g. `work` = 'comparing'.
 */
export function localPathOf(uri: vscode.Uri, work: string): string {
  if (uri.scheme !== 'file') {
    throw new WeightFileError('unsupportedFormat', `${uri.toString(true)}: ${work} works on local files only (scheme '${uri.scheme}').`, { file: uri.toString(true) });
  }
  return uri.fsPath;
}

/** An opened file and, for local files, the path a worker can reopen it from. */
export interface OpenedWeights {
  /** The parsed headers. */
  file: WeightFile;
  /** Local path (file or folder) for worker threads; undefined for other schemes. */
  localPath?: string;
  /** Every file the content was read from: the entry file (a folder's model file) and the companions its reader opened or looked for. */
  files: vscode.Uri[];
}

/** The entry file and the companions `file` was read from (WeightFile.companionFiles, relative to the entry's folder). */
function sourceFiles(entry: vscode.Uri, file: WeightFile): vscode.Uri[] {
  const dir = path.posix.dirname(entry.path);
  return [entry, ...(file.companionFiles ?? []).map((rel) => entry.with({ path: path.posix.join(dir, rel) }))];
}

/** Opens a weight file (or model folder) by URI; throws WeightFileError for bad input. */
export async function openWeightUri(uri: vscode.Uri, signal?: AbortSignal): Promise<OpenedWeights> {
  const target = inspectTarget(uri);
  if (target.scheme === 'file') {
    const entry = await resolveLocalEntry(target.fsPath);
    const file = await openLocalPath(entry, { signal });
    return { file, localPath: target.fsPath, files: sourceFiles(vscode.Uri.file(entry), file) };
  }
  const entry = await resolveVirtualEntry(target);
  const source = new WorkspaceFsByteSource(entry, displayName(entry), await statSize(entry));
  try {
    const file = await openWeightSource(source, path.posix.basename(entry.path), new WorkspaceFsFileSet(dirUri(entry)), { signal });
    return { file, files: sourceFiles(entry, file) };
  } catch (ex) {
    await source.close();
    throw ex;
  }
}

function displayName(uri: vscode.Uri): string {
  return uri.scheme === 'file' ? uri.fsPath : uri.toString(true);
}

function dirUri(uri: vscode.Uri): vscode.Uri {
  return uri.with({ path: path.posix.dirname(uri.path) });
}

async function statSize(uri: vscode.Uri): Promise<number> {
  try {
    return (await vscode.workspace.fs.stat(uri)).size;
  } catch (ex) {
    throw new WeightFileError('notFound', `${displayName(uri)}: the file does not exist or cannot be read.`, { file: displayName(uri) }, { cause: ex });
  }
}

/** Maps a folder URI to the model file inside it (as registry.resolveLocalEntry does on disk). */
async function resolveVirtualEntry(uri: vscode.Uri): Promise<vscode.Uri> {
  let stat: vscode.FileStat;
  try {
    stat = await vscode.workspace.fs.stat(uri);
  } catch (ex) {
    throw new WeightFileError('notFound', `${displayName(uri)}: the file does not exist or cannot be read.`, { file: displayName(uri) }, { cause: ex });
  }
  if ((stat.type & vscode.FileType.Directory) === 0) {
    return uri;
  }
  const entries = await vscode.workspace.fs.readDirectory(uri);
  const files = entries.filter(([, t]) => (t & vscode.FileType.File) !== 0).map(([n]) => n);
  const named = await folderEntryName(files, (name) => readVirtualText(vscode.Uri.joinPath(uri, name)));
  if (named === undefined) {
    throw noModelInFolder(displayName(uri), files);
  }
  return vscode.Uri.joinPath(uri, named);
}

/** A file of another file system as UTF-8 text; refused above maxModelJsonBytes before it is read. */
async function readVirtualText(uri: vscode.Uri): Promise<string> {
  if ((await vscode.workspace.fs.stat(uri)).size > maxModelJsonBytes) {
    throw new WeightFileError('tooLarge', `${displayName(uri)}: more than ${maxModelJsonBytes} bytes of JSON.`, { file: displayName(uri) });
  }
  return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
}

/**
 * A ByteSource over vscode.workspace.fs. The file is read whole on the first read (the API has no
 * ranged reads) and refused above maxVirtualFileBytes before any byte is read.
 */
export class WorkspaceFsByteSource implements ByteSource {
  private bytes: Promise<Uint8Array> | undefined;

  constructor(
    private readonly uri: vscode.Uri,
    readonly name: string,
    readonly size: number,
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (this.size > maxVirtualFileBytes) {
      throw new WeightFileError(
        'tooLarge',
        `${this.name}: ${this.size} bytes is more than the ${maxVirtualFileBytes}-byte limit for files outside the local disk; copy it to a local folder to inspect it.`,
        { file: this.name },
      );
    }
    if (!this.bytes) {
      this.bytes = Promise.resolve(vscode.workspace.fs.readFile(this.uri));
      this.bytes.catch(() => {
        this.bytes = undefined; // a later read retries
      });
    }
    const all = await this.bytes;
    if (all.byteLength < offset + length) {
      throw new WeightFileError('truncated', `${this.name}: the file has ${all.byteLength} bytes, fewer than the ${this.size} it had when opened.`, {
        file: this.name,
      });
    }
    return all.subarray(offset, offset + length);
  }

  async close(): Promise<void> {
    this.bytes = undefined;
  }
}

/** Companion files of a folder reached through vscode.workspace.fs. */
export class WorkspaceFsFileSet implements FileSet {
  readonly dirName: string;

  constructor(private readonly dir: vscode.Uri) {
    this.dirName = displayName(dir);
  }

  async open(relativePath: string): Promise<ByteSource | undefined> {
    const uri = vscode.Uri.joinPath(this.dir, ...normalizeRelative(relativePath).split('/'));
    try {
      const st = await vscode.workspace.fs.stat(uri);
      if ((st.type & vscode.FileType.File) === 0) {
        return undefined;
      }
      return new WorkspaceFsByteSource(uri, displayName(uri), st.size);
    } catch {
      return undefined; // FileSet contract: a missing companion is `undefined`, the reader reports it
    }
  }

  async list(relativeDir = ''): Promise<string[]> {
    const rel = normalizeRelative(relativeDir);
    const uri = rel ? vscode.Uri.joinPath(this.dir, ...rel.split('/')) : this.dir;
    try {
      const entries = await vscode.workspace.fs.readDirectory(uri);
      return entries.filter(([, t]) => (t & vscode.FileType.File) !== 0).map(([n]) => n);
    } catch {
      return []; // a missing folder has no files
    }
  }
}
