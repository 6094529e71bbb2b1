/**
 * Runs whose TF.js worker was stopped under them, whatever stopped it (a Cancel not answered in
 * time, the same restart stopping the other jobs, another job running out of WebAssembly memory,
 * the client disposed): every such job's error carries the worker's exit, and once the worker is
 * gone the temporary checkpoint folders of its runs are removed and the run.json of a run that was
 * still going records that it stopped. Against a stand-in worker that reports a run started and
 * then hangs (the files on disk are what such a run leaves), and once against the real worker.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { initLayers } from '../../../src/runtime/backend';
import { hardCancelMs, RuntimeClient, WorkerDisposedError, WorkerRestartedError, WorkerStoppedError, workerExitOf } from '../../../src/runtime/runtimeClient';
import type { RuntimeJob } from '../../../src/runtime/runtimeProtocol';
import { JobRuns } from '../../../src/runtime/stoppedRuns';
import type { RunSpec, TrainEvent } from '../../../src/runtime/training';
import { makeTempDir } from '../helpers/fixtures';
import { savedClassifier } from '../helpers/runtimeData';

const backend = { name: 'cpu', label: 'CPU (plain JavaScript)', fallbacks: [] };

/**
 * A worker that, for each job, reports the start of a run (a train job's in its spec's outDir, an
 * experiment's in `<outDir>/regularization/plain`) and its first epoch, then ignores everything,
 * Cancel included (a run stuck in a long step); a train job whose spec's model is 'oom.h5' then
 * fails as out of WebAssembly memory, which makes the worker unusable.
 */
function standInWorker(): string {
  const file = path.join(makeTempDir(), 'standInWorker.js');
  fs.writeFileSync(
    file,
    `const path = require('node:path');
const { parentPort } = require('node:worker_threads');
const backend = ${JSON.stringify(backend)};
parentPort.on('message', (m) => {
  if (m.type !== 'run') return;
  const { id, job } = m;
  parentPort.postMessage({ type: 'backend', id, backend });
  const train = job.kind === 'train';
  const runDir = train ? path.resolve(job.specDir, job.spec.outDir) : path.join(job.outDir, 'regularization', 'plain');
  const send = (event) => parentPort.postMessage({ type: 'event', id, event: train ? event : { variant: 'plain', event } });
  send({ type: 'start', runDir, backend, layers: ['dense'], samples: 32, validationSamples: 8, stepsPerEpoch: 2, loss: 'categoricalCrossentropy' });
  send({ type: 'epoch', epoch: 1, metrics: { loss: 1 }, checkpoint: path.join(runDir, 'epoch-001') });
  if (train && job.spec.model === 'oom.h5') {
    setTimeout(() => parentPort.postMessage({ type: 'error', id, error: { reason: 'tooLarge', message: 'the WebAssembly backend ran out of memory' }, unusable: true }), 100);
  }
});
`,
  );
  return file;
}

/** What a run's run.json holds after its first epoch (as training.ts writes it). */
function runFile(spec: object): Record<string, unknown> {
  return { spec, backend, loss: 'categoricalCrossentropy', history: [{ loss: 1 }], checkpoints: ['epoch-000', 'epoch-001'] };
}

/** `<runDir>` as a run stopped during the save of epoch 2 leaves it: run.json, two checkpoints, this process's temporary folder of the cut save, and another process's. */
function stoppedRunFolder(runDir: string, json: Record<string, unknown>): void {
  for (const name of ['epoch-000', 'epoch-001', `.epoch-002.tmp-${process.pid}`, '.epoch-002.tmp-999999999']) {
    fs.mkdirSync(path.join(runDir, name), { recursive: true });
    fs.writeFileSync(path.join(runDir, name, 'model.json'), '{}');
    fs.writeFileSync(path.join(runDir, name, 'weights.bin'), new Uint8Array(8));
  }
  fs.writeFileSync(path.join(runDir, 'run.json'), `${JSON.stringify(json, null, 2)}\n`);
  // the temporary files of run.json writes cut short: this process's and another's
  fs.writeFileSync(path.join(runDir, `run.json.${process.pid}.mx37p2rx1a2b.tmp`), '{');
  fs.writeFileSync(path.join(runDir, 'run.json.999999999.mx37p2rx1a2b.tmp'), '{');
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Runs `job`, feeding a JobRuns its events; resolves with the job's error (it must fail) and its runs once it has started. */
function startJob(client: RuntimeClient, job: RuntimeJob, signal?: AbortSignal): { started: Promise<void>; failed: Promise<unknown>; runs: JobRuns } {
  const runs = new JobRuns(job.kind === 'train' ? job.spec : undefined);
  let onStart = (): void => undefined;
  const started = new Promise<void>((resolve) => (onStart = resolve));
  const failed = client
    .run(job, {
      ...(signal ? { signal } : {}),
      onEvent: (e) => {
        const ev = (job.kind === 'train' ? e : (e as { event: unknown }).event) as TrainEvent;
        runs.onTrainEvent(ev);
        if (ev.type === 'start') {
          onStart();
        }
      },
    })
    .then(
      () => assert.fail('the job ended'),
      (ex: unknown) => ex,
    );
  return { started, failed, runs };
}

test('a restart to stop a job that ignored Cancel: each job it stopped carries the exit; their temporary checkpoint folders go and their run.json says stopped (cancelled, or interrupted for the others)', { timeout: hardCancelMs + 20_000 }, async () => {
  const dir = makeTempDir();
  const client = new RuntimeClient(standInWorker());
  try {
    const specA: RunSpec = { model: 'a.h5', epochs: 5, outDir: 'a' };
    const specB: RunSpec = { model: 'b.h5', epochs: 5, outDir: 'b' };
    stoppedRunFolder(path.join(dir, 'a'), runFile(specA));
    stoppedRunFolder(path.join(dir, 'b'), runFile(specB));
    const experiments = path.join(dir, 'experiments');
    const plain = path.join(experiments, 'regularization', 'plain');
    stoppedRunFolder(plain, runFile({ model: 'plain', epochs: 30, learningRate: 0.001 }));
    // the precision experiment's quantized folders are written beside its variants
    fs.mkdirSync(path.join(experiments, 'regularization', `.float16.tmp-${process.pid}`));
    fs.writeFileSync(path.join(experiments, 'regularization', `.float16.tmp-${process.pid}`, 'weights.bin'), new Uint8Array(4));

    const controller = new AbortController();
    const a = startJob(client, { kind: 'train', spec: specA, specDir: dir, backend: 'cpu' }, controller.signal);
    const b = startJob(client, { kind: 'train', spec: specB, specDir: dir, backend: 'cpu' });
    const c = startJob(client, { kind: 'experiment', experiment: 'regularization', outDir: experiments, backend: 'cpu' });
    await Promise.all([a.started, b.started, c.started]);
    controller.abort();
    const [exA, exB, exC] = await Promise.all([a.failed, b.failed, c.failed]);
    assert.ok(exA instanceof WorkerStoppedError, String(exA));
    for (const ex of [exB, exC]) {
      assert.ok(ex instanceof WorkerRestartedError, String(ex));
      assert.ok(!WeightFileError.is(ex, 'cancelled'), 'the other jobs were not cancelled by the user');
      assert.match(ex.message, /restarted to stop another job that did not respond to Cancel/);
      assert.ok(workerExitOf(ex) instanceof Promise);
    }
    await Promise.all([a.runs.afterFailure(exA), b.runs.afterFailure(exB), c.runs.afterFailure(exC)]);

    for (const run of ['a', 'b']) {
      // the cut save's folder goes; the checkpoints and another process's temporary folder stay
      assert.deepEqual(fs.readdirSync(path.join(dir, run)).sort(), ['.epoch-002.tmp-999999999', 'epoch-000', 'epoch-001', 'run.json', 'run.json.999999999.mx37p2rx1a2b.tmp']);
      assert.ok(fs.existsSync(path.join(dir, run, 'epoch-001', 'weights.bin')));
    }
    assert.deepEqual(readJson(path.join(dir, 'a', 'run.json')), { ...runFile(specA), stopped: 'cancelled' });
    assert.deepEqual(readJson(path.join(dir, 'b', 'run.json')), { ...runFile(specB), stopped: 'interrupted' });
    assert.deepEqual(fs.readdirSync(plain).sort(), ['.epoch-002.tmp-999999999', 'epoch-000', 'epoch-001', 'run.json', 'run.json.999999999.mx37p2rx1a2b.tmp']);
    assert.deepEqual(fs.readdirSync(path.join(experiments, 'regularization')), ['plain']);
    assert.deepEqual(readJson(path.join(plain, 'run.json')), { ...runFile({ model: 'plain', epochs: 30, learningRate: 0.001 }), stopped: 'interrupted' });
  } finally {
    await client.dispose();
  }
});

test('a worker replaced after another job ran out of WebAssembly memory: the job it stopped carries the exit, and its run is tidied and marked interrupted', async () => {
  const dir = makeTempDir();
  const client = new RuntimeClient(standInWorker());
  try {
    const spec: RunSpec = { model: 'small.h5', epochs: 5, outDir: 'small' };
    stoppedRunFolder(path.join(dir, 'small'), runFile(spec));
    const stopped = startJob(client, { kind: 'train', spec, specDir: dir, backend: 'wasm' });
    await stopped.started;
    const oom = await client.run({ kind: 'train', spec: { model: 'oom.h5', outDir: 'oom' }, specDir: dir, backend: 'wasm' }).catch((ex: unknown) => ex);
    assert.ok(WeightFileError.is(oom, 'tooLarge'), String(oom));
    const ex = await stopped.failed;
    assert.ok(ex instanceof WorkerRestartedError, String(ex));
    assert.match(ex.message, /ran out of WebAssembly memory in another job/);
    await stopped.runs.afterFailure(ex);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'small')).sort(), ['.epoch-002.tmp-999999999', 'epoch-000', 'epoch-001', 'run.json', 'run.json.999999999.mx37p2rx1a2b.tmp']);
    assert.deepEqual(readJson(path.join(dir, 'small', 'run.json')), { ...runFile(spec), stopped: 'interrupted' });
  } finally {
    await client.dispose();
  }
});

test('the client disposed (the extension shutting down): its jobs end as cancelled with the exit; only a run.json that is still the run record of a run going is marked, and a removed folder is not made again', async () => {
  const dir = makeTempDir();
  const client = new RuntimeClient(standInWorker());
  const spec = (name: string, epochs = 5): RunSpec => ({ model: `${name}.h5`, epochs, outDir: name });
  // going: marked. other: its run.json is another run's (another spec). removed: the folder is gone.
  // marked: its run.json says stopped already. finished: it trained every epoch (only its done event was lost).
  stoppedRunFolder(path.join(dir, 'going'), runFile(spec('going')));
  stoppedRunFolder(path.join(dir, 'other'), runFile({ ...spec('other'), learningRate: 0.5 }));
  stoppedRunFolder(path.join(dir, 'marked'), { ...runFile(spec('marked')), stopped: 'nonFinite' });
  stoppedRunFolder(path.join(dir, 'finished'), runFile(spec('finished', 1)));
  // a run that took its folder and was stopped before its first checkpoint: run.json as takeRunDir writes it
  fs.mkdirSync(path.join(dir, 'claimed', `.epoch-000.tmp-${process.pid}`), { recursive: true });
  fs.writeFileSync(path.join(dir, 'claimed', 'run.json'), `${JSON.stringify({ spec: spec('claimed'), history: [], checkpoints: [] }, null, 2)}\n`);
  const before = (name: string): string => fs.readFileSync(path.join(dir, name, 'run.json'), 'utf8');
  const kept = Object.fromEntries(['other', 'marked', 'finished'].map((n) => [n, before(n)]));
  const jobs = Object.fromEntries(
    ['going', 'other', 'removed', 'marked', 'finished'].map((n) => [n, startJob(client, { kind: 'train', spec: spec(n, n === 'finished' ? 1 : 5), specDir: dir, backend: 'cpu' })]),
  );
  // the claimed run reported no epoch: a stand-in event stream of its own
  const claimed = new JobRuns(spec('claimed'));
  claimed.onTrainEvent({ type: 'start', runDir: path.join(dir, 'claimed'), backend: { name: 'cpu', label: backend.label, fallbacks: [] }, layers: [], samples: 1, validationSamples: 0, stepsPerEpoch: 1, loss: 'meanSquaredError' });
  await Promise.all(Object.values(jobs).map((j) => j.started));
  await client.dispose();
  const errors = await Promise.all(Object.values(jobs).map((j) => j.failed));
  for (const ex of errors) {
    assert.ok(ex instanceof WorkerDisposedError && WeightFileError.is(ex, 'cancelled'), String(ex));
    assert.ok(workerExitOf(ex) instanceof Promise);
  }
  await Promise.all(Object.values(jobs).map((j, i) => j.runs.afterFailure(errors[i])));
  await claimed.afterFailure(errors[0]);

  assert.deepEqual(readJson(path.join(dir, 'going', 'run.json')), { ...runFile(spec('going')), stopped: 'interrupted' });
  for (const n of ['other', 'marked', 'finished']) {
    assert.equal(before(n), kept[n], `${n}/run.json is left as it was`);
    assert.ok(!fs.existsSync(path.join(dir, n, `.epoch-002.tmp-${process.pid}`)), `${n}: the temporary folder still goes`);
  }
  assert.ok(!fs.existsSync(path.join(dir, 'removed')), 'a removed run folder is not made again');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'claimed')), ['run.json']);
  assert.deepEqual(readJson(path.join(dir, 'claimed', 'run.json')), { spec: spec('claimed'), history: [], checkpoints: [], stopped: 'interrupted' });
});

test('a job that failed for another reason, or that did not start a run, is left alone', async () => {
  const dir = makeTempDir();
  const spec: RunSpec = { model: 'm.h5', epochs: 5, outDir: 'run' };
  stoppedRunFolder(path.join(dir, 'run'), runFile(spec));
  const runs = new JobRuns(spec);
  runs.onTrainEvent({ type: 'start', runDir: path.join(dir, 'run'), backend: { name: 'cpu', label: backend.label, fallbacks: [] }, layers: [], samples: 1, validationSamples: 0, stepsPerEpoch: 1, loss: 'meanSquaredError' });
  await runs.afterFailure(new WeightFileError('cancelled', 'The operation was cancelled.'));
  await runs.afterFailure(new Error('boom'));
  assert.ok(fs.existsSync(path.join(dir, 'run', `.epoch-002.tmp-${process.pid}`)));
  assert.deepEqual(readJson(path.join(dir, 'run', 'run.json')), runFile(spec));
});

test('the real worker disposed during a training run: run.json records it interrupted, the checkpoints written stay, no temporary folder is left', async () => {
  const { tf, tfl } = await initLayers({ preferred: 'cpu' });
  const dir = await savedClassifier(tf, tfl, 8);
  // out/test/unit/runtime -> out/src/runtime/tfWorker.js
  const client = new RuntimeClient(path.join(__dirname, '..', '..', '..', 'src', 'runtime', 'tfWorker.js'));
  const spec: RunSpec = { model: 'model/model.json', synthetic: { samples: 4096, seed: 3 }, batchSize: 8, epochs: 50, optimizer: 'sgd', outDir: 'run' };
  const runs = new JobRuns(spec);
  let disposed: Promise<void> | undefined;
  const ex = await client
    .run({ kind: 'train', spec, specDir: dir, backend: 'cpu' }, {
      onEvent: (e) => {
        runs.onTrainEvent(e as TrainEvent);
        if ((e as TrainEvent).type === 'epoch') {
          disposed ??= client.dispose();
        }
      },
    })
    .then(
      () => assert.fail('the run ended'),
      (e: unknown) => e,
    );
  await disposed;
  assert.ok(ex instanceof WorkerDisposedError, String(ex));
  await runs.afterFailure(ex);
  const runDir = path.join(dir, 'run');
  const json = readJson(path.join(runDir, 'run.json')) as { stopped?: string; checkpoints: string[]; history: unknown[] };
  assert.equal(json.stopped, 'interrupted');
  assert.ok(json.checkpoints.length >= 2 && json.checkpoints.length < 51, json.checkpoints.join(', '));
  assert.deepEqual(fs.readdirSync(runDir).filter((n) => n.startsWith('.')), []);
  for (const c of json.checkpoints) {
    assert.ok(fs.existsSync(path.join(runDir, c, 'model.json')), c);
  }
});
