/**
 * One request in a fresh worker thread that ends with it: the plumbing shared by the check and the
 * fingerprint clients. The request is posted once; replies with its id are handed to `onReply`
 * until that decides the outcome; cancellation posts `cancel` and terminates a worker that does not
 * answer within a grace period; a crash or an early exit rejects with the worker's name.
 */
import { Worker } from 'node:worker_threads';
import { WeightFileError, type ErrorSummary } from '../core/errors';

/** A cancelled worker that has not answered after this long is terminated, in milliseconds. */
const cancelGraceMs = 2000;

/** The outcome a reply decides: a result, or an error to reject with. */
export type WorkerOutcome<T> = { result: T } | { error: Error };

/** Options of runInFreshWorker. */
export interface WorkerRunOptions<Reply, T> {
  /** Worker name in error messages ('check', 'fingerprint'). */
  name: string;
  /** Cancels the run: `cancel` is posted, the promise rejects with a `cancelled` WeightFileError. */
  signal?: AbortSignal;
  /** The message that asks the worker to stop this request. */
  cancel: unknown;
  /** Handles one reply to this request; returns the outcome once it is decided, else undefined. */
  onReply: (reply: Reply) => WorkerOutcome<T> | undefined;
}

/** The error a cancelled run rejects with. */
export function cancelledError(): WeightFileError {
  return new WeightFileError('cancelled', 'The operation was cancelled.');
}

/** Turns a worker's error summary back into an error to throw (`internal` as a plain Error). */
export function errorFromSummary(e: ErrorSummary): Error {
  return e.reason === 'internal' ? new Error(e.message) : new WeightFileError(e.reason, e.message);
}

/** Posts `request` (with its `id`) to a fresh worker running `script` and resolves with the outcome its replies decide. */
export function runInFreshWorker<Reply extends { id: number }, T>(script: string, request: { id: number }, options: WorkerRunOptions<Reply, T>): Promise<T> {
  const signal = options.signal;
  if (signal?.aborted) {
    return Promise.reject(cancelledError());
  }
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(script);
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (outcome: WorkerOutcome<T>): void => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      // Settled once the thread is gone, so that callers limiting how many run at once (JobLimiter)
      // count it until then, but no later than cancelGraceMs on: a thread blocked in a synchronous
      // read stops only when the read returns. A failing terminate changes nothing, the outcome is decided.
      let exitWait: NodeJS.Timeout | undefined;
      void Promise.race([worker.terminate().catch(() => undefined), new Promise((r) => (exitWait = setTimeout(r, cancelGraceMs)))]).then(() => {
        clearTimeout(exitWait);
        if ('result' in outcome) {
          resolve(outcome.result);
        } else {
          reject(outcome.error);
        }
      });
    };
    const onAbort = (): void => {
      worker.postMessage(options.cancel);
      // The worker stops at its next check; one stuck in a long read is terminated.
      killTimer = setTimeout(() => finish({ error: cancelledError() }), cancelGraceMs);
    };
    const onMessage = (reply: Reply): void => {
      if (reply.id !== request.id) {
        return;
      }
      let outcome: WorkerOutcome<T> | undefined;
      try {
        outcome = options.onReply(reply);
      } catch {
        return; // a throwing listener must not break the run
      }
      if (outcome) {
        finish(signal?.aborted ? { error: cancelledError() } : outcome);
      }
    };
    const onError = (ex: Error): void => finish({ error: new Error(`The ${options.name} worker failed: ${ex.message}`) });
    const onExit = (code: number): void => finish({ error: new Error(`The ${options.name} worker exited with code ${code} before reporting.`) });
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.postMessage(request);
  });
}
