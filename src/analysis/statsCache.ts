/**
 * Cache of tensor statistics keyed by the file version (path, size, mtimeMs) and the histogram
 * bins: in memory (LRU over files) and, when the caller gives a cache folder, on disk as one JSON
 * file per file version, written atomically. Never writes next to the user's file. Fingerprints do
 * not depend on the bins: they are kept under the file version's key with `histogramBins` 0
 * (fingerprintKey), in the same entry format (optional `fingerprints` and `model` fields).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isNumericDType } from '../core/dtypes';
import type { TensorInfo, WeightFile } from '../core/model';
import { makeFolder, writeFileAtomic } from '../core/atomicWrite';
import { fileSystemError, readRegularTextFile, statPath } from '../core/nodeFileSource';
import { resolveLocalEntry } from '../formats/registry';
import { checkpointStamp } from './checkpointFiles';
import { summarizeFingerprints, type FileFingerprint, type TensorFingerprint } from './fingerprint';
import type { StatsPool, TensorResult } from './statsPool';
import type { TensorStats } from './statsTypes';
import { defaultHistogramBins } from './tensorStats';

/** Identity of one analysed file version. */
export interface StatsCacheKey {
  /** Absolute path of the file (or folder) as analysed. */
  path: string;
  /** Size in bytes at analysis time. */
  size: number;
  /** Modification time in milliseconds at analysis time. */
  mtimeMs: number;
  /** Histogram bins the stats were computed with. */
  histogramBins: number;
}

/** Options of a StatsCache. */
export interface StatsCacheOptions {
  /** Files kept in memory (least recently used beyond this are dropped; default 16). */
  maxFiles?: number;
  /**
   * Folder for the on-disk cache, created at the first lookup (which throws a WeightFileError when
   * it cannot be made or written to); no disk cache when absent.
   */
  cacheDir?: string;
}

/**
 * Format version of the on-disk entries. Version 1 entries written before fingerprints were cached
 * simply lack the optional `fingerprints` and `model` fields, so the version is unchanged.
 */
const diskFormatVersion = 1;

/** Largest on-disk entry read, in bytes (larger ones are misses). */
const maxDiskEntryBytes = 512 * 1024 * 1024;

/** A cached model fingerprint (see FileFingerprint). */
export interface CachedModelFingerprint {
  /** Model fingerprint (SHA-256 hex). */
  model: string;
  /** Tensors it covers. */
  modelTensorCount: number;
  /** True when some model tensor could not be read. */
  partial: boolean;
}

/** Stats of one file version, as stored on disk. */
interface DiskEntry {
  /** diskFormatVersion. */
  version: number;
  /** The file version. */
  key: StatsCacheKey;
  /** Stats by tensor name. */
  tensors: Record<string, TensorStats>;
  /** Tensor fingerprints by name (entries under fingerprintKey only); absent in older entries. */
  fingerprints?: Record<string, string>;
  /** Model fingerprint, once every tensor was fingerprinted; absent in older entries. */
  model?: CachedModelFingerprint;
}

/** What one file version holds in memory. */
interface MemoryEntry {
  stats: Map<string, TensorStats>;
  fingerprints: Map<string, string>;
  model?: CachedModelFingerprint;
}

/** Counts of cache lookups since the cache was created (tensors answered and not answered). */
export interface StatsCacheCounters {
  /** Tensors whose stats came from the cache. */
  statsHits: number;
  /** Tensors whose stats had to be computed. */
  statsMisses: number;
  /** Tensors whose fingerprints came from the cache. */
  fingerprintHits: number;
  /** Entries written to disk. */
  diskWrites: number;
}

/** A SHA-256 hex digest. */
const hexDigest = /^[0-9a-f]{64}$/;

/** The key under which a file version's fingerprints are kept (they do not depend on the bins). */
export function fingerprintKey(key: StatsCacheKey): StatsCacheKey {
  return { ...key, histogramBins: 0 };
}

/** Cached statistics per file version. */
export class StatsCache {
  private readonly maxFiles: number;
  private readonly cacheDir: string | undefined;
  private readonly memory = new Map<string, MemoryEntry>();
  private folderReady: Promise<void> | undefined;
  /** Lookup counts, for the log and the tests. */
  readonly counters: StatsCacheCounters = { statsHits: 0, statsMisses: 0, fingerprintHits: 0, diskWrites: 0 };

  constructor(options: StatsCacheOptions = {}) {
    this.maxFiles = Math.max(1, options.maxFiles ?? 16);
    this.cacheDir = options.cacheDir;
  }

  /** The on-disk folder, when there is one. */
  get directory(): string | undefined {
    return this.cacheDir;
  }

  /** Makes the on-disk folder when needed and checks that it can be written to (the first lookup does too); throws a WeightFileError naming it. */
  async ready(): Promise<void> {
    if (this.cacheDir) {
      await (this.folderReady ??= usableFolder(this.cacheDir));
    }
  }

  /**
   * The key of a local file (or model folder) as it is now; undefined when it does not exist. Size
   * and mtime cover the checkpoint's companion files too (TF.js shards, `.data-*` shards), so a
   * rewritten shard is a miss.
   */
  static async keyFor(filePath: string, histogramBins = defaultHistogramBins): Promise<StatsCacheKey | undefined> {
    const abs = path.resolve(filePath);
    const st = await statPath(abs);
    if (!st) {
      return undefined;
    }
    const entry = st.kind === 'dir' ? await resolveLocalEntry(abs).catch(() => undefined) : abs;
    const stamp = entry ? await checkpointStamp(entry) : st;
    return { path: abs, size: stamp.size, mtimeMs: stamp.mtimeMs, histogramBins };
  }

  /** Cached stats of this file version by tensor name (memory first, then disk); empty on a miss. */
  async get(key: StatsCacheKey): Promise<ReadonlyMap<string, TensorStats>> {
    return (await this.entry(key)).stats;
  }

  /** Cached tensor fingerprints of this file version by name; empty on a miss. */
  async getFingerprints(key: StatsCacheKey): Promise<ReadonlyMap<string, string>> {
    return (await this.entry(fingerprintKey(key))).fingerprints;
  }

  /** The cached model fingerprint of this file version, when every tensor was fingerprinted. */
  async getModelFingerprint(key: StatsCacheKey): Promise<CachedModelFingerprint | undefined> {
    return (await this.entry(fingerprintKey(key))).model;
  }

  /** Adds stats of this file version (merged with what is cached) in memory and on disk. */
  async put(key: StatsCacheKey, stats: ReadonlyMap<string, TensorStats>): Promise<void> {
    if (stats.size === 0) {
      return;
    }
    const cached = await this.entry(key);
    const merged: MemoryEntry = { ...cached, stats: new Map(cached.stats) };
    for (const [name, s] of stats) {
      merged.stats.set(name, s);
    }
    await this.store(key, merged);
  }

  /**
   * Adds tensor fingerprints of this file version (merged with what is cached) and, when given,
   * the model fingerprint, in memory and on disk.
   */
  async putFingerprints(key: StatsCacheKey, fingerprints: ReadonlyMap<string, string>, model?: CachedModelFingerprint): Promise<void> {
    const fk = fingerprintKey(key);
    const cached = await this.entry(fk);
    const merged: MemoryEntry = { ...cached, fingerprints: new Map(cached.fingerprints) };
    for (const [name, fp] of fingerprints) {
      if (hexDigest.test(fp)) {
        merged.fingerprints.set(name, fp);
      }
    }
    if (model && hexDigest.test(model.model)) {
      merged.model = { model: model.model, modelTensorCount: model.modelTensorCount, partial: model.partial };
    }
    if (merged.fingerprints.size === 0 && !merged.model) {
      return;
    }
    await this.store(fk, merged);
  }

  /** Drops the in-memory entries (the disk cache stays). */
  clearMemory(): void {
    this.memory.clear();
  }

  /** Drops every entry, in memory and on disk (only this cache's own `<id>.json` files and temporaries). */
  async clear(): Promise<number> {
    this.memory.clear();
    if (!this.cacheDir) {
      return 0;
    }
    let removed = 0;
    const names = await fs.promises.readdir(this.cacheDir).catch(() => [] as string[]);
    for (const name of names) {
      if (/^[0-9a-f]{32}\.json(\..*\.tmp)?$/.test(name)) {
        await fs.promises.rm(path.join(this.cacheDir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  private async entry(key: StatsCacheKey): Promise<MemoryEntry> {
    const id = cacheId(key);
    const hit = this.memory.get(id);
    if (hit) {
      this.memory.delete(id);
      this.memory.set(id, hit); // most recently used last
      return hit;
    }
    await this.ready();
    const fromDisk = await this.readDisk(key);
    if (fromDisk.stats.size > 0 || fromDisk.fingerprints.size > 0 || fromDisk.model) {
      this.remember(id, fromDisk);
    }
    return fromDisk;
  }

  private async store(key: StatsCacheKey, entry: MemoryEntry): Promise<void> {
    const id = cacheId(key);
    this.remember(id, entry);
    if (this.cacheDir) {
      const disk: DiskEntry = {
        version: diskFormatVersion,
        key,
        tensors: Object.fromEntries(entry.stats),
        ...(entry.fingerprints.size > 0 ? { fingerprints: Object.fromEntries(entry.fingerprints) } : {}),
        ...(entry.model ? { model: entry.model } : {}),
      };
      try {
        await writeFileAtomic(path.join(this.cacheDir, `${id}.json`), JSON.stringify(disk));
        this.counters.diskWrites++;
      } catch {
        // The folder was usable at the first lookup; a later failure (a full disk) only costs a miss next time.
      }
    }
  }

  private remember(id: string, entry: MemoryEntry): void {
    this.memory.delete(id);
    this.memory.set(id, entry);
    while (this.memory.size > this.maxFiles) {
      const oldest = this.memory.keys().next().value as string;
      this.memory.delete(oldest);
    }
  }

  private async readDisk(key: StatsCacheKey): Promise<MemoryEntry> {
    const empty = (): MemoryEntry => ({ stats: new Map(), fingerprints: new Map() });
    if (!this.cacheDir) {
      return empty();
    }
    try {
      const text = await readRegularTextFile(path.join(this.cacheDir, `${cacheId(key)}.json`), maxDiskEntryBytes);
      const entry = JSON.parse(text) as Partial<DiskEntry> | null;
      if (!entry || entry.version !== diskFormatVersion || !entry.key || cacheId(entry.key) !== cacheId(key) || typeof entry.tensors !== 'object' || entry.tensors === null) {
        return empty();
      }
      const fingerprints = new Map<string, string>();
      if (typeof entry.fingerprints === 'object' && entry.fingerprints !== null) {
        for (const [name, fp] of Object.entries(entry.fingerprints)) {
          if (typeof fp === 'string' && hexDigest.test(fp)) {
            fingerprints.set(name, fp);
          }
        }
      }
      const m = entry.model;
      const model =
        m && typeof m.model === 'string' && hexDigest.test(m.model) && typeof m.modelTensorCount === 'number' && typeof m.partial === 'boolean'
          ? { model: m.model, modelTensorCount: m.modelTensorCount, partial: m.partial }
          : undefined;
      return { stats: new Map(Object.entries(entry.tensors)), fingerprints, ...(model ? { model } : {}) };
    } catch {
      return empty(); // missing or unreadable entries are misses
    }
  }
}

/** Makes the cache folder when needed and checks that it can be written to; throws a WeightFileError naming it. */
async function usableFolder(dir: string): Promise<void> {
  await makeFolder(dir);
  try {
    await fs.promises.access(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (ex) {
    throw fileSystemError(ex, dir, 'write to the cache folder');
  }
}

/** File name stem of a key: a hash of its fields. */
function cacheId(key: StatsCacheKey): string {
  return createHash('sha256')
    .update(JSON.stringify([key.path, key.size, key.mtimeMs, key.histogramBins]))
    .digest('hex')
    .slice(0, 32);
}

/**
 * Analyses tensors of a local file through `pool`, answering cached tensors from `cache` and
 * caching new successful results (only when the file did not change during the analysis).
 */
export async function analyzeFileCached(
  pool: Pick<StatsPool, 'analyzeFile'>,
  cache: StatsCache,
  filePath: string,
  tensorNames: readonly string[],
  options: {
    histogramBins?: number;
    signal?: AbortSignal;
    onResult?: (name: string, result: TensorResult) => void;
    /** Called once with the names answered from the cache (before any computation). */
    onCached?: (names: string[]) => void;
    /** The caller's open copy of the file, passed on to StatsPool.analyzeFile (callerIdle pools). */
    openFile?: WeightFile;
  } = {},
): Promise<Map<string, TensorResult>> {
  const bins = options.histogramBins ?? defaultHistogramBins;
  const before = await StatsCache.keyFor(filePath, bins);
  const cached = before ? await cache.get(before) : new Map<string, TensorStats>();
  const names = [...new Set(tensorNames)];
  const results = new Map<string, TensorResult>();
  const missing: string[] = [];
  const hits: string[] = [];
  for (const name of names) {
    const s = cached.get(name);
    if (s) {
      const r: TensorResult = { ok: true, stats: s };
      results.set(name, r);
      hits.push(name);
      options.onResult?.(name, r);
    } else {
      missing.push(name);
    }
  }
  cache.counters.statsHits += hits.length;
  cache.counters.statsMisses += missing.length;
  options.onCached?.(hits);
  if (missing.length > 0) {
    const fresh = await pool.analyzeFile(filePath, missing, { histogramBins: bins, signal: options.signal, onResult: options.onResult, openFile: options.openFile });
    for (const [name, r] of fresh) {
      results.set(name, r);
    }
    const after = await StatsCache.keyFor(filePath, bins);
    if (before && after && cacheId(before) === cacheId(after)) {
      const ok = new Map<string, TensorStats>();
      for (const [name, r] of fresh) {
        if (r.ok) {
          ok.set(name, r.stats);
        }
      }
      await cache.put(before, ok);
    }
  }
  return new Map(names.map((n) => [n, results.get(n)!]));
}

/** Computes fingerprints of a file given those already known (by tensor name): a worker, or this thread. */
export type FingerprintRunner = (known: ReadonlyMap<string, string>, onTensor: (fp: TensorFingerprint) => void) => Promise<FileFingerprint>;

/**
 * Fingerprints a local file through `run`, passing the cached tensor fingerprints as known (they
 * are not read again) and caching the result when the file did not change meanwhile. When
 * `tensors` (the file's headers) is given and every readable numeric tensor's fingerprint is
 * cached, `run` is not called at all.
 */
export async function fingerprintFileCached(
  run: FingerprintRunner,
  cache: StatsCache,
  filePath: string,
  options: { tensors?: readonly Pick<TensorInfo, 'name' | 'group' | 'dtype' | 'unavailable'>[]; onTensor?: (fp: TensorFingerprint) => void } = {},
): Promise<FileFingerprint & { fromCache: number }> {
  const before = await StatsCache.keyFor(filePath, 0);
  const known = before ? await cache.getFingerprints(before) : new Map<string, string>();
  const infos = options.tensors;
  if (infos && known.size > 0 && infos.every((t) => t.unavailable || !isNumericDType(t.dtype) || known.has(t.name))) {
    const tensors = infos.map((t): TensorFingerprint => {
      const fp = known.get(t.name);
      if (fp && !t.unavailable && isNumericDType(t.dtype)) {
        return { name: t.name, group: t.group, fingerprint: fp };
      }
      return { name: t.name, group: t.group, error: t.unavailable ?? { reason: 'unsupportedDtype', message: `Tensor '${t.name}' has dtype '${t.dtype}', which has no numeric values.` } };
    });
    for (const t of tensors) {
      options.onTensor?.(t);
    }
    const fromCache = tensors.filter((t) => t.fingerprint !== undefined).length;
    cache.counters.fingerprintHits += fromCache;
    return { ...summarizeFingerprints(infos, tensors), fromCache };
  }
  const result = await run(known, (fp) => options.onTensor?.(fp));
  const fromCache = result.tensors.filter((t) => t.fingerprint !== undefined && known.get(t.name) === t.fingerprint).length;
  cache.counters.fingerprintHits += fromCache;
  const after = await StatsCache.keyFor(filePath, 0);
  if (before && after && cacheId(before) === cacheId(after)) {
    const fresh = new Map(result.tensors.flatMap((t): [string, string][] => (t.fingerprint ? [[t.name, t.fingerprint]] : [])));
    await cache.putFingerprints(before, fresh, { model: result.model, modelTensorCount: result.modelTensorCount, partial: result.partial });
  }
  return { ...result, fromCache };
}
