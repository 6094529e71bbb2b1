/**
 * Runs asynchronous jobs (each a fresh worker thread: diagnostics, fingerprints) at most `limit()`
 * at a time, first come first served, so that opening or expanding many files does not start two
 * workers per file at once. A job whose signal aborts while it waits is dropped and rejects with
 * a `cancelled` error without starting.
 */
import { cancelledError } from './workerRun';

interface Waiting {
  start(): void;
  signal?: AbortSignal;
  onAbort(): void;
}

/** A first-come-first-served limit on the jobs running at once. */
export class JobLimiter {
  private running = 0;
  private readonly queue: Waiting[] = [];

  /** `limit` is read each time a job could start (a setting may change), at least 1. */
  constructor(private readonly limit: () => number) {}

  /** Jobs running now. */
  get active(): number {
    return this.running;
  }

  /** Jobs waiting for a free place. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `job` once fewer than limit() jobs run; resolves or rejects as it does. */
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) {
      return Promise.reject(cancelledError());
    }
    return new Promise<T>((resolve, reject) => {
      const waiting: Waiting = {
        signal,
        start: () => {
          signal?.removeEventListener('abort', waiting.onAbort);
          this.running++;
          let started: Promise<T>;
          try {
            started = job();
          } catch (ex) {
            started = Promise.reject(ex);
          }
          started.then(resolve, reject).finally(() => {
            this.running--;
            this.next();
          });
        },
        onAbort: () => {
          const i = this.queue.indexOf(waiting);
          if (i >= 0) {
            this.queue.splice(i, 1);
            reject(cancelledError());
          }
        },
      };
      signal?.addEventListener('abort', waiting.onAbort, { once: true });
      this.queue.push(waiting);
      this.next();
    });
  }

  private next(): void {
    while (this.queue.length > 0 && this.running < Math.max(1, Math.floor(this.limit()) || 1)) {
      this.queue.shift()!.start();
    }
  }
}
