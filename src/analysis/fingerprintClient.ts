/**
 * Fingerprints a local weight file off the caller's event loop: in a worker thread
 * (fingerprintWorker.ts) that opens the file itself (headers only) and streams each tensor's
 * values through SHA-256 in chunks; only the per-tensor fingerprints travel back. Files without a
 * local path (virtual file systems, bytes already in memory) are fingerprinted in this thread.
 */
import * as path from 'node:path';
import type { ErrorSummary } from '../core/errors';
import type { WeightFile } from '../core/model';
import { fingerprintFile, type FileFingerprint, type TensorFingerprint } from './fingerprint';
import { errorFromSummary, runInFreshWorker } from './workerRun';

/** Messages from the host to a fingerprint worker. */
export type FingerprintWorkerRequest =
  | {
      /** Fingerprint one local file. */
      type: 'run';
      /** Request id, echoed in every reply. */
      id: number;
      /** Local path (file or model folder) opened with openLocalPath. */
      filePath: string;
      /** Fingerprints already known, by tensor name (not read again). */
      known: ReadonlyMap<string, string>;
    }
  | {
      /** Stop a running request between chunks (it then answers with a `cancelled` error). */
      type: 'cancel';
      /** Id of the request to stop. */
      id: number;
    };

/** Messages from a fingerprint worker to the host. */
export type FingerprintWorkerReply =
  | {
      /** One tensor is done. */
      type: 'tensor';
      /** Request id. */
      id: number;
      /** Its fingerprint or why it has none. */
      tensor: TensorFingerprint;
      /** Tensors done so far. */
      done: number;
      /** Tensors in the file. */
      total: number;
    }
  | {
      /** The whole file is done. */
      type: 'result';
      /** Request id. */
      id: number;
      /** The file's fingerprints. */
      result: FileFingerprint;
    }
  | {
      /** The file could not be fingerprinted (not opened, cancelled). */
      type: 'error';
      /** Request id. */
      id: number;
      /** Why. */
      error: ErrorSummary;
    };

/** Options of runFingerprintInWorker and runFingerprintInThread. */
export interface FingerprintRunOptions {
  /** Cancels the run; the promise then rejects with a `cancelled` WeightFileError. */
  signal?: AbortSignal;
  /** Fingerprints already known by tensor name. */
  known?: ReadonlyMap<string, string>;
  /** Called as each tensor is done, with (done, total). */
  onTensor?: (tensor: TensorFingerprint, done: number, total: number) => void;
  /** Path of the worker script (default fingerprintWorker.js next to this module or bundle). */
  workerScript?: string;
}

let nextId = 1;

/** Fingerprints the local file at `filePath` in a fresh worker thread, which ends with the run. */
export function runFingerprintInWorker(filePath: string, options: FingerprintRunOptions = {}): Promise<FileFingerprint> {
  const id = nextId++;
  const request: FingerprintWorkerRequest = { type: 'run', id, filePath, known: new Map(options.known ?? []) };
  return runInFreshWorker<FingerprintWorkerReply, FileFingerprint>(options.workerScript ?? path.join(__dirname, 'fingerprintWorker.js'), request, {
    name: 'fingerprint',
    signal: options.signal,
    cancel: { type: 'cancel', id } satisfies FingerprintWorkerRequest,
    onReply: (reply) => {
      switch (reply.type) {
        case 'tensor':
          if (!options.signal?.aborted) {
            options.onTensor?.(reply.tensor, reply.done, reply.total);
          }
          return undefined;
        case 'result':
          return { result: reply.result };
        case 'error':
          return { error: errorFromSummary(reply.error) };
      }
    },
  });
}

/**
 * Fingerprints an opened file in this thread, for files without a local path (their bytes are
 * already in memory and size-limited). Yields to the event loop between tensors.
 */
export async function runFingerprintInThread(file: WeightFile, options: FingerprintRunOptions = {}): Promise<FileFingerprint> {
  let done = 0;
  const total = file.tensors.length;
  await new Promise<void>((r) => setImmediate(r));
  return fingerprintFile(file, {
    signal: options.signal,
    known: options.known,
    onTensor: (t) => options.onTensor?.(t, ++done, total),
  });
}
