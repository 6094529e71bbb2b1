/**
 * Runs the tensor pairs of a diff of two local files in worker threads (diffWorker.ts), several
 * pairs at once, so the extension host and the CLI stay responsive and large diffs use the cores.
 * Each worker opens the files itself; only the small per-tensor results travel back.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { WeightFileError, type ErrorSummary } from '../core/errors';
import type { WeightFile } from '../core/model';
import { readSidecar } from '../core/sidecar';
import { openLocalPath, resolveLocalEntry } from '../formats/registry';
import type { MatchKind, TensorPairing } from './alignTensors';
import { checkpointStamp } from './checkpointFiles';
import { diffWeightFiles, type DiffOptions, type DiffResult, type FingerprintRunner, type PairRunner, type TensorDiff } from './diff';

/** A message to a diff worker. */
export type DiffJobMessage =
  | {
      /** Compare one pair. */
      type: 'job';
      /** Job id, echoed in the reply. */
      id: number;
      /** Local path of file A. */
      pathA: string;
      /** Local path of file B. */
      pathB: string;
      /** Tensor name in A. */
      a: string;
      /** Tensor name in B. */
      b: string;
      /** How the pair was found. */
      matchedBy: MatchKind;
      /** Read chunk size in elements. */
      chunkElements?: number;
      /** Fingerprint of A's tensor, when known. */
      knownA?: string;
      /** Fingerprint of B's tensor, when known. */
      knownB?: string;
    }
  | {
      /** Fingerprint one tensor of a local file (one a comparison did not read: added, removed). */
      type: 'fingerprint';
      /** Job id, echoed in the reply. */
      id: number;
      /** Local path of the file. */
      filePath: string;
      /** Tensor name in it. */
      name: string;
      /** Read chunk size in elements. */
      chunkElements?: number;
    }
  | {
      /** Cancel a running job. */
      type: 'cancel';
      /** Its id. */
      id: number;
    }
  | {
      /** Close the opened files. */
      type: 'close';
    };

/** A reply from a diff worker. */
export type DiffWorkerReply =
  | {
      /** The comparison of one pair. */
      type: 'result';
      /** Job id. */
      id: number;
      /** The result. */
      diff: TensorDiff;
    }
  | {
      /** The fingerprint of one tensor. */
      type: 'fingerprint';
      /** Job id. */
      id: number;
      /** SHA-256 hex (fingerprint.ts). */
      fingerprint: string;
    }
  | {
      /** The job failed as a whole (file could not be opened, cancelled). */
      type: 'error';
      /** Job id. */
      id: number;
      /** Why. */
      error: ErrorSummary;
    }
  | {
      /** Files closed. */
      type: 'closed';
    };

/** Options of the pool. */
export interface DiffPoolOptions {
  /** Worker threads (default: defaultDiffWorkers(callerIdle)). */
  workers?: number;
  /** The calling thread waits idle while the pool works (a CLI command), so the default takes its core too. */
  callerIdle?: boolean;
  /** Path of the worker script (default diffWorker.js next to this module or bundle). */
  workerScript?: string;
}

/**
 * Default number of diff workers: one less than the CPUs, between 1 and 4, leaving a core to a
 * calling thread that has other work (the extension host); every CPU, up to 4, when the caller
 * only waits for the results (a CLI command).
 */
export function defaultDiffWorkers(callerIdle: boolean): number {
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.min(4, Math.max(1, callerIdle ? cpus : cpus - 1));
}

/** Worker threads comparing tensor pairs of local files. */
export class DiffPool {
  /** Worker threads the pool runs at most. */
  readonly size: number;
  private readonly script: string;
  private idle: Worker[] = [];
  private all = new Set<Worker>();
  private nextId = 1;
  /** Set by dispose: runs under way end with an error, and no worker starts any more. */
  private disposed = false;

  /** Creates the pool; workers start on first use. */
  constructor(options: DiffPoolOptions = {}) {
    this.size = Math.max(1, options.workers ?? defaultDiffWorkers(options.callerIdle === true));
    this.script = options.workerScript ?? path.join(__dirname, 'diffWorker.js');
  }

  /** A PairRunner comparing pairs of the two local files in the workers. */
  runner(pathA: string, pathB: string): PairRunner {
    return (pairs, options, onResult) => this.run(pathA, pathB, pairs, options, onResult);
  }

  /** A FingerprintRunner for the two local files: each tensor fingerprinted by a worker, several at once. */
  fingerprinter(pathA: string, pathB: string): FingerprintRunner {
    return async (which, names, options) => {
      const filePath = which === 'a' ? pathA : pathB;
      const out = new Map<string, string | undefined>();
      await this.inLanes(names, options.signal, async (worker, name) => {
        const reply = await this.send(worker, { type: 'fingerprint', id: this.nextId++, filePath, name, chunkElements: options.chunkElements }, options.signal);
        // A tensor that cannot be read has no fingerprint (its side then has no model fingerprint).
        out.set(name, reply.type === 'fingerprint' ? reply.fingerprint : undefined);
      });
      return out;
    };
  }

  private async run(pathA: string, pathB: string, pairs: readonly TensorPairing[], options: DiffOptions, onResult: (i: number, d: TensorDiff) => void): Promise<void> {
    const errors: ErrorSummary[] = [];
    await this.inLanes(pairs, options.signal, async (worker, p, i) => {
      const reply = await this.send(worker, {
        type: 'job',
        id: this.nextId++,
        pathA,
        pathB,
        a: p.a,
        b: p.b,
        matchedBy: p.matchedBy,
        chunkElements: options.chunkElements,
        knownA: options.known?.a?.get(p.a),
        knownB: options.known?.b?.get(p.b),
      }, options.signal);
      if (reply.type === 'result') {
        onResult(i, reply.diff);
      } else if (reply.type === 'error') {
        errors.push(reply.error);
      }
    });
    const fatal = errors.find((e) => e.reason !== 'internal');
    if (fatal && errors.length === pairs.length) {
      throw new WeightFileError(fatal.reason === 'internal' ? 'corrupt' : fatal.reason, fatal.message);
    }
  }

  /**
   * Runs `handle` on each of `items` in lanes, one per worker up to the pool's size, each lane taking
   * the next item when its last one is done; throws `cancelled` when `signal` aborted them.
   */
  private async inLanes<T>(items: readonly T[], signal: AbortSignal | undefined, handle: (worker: Worker, item: T, index: number) => Promise<void>): Promise<void> {
    let next = 0;
    const lane = async (): Promise<void> => {
      let worker = this.acquire();
      try {
        while (next < items.length && !signal?.aborted && !this.disposed) {
          if (!this.all.has(worker)) {
            worker = this.acquire(); // the last one failed or exited: its item has its error, the next goes to a new one
          }
          const i = next++;
          await handle(worker, items[i]!, i);
        }
      } finally {
        await this.release(worker);
      }
    };
    if (this.disposed) {
      throw disposedError();
    }
    await Promise.all(Array.from({ length: Math.min(this.size, items.length) }, lane));
    if (signal?.aborted) {
      throw new WeightFileError('cancelled', 'The operation was cancelled.');
    }
    if (this.disposed) {
      throw disposedError();
    }
  }

  private acquire(): Worker {
    const w = this.idle.pop();
    if (w) {
      return w;
    }
    const worker = new Worker(this.script);
    worker.unref();
    this.all.add(worker);
    // A worker that fails or exits, idle or not, is never handed out again (its messages would go nowhere).
    const forget = (): void => {
      this.all.delete(worker);
      this.idle = this.idle.filter((x) => x !== worker);
    };
    worker.once('error', forget);
    worker.once('exit', forget);
    return worker;
  }

  private async release(worker: Worker): Promise<void> {
    if (!this.all.has(worker)) {
      return;
    }
    await this.send(worker, { type: 'close' });
    if (this.all.has(worker)) {
      this.idle.push(worker); // not when it exited meanwhile or the pool was disposed
    }
  }

  /** Sends one message and waits for its reply; a crashed worker becomes an `internal` error. */
  private send(worker: Worker, msg: DiffJobMessage, signal?: AbortSignal): Promise<DiffWorkerReply> {
    return new Promise((resolve) => {
      const id = msg.type === 'close' ? -1 : msg.id;
      const onAbort = (): void => worker.postMessage({ type: 'cancel', id } satisfies DiffJobMessage);
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
      };
      const onMessage = (reply: DiffWorkerReply): void => {
        if ((reply.type === 'closed' && msg.type === 'close') || (reply.type !== 'closed' && reply.id === id)) {
          cleanup();
          resolve(reply);
        }
      };
      const onError = (ex: Error): void => {
        cleanup();
        this.all.delete(worker);
        resolve({ type: 'error', id, error: { reason: 'internal', message: `A diff worker failed: ${ex.message}` } });
      };
      const onExit = (code: number): void => onError(new Error(`exited with code ${code}`));
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      worker.postMessage(msg);
    });
  }

  /** Stops every worker. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const ws = [...this.all];
    this.all.clear();
    this.idle = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** How a run ends that the pool's dispose interrupted (or that started after it). */
function disposedError(): Error {
  return new Error('The diff pool was disposed.');
}

/** Below this many stored bytes (both files) diffLocalFiles compares in this thread unless told otherwise: starting workers (and their readers) costs more. */
export const autoWorkerMinBytes = 32 * 1024 * 1024;

/** Options of diffLocalFiles. */
export interface LocalDiffOptions extends DiffOptions {
  /** Worker threads; 0 compares in this thread; unset: workers for files over autoWorkerMinBytes. */
  workers?: number;
  /** The caller only waits for the result (see DiffPoolOptions.callerIdle). */
  callerIdle?: boolean;
  /** Existing pool to use (then `workers` is ignored and the pool is not disposed). */
  pool?: DiffPool;
}

/**
 * Tensor fingerprints cached in a checkpoint's sidecar (`weightscope fingerprint --save`), when
 * the checkpoint's files (entry and companions) still have the recorded size and mtime.
 */
export async function sidecarFingerprints(p: string): Promise<ReadonlyMap<string, string> | undefined> {
  try {
    const entry = await resolveLocalEntry(p);
    const [side, st] = await Promise.all([readSidecar(entry), checkpointStamp(entry)]);
    const fp = side?.fingerprints;
    if (!fp || fp.size !== st.size || fp.mtimeMs !== st.mtimeMs) {
      return undefined;
    }
    return new Map(Object.entries(fp.tensors).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return undefined; // an unreadable sidecar only means no shortcut
  }
}

/**
 * Opens two local files (or model folders) and diffs them, in worker threads for big files.
 * Pairs whose fingerprints are cached equal in both sidecars are not read again.
 */
export async function diffLocalFiles(pathA: string, pathB: string, options: LocalDiffOptions = {}): Promise<DiffResult> {
  const opened: WeightFile[] = [];
  let ownPool: DiffPool | undefined;
  try {
    const a = await openLocalPath(pathA);
    opened.push(a);
    const b = await openLocalPath(pathB);
    opened.push(b);
    const bytes = [...a.tensors, ...b.tensors].reduce((s, t) => s + t.byteLength, 0);
    const useWorkers = options.workers !== undefined ? options.workers > 0 : bytes >= autoWorkerMinBytes;
    if (!options.pool && useWorkers) {
      ownPool = new DiffPool({ ...(options.workers ? { workers: options.workers } : {}), callerIdle: options.callerIdle });
    }
    const pool = options.pool ?? ownPool;
    const known = options.known ?? { a: await sidecarFingerprints(pathA), b: await sidecarFingerprints(pathB) };
    return await diffWeightFiles(a, b, { ...options, known }, pool?.runner(pathA, pathB), pool?.fingerprinter(pathA, pathB));
  } finally {
    await Promise.all(opened.map((f) => f.close()));
    await ownPool?.dispose();
  }
}
