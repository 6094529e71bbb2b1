/**
 * A pool of worker threads computing tensor statistics of local files, several tensors at once.
 * Each worker opens the file itself (statsWorker.ts); results stream back per tensor. A crashed
 * worker turns its tensor into an `internal` error and is replaced; cancellation reaches the
 * workers at once and they stop between chunks. A caller that only waits for the results (a CLI)
 * can let its own thread take tensors from the queue too (`callerIdle`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DType } from '../core/dtypes';
import { WeightFileError } from '../core/errors';
import type { RawTensorSource, WeightFile } from '../core/model';
import { locateRawDatasets } from '../formats/hdf5Layout';
import { isSafetensorsFile } from '../formats/safetensors';
import { defaultWorkerCount, takeEarlyWorker } from './earlyWorkers';
import { analyzeOpenTensor, analyzeRawTensor, analyzeTensor, analyzeTensorBatch, findTensor, receivedResult, type BatchMember, type PostedResult } from './statsRunner';
import type { StatsResult, TensorStats } from './statsTypes';

/** Outcome of analysing one tensor. */
export type TensorResult = StatsResult<TensorStats>;

/** A tensor whose values are plain bytes of a local file (TensorInfo.rawSource): a worker reads them without opening the file's format. */
export interface RawTensorJob extends RawTensorSource {
  /** Element type (little-endian). */
  dtype: DType;
  /** Shape, row-major. */
  shape: number[];
}

/** Messages from the pool to a worker. */
export type StatsPoolRequest =
  | {
      /** Analyse one tensor of a local file. */
      type: 'analyze';
      /** Request id, unique per pool. */
      id: number;
      /** Local path (file or folder) opened with openLocalPath. */
      filePath: string;
      /** Name of the tensor in the opened file. */
      tensorName: string;
      /** Histogram bins. */
      histogramBins: number;
      /** Where the values lie as plain bytes, when the caller's open file says so: the worker then reads them directly. */
      raw?: RawTensorJob;
      /** A batch of small tensors, analysed one after another and answered together (`results`); tensorName is the first's. */
      batch?: BatchMember[];
    }
  | {
      /** Stop a running request (it then answers with a `cancelled` result). */
      type: 'cancel';
      /** Id of the request to stop. */
      id: number;
    }
  | {
      /** Open a local file ahead of its requests and keep it in the worker's cache. */
      type: 'prepare';
      /** Local path (file or folder) opened with openLocalPath. */
      filePath: string;
      /** False when every tensor will come with its raw location: the worker then only starts. */
      open: boolean;
    };

/** Messages from a worker to the pool. */
export type StatsPoolResponse =
  | {
      /** The answer to an `analyze` request. */
      type: 'result';
      /** Id of the answered request. */
      id: number;
      /** The tensor's outcome. */
      result: PostedResult;
    }
  | {
      /** The answer to an `analyze` request of a batch. */
      type: 'results';
      /** Id of the answered request. */
      id: number;
      /** The outcomes, in the batch's order. */
      results: PostedResult[];
    }
  | {
      /** A `prepare` request is done (the file is open, or its error is cached for the requests). */
      type: 'prepared';
      /** The prepared path. */
      filePath: string;
    };

/**
 * Tensors of at most this many bytes go to the threads in batches (one message and one file lookup
 * for many of them), of at most batchTensors tensors or batchBytes bytes.
 */
const smallTensorBytes = 64 * 1024;
const batchTensors = 256;
const batchBytes = 1024 * 1024;

/**
 * A callerIdle pool leaves the small tensors of an analyzeFile to the calling thread alone when the
 * tensors asked for hold at most this many bytes on average: for such tiny tensors, handing them to
 * a worker and taking back the results costs the calling thread about what analysing them does
 * (bench section many-tensors: 60,000 tensors of 16 values), so workers would only add their
 * overhead. Larger tensors among them still go to the workers.
 */
const callerOnlyMeanBytes = 16 * 1024;

/** A cancelled worker that has not answered after this long is terminated and replaced, in milliseconds. */
const cancelGraceMs = 2000;

/** Options of a StatsPool. */
export interface StatsPoolOptions {
  /** Worker threads (default: defaultWorkerCount()). */
  workers?: number;
  /**
   * True when the creating thread only waits for the results (a CLI): it then analyses tensors
   * too, next to the workers, so every CPU works and the first results need no worker start-up.
   * Never set it on a thread that must stay responsive (the extension host).
   */
  callerIdle?: boolean;
  /** Worker entry script (default: statsWorker.js next to this file; tests). */
  workerScript?: string;
}

interface Job {
  id: number;
  filePath: string;
  tensorName: string;
  histogramBins: number;
  /** The caller's open copy of the file, for the calling thread (callerIdle). */
  openFile?: WeightFile;
  /** The tensor's plain-byte location, from openFile. */
  raw?: RawTensorJob;
  done: (result: TensorResult) => void;
  /** Set when the caller cancelled; the result is then discarded. */
  cancelled: boolean;
  /** True while the job waits in the pool's queue. */
  queued?: boolean;
  /** A batch: the jobs of small tensors it analyses one after another (tensorName and raw are the first's). */
  members?: Job[];
}

/**
 * The jobs waiting for a thread, first in first out: taking one costs the same however many wait
 * (an array's shift moves every element once the array is large), and a cancelled job is only
 * marked, then skipped.
 */
class JobQueue {
  private items: Job[] = [];
  private head = 0;

  push(job: Job): void {
    job.queued = true;
    this.items.push(job);
  }

  /** The next job that is not cancelled, left in the queue; undefined when none waits. */
  peek(): Job | undefined {
    while (this.head < this.items.length && this.items[this.head]!.cancelled) {
      this.items[this.head++]!.queued = false;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }

  /** Takes the next job that is not cancelled. */
  shift(): Job | undefined {
    const job = this.peek();
    if (job) {
      job.queued = false;
      this.head++;
    }
    return job;
  }

  /** Takes every waiting job that is not cancelled. */
  drain(): Job[] {
    const jobs = this.items.slice(this.head).filter((j) => !j.cancelled);
    jobs.forEach((j) => (j.queued = false));
    this.items = [];
    this.head = 0;
    return jobs;
  }
}

/** The tensor the calling thread is analysing (callerIdle pools). */
interface LocalRun {
  job: Job;
  controller: AbortController;
}

/** A tensor analysed ahead of its request (StatsPool.prepare with `early`), until analyzeFile claims or drops it. */
interface EarlyEntry {
  job: Job;
  result?: TensorResult;
  waiters: Array<(result: TensorResult) => void>;
}

interface Slot {
  worker: Worker;
  /** Jobs sent to the worker, in order: the first runs, the others wait in the worker (two in a callerIdle pool, see pump). */
  jobs: Job[];
  /** `prepare` requests the worker has not finished yet. */
  preparing: number;
  /** Timers that retire the worker when a cancelled job does not answer in time, by job id. */
  killTimers: Map<number, NodeJS.Timeout>;
  dead: boolean;
}

/** Runs tensor statistics in worker threads. */
export class StatsPool {
  private readonly size: number;
  private readonly callerIdle: boolean;
  private local: LocalRun | undefined;
  private readonly workerScript: string;
  private readonly slots: Slot[] = [];
  private readonly queue = new JobQueue();
  /** Jobs only the calling thread takes (callerOnlyMeanBytes); it takes them before those of `queue`. */
  private readonly callerQueue = new JobQueue();
  private nextId = 1;
  private disposed = false;
  /** Early analyses by earlyKey. */
  private readonly early = new Map<string, EarlyEntry>();

  constructor(options: StatsPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.workers ?? defaultWorkerCount()));
    this.callerIdle = options.callerIdle === true;
    this.workerScript = options.workerScript ?? path.join(__dirname, 'statsWorker.js');
  }

  /** Number of worker threads the pool runs at most (the calling thread of a callerIdle pool not counted). */
  get workerCount(): number {
    return this.size;
  }

  /**
   * Starts every worker and lets each open `filePath` in the background, so that an analyzeFile
   * of that file soon after finds them loaded and the file open (a worker's first start loads the
   * format libraries, which takes longer than most tensors). Call it before opening the file on the
   * calling thread; errors surface in analyzeFile. Idle workers never keep the process alive.
   * A safetensors file, or an HDF5 file whose datasets are all plain bytes (hdf5Layout.ts), is not
   * opened by the workers: an analyzeFile with the caller's `openFile` hands them each tensor's
   * location instead. With `early`, the plain-byte datasets of an HDF5 file are analysed at once,
   * largest first (the calling thread of a callerIdle pool joining in while it opens the file);
   * analyzeFile then takes the results of the tensors that are those bytes, and drops the rest.
   */
  prepare(filePath: string, options: { early?: boolean; histogramBins?: number } = {}): void {
    if (this.disposed) {
      return;
    }
    while (this.slots.length < this.size) {
      this.spawn();
    }
    const index = locateRawDatasets(filePath);
    const identity = fileIdentity(filePath);
    if (options.early && identity) {
      const bins = options.histogramBins ?? 64;
      for (const d of [...index.datasets.values()].sort((a, b) => b.byteLength - a.byteLength)) {
        if (!d.dtype) {
          continue;
        }
        const raw: RawTensorJob = { localPath: filePath, offset: d.offset, byteLength: d.byteLength, dtype: d.dtype, shape: d.shape };
        const key = earlyKey(raw, bins, identity);
        if (this.early.has(key)) {
          continue;
        }
        const entry: EarlyEntry = {
          waiters: [],
          job: {
            id: this.nextId++,
            filePath,
            tensorName: d.path,
            histogramBins: bins,
            raw,
            cancelled: false,
            done: (result) => {
              entry.result ??= result;
              for (const w of entry.waiters.splice(0)) {
                w(entry.result);
              }
            },
          },
        };
        this.early.set(key, entry);
        this.queue.push(entry.job);
      }
    }
    // The workers of a safetensors file (or an HDF5 file of plain-byte datasets) only read bytes.
    const open = !index.complete && !isSafetensorsFile(filePath);
    for (const slot of this.slots) {
      if (!slot.dead) {
        slot.preparing++;
        slot.worker.postMessage({ type: 'prepare', filePath, open } satisfies StatsPoolRequest);
      }
    }
    this.pump();
  }

  /** Analyses tensors of a local file in worker threads, several at once; results stream through onResult. */
  analyzeFile(
    filePath: string,
    tensorNames: readonly string[],
    options: {
      histogramBins?: number;
      signal?: AbortSignal;
      onResult?: (name: string, result: TensorResult) => void;
      /** The caller's open copy of `filePath`: the calling thread of a callerIdle pool analyses from it instead of opening the file again (keep it open until the promise settles). */
      openFile?: WeightFile;
      /** False: the results only go to onResult and the promise resolves with an empty map (a caller that writes each result as it comes holds none of them). */
      retain?: boolean;
    } = {},
  ): Promise<Map<string, TensorResult>> {
    if (this.disposed) {
      return Promise.reject(new Error('The statistics pool has been disposed.'));
    }
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(new WeightFileError('cancelled', 'The operation was cancelled.'));
    }
    const names = [...new Set(tensorNames)];
    const results = new Map<string, TensorResult>();
    if (names.length === 0) {
      return Promise.resolve(results);
    }
    const retain = options.retain !== false;
    const answered = new Set<string>();
    const bins = options.histogramBins ?? 64;
    const identity = this.early.size > 0 ? fileIdentity(filePath) : undefined;
    return new Promise((resolve, reject) => {
      const jobs: Job[] = [];
      const claimed = new Set<EarlyEntry>();
      let remaining = names.length;
      const onAbort = (): void => {
        for (const job of jobs) {
          this.cancelJob(job);
        }
        reject(new WeightFileError('cancelled', 'The operation was cancelled.'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // Tiny tensors on average: the calling thread takes the small ones (see callerOnlyMeanBytes).
      const sizes = options.openFile && this.callerIdle ? names.map((n) => findTensor(options.openFile!, n)?.byteLength ?? Infinity) : [];
      const smallQueue = sizes.length > 0 && sizes.reduce((a, b) => a + b, 0) <= callerOnlyMeanBytes * sizes.length ? this.callerQueue : this.queue;
      // Small tensors of the caller's open file, gathered into batches.
      let small: Job[] = [];
      let smallBytes = 0;
      const flushSmall = (): void => {
        const job = small.length > 1 ? batchJob(small) : small[0];
        if (job) {
          jobs.push(job);
          smallQueue.push(job);
        }
        small = [];
        smallBytes = 0;
      };
      for (const name of names) {
        const raw = rawJob(options.openFile, name);
        const job: Job = {
          id: this.nextId++,
          filePath,
          tensorName: name,
          histogramBins: bins,
          ...(options.openFile ? { openFile: options.openFile } : {}),
          ...raw,
          cancelled: false,
          done: (result) => {
            if (job.cancelled || answered.has(name)) {
              return;
            }
            answered.add(name);
            if (retain) {
              results.set(name, result);
            }
            try {
              options.onResult?.(name, result);
            } catch {
              // a throwing listener must not break the pool
            }
            if (--remaining === 0) {
              signal?.removeEventListener('abort', onAbort);
              // Keep the caller's order.
              resolve(retain ? new Map(names.map((n) => [n, results.get(n)!])) : results);
            }
          },
        };
        const entry = raw.raw && identity ? this.early.get(earlyKey(raw.raw, bins, identity)) : undefined;
        if (entry && !entry.job.cancelled && !claimed.has(entry)) {
          // Analysed (or being analysed) ahead: take its result.
          claimed.add(entry);
          jobs.push(entry.job);
          if (entry.result) {
            const result = entry.result;
            queueMicrotask(() => job.done(result));
          } else {
            entry.waiters.push((result) => job.done(result));
          }
          continue;
        }
        const t = options.openFile ? findTensor(options.openFile, name) : undefined;
        if (t && !t.unavailable && t.byteLength <= smallTensorBytes) {
          small.push(job);
          smallBytes += t.byteLength;
          if (small.length >= batchTensors || smallBytes >= batchBytes) {
            flushSmall();
          }
          continue;
        }
        jobs.push(job);
        this.queue.push(job);
      }
      flushSmall();
      // Early analyses of this file that no requested tensor is: stop them.
      for (const [key, entry] of this.early) {
        if (entry.job.filePath === filePath) {
          this.early.delete(key);
          if (!claimed.has(entry) && !entry.result) {
            this.cancelJob(entry.job);
          }
        }
      }
      this.pump();
    });
  }

  /** Terminates the workers; pending analyses end with an `internal` error. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.early.clear();
    for (const job of [...this.callerQueue.drain(), ...this.queue.drain()]) {
      job.done({ ok: false, error: { reason: 'internal', message: 'The statistics pool was disposed.' } });
    }
    const local = this.local;
    this.local = undefined;
    if (local) {
      local.controller.abort();
      local.job.done({ ok: false, error: { reason: 'internal', message: 'The statistics pool was disposed.' } });
    }
    const slots = this.slots.splice(0);
    await Promise.all(
      slots.map(async (slot) => {
        slot.dead = true;
        slot.killTimers.forEach((t) => clearTimeout(t));
        for (const job of slot.jobs.splice(0)) {
          job.done({ ok: false, error: { reason: 'internal', message: 'The statistics pool was disposed.' } });
        }
        await slot.worker.terminate();
      }),
    );
  }

  private cancelJob(job: Job): void {
    job.cancelled = true;
    job.members?.forEach((m) => (m.cancelled = true));
    if (job.queued) {
      return; // the queue skips it
    }
    if (this.local?.job === job) {
      this.local.controller.abort();
      return;
    }
    const slot = this.slots.find((s) => s.jobs.includes(job));
    if (slot && !slot.dead) {
      slot.worker.postMessage({ type: 'cancel', id: job.id } satisfies StatsPoolRequest);
      const timer = setTimeout(() => {
        if (slot.jobs.includes(job)) {
          this.replace(slot, undefined);
        }
      }, cancelGraceMs);
      timer.unref();
      slot.killTimers.set(job.id, timer);
    }
  }

  private pump(): void {
    if (this.callerIdle && !this.local && !this.disposed) {
      const next = this.callerQueue.shift() ?? this.queue.shift();
      if (next) {
        this.runLocal(next);
      } else {
        // Nothing queued: take back a job that waits in a busy worker, or in one still starting up,
        // rather than sit idle.
        const slot = this.slots.find((s) => !s.dead && (s.jobs.length > 1 || (s.jobs.length === 1 && s.preparing > 0)));
        const job = slot?.jobs.pop();
        if (slot && job) {
          slot.worker.postMessage({ type: 'cancel', id: job.id } satisfies StatsPoolRequest); // its answer is ignored: the job left slot.jobs
          if (slot.jobs.length === 0) {
            slot.worker.unref();
          }
          this.runLocal(job);
        }
      }
    }
    while (this.queue.peek() && !this.disposed) {
      // With the calling thread working too, a worker still starting up gets one job, to start the
      // moment it is up (the calling thread takes it back if it is free first: see above), and a
      // worker that is up gets its next job ahead, to start the moment the current one ends (the
      // calling thread may be busy for a while between its chunks, opening a file).
      const depth = this.callerIdle ? 2 : 1;
      const up = (s: Slot): boolean => !s.dead && !(this.callerIdle && s.preparing > 0);
      let slot =
        this.slots.find((s) => s.jobs.length === 0 && up(s)) ??
        this.slots.find((s) => s.jobs.length < depth && up(s)) ??
        this.slots.find((s) => s.jobs.length === 0 && !s.dead);
      if (!slot && this.slots.length < this.size) {
        slot = this.spawn();
      }
      if (!slot) {
        return;
      }
      const job = this.queue.shift()!;
      slot.jobs.push(job);
      slot.worker.ref(); // a running analysis keeps the process alive
      slot.worker.postMessage({
        type: 'analyze',
        id: job.id,
        filePath: job.filePath,
        tensorName: job.tensorName,
        histogramBins: job.histogramBins,
        ...(job.raw ? { raw: job.raw } : {}),
        ...(job.members ? { batch: job.members.map(batchMember) } : {}),
      } satisfies StatsPoolRequest);
    }
  }

  /** Analyses a job in the calling thread (callerIdle); the thread yields to its event loop between chunks. */
  private runLocal(job: Job): void {
    const run: LocalRun = { job, controller: new AbortController() };
    this.local = run;
    const signal = run.controller.signal;
    if (job.members) {
      const members = job.members;
      const batch = analyzeTensorBatch(job.filePath, members.map(batchMember), job.histogramBins, signal, {
        ...(job.openFile ? { openFile: job.openFile } : {}),
        onResult: (i, result) => members[i]!.done(result),
      });
      void batch.then(() => this.localDone(run));
      return;
    }
    const analysis = job.raw
      ? analyzeRawTensor(job.raw, job.tensorName, job.histogramBins, signal)
      : job.openFile
      ? analyzeOpenTensor(job.openFile, job.tensorName, job.histogramBins, signal)
      : analyzeTensor(job.filePath, job.tensorName, job.histogramBins, signal);
    void analysis.then((result) => {
      job.done(result);
      this.localDone(run);
    });
  }

  /** After a job of the calling thread: takes the next one. */
  private localDone(run: LocalRun): void {
    if (this.local === run) {
      this.local = undefined;
    }
    // The next job starts in a later turn of the event loop, so that the workers' answers (and with
    // them their next jobs) are taken between two jobs: a run of small tensors whose values need no
    // file read would otherwise keep this thread from them.
    setImmediate(() => {
      if (!this.disposed) {
        this.pump();
      }
    });
  }

  private spawn(): Slot {
    const worker = takeEarlyWorker(this.workerScript) ?? new Worker(this.workerScript);
    worker.unref();
    const slot: Slot = { worker, jobs: [], dead: false, preparing: 0, killTimers: new Map() };
    worker.on('message', (message: StatsPoolResponse) => {
      if (message.type === 'prepared') {
        slot.preparing = Math.max(0, slot.preparing - 1);
        this.pump();
        return;
      }
      const index = slot.jobs.findIndex((j) => j.id === message.id);
      const job = slot.jobs[index];
      if (!job) {
        return;
      }
      clearTimeout(slot.killTimers.get(job.id));
      slot.killTimers.delete(job.id);
      slot.jobs.splice(index, 1);
      if (slot.jobs.length === 0) {
        slot.worker.unref(); // idle workers never keep the process alive
      }
      if (message.type === 'results') {
        job.members?.forEach((m, i) => {
          const posted = message.results[i];
          m.done(posted ? receivedResult(posted) : { ok: false, error: { reason: 'internal', message: `The statistics worker gave no result for '${m.tensorName}'.` } });
        });
      } else {
        job.done(receivedResult(message.result));
      }
      this.pump();
    });
    worker.on('error', (ex) => this.replace(slot, ex));
    worker.on('exit', (code) => this.replace(slot, new Error(`exit code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  /** Retires a crashed or stuck worker: its job fails with `internal`, a fresh worker takes the queue. */
  private replace(slot: Slot, cause: unknown): void {
    if (slot.dead) {
      return;
    }
    slot.dead = true;
    slot.killTimers.forEach((t) => clearTimeout(t));
    const index = this.slots.indexOf(slot);
    if (index >= 0) {
      this.slots.splice(index, 1);
    }
    void slot.worker.terminate().catch(() => undefined);
    for (const job of slot.jobs.splice(0)) {
      const why = cause instanceof Error ? cause.message : 'it was stopped after a cancel request';
      for (const m of job.members ?? [job]) {
        m.done({
          ok: false,
          error: { reason: 'internal', message: `The statistics worker stopped while analysing '${m.tensorName}' (${why}).` },
        });
      }
    }
    if (!this.disposed) {
      this.pump();
    }
  }
}

/** One job for several small tensors' jobs; ending it with one result (an error) ends each of them with it. */
function batchJob(members: Job[]): Job {
  const first = members[0]!;
  return {
    ...first,
    members,
    done: (result) => members.forEach((m) => m.done(result)),
  };
}

/** What a worker needs of a batch member. */
function batchMember(job: Job): BatchMember {
  return { tensorName: job.tensorName, ...(job.raw ? { raw: job.raw } : {}) };
}

/** `{ raw }` for a tensor of the caller's open file whose values are plain bytes, else `{}`. */
function rawJob(file: WeightFile | undefined, name: string): { raw?: RawTensorJob } {
  const t = file ? findTensor(file, name) : undefined;
  if (!t || t.unavailable || t.quantization || t.dtype !== t.storageDtype) {
    return {};
  }
  const raw = t.rawSource?.();
  return raw ? { raw: { localPath: raw.localPath, offset: raw.offset, byteLength: raw.byteLength, dtype: t.dtype, shape: [...t.shape] } } : {};
}

/** Size and modification time of a local file, or undefined when it cannot be read. */
function fileIdentity(filePath: string): string | undefined {
  try {
    const st = fs.statSync(filePath);
    return st.isFile() ? `${st.size}\u0000${st.mtimeMs}` : undefined;
  } catch {
    return undefined;
  }
}

/** What makes an early analysis the one a tensor asks for: its bytes, element type, shape, bins, and the file's identity. */
function earlyKey(raw: RawTensorJob, bins: number, identity: string): string {
  return [raw.localPath, identity, raw.offset, raw.byteLength, raw.dtype, raw.shape.join(','), bins].join('\u0000');
}
