/**
 * Backend selection across jobs of one process (the extension's long-lived worker): a selection
 * that failed is tried again by the next job, one that succeeded is reused, also by the jobs the
 * worker starts after choosing its backend with the folder of the .wasm files.
 * This file runs in its own process (node --test), so TF.js starts here without a backend.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend, type Tf } from '../../../src/runtime/backend';
import { makeTempDir } from '../helpers/fixtures';

test('a backend selection that failed is tried again by the next call, and a success is then reused', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tf: Tf = require('@tensorflow/tfjs-core');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-cpu');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-wasm');
  // A transient failure: the CPU backend fails to start once, and the WASM backend is not there
  // (tfjs-node is not installed), so the first selection finds no backend at all.
  const cpuFactory = tf.findBackendFactory('cpu');
  assert.ok(cpuFactory, 'the CPU backend is registered');
  tf.removeBackend('cpu');
  tf.removeBackend('wasm');
  let starts = 0;
  tf.registerBackend(
    'cpu',
    () => {
      starts++;
      if (starts === 1) {
        throw new Error('transient failure');
      }
      return cpuFactory() as ReturnType<typeof cpuFactory>;
    },
    1,
  );
  await assert.rejects(initBackend({ preferred: 'cpu' }), /No TensorFlow\.js backend could be initialized: The cpu backend could not be used/);
  const second = await initBackend({ preferred: 'cpu' });
  assert.equal(second.info.name, 'cpu');
  assert.equal(starts, 2, 'the second call started the backend again');
  assert.equal(tf.getBackend(), 'cpu');
  // the success is kept: the next calls get the same selection without starting anything again
  const third = await initBackend({ preferred: 'cpu' });
  assert.equal(third.info, second.info);
  assert.equal(starts, 2);
});

test('a job that names no .wasm folder reuses the selection its worker made with one, instead of selecting again', async () => {
  // the worker chooses with the folder of its .wasm files, then the job functions call without it
  const wasmDir = makeTempDir();
  const worker = await initBackend({ preferred: 'cpu', wasmDir });
  const job = await initBackend({ preferred: 'cpu' });
  assert.equal(job.info, worker.info, 'the same selection, not a new one');
  const nextJob = await initBackend({ preferred: 'cpu', wasmDir });
  assert.equal(nextJob.info, worker.info);
  // another backend, or another folder, is a new selection
  const other = await initBackend({ preferred: 'cpu', wasmDir: makeTempDir() });
  assert.notEqual(other.info, worker.info);
});
