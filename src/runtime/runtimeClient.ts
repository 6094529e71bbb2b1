/**
 * The host side of the TF.js worker: starts dist/tfWorker.js on first use, sends jobs, relays
 * progress events, and cancels (a cancel message first; the worker is terminated when it does not
 * stop within `hardCancelMs`). Nothing here touches TF.js, so the caller's event loop stays free.
 */
import { Worker } from 'node:worker_threads';
import { WeightFileError } from '../core/errors';
import type { BackendInfo } from './backend';
import type { RuntimeJob, WorkerToHost } from './runtimeProtocol';

/** Time a job gets to stop after a cancel before its worker is terminated, in milliseconds. */
export const hardCancelMs = 5000;

/**
 * How a cancelled job ends whose worker had to be terminated because it did not stop within
 * hardCancelMs (one step of a large model on the CPU backend can take longer): a `cancelled`
 * WeightFileError whose message says so. Files written so far stay whole (checkpoints are renamed
 * into place once complete; see training.ts); `exited` resolves once the worker is gone, after
 * which nothing writes the job's files any more (a hidden temporary checkpoint folder it was
 * writing can then be removed: JobRuns in stoppedRuns.ts). The other ways a job ends because its
 * worker was stopped carry the same `exited` (WorkerRestartedError, WorkerDisposedError; see workerExitOf).
 */
export class WorkerStoppedError extends WeightFileError {
  constructor(readonly exited: Promise<void>) {
    super('cancelled', `The operation was cancelled and did not stop within ${hardCancelMs / 1000} s (one step of a large model can take longer), so its TensorFlow.js worker was stopped; the next job starts a new one.`);
    this.name = 'WorkerStoppedError';
  }
}

/**
 * How a job ends that was not cancelled but stopped because its worker was: restarted to stop
 * another job that did not answer Cancel, replaced after another job ran out of WebAssembly
 * memory, or failed or exited by itself. Not a `cancelled` error (the user did not cancel this
 * job). `exited` resolves once the worker is gone, as for WorkerStoppedError.
 */
export class WorkerRestartedError extends Error {
  constructor(message: string, readonly exited: Promise<void>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkerRestartedError';
  }
}

/** How the jobs end that were running when the client was disposed (the extension shutting down): `cancelled`, with the worker's `exited`. */
export class WorkerDisposedError extends WeightFileError {
  constructor(readonly exited: Promise<void>) {
    super('cancelled', 'The TensorFlow.js worker was stopped.');
    this.name = 'WorkerDisposedError';
  }
}

/**
 * For a job that ended because its worker was stopped, whatever the cause (WorkerStoppedError,
 * WorkerRestartedError, WorkerDisposedError): a promise that resolves once that worker is gone,
 * after which nothing writes the job's files any more; undefined for any other failure.
 */
export function workerExitOf(ex: unknown): Promise<void> | undefined {
  return ex instanceof WorkerStoppedError || ex instanceof WorkerRestartedError || ex instanceof WorkerDisposedError ? ex.exited : undefined;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onEvent?: (e: unknown) => void;
  onBackend?: (b: BackendInfo) => void;
  onWaiting?: (runningBackend: string) => void;
  /** The job, and the worker it was posted to (a job that only waited moves to the next worker). */
  job: RuntimeJob;
  worker: Worker;
  /** True once the worker said the job waits; false again once it started or went on (its backend, an event or `resumed` came). */
  waiting: boolean;
  /** True once the worker said anything of the job but that it waits: it read the job and began it (a job posted to a busy worker may sit unread). */
  started: boolean;
  /** The job's cancel signal: a waiting job cancelled before its worker heard it does not move to the next worker. */
  signal?: AbortSignal;
}

/** Options of a job run. */
export interface RunJobOptions {
  /** Progress events of the job (training events, experiment events). */
  onEvent?: (event: unknown) => void;
  /** Called once the worker knows its backend. */
  onBackend?: (backend: BackendInfo) => void;
  /** Called when the job waits for the jobs ahead of it to end, which asked for another backend (`runningBackend`: 'auto' or its name); it starts once they have. */
  onWaiting?: (runningBackend: string) => void;
  /** Cancels the job. */
  signal?: AbortSignal;
}

/** Talks to one TF.js worker thread. */
export class RuntimeClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly workerPath: string,
    private readonly wasmDir?: string,
  ) {}

  /** Runs a job in the worker; resolves with its result, rejects with a WeightFileError on failure or cancel. */
  run<T>(job: RuntimeJob, options: RunJobOptions = {}): Promise<T> {
    if (options.signal?.aborted) {
      return Promise.reject(new WeightFileError('cancelled', 'The operation was cancelled.'));
    }
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent: options.onEvent, onBackend: options.onBackend, onWaiting: options.onWaiting, job, worker, waiting: false, started: false, signal: options.signal });
      worker.ref(); // keep the process alive while a job runs; unref'd again when idle
      worker.postMessage({ type: 'run', id, job });
      options.signal?.addEventListener('abort', () => {
        this.pending.get(id)?.worker.postMessage({ type: 'cancel', id });
        const timer = setTimeout(() => {
          const cancelled = this.pending.get(id);
          if (cancelled) {
            cancelled.waiting = false; // it stops with the worker, never moves to the next one
            // Jobs share the worker: the others stop with it, but they were not cancelled by the user;
            // those that were only waiting for others to end go to the next worker.
            void this.restart(
              (jobId, exited) =>
                jobId === id
                  ? new WorkerStoppedError(exited)
                  : new WorkerRestartedError('The TensorFlow.js worker was restarted to stop another job that did not respond to Cancel, and this job stopped with it.', exited),
              true,
            );
          }
        }, hardCancelMs);
        timer.unref?.();
      });
    });
  }

  /** Stops the worker; pending jobs reject. */
  async dispose(): Promise<void> {
    await this.restart((_id, exited) => new WorkerDisposedError(exited));
  }

  /**
   * Terminates the worker; each pending job rejects with `reasonFor(its id, a promise of the worker's
   * exit)`, except, with `moveWaiting`, the jobs that were only waiting for others to end or that the
   * worker, busy, never began: they go to a new worker as they are; one cancelled meanwhile (its
   * worker had not heard the cancel yet) rejects as cancelled instead.
   */
  private async restart(reasonFor: (id: number, exited: Promise<void>) => unknown, moveWaiting = false): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    const exited = w ? w.terminate().then(() => undefined, () => undefined) : Promise.resolve();
    const moving: [number, Pending][] = [];
    for (const [id, p] of this.pending) {
      const movable = moveWaiting && p.worker === w && (p.waiting || !p.started);
      if (movable && p.signal?.aborted) {
        p.reject(new WeightFileError('cancelled', 'The operation was cancelled.'));
      } else if (movable) {
        moving.push([id, p]);
      } else {
        p.reject(reasonFor(id, exited));
      }
    }
    this.pending.clear();
    if (moving.length > 0) {
      const next = this.ensureWorker();
      next.ref();
      for (const [id, p] of moving) {
        this.pending.set(id, { ...p, worker: next, waiting: false, started: false });
        next.postMessage({ type: 'run', id, job: p.job });
      }
    }
    await exited;
  }

  private settled(worker: Worker, id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) {
      worker.unref();
    }
  }

  private ensureWorker(): Worker {
    if (this.worker) {
      return this.worker;
    }
    const worker = new Worker(this.workerPath, { workerData: { wasmDir: this.wasmDir } });
    worker.on('message', (m: WorkerToHost) => {
      const p = this.pending.get(m.id);
      if (!p || p.worker !== worker) {
        return; // settled, or moved to the next worker: what a stopped worker still sends for it is not its answer
      }
      if (m.type !== 'waiting') {
        p.started = true;
      }
      if (m.type === 'event') {
        p.waiting = false;
        p.onEvent?.(m.event);
      } else if (m.type === 'backend') {
        p.waiting = false;
        p.onBackend?.(m.backend);
      } else if (m.type === 'waiting') {
        p.waiting = true;
        p.onWaiting?.(m.runningBackend);
      } else if (m.type === 'resumed') {
        p.waiting = false; // it computes again: a restart stops it rather than moving it
      } else if (m.type === 'result') {
        this.settled(worker, m.id);
        p.resolve(m.result);
      } else {
        this.settled(worker, m.id);
        p.reject(m.error.reason === 'internal' ? new Error(m.error.message) : new WeightFileError(m.error.reason, m.error.message));
        if (m.unusable && this.worker === worker) {
          // Its TF.js cannot run another job: the next one gets a new worker; jobs still running in it stop.
          void this.restart((_id, exited) => new WorkerRestartedError('The TensorFlow.js worker ran out of WebAssembly memory in another job and was restarted, which stopped this job.', exited), true);
        }
      }
    });
    worker.on('error', (ex) => {
      if (this.worker === worker) {
        void this.restart((_id, exited) => new WorkerRestartedError(`The TensorFlow.js worker failed: ${ex instanceof Error ? ex.message : String(ex)}`, exited, { cause: ex }));
      }
    });
    worker.on('exit', () => {
      if (this.worker === worker) {
        this.worker = undefined;
        const exited = Promise.resolve();
        for (const p of this.pending.values()) {
          p.reject(new WorkerRestartedError('The TensorFlow.js worker exited unexpectedly.', exited));
        }
        this.pending.clear();
      }
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
