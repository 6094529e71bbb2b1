/**
 * Worker-thread entry for tests: runs the training of the run spec file `workerData.specFile` on
 * the CPU backend, as the extension's TF.js worker does, and posts 'done' when it ends; a test
 * terminates it part way to see what a stopped worker leaves on disk.
 */
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { readRunSpec, trainFromSpec } from '../../../src/runtime/runSpec';

const { specFile } = workerData as { specFile: string };
void (async () => {
  const spec = await readRunSpec(specFile);
  await trainFromSpec(spec, path.dirname(specFile), { backend: 'cpu' });
  parentPort?.postMessage('done');
})();
