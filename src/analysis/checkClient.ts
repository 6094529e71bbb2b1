/**
 * Runs checkWeightFile (samples, precision passes, every diagnostic, the signal forecast) off the
 * caller's event loop: for a local file in a worker thread (checkWorker.ts) that opens the file
 * itself and receives the statistics already computed; only progress and the JSON-safe report
 * travel back. Files without a local path (virtual file systems, already in memory) are checked
 * in this thread.
 */
import * as path from 'node:path';
import type { ErrorSummary } from '../core/errors';
import type { WeightFile } from '../core/model';
import { checkWeightFile, type CheckReport } from './diagnostics/check';
import type { TensorStats } from './statsTypes';
import { errorFromSummary, runInFreshWorker } from './workerRun';

/** Messages from the host to a check worker. */
export type CheckWorkerRequest =
  | {
      /** Check one local file. */
      type: 'run';
      /** Request id, echoed in every reply. */
      id: number;
      /** Local path (file or model folder) opened with openLocalPath. */
      filePath: string;
      /** Exact statistics per tensor name, as the host computed them. */
      stats: ReadonlyMap<string, TensorStats>;
      /** Run the precision passes; undefined means yes. */
      precision?: boolean;
      /** Values per kernel sample; undefined means checkWeightFile's default. */
      sampleValues?: number;
    }
  | {
      /** Stop a running check between tensors (it then answers with a `cancelled` error). */
      type: 'cancel';
      /** Id of the check to stop. */
      id: number;
    };

/** Messages from a check worker to the host. */
export type CheckWorkerReply =
  | {
      /** Tensors read so far. */
      type: 'progress';
      /** Request id. */
      id: number;
      /** Tensor reads done. */
      done: number;
      /** Tensor reads in all. */
      total: number;
    }
  | {
      /** The finished report. */
      type: 'report';
      /** Request id. */
      id: number;
      /** The report (JSON-safe). */
      report: CheckReport;
    }
  | {
      /** The check failed as a whole (file could not be opened, cancelled). */
      type: 'error';
      /** Request id. */
      id: number;
      /** Why. */
      error: ErrorSummary;
    };

/** Options of runCheckInWorker and runCheckInThread. */
export interface CheckRunOptions {
  /** Cancels the check; the promise then rejects with a `cancelled` WeightFileError. */
  signal?: AbortSignal;
  /** Called with (done, total) tensor reads as the check progresses. */
  onProgress?: (done: number, total: number) => void;
  /** Run the precision passes (default true). */
  precision?: boolean;
  /** Values per kernel sample (default: checkWeightFile's). */
  sampleValues?: number;
  /** Path of the worker script (default checkWorker.js next to this module or bundle). */
  workerScript?: string;
}

let nextId = 1;

/** Checks the local file at `filePath` in a fresh worker thread, which ends with the check. */
export function runCheckInWorker(filePath: string, stats: ReadonlyMap<string, TensorStats>, options: CheckRunOptions = {}): Promise<CheckReport> {
  const id = nextId++;
  const request: CheckWorkerRequest = { type: 'run', id, filePath, stats: new Map(stats), precision: options.precision, sampleValues: options.sampleValues };
  return runInFreshWorker<CheckWorkerReply, CheckReport>(options.workerScript ?? path.join(__dirname, 'checkWorker.js'), request, {
    name: 'check',
    signal: options.signal,
    cancel: { type: 'cancel', id } satisfies CheckWorkerRequest,
    onReply: (reply) => {
      switch (reply.type) {
        case 'progress':
          if (!options.signal?.aborted) {
            options.onProgress?.(reply.done, reply.total);
          }
          return undefined;
        case 'report':
          return { result: reply.report };
        case 'error':
          return { error: errorFromSummary(reply.error) };
      }
    },
  });
}

/**
 * Checks an opened file in this thread, for files without a local path (their bytes are already
 * in memory and size-limited). Yields to the event loop once before starting.
 */
export async function runCheckInThread(file: WeightFile, stats: ReadonlyMap<string, TensorStats>, options: CheckRunOptions = {}): Promise<CheckReport> {
  await new Promise<void>((r) => setImmediate(r));
  return checkWeightFile(file, stats, {
    precision: options.precision,
    sampleValues: options.sampleValues,
    signal: options.signal,
    onProgress: options.onProgress,
  });
}
