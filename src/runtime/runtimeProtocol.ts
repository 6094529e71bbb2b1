/**
 * Messages between the host-side RuntimeClient and the TF.js worker (tfWorker.ts). JSON-safe
 * structured-clone payloads only.
 */
import type { ErrorSummary } from '../core/errors';
import type { BackendInfo, BackendName } from './backend';
import type { ExperimentName } from './experiments';
import type { ProbeFileOptions } from './probeReport';
import type { RunSpec } from './training';

/** A unit of TF.js work. */
export type RuntimeJob =
  | { kind: 'probe'; file: string; options?: Omit<ProbeFileOptions, 'signal' | 'backend'>; backend?: BackendName | 'auto' }
  | { kind: 'train'; spec: RunSpec; specDir: string; backend?: BackendName | 'auto' }
  | { kind: 'experiment'; experiment: ExperimentName; outDir: string; epochs?: number; dataFile?: string; backend?: BackendName | 'auto' };

/** Host -> worker. */
export type HostToWorker = { type: 'run'; id: number; job: RuntimeJob } | { type: 'cancel'; id: number };

/** Worker -> host. */
export type WorkerToHost =
  | { type: 'backend'; id: number; backend: BackendInfo }
  | { type: 'event'; id: number; event: unknown }
  /** The job waits for the jobs ahead of it, on `runningBackend` ('auto' or a name), to end: TF.js has one backend at a time (tfWorker.ts). */
  | { type: 'waiting'; id: number; runningBackend: string }
  /** The job that waited (a 'waiting' message sent once it had started, through its backend hold) goes on computing. */
  | { type: 'resumed'; id: number }
  | { type: 'result'; id: number; result: unknown }
  /** `unusable`: the job left TF.js unusable in this worker (the WebAssembly heap ran out); the host replaces the worker. */
  | { type: 'error'; id: number; error: ErrorSummary; unusable?: true };
