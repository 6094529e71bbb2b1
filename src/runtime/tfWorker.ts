/**
 * Worker-thread entry (bundled to dist/tfWorker.js): owns TensorFlow.js so that rebuilding,
 * probing and training never run on the extension host's main thread. Jobs arrive as messages,
 * progress goes back as events, and a 'cancel' message aborts the job at its next step.
 * Protocol types: runtimeProtocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { summarizeError } from '../core/errors';
import { initLayers, isWasmMemoryFailure } from './backend';
import { runExperiment } from './experiments';
import { probeFile } from './probeReport';
import { trainFromSpec } from './runSpec';
import type { HostToWorker, RuntimeJob, WorkerToHost } from './runtimeProtocol';

const port = parentPort;
const jobs = new Map<number, AbortController>();
const wasmDir = (workerData as { wasmDir?: string } | undefined)?.wasmDir;

function post(m: WorkerToHost): void {
  port?.postMessage(m);
}

async function run(id: number, job: RuntimeJob, signal: AbortSignal): Promise<unknown> {
  const onEvent = (event: unknown): void => post({ type: 'event', id, event });
  // Initialize with the wanted backend first so the job functions reuse it.
  const { info } = await initLayers({ preferred: job.backend ?? 'auto', ...(wasmDir ? { wasmDir } : {}) });
  post({ type: 'backend', id, backend: info });
  switch (job.kind) {
    case 'probe':
      return probeFile(job.file, { ...job.options, backend: job.backend ?? 'auto', signal });
    case 'train':
      return trainFromSpec(job.spec, job.specDir, { backend: job.backend ?? 'auto', signal, onEvent });
    case 'experiment':
      return runExperiment(job.experiment, { outDir: job.outDir, backend: job.backend ?? 'auto', signal, onEvent, ...(job.epochs ? { epochs: job.epochs } : {}), ...(job.dataFile ? { dataFile: job.dataFile } : {}) });
  }
}

port?.on('message', (m: HostToWorker) => {
  if (m.type === 'cancel') {
    jobs.get(m.id)?.abort();
    return;
  }
  const controller = new AbortController();
  jobs.set(m.id, controller);
  run(m.id, m.job, controller.signal).then(
    (result) => post({ type: 'result', id: m.id, result }),
    (ex: unknown) =>
      post({ type: 'error', id: m.id, error: summarizeError(ex), ...(isWasmMemoryFailure(ex) || isWasmMemoryFailure((ex as { cause?: unknown } | undefined)?.cause) ? { unusable: true } : {}) }),
  ).finally(() => jobs.delete(m.id));
});
