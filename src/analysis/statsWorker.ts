/**
 * Worker-thread entry of StatsPool: opens local weight files with the format registry, computes
 * one tensor's statistics per request and answers with a TensorResult. Opened files are kept in a
 * small per-worker cache and closed when idle.
 */
import { parentPort } from 'node:worker_threads';
import { summarizeError, WeightFileError } from '../core/errors';
import type { WeightFile } from '../core/model';
import { statPath } from '../core/nodeFileSource';
import { openLocalPath } from '../formats/registry';
import { computeTensorStats } from './tensorStats';
import type { StatsPoolRequest, StatsPoolResponse, TensorResult } from './statsPool';

/** Close an opened file after this long without requests, in milliseconds. */
const fileIdleMs = 2000;

/** Most files kept open at once per worker. */
const maxOpenFiles = 3;

interface OpenEntry {
  /** Cache key: path, size and mtime (a changed file is reopened). */
  key: string;
  file: Promise<WeightFile>;
  busy: number;
  lastUsed: number;
  timer?: NodeJS.Timeout;
}

const openFiles = new Map<string, OpenEntry>();
const running = new Map<number, AbortController>();

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

function release(filePath: string, entry: OpenEntry): void {
  entry.busy--;
  entry.lastUsed = Date.now();
  if (entry.busy === 0) {
    entry.timer = setTimeout(() => closeEntry(filePath, entry), fileIdleMs);
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

async function analyze(request: Extract<StatsPoolRequest, { type: 'analyze' }>, signal: AbortSignal): Promise<TensorResult> {
  const entry = await acquire(request.filePath);
  try {
    const file = await entry.file;
    const tensor = file.tensors.find((t) => t.name === request.tensorName);
    if (!tensor) {
      throw new WeightFileError('notFound', `${file.path}: no tensor named '${request.tensorName}'.`, { file: file.path, tensor: request.tensorName });
    }
    if (tensor.unavailable) {
      return { ok: false, error: tensor.unavailable };
    }
    const stats = await computeTensorStats(tensor, { histogramBins: request.histogramBins, signal });
    return { ok: true, stats };
  } finally {
    release(request.filePath, entry);
  }
}

function post(message: StatsPoolResponse): void {
  parentPort?.postMessage(message);
}

parentPort?.on('message', (message: StatsPoolRequest) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  const controller = new AbortController();
  running.set(message.id, controller);
  analyze(message, controller.signal)
    .catch((ex: unknown): TensorResult => ({ ok: false, error: summarizeError(ex) }))
    .then((result) => {
      running.delete(message.id);
      post({ type: 'result', id: message.id, result });
    });
});
