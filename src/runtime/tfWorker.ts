/**
 * Worker-thread entry (bundled to dist/tfWorker.js): owns TensorFlow.js so that rebuilding,
 * probing and training never run on the extension host's main thread. Jobs arrive as messages,
 * progress goes back as events, and a 'cancel' message aborts the job at its next step.
 * TF.js has one backend per process, set globally: jobs that ask for the same backend run side by
 * side, and a job that asks for another one waits until those have ended (see admit), as
 * switching it would move the running jobs' tensors to a backend they did not choose (and that
 * may lack a kernel they need) and make their reports name the wrong one. For the same reason a
 * job that must switch once it has started (a model whose gradients need a kernel the WebAssembly
 * backend lacks falls back to the CPU backend; a job after such a one switches back) does so
 * through its hold (backendHolds.ts), waiting until the jobs on the other backend have ended.
 * Protocol types: runtimeProtocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { summarizeError, WeightFileError } from '../core/errors';
import { initLayers, isWasmMemoryFailure } from './backend';
import { BackendHolds, type BackendHold } from './backendHolds';
import { runExperiment } from './experiments';
import { probeFile } from './probeReport';
import { trainFromSpec } from './runSpec';
import type { HostToWorker, RuntimeJob, WorkerToHost } from './runtimeProtocol';

const port = parentPort;
const jobs = new Map<number, AbortController>();
/** The backend the running jobs asked for ('auto' or a name); undefined while none runs. */
let runningBackend: string | undefined;
/** Jobs that ask for another backend than the running ones, in arrival order. */
const waiting: { id: number; job: RuntimeJob }[] = [];
/** The running jobs' holds on the backend they compute on. */
const holds = new BackendHolds();
/** Set once a job ran out of WebAssembly memory: this TF.js can run nothing more (the host replaces the worker, taking the waiting jobs along). */
let unusable = false;
const wasmDir = (workerData as { wasmDir?: string } | undefined)?.wasmDir;

function post(m: WorkerToHost): void {
  port?.postMessage(m);
}

async function run(id: number, job: RuntimeJob, signal: AbortSignal, hold: BackendHold): Promise<unknown> {
  const onEvent = (event: unknown): void => post({ type: 'event', id, event });
  // Initialize with the wanted backend first so the job functions reuse it.
  const { info } = await initLayers({ preferred: job.backend ?? 'auto', ...(wasmDir ? { wasmDir } : {}) });
  post({ type: 'backend', id, backend: info });
  switch (job.kind) {
    case 'probe':
      return probeFile(job.file, { ...job.options, backend: job.backend ?? 'auto', signal, hold });
    case 'train':
      return trainFromSpec(job.spec, job.specDir, { backend: job.backend ?? 'auto', signal, onEvent, hold });
    case 'experiment':
      return runExperiment(job.experiment, { outDir: job.outDir, backend: job.backend ?? 'auto', signal, onEvent, hold, ...(job.epochs ? { epochs: job.epochs } : {}), ...(job.dataFile ? { dataFile: job.dataFile } : {}) });
  }
}

function start(id: number, job: RuntimeJob): void {
  const controller = new AbortController();
  jobs.set(id, controller);
  runningBackend = job.backend ?? 'auto';
  // A job that waits through its hold says so, and says when it goes on: the host moves a waiting job to
  // a new worker when this one is restarted, but stops a running one with it (runtimeClient.ts).
  const hold = holds.open(
    (held) => post({ type: 'waiting', id, runningBackend: held }),
    () => post({ type: 'resumed', id }),
  );
  run(id, job, controller.signal, hold)
    .then(
      (result) => post({ type: 'result', id, result }),
      (ex: unknown) => {
        const broken = isWasmMemoryFailure(ex) || isWasmMemoryFailure((ex as { cause?: unknown } | undefined)?.cause);
        unusable ||= broken;
        post({ type: 'error', id, error: summarizeError(ex), ...(broken ? { unusable: true } : {}) });
      },
    )
    .finally(() => {
      hold.close();
      jobs.delete(id);
      if (jobs.size === 0) {
        runningBackend = undefined;
        admitWaiting();
      }
    });
}

/**
 * A job starts at once when no job runs, or when the running ones asked for the same backend and
 * no job waits (so a waiting one is not passed forever); else it waits, and the host is told.
 */
function admit(id: number, job: RuntimeJob): void {
  const wanted = job.backend ?? 'auto';
  if (runningBackend === undefined || (runningBackend === wanted && waiting.length === 0)) {
    start(id, job);
    return;
  }
  // What it waits for: the running jobs' backend, or, when it asked for that one itself (it waits
  // only so as not to pass the jobs already waiting), the backend of the first of those.
  const waitsFor = runningBackend !== wanted ? runningBackend : (waiting[0]?.job.backend ?? 'auto');
  waiting.push({ id, job });
  post({ type: 'waiting', id, runningBackend: waitsFor });
}

/** Once no job runs: starts the first waiting job and every waiting job that asks for its backend. */
function admitWaiting(): void {
  const first = waiting[0];
  if (!first || unusable) {
    return;
  }
  const wanted = first.job.backend ?? 'auto';
  for (const w of waiting.filter((x) => (x.job.backend ?? 'auto') === wanted)) {
    waiting.splice(waiting.indexOf(w), 1);
    start(w.id, w.job);
  }
}

port?.on('message', (m: HostToWorker) => {
  if (m.type === 'cancel') {
    const queued = waiting.findIndex((w) => w.id === m.id);
    if (queued >= 0) {
      waiting.splice(queued, 1);
      post({ type: 'error', id: m.id, error: summarizeError(new WeightFileError('cancelled', 'The operation was cancelled.')) });
      return;
    }
    jobs.get(m.id)?.abort();
    return;
  }
  admit(m.id, m.job);
});
