import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import type { ExperimentResult } from '../../../src/runtime/experiments';
import type { ProbeReport } from '../../../src/runtime/probeReport';
import { RuntimeClient } from '../../../src/runtime/runtimeClient';
import type { TrainEvent } from '../../../src/runtime/training';
import { fixtureOrSkip, makeTempDir } from '../helpers/fixtures';

// out/test/unit/runtime -> out/src/runtime/tfWorker.js (transpiled, resolves node_modules)
const client = new RuntimeClient(path.join(__dirname, '..', '..', '..', 'src', 'runtime', 'tfWorker.js'));
after(() => client.dispose());

test('the worker probes a model file and reports its backend', async (t) => {
  const file = fixtureOrSkip(t, 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5');
  if (!file) {
    return;
  }
  let backend = '';
  const report = await client.run<ProbeReport>({ kind: 'probe', file, options: { batchSize: 8 }, backend: 'cpu' }, { onBackend: (b) => (backend = b.name) });
  assert.equal(backend, 'cpu');
  assert.equal(report.backend.name, 'cpu');
  assert.deepEqual(report.probe.layers.map((l) => l.layer), ['dense', 'dense_1', 'dense_2']);
  assert.equal(report.probe.lossName, 'binaryCrossentropy');
});

test('a MobileNet on the WebAssembly backend: the automatic batch fits its memory; a batch that does not is a clear error, and the next job gets a new worker', async (t) => {
  const file = fixtureOrSkip(t, 'keras-h5/teachable-machine-nested-keras2.4/keras_model.h5');
  if (!file) {
    return;
  }
  // 9.9 million output values per 224x224 sample: 16 samples fit in 2.5 GiB, 32 overrun the 4 GiB heap
  const fits = await client.run<ProbeReport>({ kind: 'probe', file, options: {}, backend: 'wasm' });
  assert.equal(fits.backend.name, 'wasm');
  assert.equal(fits.probe.batchSize, 16);
  assert.match(fits.batchReduced ?? '', /^16 instead of 32: about 152 MiB per sample/);
  assert.ok(fits.probe.layers.some((l) => l.gradNorm !== null && l.gradNorm > 0), 'gradients were measured');

  const overrun = await client.run<ProbeReport>({ kind: 'probe', file, options: { batchSize: 32 }, backend: 'wasm' }).catch((ex: unknown) => ex);
  assert.ok(WeightFileError.is(overrun, 'tooLarge'), String(overrun));
  assert.equal(
    overrun.message,
    `${file}: the WebAssembly backend ran out of memory (it has 4 GiB at most) probing batches of 32 samples; probe with a smaller batch (--batch), or on the cpu backend.`,
  );
  // The heap of that worker is unusable; the next job runs in a new one.
  const again = await client.run<ProbeReport>({ kind: 'probe', file, options: { batchSize: 2 }, backend: 'wasm' });
  assert.equal(again.probe.batchSize, 2);
  assert.ok(again.probe.layers.some((l) => l.gradNorm !== null && l.gradNorm > 0));
});

test('experiments run in the worker; cancelling stops a run and keeps its checkpoints', async () => {
  const out = makeTempDir();
  const events: { variant: string; event: TrainEvent }[] = [];
  const result = await client.run<ExperimentResult>({ kind: 'experiment', experiment: 'precision', outDir: out, epochs: 2, backend: 'cpu' }, { onEvent: (e) => events.push(e as never) });
  assert.deepEqual(result.variants.map((v) => v.name), ['float32', 'float16', 'int8 (uint8 affine)']);
  const [f32, f16, i8] = result.variants as [ExperimentResult['variants'][number], ExperimentResult['variants'][number], ExperimentResult['variants'][number]];
  assert.equal(f32.outputDrift, 0);
  assert.ok(f16.outputDrift! > 0 && f16.outputDrift! < i8.outputDrift!, `float16 ${f16.outputDrift} < int8 ${i8.outputDrift}`);
  assert.ok(fs.existsSync(path.join(out, 'precision', 'uint8', 'weights.bin')));
  assert.ok(events.some((e) => e.variant === 'float32' && e.event.type === 'epoch'));

  const controller = new AbortController();
  const run = client.run<ExperimentResult>(
    { kind: 'experiment', experiment: 'regularization', outDir: out, epochs: 200, backend: 'cpu' },
    { signal: controller.signal, onEvent: (e) => (e as { event: TrainEvent }).event.type === 'epoch' && controller.abort() },
  );
  const r = await run.catch((ex: unknown) => ex);
  // the run stops at the next step: either the variant finishes as cancelled or the job rejects as cancelled
  if (r instanceof Error) {
    assert.ok(WeightFileError.is(r, 'cancelled'), String(r));
  }
  assert.ok(fs.existsSync(path.join(out, 'regularization', 'plain', 'epoch-001', 'model.json')));
  assert.ok(!fs.existsSync(path.join(out, 'regularization', 'plain', 'epoch-010')));
});

test("an experiment job on the user's data file: layers sized from it in the worker; a file without class labels is refused", async () => {
  const out = makeTempDir();
  // two classes on a line: x < 0 is class 0, x >= 0 class 1 (three features, the last one noise-free zero)
  const rows = Array.from({ length: 40 }, (_, i) => ({ x: [i / 10 - 2, Math.cos(i), 0], y: i / 10 - 2 < 0 ? 0 : 1 }));
  const file = path.join(out, 'line.json');
  fs.writeFileSync(file, JSON.stringify(rows));
  const result = await client.run<ExperimentResult>({ kind: 'experiment', experiment: 'precision', outDir: out, epochs: 1, dataFile: file, backend: 'cpu' });
  assert.equal(result.data, 'line.json: 40 samples, 3 features, 2 classes');
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'precision', 'float16', 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
  assert.deepEqual(manifest.weightsManifest[0]!.weights.filter((w) => w.name.endsWith('kernel')).map((w) => w.shape), [[3, 64], [64, 64], [64, 2]]);

  const bad = path.join(out, 'regression.csv');
  fs.writeFileSync(bad, `a,b,target\n${Array.from({ length: 20 }, (_, i) => `${i},${i * 2},${i * 0.25}`).join('\n')}\n`);
  await assert.rejects(
    client.run({ kind: 'experiment', experiment: 'initialization', outDir: out, epochs: 1, dataFile: bad, backend: 'cpu' }),
    (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /regression\.csv holds the target 0\.25 in sample 2/.test((ex as Error).message),
  );
});
