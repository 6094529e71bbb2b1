/**
 * HDF5 access for the Keras readers. A file that hdf5Layout.ts reads completely in TypeScript (the
 * usual Keras layouts) is served from that reading with plain file reads; any other goes through a
 * thin adapter over h5wasm (the HDF5 C library compiled to WebAssembly), which can:
 * open a local file lazily (h5wasm's Node build reads host files through NODERAWFS, page by page,
 * never the whole file), list groups and datasets, read attributes in every string encoding Keras
 * uses (notes/weight-formats.md section 2: scalar vlen, fixed-length NULLPAD arrays, vlen arrays,
 * empty float64 (0,) arrays, chunked `name0..N` attributes), and stream a dataset's values in
 * row-major slabs of at most `maxSlabBytes`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ByteSource } from '../core/byteSource';
import { decodeValues, elementCount, itemSizeBytes, type DType, type NumericArray } from '../core/dtypes';
import { throwIfAborted, WeightFileError, type WeightFileErrorReason } from '../core/errors';
import type { FileWarning, RawTensorSource, ReadValuesOptions } from '../core/model';
import { readRawValues } from '../core/tensorData';
import { Hdf5Damage, hdf5RecordedBytes, hdf5Signature, hdf5Truncation, locateRawDatasets, readHdf5Tree, superblockBytes, superblockOffsets, type Hdf5LayoutIndex, type Hdf5Truncation, type Hdf5TreeNode } from './hdf5Layout';

type H5wasmNode = typeof import('h5wasm/node', { with: { 'resolution-mode': 'import' } });
type H5Module = Awaited<H5wasmNode['ready']>;
type H5Metadata = ReturnType<H5Module['get_dataset_metadata']>;

/** Largest slab read from a dataset at a time, in bytes (1 MiB: each h5wasm read blocks the event loop; larger slabs measured slower overall). */
export const maxSlabBytes = 1024 * 1024;

/** Elements compared at each end of a dataset before its plain bytes are trusted (Hdf5File.rawSource). */
const rawCheckElements = 64;

/** Largest attribute value read into memory, in bytes (model_config JSON is far smaller). */
export const maxAttributeBytes = 64 * 1024 * 1024;

/** Bytes copied at a time when a member is extracted to a temporary file. */
const copyChunkBytes = 4 * 1024 * 1024;

/** Free space left in the temporary folder after a temporary copy of an HDF5 file, at least (64 MiB). */
const tempDiskReserveBytes = 64 * 2 ** 20;

/** True when `bytes` hold the HDF5 signature at `at`. */
function signatureAt(bytes: Uint8Array, at: number): boolean {
  return at + hdf5Signature.length <= bytes.length && hdf5Signature.every((b, i) => bytes[at + i] === b);
}

/** True when `head`, a file's first bytes, holds the HDF5 signature where the HDF5 library looks for it (0 or a user-block size). */
export function hasHdf5Signature(head: Uint8Array): boolean {
  return superblockOffsets(head.length).some((at) => signatureAt(head, at));
}

/**
 * Where the HDF5 signature of `source` is: 0 or the first user-block size (512, 1024, 2048, ...)
 * that holds it, as the HDF5 library looks for it, up to `maxOffset`; undefined when none does. The
 * offsets inside `head` (the source's first bytes, when known) are not read again; each other costs
 * one 8-byte read.
 */
export async function findHdf5Signature(source: ByteSource, head: Uint8Array = new Uint8Array(0), maxOffset = Infinity): Promise<number | undefined> {
  for (const at of superblockOffsets(source.size).filter((x) => x <= maxOffset)) {
    const bytes = at + hdf5Signature.length <= head.length ? head.subarray(at) : await source.read(at, hdf5Signature.length);
    if (signatureAt(bytes, 0)) {
      return at;
    }
  }
  return undefined;
}

let loading: Promise<{ h5: H5wasmNode; module: H5Module }> | undefined;

/** Temporary copies still open; removed at process exit when a caller forgot to close them. */
const liveTempDirs = new Set<string>();
let exitHookInstalled = false;

function trackTempDir(dir: string): void {
  liveTempDirs.add(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const d of liveTempDirs) {
        fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }
}

/** A byte range of a local file served to HDF5 as if it were a file of its own (a STORED ZIP member). */
interface MemberRange {
  /** Local path of the file holding the bytes (the archive). */
  hostPath: string;
  /** Offset of the first byte, in bytes. */
  start: number;
  /** Length, in bytes. */
  size: number;
  /**
   * Bytes of the range that exist when the file is truncated (less than `size`, which is then the
   * size the superblock records): reads beyond them return nothing (the HDF5 library fills zeros)
   * and set `readPastEnd`, so that no value made of those zeros is ever shown.
   */
  present?: number;
  /** Set by a read that reached past `present`; cleared by whoever checks it. */
  readPastEnd?: boolean;
}

/** The subset of Emscripten's FS object (NODERAWFS build) that HDF5's POSIX driver reaches through syscalls. */
interface EmscriptenStream {
  position: number;
  weightscopeMember?: MemberRange;
}
interface PatchableFs {
  open(path: string, flags: number, mode?: number): EmscriptenStream;
  read(stream: EmscriptenStream, buffer: Int8Array, offset: number, length: number, position?: number): number;
  llseek(stream: EmscriptenStream, offset: number, whence: number): number;
  fstat(fd: number): object;
  stat(path: string, dontFollow?: boolean): object;
  lstat(path: string): object;
  getStream(fd: number): EmscriptenStream | null;
  ErrnoError: new (errno: number) => Error;
}

/** Virtual paths currently mapped to member ranges. */
const memberRanges = new Map<string, MemberRange>();
let memberFsInstalled = false;

/**
 * Lets HDF5 open a byte range of a host file in place. h5wasm's Node build uses NODERAWFS, which
 * sends every open() to the host file system (so no lazy device or custom node can be mounted);
 * instead, FS.open/read/llseek/fstat/stat/lstat are wrapped so that a registered virtual path opens
 * the host file and every read is shifted by the range's start and clipped to its size. Other paths
 * are untouched. Emscripten errno values: EACCES 2, EINVAL 28.
 */
function installMemberFs(module: H5Module): void {
  if (memberFsInstalled) {
    return;
  }
  memberFsInstalled = true;
  const fsObj = module.FS as unknown as PatchableFs;
  const orig = {
    open: fsObj.open.bind(fsObj),
    read: fsObj.read.bind(fsObj),
    llseek: fsObj.llseek.bind(fsObj),
    fstat: fsObj.fstat.bind(fsObj),
    stat: fsObj.stat.bind(fsObj),
    lstat: fsObj.lstat.bind(fsObj),
  };
  const withSize = (st: object, size: number): object =>
    new Proxy(st, { get: (target, key) => (key === 'size' ? size : key === 'blocks' ? Math.ceil(size / 512) : Reflect.get(target, key)) });
  fsObj.open = (p, flags, mode) => {
    const m = typeof p === 'string' ? memberRanges.get(p) : undefined;
    if (!m) {
      return orig.open(p, flags, mode);
    }
    if ((flags & 3) !== 0) {
      throw new fsObj.ErrnoError(2); // read-only: O_WRONLY / O_RDWR refused
    }
    const stream = orig.open(m.hostPath, 0, mode);
    stream.weightscopeMember = m;
    return stream;
  };
  fsObj.read = (stream, buffer, offset, length, position) => {
    const m = stream.weightscopeMember;
    if (!m) {
      return orig.read(stream, buffer, offset, length, position);
    }
    const at = position ?? stream.position;
    const present = m.present ?? m.size;
    if (length > 0 && at + length > present && at < m.size) {
      m.readPastEnd = true;
    }
    if (at >= present) {
      return 0;
    }
    const n = orig.read(stream, buffer, offset, Math.min(length, present - at), m.start + at);
    if (position === undefined) {
      stream.position += n;
    }
    return n;
  };
  fsObj.llseek = (stream, offset, whence) => {
    const m = stream.weightscopeMember;
    if (!m) {
      return orig.llseek(stream, offset, whence);
    }
    const at = whence === 0 ? offset : whence === 1 ? stream.position + offset : whence === 2 ? m.size + offset : NaN;
    if (!(at >= 0)) {
      throw new fsObj.ErrnoError(28);
    }
    stream.position = at;
    return at;
  };
  fsObj.fstat = (fd) => {
    const m = fsObj.getStream(fd)?.weightscopeMember;
    const st = orig.fstat(fd);
    return m ? withSize(st, m.size) : st;
  };
  fsObj.stat = (p, dontFollow) => {
    const m = memberRanges.get(p);
    return m ? withSize(orig.stat(m.hostPath, dontFollow), m.size) : orig.stat(p, dontFollow);
  };
  fsObj.lstat = (p) => {
    const m = memberRanges.get(p);
    return m ? withSize(orig.lstat(m.hostPath), m.size) : orig.lstat(p);
  };
}

let memberCounter = 0;

/**
 * Loads h5wasm once per process. It is ESM-only, so it is reached with a dynamic import() from this
 * CommonJS code. HDF5 errors are switched to thrown JS errors (instead of printed diagnostics).
 */
function loadH5wasm(): Promise<{ h5: H5wasmNode; module: H5Module }> {
  loading ??= (async () => {
    const { h5, module } = await withLibraryOutputSilenced(async () => {
      const lib = await import('h5wasm/node');
      return { h5: lib, module: await lib.ready };
    });
    module.activate_throwing_error_handler();
    // On abort() Emscripten prints "Aborted(...)" to stderr before throwing it. Throwing it from this
    // hook instead keeps stderr to Weightscope's own one-line error (hdf5Error reads the message).
    (module as H5Module & { onAbort?: (what: unknown) => void }).onAbort = (what) => {
      throw new Error(`Aborted(${String(what)})`);
    };
    return { h5, module };
  })().catch((ex: unknown) => {
    loading = undefined;
    throw new WeightFileError('unsupportedFormat', `The HDF5 library (h5wasm) could not be loaded: ${ex instanceof Error ? ex.message : String(ex)}.`, {}, { cause: ex });
  });
  return loading;
}

/**
 * Creates the h5wasm module with its print functions bound to sinks that, once it is created, drop
 * what they are given. Emscripten binds `out` and `err` to console.log and console.error when the
 * module is created, and h5wasm offers no way to pass others; on damaged data it prints, e.g.
 * "Cannot enlarge memory, requested 4029587456 bytes" (a size a damaged header claims, refused) or
 * "warning: Invalid UTF-8 leading byte", which would land beside the CLI's one-line error or in its
 * JSON on stdout. While the module is being created the sinks pass everything on, so output of other
 * code in that window (and a failure to load) still reaches the console.
 */
async function withLibraryOutputSilenced<T>(create: () => Promise<T>): Promise<T> {
  const { log, error } = console;
  let creating = true;
  console.log = (...args: unknown[]) => {
    if (creating) {
      log(...args);
    }
  };
  console.error = (...args: unknown[]) => {
    if (creating) {
      error(...args);
    }
  };
  try {
    return await create();
  } finally {
    creating = false;
    console.log = log;
    console.error = error;
  }
}

/** What kind of object a path names. */
export type Hdf5ObjectKind = 'group' | 'dataset' | 'other';

/** Shape and element type of one dataset. */
export interface Hdf5DatasetInfo {
  /** Absolute path of the dataset in the file. */
  path: string;
  /** Shape, row-major; [] for a scalar. */
  shape: number[];
  /** Element type when numeric (float16/32/64, ints, bool, bfloat16); undefined for strings, compounds ... */
  dtype: DType | undefined;
  /** Short description of the stored HDF5 type, e.g. 'float32', 'string', 'compound'. */
  typeDescription: string;
  /** Bytes per stored element. */
  itemBytes: number;
  /** Chunk shape when the dataset is chunked, else undefined (contiguous or compact). */
  chunks?: number[];
  /**
   * When the values can only come from this file: its size and how many times that its filters
   * can expand stored bytes (1 without filters). Declared values beyond the product were never
   * written (they read as the fill value). Undefined when not known.
   */
  storage?: { fileBytes: number; expansion: number };
  /**
   * Set when the file is truncated and the dataset's values are stored as plain bytes running past
   * its end: where they were stored (offset in the host file, bytes) and where the file now ends.
   */
  cut?: { offset: number; byteLength: number; fileEnd: number };
}

/** An open HDF5 file. Every method is synchronous inside h5wasm; reads of values are chunked. */
export class Hdf5File {
  private closed = false;
  /** Slab buffers of running reads in the WASM heap (address -> bytes); each read owns one, freed when it ends or at close. */
  private readonly slabs = new Map<number, number>();
  /** Datasets whose values are plain bytes of the host file (hdf5Layout.ts), walked on first use. */
  private layout: Hdf5LayoutIndex | undefined;
  /** rawSource answers by dataset path. */
  private readonly rawChecked = new Map<string, RawTensorSource | undefined>();

  private constructor(
    /** The HDF5 library's open file; undefined when the whole file was read in TypeScript (`tree`). */
    private readonly lib: { h5: H5wasmNode; module: H5Module; file: InstanceType<H5wasmNode['File']> } | undefined,
    /** The whole file read in TypeScript (hdf5Layout.ts readHdf5Tree), when it could be. */
    private readonly tree: Hdf5TreeNode | undefined,
    /** Display name used in messages. */
    readonly name: string,
    private readonly cleanup: (() => Promise<void>) | undefined,
    /** The host file holding the HDF5 bytes, and where they start in it (a ZIP member's range). */
    private readonly host: { path: string; start: number; size?: number },
    /** Set when the file is shorter than its superblock says (hdf5Layout.ts hdf5Truncation). */
    readonly truncation?: Hdf5Truncation,
    /** The library's view of a truncated file, whose reads past the end it watches. */
    private readonly member?: MemberRange,
  ) {}

  /**
   * Problems of the whole file that still let it open: a truncated file, with what was missing
   * (the HDF5 library itself refuses such a file; here the datasets whose values lie in the bytes
   * present are read, and any other is reported as truncated on its tensor).
   */
  fileWarnings(): FileWarning[] {
    const t = this.truncation;
    if (!t) {
      return [];
    }
    const missing = t.expectedBytes - t.presentBytes;
    return [
      {
        reason: 'truncated',
        message: `${this.name}: the HDF5 file is truncated: its superblock records an end of file at byte ${t.expectedBytes} but the file has ${t.presentBytes} bytes (${missing} missing); the HDF5 library and h5py refuse it, here each dataset whose values lie in the bytes present is read and any other is reported as truncated.`,
      },
    ];
  }

  /**
   * Opens an HDF5 file from a ByteSource. Plain local files are read in place. Without a local path,
   * `allowTempCopy` streams the bytes into a private temporary file (deleted on close), because
   * h5wasm's Node build can only open host files and HDF5 reads synchronously while a ByteSource is
   * asynchronous; otherwise throws `unsupportedFormat`. (Byte ranges of local files: openLocalRange.)
   * `userBlockLimit` bounds where the signature is looked for before a copy (default: anywhere, as
   * the HDF5 library does), for sources whose far bytes are costly to reach (an inflated member).
   */
  static async openSource(source: ByteSource, options: { allowTempCopy?: boolean; signal?: AbortSignal; userBlockLimit?: number } = {}): Promise<Hdf5File> {
    if (source.localPath !== undefined) {
      return Hdf5File.openLocal(source.localPath, source.name);
    }
    if (!options.allowTempCopy) {
      throw new WeightFileError(
        'unsupportedFormat',
        `${source.name}: HDF5 files can only be read from the local file system (this one has no local path).`,
        { file: source.name },
      );
    }
    // Bytes that do not start as HDF5 does are refused before any copy (a compressed member that
    // inflates to gigabytes of something else would otherwise be written out in full first).
    const at = await findHdf5Signature(source, undefined, options.userBlockLimit);
    if (at === undefined) {
      throw new WeightFileError('unrecognized', `${source.name}: is not an HDF5 file (no HDF5 signature at its start or after a user block).`, { file: source.name });
    }
    // Only the bytes the superblock says the file has are copied: the HDF5 library reads nothing
    // past them, and anything after them (filler that compresses to nothing) would only fill the disk.
    const recorded = hdf5RecordedBytes(await source.read(at, Math.min(superblockBytes, source.size - at)), at, source.size);
    const bytes = recorded !== undefined && recorded > 0 ? Math.min(source.size, recorded) : source.size;
    const tempRoot = os.tmpdir();
    const reservation = reserveTempSpace(source.name, bytes, tempRoot, await freeBytes(tempRoot));
    let removeDir = async (): Promise<void> => {};
    try {
      const dir = await fs.promises.mkdtemp(path.join(tempRoot, 'weightscope-h5-'));
      trackTempDir(dir);
      removeDir = async (): Promise<void> => {
        liveTempDirs.delete(dir);
        await fs.promises.rm(dir, { recursive: true, force: true });
      };
      const tempPath = path.join(dir, 'member.h5');
      await copyToFile(source, bytes, tempPath, options.signal, (n) => reservation.wrote(n));
      reservation.release();
      return await Hdf5File.openLocal(tempPath, source.name, removeDir, { path: tempPath, start: 0 });
    } catch (ex) {
      reservation.release();
      await removeDir();
      throw ex;
    }
  }

  /**
   * Opens the HDF5 file stored as bytes [start, start+size) of a local file (a STORED ZIP member)
   * in place, without copying: see installMemberFs.
   */
  static async openLocalRange(hostPath: string, start: number, size: number, displayName: string, options: { library?: boolean } = {}): Promise<Hdf5File> {
    if (!options.library) {
      const tree = treeOrRefuse(hostPath, displayName, { start, size });
      if (tree) {
        return new Hdf5File(undefined, tree, displayName, undefined, { path: hostPath, start, size }, hdf5Truncation(hostPath, { start, size }));
      }
    }
    const { module } = await loadH5wasm();
    installMemberFs(module);
    const virtualPath = memberPath(displayName);
    memberRanges.set(virtualPath, { hostPath, start, size });
    const unmap = async (): Promise<void> => {
      memberRanges.delete(virtualPath);
    };
    try {
      return await Hdf5File.openLocal(virtualPath, displayName, unmap, { path: hostPath, start, size }, { library: true });
    } catch (ex) {
      await unmap();
      throw ex;
    }
  }

  /** Which reader serves the file: TypeScript alone, or the HDF5 library. */
  get backend(): 'typescript' | 'library' {
    return this.tree ? 'typescript' : 'library';
  }

  private get h5(): H5wasmNode {
    return this.lib!.h5;
  }

  private get module(): H5Module {
    return this.lib!.module;
  }

  private get file(): InstanceType<H5wasmNode['File']> {
    return this.lib!.file;
  }

  /**
   * Opens a local HDF5 file read-only; `cleanup` runs after the file is closed. Throws `truncated`,
   * `unrecognized` or `corrupt` WeightFileErrors. A file that hdf5Layout.ts reads completely (the
   * usual Keras layouts: contiguous datasets, compact groups and attributes of numbers and strings)
   * is served without loading the HDF5 library; anything else goes through it (or with `library`).
   */
  static async openLocal(
    localPath: string,
    displayName = localPath,
    cleanup?: () => Promise<void>,
    host: { path: string; start: number; size?: number } = { path: localPath, start: 0 },
    options: { library?: boolean } = {},
  ): Promise<Hdf5File> {
    const range = host.size === undefined ? undefined : { start: host.start, size: host.size };
    const truncation = hdf5Truncation(host.path, range);
    if (!options.library) {
      const tree = treeOrRefuse(host.path, displayName, range);
      if (tree) {
        return new Hdf5File(undefined, tree, displayName, cleanup, host, truncation);
      }
    }
    const { h5, module } = await loadH5wasm();
    // The HDF5 library refuses a file shorter than its superblock says: it is shown the size the
    // superblock records, and every read past the bytes present is noted (readPastEnd).
    let libraryPath = localPath;
    let member = memberRanges.get(localPath);
    let done = cleanup;
    if (truncation && !member) {
      installMemberFs(module);
      libraryPath = memberPath(displayName);
      // After an open that failed the library can still hold the file (objects the failure left
      // open keep it open) and serves this open from that stream: watch the range that stream reads.
      member = heldMember(module, localPath) ?? { hostPath: localPath, start: 0, size: truncation.expectedBytes };
      memberRanges.set(libraryPath, member);
      done = async () => {
        memberRanges.delete(libraryPath);
        await cleanup?.();
      };
    }
    if (truncation && member) {
      member.size = truncation.expectedBytes;
      member.present = truncation.presentBytes;
    }
    const watched = truncation ? member : undefined;
    let file: InstanceType<H5wasmNode['File']>;
    try {
      try {
        file = new h5.File(libraryPath, 'r');
      } catch (ex) {
        throw hdf5Error(displayName, 'open the file', ex, truncation);
      }
      if (typeof file.file_id !== 'bigint' || file.file_id < 0n) {
        throw new WeightFileError('corrupt', `${displayName}: the HDF5 library could not open the file (id ${String(file.file_id)}).`, { file: displayName });
      }
    } catch (ex) {
      if (done !== cleanup) {
        memberRanges.delete(libraryPath);
      }
      throw ex;
    }
    return new Hdf5File({ h5, module, file }, undefined, displayName, done, host, truncation, watched);
  }

  /** Kind of object at `objPath`, or undefined when nothing is there. Throws `truncated` when its header lies past the end of a truncated file. */
  kind(objPath: string): Hdf5ObjectKind | undefined {
    this.checkOpen();
    if (this.tree) {
      return this.node(objPath)?.kind;
    }
    let t: number;
    this.watchReads();
    try {
      t = this.module.get_type(this.file.file_id, objPath);
    } catch (ex) {
      if (this.readPastEnd()) {
        // Not absent: its header was cut off with the end of the file.
        throw hdf5Error(this.name, `read the header of '${objPath}'`, ex, this.truncation);
      }
      return undefined;
    }
    if (t === this.module.H5G_GROUP) {
      return 'group';
    }
    if (t === this.module.H5G_DATASET) {
      return 'dataset';
    }
    return t < 0 ? undefined : 'other';
  }

  /** Names of the members of a group (HDF5 link order, i.e. sorted by name for Keras files). */
  keys(groupPath: string): string[] {
    this.checkOpen();
    if (this.tree) {
      return [...this.treeNode(groupPath, `list the group '${groupPath}'`, 'group').children!.keys()];
    }
    return this.guard(`list the group '${groupPath}'`, () => this.module.get_names(this.file.file_id, groupPath, false));
  }

  /**
   * Every link path below a group, relative to it ('a', 'a/b', ...), from HDF5's own recursive link
   * walk (H5Lvisit2), which enters each group once, so hard-link cycles end.
   */
  linksBelow(groupPath: string): string[] {
    this.checkOpen();
    if (this.tree) {
      // H5Lvisit order: links in name order, each group's links right after the link to it, each group once.
      const start = this.treeNode(groupPath, `list the links below '${groupPath}'`, 'group');
      const seen = new Set<Hdf5TreeNode>([start]);
      const out: string[] = [];
      const visit = (node: Hdf5TreeNode, prefix: string): void => {
        for (const [name, child] of node.children!) {
          out.push(`${prefix}${name}`);
          if (child.kind === 'group' && !seen.has(child)) {
            seen.add(child);
            visit(child, `${prefix}${name}/`);
          }
        }
      };
      visit(start, '');
      return out;
    }
    return this.guard(`list the links below '${groupPath}'`, () => this.module.get_names(this.file.file_id, groupPath, true));
  }

  /** Names of the attributes of an object. */
  attributeNames(objPath: string): string[] {
    this.checkOpen();
    if (this.tree) {
      return [...this.treeNode(objPath, `list the attributes of '${objPath}'`).attributes.keys()];
    }
    return this.guard(`list the attributes of '${objPath}'`, () => this.module.get_attribute_names(this.file.file_id, objPath));
  }

  /**
   * An attribute as JSON-compatible data (strings in every encoding, numbers, arrays), or
   * undefined when absent. Throws `tooLarge` before reading an attribute above `maxAttributeBytes`.
   */
  attribute(objPath: string, attrName: string): unknown {
    this.checkOpen();
    if (!this.attributeNames(objPath).includes(attrName)) {
      return undefined;
    }
    if (this.tree) {
      const value = this.treeNode(objPath, `read the attribute '${attrName}' of '${objPath}'`).attributes.get(attrName);
      return value === null ? undefined : Array.isArray(value) ? [...(value as unknown[])] : value;
    }
    return this.guard(`read the attribute '${attrName}' of '${objPath}'`, () => {
      const attr = new this.h5.Attribute(this.file.file_id, objPath, attrName);
      const bytes = attr.metadata.size * attr.metadata.total_size;
      if (bytes > maxAttributeBytes) {
        throw new WeightFileError('tooLarge', `${this.name}: attribute '${attrName}' of '${objPath}' claims ${bytes} bytes, more than the ${maxAttributeBytes}-byte limit.`, {
          file: this.name,
        });
      }
      const value = attr.json_value;
      return value === null ? undefined : value;
    });
  }

  /** A string attribute (scalar vlen/fixed string, or a one-element string array), else undefined. */
  stringAttribute(objPath: string, attrName: string): string | undefined {
    const v = this.attribute(objPath, attrName);
    if (typeof v === 'string') {
      return v;
    }
    if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') {
      return v[0];
    }
    return undefined;
  }

  /**
   * A list-of-strings attribute such as `layer_names` / `weight_names`: vlen or fixed-length NULLPAD
   * arrays, a single string, an empty float64 array (weightless layers), or one split into
   * `name0`, `name1`, ... when it exceeded HDF5's 64 KiB attribute limit. Undefined when absent.
   */
  stringListAttribute(objPath: string, attrName: string): string[] | undefined {
    const names = this.attributeNames(objPath);
    if (names.includes(attrName)) {
      return toStringList(this.attribute(objPath, attrName));
    }
    // Chunked attributes (Keras save_attributes_to_hdf5_group): name0, name1, ... in numeric order.
    if (!names.includes(`${attrName}0`)) {
      return undefined;
    }
    const out: string[] = [];
    for (let i = 0; names.includes(`${attrName}${i}`); i++) {
      out.push(...(toStringList(this.attribute(objPath, `${attrName}${i}`)) ?? []));
    }
    return out;
  }

  /** Shape and element type of a dataset. Throws `corrupt` when it cannot be described. */
  dataset(datasetPath: string): Hdf5DatasetInfo {
    this.checkOpen();
    if (this.tree) {
      const node = this.treeNode(datasetPath, `read the header of dataset '${datasetPath}'`, 'dataset');
      const d = node.dataset!;
      const dtypeAttr = node.attributes.get('dtype');
      const { dtype, description } =
        dtypeAttr === 'bfloat16' && d.itemBytes === 2
          ? { dtype: 'bfloat16' as DType, description: 'bfloat16' }
          : numericType(d.typeClass === 0 ? 'integer' : 'float', d.itemBytes, d.signed);
      return {
        path: datasetPath,
        shape: [...d.shape],
        dtype,
        typeDescription: description,
        itemBytes: d.itemBytes,
        ...(d.storage ? { storage: d.storage } : {}),
        ...(d.cut ? { cut: this.cutOf(d.cut) } : {}),
      };
    }
    const meta = this.guard(`read the header of dataset '${datasetPath}'`, () => this.module.get_dataset_metadata(this.file.file_id, datasetPath));
    const shape = meta.shape ?? [];
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new WeightFileError('corrupt', `${this.name}: dataset '${datasetPath}' has an invalid dimension ${d}.`, { file: this.name, tensor: datasetPath });
      }
    }
    const dtypeAttr = this.attributeNames(datasetPath).includes('dtype') ? this.attribute(datasetPath, 'dtype') : undefined;
    const { dtype, description } = describeType(this.module, meta, dtypeAttr);
    const info: Hdf5DatasetInfo = { path: datasetPath, shape, dtype, typeDescription: description, itemBytes: meta.size };
    if (meta.chunks) {
      info.chunks = meta.chunks;
    }
    return this.withStorage(info);
  }

  /**
   * Streams a numeric dataset's values in row-major order, reading hyperslabs of at most
   * `maxSlabBytes` (or `options.chunkElements` elements): whole rows along the outermost axis
   * that fits, so memory never depends on the dataset's size. Each read fills one slab buffer
   * of its own in the WASM heap (allocated once per read; fresh memory is costly). With
   * `options.reuseChunks` the chunks are views of that buffer, valid until the next chunk is
   * requested; otherwise each chunk is a copy.
   */
  async *readValues(info: Hdf5DatasetInfo, options: ReadValuesOptions = {}): AsyncGenerator<NumericArray> {
    const dtype = info.dtype;
    const item = dtype === undefined ? undefined : itemSizeBytes(dtype);
    if (dtype === undefined || item === undefined || item < 1 || item !== info.itemBytes) {
      throw new WeightFileError('unsupportedDtype', `${this.name}: dataset '${info.path}' has HDF5 type '${info.typeDescription}', which is not numeric.`, {
        file: this.name,
        tensor: info.path,
      });
    }
    if (info.cut) {
      throw this.cutError(info);
    }
    const raw = this.rawSource(info);
    if (raw) {
      // Plain file reads, in slabs of the same size as the library's.
      const chunkElements = Math.max(1, Math.floor(Math.min(maxSlabBytes, (options.chunkElements ?? Infinity) * item) / item));
      for await (const chunk of readRawValues(raw, dtype, { ...options, chunkElements })) {
        this.checkOpen();
        yield chunk;
      }
      return;
    }
    const shape = info.shape;
    const total = elementCount(shape);
    if (total === 0) {
      return;
    }
    const slabBytes = Math.max(item, Math.min(maxSlabBytes, Math.floor((options.chunkElements ?? Infinity) * item)));
    const reuse = options.reuseChunks === true;
    throwIfAborted(options.signal);
    const ptr = this.allocSlab(info, Math.min(slabBytes, total * item));
    try {
      if (shape.length === 0 || total * item <= slabBytes) {
        yield this.readSlab(info, dtype, null, null, total * item, ptr, reuse);
        return;
      }
      yield* this.readRows(info, dtype, slabBytes, ptr, reuse, options.signal);
    } finally {
      this.freeSlab(ptr);
    }
  }

  /**
   * Where a numeric dataset's values lie as plain bytes of the host file, or undefined when the
   * HDF5 library must read them (chunked, compressed, big-endian, empty, not located). The layout
   * walk's answer (hdf5Layout.ts) is only used when the library agrees on shape and element size
   * and reads the same bytes as the file holds at both ends of the dataset.
   */
  rawSource(info: Hdf5DatasetInfo): RawTensorSource | undefined {
    if (info.cut) {
      return undefined;
    }
    if (this.rawChecked.has(info.path)) {
      return this.rawChecked.get(info.path);
    }
    let raw: RawTensorSource | undefined;
    try {
      raw = this.checkRaw(info);
    } catch {
      raw = undefined; // the library path reports any problem when the values are read
    }
    this.rawChecked.set(info.path, raw);
    return raw;
  }

  /** `info` with its `storage` when the layout walk knows it (library reads; the tree has its own). */
  private withStorage(info: Hdf5DatasetInfo): Hdf5DatasetInfo {
    let index: Hdf5LayoutIndex | undefined;
    try {
      index = this.layoutIndex();
    } catch {
      return info; // damage the walk refuses is the library's to report when the values are read
    }
    const key = info.path.startsWith('/') ? info.path : `/${info.path}`;
    const expansion = index.expansion.get(key);
    const cut = index.cut.get(key);
    return {
      ...info,
      ...(expansion !== undefined ? { storage: { fileBytes: index.fileBytes, expansion } } : {}),
      ...(cut ? { cut: this.cutOf(cut) } : {}),
    };
  }

  /** Where a dataset cut off by the end of a truncated file was stored, and where the file ends (host-file offsets). */
  private cutOf(d: { offset: number; byteLength: number }): NonNullable<Hdf5DatasetInfo['cut']> {
    return { offset: d.offset, byteLength: d.byteLength, fileEnd: this.host.start + (this.truncation?.presentBytes ?? 0) };
  }

  /** The `truncated` error of a dataset whose values run past the end of the file (`info.cut`, or found so by a read). */
  cutError(info: Hdf5DatasetInfo): WeightFileError {
    const c = info.cut;
    const where = c ? `is stored at bytes ${c.offset}..${c.offset + c.byteLength} but the file ends at byte ${c.fileEnd}` : 'is stored partly past the end of the file';
    return new WeightFileError('truncated', `${this.name}: dataset '${info.path}' ${where}, so its values were cut off.`, {
      file: this.name,
      tensor: info.path,
      ...(c ? { offset: c.fileEnd } : {}),
    });
  }

  /** The layout walk of the file (hdf5Layout.ts), made once. */
  private layoutIndex(): Hdf5LayoutIndex {
    this.layout ??= locateRawDatasets(this.host.path, this.host.size === undefined ? undefined : { start: this.host.start, size: this.host.size });
    return this.layout;
  }

  private checkRaw(info: Hdf5DatasetInfo): RawTensorSource | undefined {
    this.checkOpen();
    if (this.tree) {
      // Read in TypeScript: the tree's locations are all there is (no library to agree with).
      const located = this.node(info.path)?.dataset?.located;
      const item = info.dtype === undefined ? undefined : itemSizeBytes(info.dtype);
      return located && item === located.itemBytes && located.byteLength === elementCount(info.shape) * item
        ? { localPath: this.host.path, offset: located.offset, byteLength: located.byteLength }
        : undefined;
    }
    const item = info.dtype === undefined ? undefined : itemSizeBytes(info.dtype);
    const total = elementCount(info.shape);
    if (item === undefined || item !== info.itemBytes || info.chunks || total === 0) {
      return undefined;
    }
    const located = this.layoutIndex().datasets.get(info.path.startsWith('/') ? info.path : `/${info.path}`);
    if (
      !located ||
      located.itemBytes !== item ||
      located.byteLength !== total * item ||
      located.shape.length !== info.shape.length ||
      located.shape.some((d, i) => d !== info.shape[i])
    ) {
      return undefined;
    }
    const raw: RawTensorSource = { localPath: this.host.path, offset: located.offset, byteLength: located.byteLength };
    // Both ends of the dataset, as the library reads them and as the file holds them.
    const shape = info.shape;
    const last = shape.length === 0 ? 1 : shape[shape.length - 1]!;
    const m = Math.min(rawCheckElements, last);
    const count = shape.map((_, axis) => (axis === shape.length - 1 ? m : 1));
    const ends: Array<{ offset: number[]; at: number }> = [
      { offset: shape.map(() => 0), at: 0 },
      { offset: shape.map((d, axis) => (axis === shape.length - 1 ? d - m : d - 1)), at: located.byteLength - m * item },
    ];
    const nbytes = m * item;
    const ptr = this.allocSlab(info, nbytes);
    const fd = fs.openSync(raw.localPath, 'r');
    try {
      for (const end of ends) {
        this.watchReads();
        const status = this.module.get_dataset_data(
          this.file.file_id,
          info.path,
          shape.length === 0 ? null : count.map(BigInt),
          shape.length === 0 ? null : end.offset.map(BigInt),
          shape.length === 0 ? null : count.map(() => 1n),
          BigInt(ptr),
        );
        const fileBytes = Buffer.alloc(nbytes);
        if (
          status < 0 ||
          this.readPastEnd() ||
          fs.readSync(fd, fileBytes, 0, nbytes, raw.offset + end.at) !== nbytes ||
          !fileBytes.equals(this.module.HEAPU8.subarray(ptr, ptr + nbytes))
        ) {
          return undefined;
        }
      }
    } finally {
      fs.closeSync(fd);
      this.freeSlab(ptr);
    }
    return raw;
  }

  /** The slabs of readValues for a dataset larger than one slab. */
  private *readRows(info: Hdf5DatasetInfo, dtype: DType, slabBytes: number, ptr: number, reuse: boolean, signal: AbortSignal | undefined): Generator<NumericArray> {
    const shape = info.shape;
    const item = info.itemBytes;
    const total = elementCount(shape);
    // Outermost axis k whose inner block (dims after k) fits in one slab; slabs span rows of axis k.
    let k = 0;
    let inner = total / shape[0]!;
    while (inner * item > slabBytes && k < shape.length - 1) {
      k++;
      inner /= shape[k]!;
    }
    const rowsPerSlab = Math.max(1, Math.floor(slabBytes / (inner * item)));
    const outer = shape.slice(0, k);
    const outerCount = elementCount(outer);
    const index = outer.map(() => 0);
    for (let o = 0; o < outerCount; o++) {
      for (let start = 0; start < shape[k]!; start += rowsPerSlab) {
        throwIfAborted(signal);
        const rows = Math.min(rowsPerSlab, shape[k]! - start);
        const count = shape.map((d, axis) => (axis < k ? 1 : axis === k ? rows : d));
        const offset = shape.map((_, axis) => (axis < k ? index[axis]! : axis === k ? start : 0));
        yield this.readSlab(info, dtype, count, offset, rows * inner * item, ptr, reuse);
      }
      // Advance the outer multi-index (row-major).
      for (let axis = k - 1; axis >= 0; axis--) {
        index[axis]!++;
        if (index[axis]! < shape[axis]!) {
          break;
        }
        index[axis] = 0;
      }
    }
  }

  /**
   * Reads one hyperslab (or everything when count is null) as little-endian bytes into the slab
   * buffer at `ptr` and decodes it: a view of the buffer when `reuse` (no copy), else a copy.
   */
  private readSlab(info: Hdf5DatasetInfo, dtype: DType, count: number[] | null, offset: number[] | null, nbytes: number, ptr: number, reuse: boolean): NumericArray {
    this.checkOpen();
    this.guard(`read values of dataset '${info.path}'`, () => {
      this.watchReads();
      const status = this.module.get_dataset_data(
        this.file.file_id,
        info.path,
        count ? count.map(BigInt) : null,
        offset ? offset.map(BigInt) : null,
        count ? count.map(() => 1n) : null,
        BigInt(ptr),
      );
      if (this.readPastEnd()) {
        // The library read zeros for the missing bytes: none of them may pass for values.
        throw this.cutError(info);
      }
      if (status < 0) {
        throw new WeightFileError('corrupt', `${this.name}: the HDF5 library failed to read dataset '${info.path}' (status ${status}).`, { file: this.name, tensor: info.path });
      }
    });
    // h5wasm reads into a little-endian copy of the stored type (hdf5_util.cc read_write_dataset_data).
    // HEAPU8 is looked up after the read: the heap may have grown (and replaced its buffer) during it.
    const heap = this.module.HEAPU8;
    return decodeValues(dtype, reuse ? heap.subarray(ptr, ptr + nbytes) : heap.slice(ptr, ptr + nbytes), true);
  }

  /** Allocates a slab buffer of `nbytes` in the WASM heap (freed by freeSlab or at close). */
  private allocSlab(info: Hdf5DatasetInfo, nbytes: number): number {
    this.checkOpen();
    const ptr = this.module._malloc(Math.max(8, nbytes));
    if (!ptr) {
      throw new WeightFileError('tooLarge', `${this.name}: could not allocate ${nbytes} bytes to read dataset '${info.path}'.`, { file: this.name, tensor: info.path });
    }
    this.slabs.set(ptr, nbytes);
    return ptr;
  }

  private freeSlab(ptr: number): void {
    if (this.slabs.delete(ptr)) {
      this.module._free(ptr);
    }
  }

  /** Closes the file and deletes the temporary copy, if one was made. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const ptr of [...this.slabs.keys()]) {
      this.freeSlab(ptr);
    }
    try {
      this.lib?.file.close();
    } catch {
      // closing an already invalid id is fine
    }
    await this.cleanup?.();
  }

  /** The tree node at a path ('/a/b', 'a/b', '/', ''), or undefined. */
  private node(objPath: string): Hdf5TreeNode | undefined {
    let node: Hdf5TreeNode | undefined = this.tree;
    for (const part of objPath.split('/')) {
      if (part === '' || part === '.') {
        continue;
      }
      node = node?.children?.get(part);
    }
    return node;
  }

  /** The tree node at a path, of the given kind, or the same error the library path gives. */
  private treeNode(objPath: string, what: string, kind?: Hdf5ObjectKind): Hdf5TreeNode {
    const node = this.node(objPath);
    if (!node || (kind && node.kind !== kind)) {
      throw new WeightFileError('corrupt', `${this.name}: could not ${what}: '${kind ?? 'object'} not found'.`, { file: this.name });
    }
    return node;
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new WeightFileError('cancelled', `${this.name}: the file was closed before the read.`, { file: this.name });
    }
  }

  /** Starts noting library reads past the end of a truncated file (readPastEnd). */
  private watchReads(): void {
    if (this.member) {
      this.member.readPastEnd = false;
    }
  }

  /** True when the library read past the end of a truncated file since watchReads. */
  private readPastEnd(): boolean {
    return this.member?.readPastEnd === true;
  }

  /** Runs an h5wasm call, turning thrown HDF5 diagnostics into WeightFileErrors (`truncated` when the call read past the end). */
  private guard<T>(what: string, fn: () => T): T {
    this.watchReads();
    try {
      return fn();
    } catch (ex) {
      if (WeightFileError.is(ex)) {
        throw ex;
      }
      throw hdf5Error(this.name, what, ex, this.readPastEnd() ? this.truncation : undefined);
    }
  }
}

/** Converts a list-like attribute value to strings (empty numeric arrays → []). */
function toStringList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) {
    return undefined;
  }
  if (typeof v === 'string') {
    return [v];
  }
  if (Array.isArray(v)) {
    if (v.every((s) => typeof s === 'string')) {
      return v as string[];
    }
    if (v.length === 0) {
      return [];
    }
  }
  return undefined;
}

/** Element type of a dataset from its HDF5 type (H5T_class_t numbers from hdf5_util_helpers.d.ts). */
function describeType(module: H5Module, meta: H5Metadata, dtypeAttr: unknown): { dtype: DType | undefined; description: string } {
  const cls = module.H5T_class_t;
  // Keras 3 stores bfloat16 variables as raw 2-byte values with attribute dtype='bfloat16' (notes 2.3).
  if (dtypeAttr === 'bfloat16' && meta.size === 2) {
    return { dtype: 'bfloat16', description: 'bfloat16' };
  }
  if (meta.type === cls.H5T_INTEGER.value || meta.type === cls.H5T_FLOAT.value) {
    return numericType(meta.type === cls.H5T_INTEGER.value ? 'integer' : 'float', meta.size, meta.signed);
  }
  if (meta.type === cls.H5T_ENUM.value && meta.enum_type) {
    const members = meta.enum_type.members;
    // h5py writes numpy bool as an int8 enum {FALSE: 0, TRUE: 1}.
    if (Object.keys(members).length === 2 && members.FALSE === 0 && members.TRUE === 1 && meta.size === 1) {
      return { dtype: 'bool', description: 'bool' };
    }
    const bits = meta.size * 8;
    const name = `${meta.signed ? 'int' : 'uint'}${bits}`;
    return { dtype: [8, 16, 32, 64].includes(bits) ? (name as DType) : undefined, description: `enum(${name})` };
  }
  const names: Record<number, string> = {
    [cls.H5T_STRING.value]: 'string',
    [cls.H5T_COMPOUND.value]: 'compound',
    [cls.H5T_OPAQUE.value]: 'opaque',
    [cls.H5T_REFERENCE.value]: 'reference',
    [cls.H5T_VLEN.value]: 'vlen',
    [cls.H5T_ARRAY.value]: 'array',
    [cls.H5T_BITFIELD.value]: 'bitfield',
    [cls.H5T_TIME.value]: 'time',
  };
  return { dtype: undefined, description: names[meta.type] ?? `class ${meta.type}` };
}

/** Element type of an HDF5 integer or float type of `size` bytes (any 2-byte float is float16). */
function numericType(kind: 'integer' | 'float', size: number, signed: boolean): { dtype: DType | undefined; description: string } {
  if (kind === 'integer') {
    const bits = size * 8;
    const name = `${signed ? 'int' : 'uint'}${bits}`;
    return { dtype: [8, 16, 32, 64].includes(bits) ? (name as DType) : undefined, description: name };
  }
  const dtype: DType | undefined = size === 2 ? 'float16' : size === 4 ? 'float32' : size === 8 ? 'float64' : undefined;
  return { dtype, description: `float${size * 8}` };
}

/** readHdf5Tree, with damage the HDF5 library would loop on refused as a `corrupt` error. */
function treeOrRefuse(hostPath: string, displayName: string, range?: { start: number; size: number }): Hdf5TreeNode | undefined {
  try {
    return readHdf5Tree(hostPath, range);
  } catch (ex) {
    if (ex instanceof Hdf5Damage) {
      throw new WeightFileError('corrupt', `${displayName}: the HDF5 file is damaged: ${ex.message}.`, { file: displayName }, { cause: ex });
    }
    throw ex;
  }
}

/** A virtual path for the library's view of a byte range (installMemberFs). */
function memberPath(displayName: string): string {
  return `/.weightscope-member-${process.pid}-${++memberCounter}/${path.basename(displayName) || 'member.h5'}`;
}

/** The range of a whole host file that a stream the HDF5 library still holds open reads, if any. */
function heldMember(module: H5Module, hostPath: string): MemberRange | undefined {
  const streams = (module.FS as unknown as { streams?: readonly (EmscriptenStream | null | undefined)[] }).streams ?? [];
  for (const stream of streams) {
    const m = stream?.weightscopeMember;
    if (m && m.hostPath === hostPath && m.start === 0) {
      return m;
    }
  }
  return undefined;
}

/** Bytes free to this process in the file system of `dir`; undefined when that cannot be asked. */
async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const st = await fs.promises.statfs(dir);
    return st.bavail * st.bsize;
  } catch {
    return undefined;
  }
}

/** Bytes that the temporary copies in progress in this process have still to write. */
let tempBytesToWrite = 0;

/** A temporary copy's claim on the temporary folder's free space (reserveTempSpace). */
export interface TempSpaceReservation {
  /** `n` more bytes of the copy are written (the file system's free space now shows them). */
  wrote(n: number): void;
  /** The copy is complete or abandoned; what it has not written is no longer claimed. Idempotent. */
  release(): void;
}

/**
 * Claims room for a temporary copy of `bytes`: throws `tooLarge` when it would leave less than
 * tempDiskReserveBytes of `free` (unknown: no check) once the copies already in progress in this
 * process have written what they have still to write, so two copies started together cannot each
 * pass on the same free space. The claim shrinks as the copy writes and ends with `release`.
 */
export function reserveTempSpace(name: string, bytes: number, tempRoot: string, free: number | undefined): TempSpaceReservation {
  const claimed = tempBytesToWrite;
  if (free !== undefined && bytes + claimed + tempDiskReserveBytes > free) {
    const mib = (n: number): string => (n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 0);
    const others = claimed > 0 ? `, of which other copies in progress still need ${mib(claimed)} MiB` : '';
    throw new WeightFileError('tooLarge', `${name}: reading it needs a ${mib(bytes)} MiB copy in the temporary folder ${tempRoot}, which has ${mib(free)} MiB free${others}.`, { file: name });
  }
  let left = bytes;
  tempBytesToWrite += left;
  return {
    wrote(n: number): void {
      const done = Math.min(n, left);
      left -= done;
      tempBytesToWrite -= done;
    },
    release(): void {
      tempBytesToWrite -= left;
      left = 0;
    },
  };
}

/** A WeightFileError from an h5wasm/HDF5 exception; with `truncation` (the failure read past the end of a truncated file), reason `truncated`. */
function hdf5Error(file: string, what: string, ex: unknown, truncation?: Hdf5Truncation): WeightFileError {
  const text = ex instanceof Error ? ex.message : String(ex);
  // Diagnostics look like "#006: .../H5Fsuper.c line 577 in H5F__super_read(): truncated file: eof = ...".
  const lines = [...text.matchAll(/#\d+:.*? in [^(]+\(\): (.*)$/gm)].map((m) => m[1]!.trim());
  // An Emscripten abort() ("Aborted(native code called abort())") is the library giving up on damaged data.
  const detail = lines.length > 0 ? lines[lines.length - 1]! : /^Aborted\(/.test(text) ? 'the HDF5 library aborted on damaged data' : text.split('\n')[0]!.trim();
  let reason: WeightFileErrorReason = 'corrupt';
  // An address past the end of a file whose superblock end matches its size is damage, not truncation.
  const pastEnd = /addr overflow|address of object past end|eoa/i.test(text);
  if (/truncated file|end of file/i.test(text) && !pastEnd) {
    reason = 'truncated';
  } else if (/file signature not found|not an hdf5 file/i.test(text)) {
    reason = 'unrecognized';
  } else if (/no such file|ENOENT/i.test(text)) {
    reason = 'notFound';
  }
  if (truncation) {
    return new WeightFileError(
      'truncated',
      `${file}: could not ${what}: '${detail}'; the file is truncated (its superblock records an end of file at byte ${truncation.expectedBytes} but it has ${truncation.presentBytes} bytes).`,
      { file, offset: truncation.presentBytes },
      { cause: ex },
    );
  }
  const why = pastEnd && reason === 'corrupt' ? '; an address recorded in the file points past its end, so the file is damaged' : '';
  return new WeightFileError(reason, `${file}: could not ${what}: '${detail}'${why}.`, { file }, { cause: ex });
}

/** Streams the first `size` bytes of a source into a new file in chunks (never the whole source in memory). */
async function copyToFile(source: ByteSource, size: number, target: string, signal: AbortSignal | undefined, wrote: (bytes: number) => void): Promise<void> {
  const fh = await fs.promises.open(target, 'wx', 0o600);
  try {
    for (let pos = 0; pos < size; ) {
      throwIfAborted(signal);
      const n = Math.min(copyChunkBytes, size - pos);
      const bytes = await source.read(pos, n);
      let written = 0;
      while (written < bytes.byteLength) {
        const { bytesWritten } = await fh.write(bytes, written, bytes.byteLength - written);
        written += bytesWritten;
        wrote(bytesWritten);
      }
      pos += n;
    }
  } finally {
    await fh.close();
  }
}
