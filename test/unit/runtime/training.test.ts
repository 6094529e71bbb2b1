import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { readAllValues } from '../../../src/core/tensorData';
import { openLocalPath } from '../../../src/formats/registry';
import { runCli } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/io';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { loadDataSet, parseCsv, parseJsonData } from '../../../src/runtime/dataLoader';
import { readRunSpec, trainFromSpec } from '../../../src/runtime/runSpec';
import { modelArtifacts, syntheticDataFor, type TrainEvent } from '../../../src/runtime/training';
import { writeTfjsModel } from '../../../src/runtime/tfjsArtifacts';
import { makeTempDir } from '../helpers/fixtures';
import { savedClassifier, saveModel } from '../helpers/runtimeData';

let tf: Tf;
let tfl: Tfl;
before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

const tinyModel = (): Promise<string> => savedClassifier(tf, tfl, 16);

function writeSpec(dir: string, spec: Record<string, unknown>): string {
  const file = path.join(dir, 'spec.json');
  fs.writeFileSync(file, JSON.stringify({ model: 'model/model.json', synthetic: { samples: 96, seed: 3 }, batchSize: 16, ...spec }));
  return file;
}

async function metadata(dir: string): Promise<Record<string, unknown>> {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { userDefinedMetadata: { weightscope: Record<string, unknown> } };
  return json.userDefinedMetadata.weightscope;
}

test('a training run writes a checkpoint per epoch with metadata, and learns', async () => {
  const dir = await tinyModel();
  const file = writeSpec(dir, { epochs: 3, optimizer: 'sgd', learningRate: 0.1, outDir: 'run' });
  const events: TrainEvent[] = [];
  const done = await trainFromSpec(await readRunSpec(file), dir, { backend: 'cpu', onEvent: (e) => events.push(e) });
  assert.equal(done.stopped, undefined);
  assert.deepEqual(done.checkpoints.map((c) => path.basename(c)), ['epoch-000', 'epoch-001', 'epoch-002', 'epoch-003']);
  const meta = await Promise.all(done.checkpoints.map(metadata));
  assert.deepEqual(meta.map((m) => m['epoch']), [0, 1, 2, 3]);
  assert.deepEqual(meta.map((m) => m['parent']), [null, 'epoch-000', 'epoch-001', 'epoch-002']);
  assert.ok(meta.every((m) => m['backend'] === 'cpu' && typeof m['time'] === 'string'));
  const losses = done.history.map((h) => h.loss!);
  assert.ok(losses[2]! < losses[0]!, `loss should fall: ${losses.join(', ')}`);
  assert.ok(done.history.every((h) => typeof h.val_loss === 'number' && typeof h.acc === 'number'));
  assert.ok(events.some((e) => e.type === 'step' && e.layers.length === 2 && e.layers.every((l) => (l.updateRatio ?? 0) > 0)));
  assert.equal(events[0]!.type, 'start');
  assert.equal(events.at(-1)!.type, 'done');
  // checkpoints are readable by the TF.js reader and their weights moved
  const first = await openLocalPath(path.join(done.checkpoints[0]!, 'model.json'));
  const last = await openLocalPath(path.join(done.checkpoints[3]!, 'model.json'));
  const a = await readAllValues(first.tensors[0]!);
  const b = await readAllValues(last.tensors[0]!);
  assert.notDeepEqual(Array.from(a), Array.from(b));
  await first.close();
  await last.close();
  const run = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'run.json'), 'utf8')) as { history: unknown[] };
  assert.equal(run.history.length, 3);
});

test('the same spec on the CPU backend gives bit-identical checkpoints', async () => {
  const dir = await tinyModel();
  const w: Float64Array[] = [];
  for (const out of ['a', 'b']) {
    const file = writeSpec(dir, { epochs: 1, outDir: out });
    const done = await trainFromSpec(await readRunSpec(file), dir, { backend: 'cpu' });
    const f = await openLocalPath(path.join(done.checkpoints[1]!, 'model.json'));
    w.push(await readAllValues(f.tensors[0]!));
    await f.close();
  }
  assert.deepEqual(Array.from(w[0]!), Array.from(w[1]!));
});

test('cancelling keeps the checkpoints written so far; an exploding run stops itself', async () => {
  const dir = await tinyModel();
  const controller = new AbortController();
  const done = await trainFromSpec(await readRunSpec(writeSpec(dir, { epochs: 50, outDir: 'cancel' })), dir, {
    backend: 'cpu',
    signal: controller.signal,
    onEvent: (e) => e.type === 'epoch' && e.epoch === 2 && controller.abort(),
  });
  assert.equal(done.stopped, 'cancelled');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'cancel')).sort(), ['epoch-000', 'epoch-001', 'epoch-002', 'run.json']);
  const warnings: TrainEvent[] = [];
  const boom = await trainFromSpec(await readRunSpec(writeSpec(dir, { epochs: 5, optimizer: 'sgd', learningRate: 10000, loss: 'meanSquaredError', outDir: 'boom' })), dir, {
    backend: 'cpu',
    onEvent: (e) => e.type === 'warning' && warnings.push(e),
  });
  assert.ok(boom.stopped === 'exploding' || boom.stopped === 'nonFinite', String(boom.stopped));
  assert.ok(warnings.length > 0);
  assert.ok(boom.checkpoints.length < 6);
});

test('bad run specs are refused with the field named', async () => {
  const dir = makeTempDir();
  const file = path.join(dir, 'spec.json');
  fs.writeFileSync(file, JSON.stringify({ model: 'm.json', learningRate: -1 }));
  await assert.rejects(readRunSpec(file), /"learningRate" is -1/);
  fs.writeFileSync(file, '{"model": ');
  await assert.rejects(readRunSpec(file), (ex: Error & { reason?: string }) => ex.reason === 'corrupt');
  // Every field of the wrong type or out of range is a corrupt spec naming the field, never a crash later.
  const cases: [Record<string, unknown>, string][] = [
    [{ data: 5 }, '"data" is 5; expected a path.'],
    [{ outDir: '' }, '"outDir" is ""; expected a path.'],
    [{ stopOnNonFinite: 'yes' }, '"stopOnNonFinite" is "yes"; expected true or false.'],
    [{ epochs: 1.5 }, '"epochs" is 1.5; expected a whole number in [1, 100000].'],
    [{ batchSize: 0 }, '"batchSize" is 0; expected a whole number in [1, 1048576].'],
    [{ synthetic: 5 }, '"synthetic" is 5; expected an object of optional samples'],
    [{ synthetic: { samples: 'abc' } }, '"synthetic" is {"samples":"abc"}; expected'],
    [{ synthetic: { samples: -3 } }, '"synthetic" is {"samples":-3}; expected'],
    [{ synthetic: { samples: 2 ** 21 } }, '"synthetic" is {"samples":2097152}; expected'],
    [{ synthetic: { spread: Number.MAX_VALUE } }, '"synthetic" is {"spread":1.7976931348623157e+308}; expected'],
  ];
  for (const [fields, message] of cases) {
    fs.writeFileSync(file, JSON.stringify({ model: 'm.json', ...fields }));
    await assert.rejects(readRunSpec(file), (ex: Error & { reason?: string }) => ex.reason === 'corrupt' && ex.message.startsWith(`${file}: ${message}`), JSON.stringify(fields));
  }
  fs.writeFileSync(file, JSON.stringify({ model: 'm.json', data: 'd.csv', outDir: 'run', stopOnNonFinite: false, epochs: 2, synthetic: { samples: 10, seed: 0, spread: 0.5 } }));
  assert.equal((await readRunSpec(file)).epochs, 2);
});

test('synthetic data that would not fit in memory is refused before anything is allocated', async () => {
  const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [150528], units: 1, kernelInitializer: 'zeros' })] });
  try {
    assert.throws(
      () => syntheticDataFor(m, { model: 'm', synthetic: { samples: 4096 } }),
      (ex: Error & { reason?: string }) =>
        ex.reason === 'tooLarge' &&
        ex.message === 'Synthetic data of 4096 samples of 150528 inputs and 2 classes would take 2355 MiB (at most 2048 MiB); ask for fewer "synthetic" samples or give "data".',
    );
    assert.deepEqual(syntheticDataFor(m, { model: 'm', synthetic: { samples: 4 } }).xShape, [4, 150528]);
  } finally {
    m.dispose();
  }
});

test('data files: CSV with a label column, JSON, .npy', async () => {
  const csv = parseCsv('a,label,b\n1,0,2\n3,1,4\n', 'd.csv');
  assert.deepEqual(Array.from(csv.x), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(csv.y!), [0, 1]);
  assert.deepEqual(csv.xShape, [2, 2]);
  assert.throws(() => parseCsv('1,2\n3,x\n', 'd.csv'), /line 2 holds 'x'/);
  const json = parseJsonData('{"x": [[1, 2], [3, 4], [5, 6]], "y": [[1], [0], [1]]}', 'd.json');
  assert.deepEqual(json.xShape, [3, 2]);
  assert.deepEqual(json.yShape, [3, 1]);
  assert.throws(() => parseJsonData('{"x": [[1, 2], [3]]}', 'd.json'), /ragged array in 'x': x\[1\] has 1 entry, x\[0\] has 2/);
  // .npy written by hand (format 1.0, '<f4', shape (2, 3))
  const dir = makeTempDir();
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const pad = 64 - ((10 + header.length + 1) % 64);
  const head = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0]), Buffer.alloc(2), Buffer.from(`${header}${' '.repeat(pad)}\n`)]);
  head.writeUInt16LE(head.length - 10, 8);
  const npy = path.join(dir, 'x.npy');
  fs.writeFileSync(npy, Buffer.concat([head, Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)]));
  const set = await loadDataSet(npy);
  assert.deepEqual(set.xShape, [2, 3]);
  assert.deepEqual(Array.from(set.x), [1, 2, 3, 4, 5, 6]);
});

test('CLI: probe --json and train print the backend and results', async () => {
  const dir = await tinyModel();
  const out: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => out.push(t), progress: () => () => undefined };
  assert.equal(await runCli(['probe', path.join(dir, 'model', 'model.json'), '--json', '--backend', 'cpu', '--batch', '8'], io), 0);
  const report = JSON.parse(out.join('\n')) as { backend: { name: string }; probe: { layers: { layer: string; gradNorm: number }[] } };
  assert.equal(report.backend.name, 'cpu');
  assert.deepEqual(report.probe.layers.map((l) => l.layer), ['hidden', 'out']);
  assert.ok(report.probe.layers.every((l) => l.gradNorm > 0));
  out.length = 0;
  assert.equal(await runCli(['train', writeSpec(dir, { epochs: 1, outDir: 'cli' }), '--backend', 'cpu'], io), 0);
  assert.match(out.join('\n'), /backend: CPU/);
  assert.match(out.join('\n'), /epoch 1: loss [0-9.]+ acc [0-9.]+ val_loss/);
  assert.ok(fs.existsSync(path.join(dir, 'cli', 'epoch-001', 'weights.bin')));
});

test('an l2 override adds its penalty for layers inside a nested model too', async () => {
  // a Functional model wrapping a Sequential base: the Dense layers are all inside the base
  const base = tfl.sequential({ name: 'base' });
  base.add(tfl.layers.dense({ inputShape: [6], units: 16, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), name: 'hidden' }));
  base.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }), name: 'out' }));
  const input = tfl.input({ shape: [6] });
  const outer = tfl.model({ inputs: input, outputs: base.apply(input) as ReturnType<typeof tfl.input>, name: 'outer' });
  const dir = makeTempDir();
  await writeTfjsModel(path.join(dir, 'model'), await modelArtifacts(tf, outer));
  // The l2 penalty of 1 x the kernels' squared sum, summed here in plain arithmetic.
  let squares = 0;
  for (const w of outer.getWeights().filter((_, i) => i % 2 === 0)) {
    for (const v of w.dataSync()) {
      squares += v * v;
    }
  }
  outer.dispose();
  const lossWith = async (spec: Record<string, unknown>): Promise<{ loss: number; valLoss: number }> => {
    const file = writeSpec(dir, { epochs: 1, optimizer: 'sgd', learningRate: 1e-6, outDir: `run-${Object.keys(spec).join('') || 'plain'}`, ...spec });
    const done = await trainFromSpec(await readRunSpec(file), dir, { backend: 'cpu' });
    return { loss: done.history[0]!.loss!, valLoss: done.history[0]!.val_loss! };
  };
  const plain = await lossWith({});
  const penalized = await lossWith({ l2: 1 });
  // the kernels' squared sum is well above 1, so an l2 of 1 raises the loss by more than 1
  assert.ok(squares > 1 && penalized.loss > plain.loss + 1, `loss ${penalized.loss} with l2 = 1, ${plain.loss} without`);
  // The validation loss carries the penalty too, as Keras reports it (a learning rate of 1e-6 barely moves the kernels).
  assert.ok(Math.abs(penalized.valLoss - plain.valLoss - squares) <= 1e-3 * squares, `val_loss ${penalized.valLoss} with l2 = 1, ${plain.valLoss} without, penalty ${squares}`);
});

test('synthetic data refused for the model leaves the run folder alone: no folder is made, --overwrite deletes nothing', async () => {
  const dir = await tinyModel();
  const earlier = await trainFromSpec(await readRunSpec(writeSpec(dir, { epochs: 1, outDir: 'run' })), dir, { backend: 'cpu' });
  const before = fs.readdirSync(path.join(dir, 'run')).sort();
  assert.deepEqual(earlier.checkpoints.map((c) => path.basename(c)), ['epoch-000', 'epoch-001']);
  // a model whose output is [batch, 2, 2]: synthetic data is made only for [batch, units]
  const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [6], units: 4, name: 'd' }), tfl.layers.reshape({ targetShape: [2, 2] })] });
  await saveModel(tf, m, path.join(dir, 'grid'));
  for (const [outDir, overwrite] of [['run', true], ['fresh', false]] as const) {
    const spec = await readRunSpec(writeSpec(dir, { model: 'grid/model.json', epochs: 1, outDir }));
    await assert.rejects(trainFromSpec(spec, dir, { backend: 'cpu', overwrite }), /synthetic data is made for a model whose output is \[batch, units\]/);
  }
  assert.deepEqual(fs.readdirSync(path.join(dir, 'run')).sort(), before, 'the earlier run is kept');
  assert.equal(fs.existsSync(path.join(dir, 'fresh')), false, 'no empty run folder is left');
});
