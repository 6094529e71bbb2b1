import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import { initLayers } from '../../../src/runtime/backend';
import { writeTfjsModel } from '../../../src/runtime/tfjsArtifacts';
import { modelArtifacts } from '../../../src/runtime/training';
import { captureIo } from '../helpers/captureIo';
import { makeTempDir } from '../helpers/fixtures';

const dir = makeTempDir();
/** Inputs 'left' [3] and 'right' [2], concatenated into a 2-way softmax. */
const twoInputs = path.join(dir, 'two-inputs', 'model.json');
/** One input [3] -> Dense 'trunk' (4) -> a 2-way softmax 'classes' (the first output) and a linear 'score' (1). */
const twoOutputs = path.join(dir, 'two-outputs', 'model.json');

before(async () => {
  const { tf, tfl } = await initLayers({ preferred: 'cpu' });
  const left = tfl.input({ shape: [3], name: 'left' });
  const right = tfl.input({ shape: [2], name: 'right' });
  const joined = tfl.layers.concatenate().apply([left, right]) as ReturnType<typeof tfl.input>;
  const a = tfl.model({ inputs: [left, right], outputs: tfl.layers.dense({ units: 2, activation: 'softmax' }).apply(joined) as ReturnType<typeof tfl.input> });
  await writeTfjsModel(path.dirname(twoInputs), await modelArtifacts(tf, a));
  const x = tfl.input({ shape: [3] });
  const trunk = tfl.layers.dense({ units: 4, name: 'trunk' }).apply(x) as ReturnType<typeof tfl.input>;
  const classes = tfl.layers.dense({ units: 2, activation: 'softmax', name: 'classes' }).apply(trunk) as ReturnType<typeof tfl.input>;
  const score = tfl.layers.dense({ units: 1, name: 'score' }).apply(trunk) as ReturnType<typeof tfl.input>;
  const b = tfl.model({ inputs: x, outputs: [classes, score] });
  await writeTfjsModel(path.dirname(twoOutputs), await modelArtifacts(tf, b));
  a.dispose();
  b.dispose();
});

/** A run spec for `model` in a fresh folder: one short epoch on 16 synthetic samples into 'run'. */
function writeSpec(model: string): { dir: string; file: string } {
  const specDir = makeTempDir();
  const file = path.join(specDir, 'spec.json');
  fs.writeFileSync(file, JSON.stringify({ model, synthetic: { samples: 16, seed: 3 }, batchSize: 8, epochs: 1, outDir: 'run' }));
  return { dir: specDir, file };
}

test('probe and train refuse a model with two inputs with exit 2 and one sentence naming the file, and train creates no run folder', async () => {
  const probe = captureIo();
  assert.equal(await runCli(['probe', twoInputs, '--backend', 'cpu'], probe), 2);
  assert.deepEqual(probe.stderr, [`error[unsupportedFormat]: ${twoInputs} is a model with 2 inputs ('left', 'right'), and only a model with one input can be probed here.`]);
  const { dir: specDir, file } = writeSpec(twoInputs);
  const train = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'cpu'], train), 2);
  assert.deepEqual(train.stderr, [`error[unsupportedFormat]: ${twoInputs} is a model with 2 inputs ('left', 'right'), and only a model with one input can be trained here.`]);
  assert.equal(fs.existsSync(path.join(specDir, 'run')), false);
});

test('a model with two outputs is probed and trained on its first output: the softmax picks cross-entropy, the second head gets no gradient', async () => {
  const probe = captureIo();
  assert.equal(await runCli(['probe', twoOutputs, '--backend', 'cpu', '--batch', '8', '--json'], probe), 0, probe.stderr.join('\n'));
  const report = JSON.parse(probe.stdout.join('\n'));
  assert.equal(report.probe.lossName, 'categoricalCrossentropy');
  const layers = report.probe.layers as { layer: string; gradNorm: number | null; offLossPath?: boolean }[];
  const grad = Object.fromEntries(layers.map((l) => [l.layer, l.gradNorm]));
  assert.ok(grad['trunk']! > 0 && grad['classes']! > 0, JSON.stringify(grad));
  // The second head is off the loss's path: no gradient (null, not a measured 0), and marked so.
  assert.equal(grad['score'], null);
  assert.deepEqual(layers.filter((l) => l.offLossPath).map((l) => l.layer), ['score']);
  const { dir: specDir, file } = writeSpec(twoOutputs);
  const train = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'cpu'], train), 0, train.stderr.join('\n'));
  const run = JSON.parse(fs.readFileSync(path.join(specDir, 'run', 'run.json'), 'utf8'));
  assert.equal(run.loss, 'categoricalCrossentropy');
  assert.deepEqual(run.checkpoints, ['epoch-000', 'epoch-001']);
  assert.ok(Number.isFinite(run.history[0].loss), JSON.stringify(run.history));
});
