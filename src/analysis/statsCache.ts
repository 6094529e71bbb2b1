/**
 * Cache of tensor statistics keyed by the file version (path, size, mtimeMs) and the histogram
 * bins: in memory (LRU over files) and, when the caller gives a cache folder, on disk as one JSON
 * file per file version, written atomically. Never writes next to the user's file.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { statPath } from '../core/nodeFileSource';
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
  /** Folder for the on-disk cache (created when needed); no disk cache when absent. */
  cacheDir?: string;
}

/** Format version of the on-disk entries. */
const diskFormatVersion = 1;

/** Stats of one file version, as stored on disk. */
interface DiskEntry {
  version: number;
  key: StatsCacheKey;
  tensors: Record<string, TensorStats>;
}

/** Cached statistics per file version. */
export class StatsCache {
  private readonly maxFiles: number;
  private readonly cacheDir: string | undefined;
  private readonly memory = new Map<string, Map<string, TensorStats>>();

  constructor(options: StatsCacheOptions = {}) {
    this.maxFiles = Math.max(1, options.maxFiles ?? 16);
    this.cacheDir = options.cacheDir;
  }

  /** The key of a local file as it is now; undefined when it does not exist. */
  static async keyFor(filePath: string, histogramBins = defaultHistogramBins): Promise<StatsCacheKey | undefined> {
    const abs = path.resolve(filePath);
    const st = await statPath(abs);
    return st ? { path: abs, size: st.size, mtimeMs: st.mtimeMs, histogramBins } : undefined;
  }

  /** Cached stats of this file version by tensor name (memory first, then disk); empty on a miss. */
  async get(key: StatsCacheKey): Promise<ReadonlyMap<string, TensorStats>> {
    const id = cacheId(key);
    const hit = this.memory.get(id);
    if (hit) {
      this.memory.delete(id);
      this.memory.set(id, hit); // most recently used last
      return hit;
    }
    const fromDisk = await this.readDisk(key);
    if (fromDisk.size > 0) {
      this.remember(id, fromDisk);
    }
    return fromDisk;
  }

  /** Adds stats of this file version (merged with what is cached) in memory and on disk. */
  async put(key: StatsCacheKey, stats: ReadonlyMap<string, TensorStats>): Promise<void> {
    if (stats.size === 0) {
      return;
    }
    const id = cacheId(key);
    const merged = new Map(await this.get(key));
    for (const [name, s] of stats) {
      merged.set(name, s);
    }
    this.remember(id, merged);
    if (this.cacheDir) {
      const entry: DiskEntry = { version: diskFormatVersion, key, tensors: Object.fromEntries(merged) };
      await writeAtomic(path.join(this.cacheDir, `${id}.json`), JSON.stringify(entry));
    }
  }

  /** Drops the in-memory entries (the disk cache stays). */
  clearMemory(): void {
    this.memory.clear();
  }

  private remember(id: string, stats: Map<string, TensorStats>): void {
    this.memory.delete(id);
    this.memory.set(id, stats);
    while (this.memory.size > this.maxFiles) {
      const oldest = this.memory.keys().next().value as string;
      this.memory.delete(oldest);
    }
  }

  private async readDisk(key: StatsCacheKey): Promise<Map<string, TensorStats>> {
    if (!this.cacheDir) {
      return new Map();
    }
    try {
      const text = await fs.promises.readFile(path.join(this.cacheDir, `${cacheId(key)}.json`), 'utf8');
      const entry = JSON.parse(text) as DiskEntry;
      if (entry.version !== diskFormatVersion || cacheId(entry.key) !== cacheId(key) || typeof entry.tensors !== 'object' || entry.tensors === null) {
        return new Map();
      }
      return new Map(Object.entries(entry.tensors));
    } catch {
      return new Map(); // missing or unreadable entries are misses
    }
  }
}

/** File name stem of a key: a hash of its fields. */
function cacheId(key: StatsCacheKey): string {
  return createHash('sha256')
    .update(JSON.stringify([key.path, key.size, key.mtimeMs, key.histogramBins]))
    .digest('hex')
    .slice(0, 32);
}

/** Writes a file through a temporary sibling and a rename, so readers never see half a file. */
async function writeAtomic(target: string, text: string): Promise<void> {
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await fs.promises.writeFile(tmp, text, 'utf8');
    await fs.promises.rename(tmp, target);
  } catch (ex) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw ex;
  }
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
  options: { histogramBins?: number; signal?: AbortSignal; onResult?: (name: string, result: TensorResult) => void } = {},
): Promise<Map<string, TensorResult>> {
  const bins = options.histogramBins ?? defaultHistogramBins;
  const before = await StatsCache.keyFor(filePath, bins);
  const cached = before ? await cache.get(before) : new Map<string, TensorStats>();
  const names = [...new Set(tensorNames)];
  const results = new Map<string, TensorResult>();
  const missing: string[] = [];
  for (const name of names) {
    const s = cached.get(name);
    if (s) {
      const r: TensorResult = { ok: true, stats: s };
      results.set(name, r);
      options.onResult?.(name, r);
    } else {
      missing.push(name);
    }
  }
  if (missing.length > 0) {
    const fresh = await pool.analyzeFile(filePath, missing, { histogramBins: bins, signal: options.signal, onResult: options.onResult });
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
