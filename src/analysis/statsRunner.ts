/**
 * One tensor's statistics by file path and tensor name, for StatsPool: in its worker threads
 * (statsWorker.ts) and, when the caller is idle, in the calling thread. Opened files are kept in a
 * small per-thread cache and closed when idle.
 */
import { summarizeError, WeightFileError, type ErrorSummary } from '../core/errors';
import { itemSizeBytes } from '../core/dtypes';
import type { TensorInfo, WeightFile } from '../core/model';
import { RawFileReads, readRawValues } from '../core/tensorData';
import { openRegularFileSync, statPath } from '../core/nodeFileSource';
import { maxSlabBytes } from '../formats/hdf5';
import { openLocalPath } from '../formats/registry';
import { computeTensorStats } from './tensorStats';
import type { TensorStats } from './statsTypes';
import type { RawTensorJob, TensorResult } from './statsPool';

/** Close an opened file after this long without requests, in milliseconds. */
const fileIdleMs = 2000;

/** Close a file opened ahead of its requests (prepareFile) after this long without one, in milliseconds. */
const preparedIdleMs = 10_000;

/** Most files kept open at once per thread. */
const maxOpenFiles = 3;

/**
 * Formats whose tensor values are a plain read of a local file (HDF5 datasets through h5wasm, into
 * a reused buffer): statistics read such a tensor twice instead of holding a copy between the
 * passes, which costs less time and no tensor-sized memory.
 */
const rereadFormats: ReadonlySet<WeightFile['format']> = new Set(['keras-h5', 'keras-weights-h5', 'keras-v3', 'keras-v3-weights']);

interface OpenEntry {
  /** Cache key: path, size and mtime (a changed file is reopened). */
  key: string;
  file: Promise<WeightFile>;
  busy: number;
  lastUsed: number;
  timer?: NodeJS.Timeout;
}

const openFiles = new Map<string, OpenEntry>();

async function acquire(filePath: string): Promise<OpenEntry> {
  const st = await statPath(filePath);
  const key = `${filePath}\u0000${st?.size ?? -1}\u0000${st?.mtimeMs ?? -1}`;
  let entry = openFiles.get(filePath);
  if (entry && entry.key !== key && entry.busy === 0) {
    closeEntry(filePath, entry);
    entry = undefined;
  }
  if (!entry || entry.key !== key) {
    entry = { key, file: openLocalPath(filePath), busy: 0, lastUsed: Date.now() };
    entry.file.catch(() => undefined); // reported to the requester
    openFiles.set(filePath, entry);
    evictIdle();
  }
  clearTimeout(entry.timer);
  entry.busy++;
  return entry;
}

function release(filePath: string, entry: OpenEntry, idleMs = fileIdleMs): void {
  entry.busy--;
  entry.lastUsed = Date.now();
  if (entry.busy === 0) {
    entry.timer = setTimeout(() => closeEntry(filePath, entry), idleMs);
    entry.timer.unref();
  }
}

function closeEntry(filePath: string, entry: OpenEntry): void {
  clearTimeout(entry.timer);
  if (openFiles.get(filePath) === entry) {
    openFiles.delete(filePath);
  }
  void entry.file.then((f) => f.close()).catch(() => undefined);
}

function evictIdle(): void {
  const idle = [...openFiles.entries()].filter(([, e]) => e.busy === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
  while (openFiles.size > maxOpenFiles && idle.length > 0) {
    const [p, e] = idle.shift()!;
    closeEntry(p, e);
  }
}

/**
 * Opens a local file and keeps it in this thread's cache for the requests that follow; settles when
 * the open does, never rejects. With `open` false it only settles (the requests bring raw locations).
 */
export async function prepareFile(filePath: string, open = true): Promise<void> {
  if (!open) {
    return;
  }
  try {
    const entry = await acquire(filePath);
    await entry.file.catch(() => undefined);
    release(filePath, entry, preparedIdleMs);
  } catch {
    // reported to the requests
  }
}

/** Statistics of one tensor of a local file (opened through the cache); failures become ok:false results. */
export async function analyzeTensor(filePath: string, tensorName: string, histogramBins: number, signal: AbortSignal): Promise<TensorResult> {
  try {
    const entry = await acquire(filePath);
    try {
      return await analyzeOpenTensor(await entry.file, tensorName, histogramBins, signal);
    } finally {
      release(filePath, entry);
    }
  } catch (ex) {
    return { ok: false, error: summarizeError(ex) };
  }
}

/** A histogram as a worker posts it. */
interface PostedHistogram {
  edges: Float64Array;
  counts: Float64Array;
}

/**
 * A TensorResult as a worker posts it: the histograms as Float64Arrays, which cross threads as one
 * block of bytes each and become compact number arrays again (an array of numbers would arrive
 * with one heap object per fractional value: a few KB per tensor that tens of thousands of
 * tensors keep alive).
 */
export type PostedResult =
  | { ok: true; stats: Omit<TensorStats, 'histogram' | 'logHistogram'> & { histogram: PostedHistogram; logHistogram: PostedHistogram } }
  | { ok: false; error: ErrorSummary };

/** A result for posting (statsWorker.ts). */
export function postedResult(result: TensorResult): PostedResult {
  if (!result.ok) {
    return result;
  }
  const h = (x: TensorStats['histogram']): PostedHistogram => ({ edges: Float64Array.from(x.edges), counts: Float64Array.from(x.counts) });
  return { ok: true, stats: { ...result.stats, histogram: h(result.stats.histogram), logHistogram: h(result.stats.logHistogram) } };
}

/** A posted result as the TensorResult it was (StatsPool). */
export function receivedResult(result: PostedResult): TensorResult {
  if (!result.ok) {
    return result;
  }
  const h = (x: PostedHistogram): TensorStats['histogram'] => ({ edges: numberArray(x.edges), counts: numberArray(x.counts) });
  return { ok: true, stats: { ...result.stats, histogram: h(result.stats.histogram), logHistogram: h(result.stats.logHistogram) } };
}

/** The values as an array of exactly their length (Array.from leaves room to grow). */
function numberArray(values: Float64Array): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    out[i] = values[i]!;
  }
  return out;
}

/** One tensor of a batch (analyzeTensorBatch): its name, and where its values lie as plain bytes when they do. */
export interface BatchMember {
  tensorName: string;
  raw?: RawTensorJob;
}

/**
 * Statistics of several tensors of one local file, one after another: StatsPool's batches of small
 * tensors. The file is taken from this thread's cache once for all of them (or `openFile`, the
 * caller's open copy, is used). Failures become ok:false results, as in analyzeTensor. With
 * `onResult`, each result goes there as it is ready and none is kept (the array returned is empty):
 * results held for the whole batch would outlive the young generation and load the heap.
 */
export async function analyzeTensorBatch(
  filePath: string,
  batch: readonly BatchMember[],
  histogramBins: number,
  signal: AbortSignal,
  options: { openFile?: WeightFile; onResult?: (index: number, result: TensorResult) => void } = {},
): Promise<TensorResult[]> {
  const results: TensorResult[] = [];
  let index = 0;
  let entry: OpenEntry | undefined;
  // The members' files opened once for the batch and read ahead (tiny tensors: opening and reading
  // each alone would cost more than analysing it).
  const rawFiles = new Map<string, RawFileReads>();
  try {
    for (const m of batch) {
      let result: TensorResult;
      if (m.raw) {
        let reads = rawFiles.get(m.raw.localPath);
        if (!reads) {
          try {
            reads = new RawFileReads(openRegularFileSync(m.raw.localPath), readAheadBytes(batch, m.raw.localPath));
            rawFiles.set(m.raw.localPath, reads);
          } catch {
            // readRawValues reports it for the member
          }
        }
        result = await analyzeRawTensor(m.raw, m.tensorName, histogramBins, signal, reads);
      } else if (options.openFile) {
        result = await analyzeOpenTensor(options.openFile, m.tensorName, histogramBins, signal);
      } else {
        try {
          entry ??= await acquire(filePath);
          result = await analyzeOpenTensor(await entry.file, m.tensorName, histogramBins, signal);
        } catch (ex) {
          result = { ok: false, error: summarizeError(ex) };
        }
      }
      if (options.onResult) {
        options.onResult(index++, result);
      } else {
        results.push(result);
      }
    }
  } finally {
    if (entry) {
      release(filePath, entry);
    }
    for (const reads of rawFiles.values()) {
      reads.close();
    }
  }
  return results;
}

/**
 * Read-ahead block for the members of a batch in `localPath`: the span from the first byte of theirs
 * to the last (tiny tensors lie next to each other), at most 1 MiB, so that a batch of a few
 * kilobytes neither reads nor allocates a megabyte.
 */
function readAheadBytes(batch: readonly BatchMember[], localPath: string): number {
  let start = Infinity;
  let end = 0;
  for (const m of batch) {
    if (m.raw?.localPath === localPath) {
      start = Math.min(start, m.raw.offset);
      end = Math.max(end, m.raw.offset + m.raw.byteLength);
    }
  }
  return Math.max(1, Math.min(1 << 20, end - start));
}

/** Tensors of open files by name (a file with many tensors is not searched once per request). */
const tensorIndex = new WeakMap<WeightFile, Map<string, WeightFile['tensors'][number]>>();

/** A tensor of an open file by name (the first of that name). */
export function findTensor(file: WeightFile, tensorName: string): TensorInfo | undefined {
  let byName = tensorIndex.get(file);
  if (!byName) {
    byName = new Map();
    for (const t of file.tensors) {
      if (!byName.has(t.name)) {
        byName.set(t.name, t);
      }
    }
    tensorIndex.set(file, byName);
  }
  return byName.get(tensorName);
}

/**
 * Statistics of a tensor whose values are plain bytes of a local file (RawTensorJob), read with
 * plain file reads (through `file`, the file already open, when given): no format is opened.
 * Failures become ok:false results.
 */
export async function analyzeRawTensor(raw: RawTensorJob, tensorName: string, histogramBins: number, signal: AbortSignal, file?: RawFileReads): Promise<TensorResult> {
  try {
    const stats = await computeTensorStats(
      {
        name: tensorName,
        dtype: raw.dtype,
        shape: raw.shape,
        // At most one HDF5 slab per read, as Hdf5File reads such datasets, and no more than the engine
        // asks for (it reads float32 straight into its kernel's buffer when a chunk fits there).
        readValues: (options) =>
          readRawValues(raw, raw.dtype, { ...options, chunkElements: Math.min(options?.chunkElements ?? Infinity, maxSlabBytes / Math.max(1, itemSizeBytes(raw.dtype) ?? 1)) }, file),
      },
      { histogramBins, signal, holdLimitBytes: 0 },
    );
    return { ok: true, stats };
  } catch (ex) {
    return { ok: false, error: summarizeError(ex) };
  }
}

/** Statistics of one tensor of an open file; failures become ok:false results. */
export async function analyzeOpenTensor(file: WeightFile, tensorName: string, histogramBins: number, signal: AbortSignal): Promise<TensorResult> {
  try {
    const tensor = findTensor(file, tensorName);
    if (!tensor) {
      throw new WeightFileError('notFound', `${file.path}: no tensor named '${tensorName}'.`, { file: file.path, tensor: tensorName });
    }
    if (tensor.unavailable) {
      return { ok: false, error: tensor.unavailable };
    }
    const stats = await computeTensorStats(tensor, {
      histogramBins,
      signal,
      ...(rereadFormats.has(file.format) ? { holdLimitBytes: 0 } : {}),
    });
    return { ok: true, stats };
  } catch (ex) {
    return { ok: false, error: summarizeError(ex) };
  }
}
