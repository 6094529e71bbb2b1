/**
 * TF.js has one backend per process: in the shared worker a job that asks for another backend than
 * the running jobs waits until they have ended (switching it would move their tensors to a backend
 * they did not ask for, and their reports would name the wrong one), and a waiting job does not
 * get passed by later jobs. Against the real worker (out/src/runtime/tfWorker.js).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { initLayers } from '../../../src/runtime/backend';
import type { ProbeReport } from '../../../src/runtime/probeReport';
import { RuntimeClient } from '../../../src/runtime/runtimeClient';
import type { TrainEvent } from '../../../src/runtime/training';
import { savedClassifier } from '../helpers/runtimeData';

test('a job asking for another backend waits for the running job to end, a later job asking for the running one waits behind it, and a waiting job can be cancelled', { timeout: 120_000 }, async () => {
  const { tf, tfl } = await initLayers({ preferred: 'cpu' });
  const dir = await savedClassifier(tf, tfl, 8);
  const model = path.join(dir, 'model', 'model.json');
  // out/test/unit/runtime -> out/src/runtime/tfWorker.js
  const client = new RuntimeClient(path.join(__dirname, '..', '..', '..', 'src', 'runtime', 'tfWorker.js'));
  const order: string[] = [];
  const waited: Record<string, string> = {};
  const probe = (name: string, backend: 'cpu' | 'wasm', signal?: AbortSignal): Promise<unknown> =>
    client
      .run<ProbeReport>(
        { kind: 'probe', file: model, options: { batchSize: 4 }, backend },
        { ...(signal ? { signal } : {}), onBackend: () => order.push(`${name} starts`), onWaiting: (running) => (waited[name] = running) },
      )
      .then(
        (r) => {
          order.push(`${name} ends`);
          return r;
        },
        (ex: unknown) => {
          order.push(`${name} fails`);
          return ex;
        },
      );
  try {
    const stopTraining = new AbortController();
    let later: Promise<unknown>[] = [];
    const cancelWaiting = new AbortController();
    const training = client
      .run<Extract<TrainEvent, { type: 'done' }>>(
        { kind: 'train', spec: { model: 'model/model.json', synthetic: { samples: 4096, seed: 3 }, batchSize: 8, epochs: 100, optimizer: 'sgd', outDir: 'run' }, specDir: dir, backend: 'cpu' },
        {
          signal: stopTraining.signal,
          onEvent: (e) => {
            if ((e as TrainEvent).type === 'epoch' && later.length === 0) {
              // while the cpu run trains: a wasm probe, a cpu probe after it, and a wasm probe cancelled while it waits
              later = [probe('wasm probe', 'wasm'), probe('cpu probe', 'cpu'), probe('cancelled probe', 'wasm', cancelWaiting.signal)];
              setTimeout(() => cancelWaiting.abort(), 200);
              setTimeout(() => stopTraining.abort(), 1000);
            }
          },
        },
      )
      .then((done) => {
        order.push('training ends');
        return done;
      });
    const done = await training;
    const [wasmReport, cpuReport, cancelled] = await Promise.all(later);
    assert.equal(done.stopped, 'cancelled');
    assert.deepEqual(order, ['cancelled probe fails', 'training ends', 'wasm probe starts', 'wasm probe ends', 'cpu probe starts', 'cpu probe ends']);
    // the cpu probe asked for the running backend, but waits behind the wasm probe: it is told it waits for wasm jobs
    assert.deepEqual(waited, { 'wasm probe': 'cpu', 'cpu probe': 'wasm', 'cancelled probe': 'cpu' });
    assert.ok(WeightFileError.is(cancelled, 'cancelled'), String(cancelled));
    assert.equal((wasmReport as ProbeReport).backend.name, 'wasm');
    assert.equal((cpuReport as ProbeReport).backend.name, 'cpu');
    // the run trained on the backend it asked for, start to end
    const runFile = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'run.json'), 'utf8')) as { backend: { name: string }; stopped: string };
    assert.equal(runFile.backend.name, 'cpu');
    assert.equal(runFile.stopped, 'cancelled');
  } finally {
    await client.dispose();
  }
});
