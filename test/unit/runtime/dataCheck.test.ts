import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import { WeightFileError } from '../../../src/core/errors';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { checkDataForModel } from '../../../src/runtime/dataCheck';
import type { DataSet } from '../../../src/runtime/dataLoader';
import type { LossName } from '../../../src/runtime/probe';
import { captureIo } from '../helpers/captureIo';
import { makeTempDir } from '../helpers/fixtures';
import { saveModel, writeNpz } from '../helpers/runtimeData';

let tf: Tf;
let tfl: Tfl;
before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

/** A Dense model of 2 inputs and `units` outputs with the given activation. */
function dense(units: number, activation: 'softmax' | 'sigmoid' | 'linear') {
  return tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [2], units, activation })] });
}

/** 4 samples of 2 features with targets `y` of shape `yShape`, as the loader names an .npz's arrays. */
function data(y: number[], yShape: number[]): DataSet {
  return { x: new Float32Array(8), xShape: [4, 2], y: Float32Array.from(y), yShape, source: 'd.npz', xName: 'x', yName: 'y' };
}

/** The message of the corrupt error checkDataForModel throws, or undefined when it passes. */
function problem(model: ReturnType<typeof dense>, d: DataSet, loss: LossName): string | undefined {
  try {
    checkDataForModel(d, model, loss, 'd.npz');
    return undefined;
  } catch (ex) {
    assert.ok(WeightFileError.is(ex, 'corrupt'), String(ex));
    assert.ok(ex.message.startsWith('d.npz: '), ex.message);
    return ex.message;
  }
}

test('class ids must be whole numbers in [0, k-1] for a k-class output, with the sparse and the categorical loss', () => {
  const m = dense(3, 'softmax');
  for (const loss of ['sparseCategoricalCrossentropy', 'categoricalCrossentropy'] as const) {
    assert.equal(problem(m, data([0, 1, 2, 1], [4]), loss), undefined);
    assert.equal(problem(m, data([0, 1, 2, 1], [4, 1]), loss), undefined);
    assert.match(problem(m, data([0, 1, 5, 1], [4]), loss)!, /the targets hold 5 at 'y'\[2\] \(sample 2, counting from 0\), but .* takes class ids \(whole numbers from 0 to 2\) or one-hot rows of 3 columns/);
    assert.match(problem(m, data([0, -1, 2, 1], [4]), loss)!, /hold -1 at 'y'\[1\]/);
    assert.match(problem(m, data([0.5, 1, 2, 1], [4]), loss)!, /hold 0.5 at 'y'\[0\]/);
  }
  m.dispose();
});

test('one-hot rows must be exactly k columns of 0/1 with a single 1; a 1-unit sigmoid takes values in [0, 1]; regression targets match the output', () => {
  const m = dense(3, 'softmax');
  const oneHot = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0];
  for (const loss of ['sparseCategoricalCrossentropy', 'categoricalCrossentropy'] as const) {
    assert.equal(problem(m, data(oneHot, [4, 3]), loss), undefined);
    const five = Array.from({ length: 20 }, (_, i) => (i % 5 === i % 4 ? 1 : 0));
    assert.match(problem(m, data(five, [4, 5]), loss)!, /the targets \('y'\) have shape \[5\] per sample, but .* output of shape \[3\] takes class ids .* or one-hot rows of 3 columns/);
    const twoOnes = [...oneHot];
    twoOnes[7] = 1; // row 2 (indices 6..8) becomes [0, 1, 1]
    assert.match(problem(m, data(twoOnes, [4, 3]), loss)!, /a row of 2 ones at 'y'\[2, 0\]/);
    const soft = [...oneHot];
    soft[3] = 0.5; // row 1 = [0.5, 1, 0]
    assert.match(problem(m, data(soft, [4, 3]), loss)!, /hold 0.5 at 'y'\[1, 0\]/);
  }
  m.dispose();
  const binary = dense(1, 'sigmoid');
  assert.equal(problem(binary, data([0, 1, 1, 0], [4]), 'binaryCrossentropy'), undefined);
  assert.equal(problem(binary, data([0, 0.25, 1, 0], [4, 1]), 'binaryCrossentropy'), undefined);
  assert.match(problem(binary, data([0, 7, 1, 0], [4]), 'binaryCrossentropy')!, /hold 7 at 'y'\[1\] \(sample 1, counting from 0\), but binaryCrossentropy .* takes values from 0 to 1/);
  assert.match(problem(binary, data([1, 0, 0, 1, 1, 0, 0, 1], [4, 2]), 'binaryCrossentropy')!, /have shape \[2\] per sample, but .* output of shape \[1\] takes one value from 0 to 1 per output value/);
  binary.dispose();
  const regression = dense(4, 'linear');
  assert.equal(problem(regression, data(Array.from({ length: 16 }, (_, i) => i - 8), [4, 4]), 'meanSquaredError'), undefined);
  assert.match(problem(regression, data(Array.from({ length: 28 }, () => 0.5), [4, 7]), 'meanSquaredError')!, /have shape \[7\] per sample, but meanSquaredError on the model's output of shape \[4\] takes one value per output value/);
  assert.match(problem(regression, data([1, 2, 3, 4], [4]), 'meanSquaredError')!, /have shape \[\] per sample/);
  regression.dispose();
});

test('inputs of a model whose input feeds an Embedding must be whole indices below its input_dim', () => {
  const m = tfl.sequential({ layers: [tfl.layers.embedding({ inputDim: 100, outputDim: 2, inputLength: 2 }), tfl.layers.flatten(), tfl.layers.dense({ units: 1 })] });
  const withX = (x: number[]): DataSet => ({ ...data([0, 0, 0, 0], [4, 1]), x: Float32Array.from(x) });
  assert.equal(problem(m, withX([0, 99, 5, 6, 7, 8, 9, 10]), 'meanSquaredError'), undefined);
  assert.match(problem(m, withX([0, 99, 5, 149, 7, 8, 9, 10]), 'meanSquaredError')!, /the inputs hold 149 at 'x'\[1, 1\] \(sample 1, counting from 0\), but the model's input takes indices .* of 100: whole numbers from 0 to 99/);
  assert.match(problem(m, withX([0, 1, 2, 3, 4, -1, 9, 10]), 'meanSquaredError')!, /hold -1 at 'x'\[2, 1\]/);
  assert.match(problem(m, withX([0, 1, 2, 3, 4, 5, 6, 2.5]), 'meanSquaredError')!, /hold 2.5 at 'x'\[3, 1\]/);
  m.dispose();
});

test('CLI: probe and train on targets that do not fit exit 2 with error[corrupt] (no internal error), and train leaves no run folder, so a corrected rerun goes on', async () => {
  const dir = makeTempDir();
  const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [2], units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })] });
  await saveModel(tf, m, path.join(dir, 'model'));
  const x = { shape: [4, 2], values: [0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8] };
  const five = writeNpz(path.join(dir, 'onehot5.npz'), { x, y: { shape: [4, 5], values: [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1] } });
  const probe = captureIo();
  assert.equal(await runCli(['probe', path.join(dir, 'model', 'model.json'), '--data', five, '--backend', 'cpu'], probe), 2);
  assert.equal(probe.stderr.length, 1, probe.stderr.join('\n'));
  assert.match(probe.stderr[0]!, /^error\[corrupt\]: .*onehot5\.npz: the targets \('y'\) have shape \[5\] per sample/);
  const spec = path.join(dir, 'spec.json');
  fs.writeFileSync(spec, JSON.stringify({ model: 'model/model.json', data: 'onehot5.npz', epochs: 1, batchSize: 2, outDir: 'run' }));
  const train = captureIo();
  assert.equal(await runCli(['train', spec, '--backend', 'cpu'], train), 2);
  assert.match(train.stderr[0]!, /^error\[corrupt\]: .*onehot5\.npz: the targets/);
  assert.equal(fs.existsSync(path.join(dir, 'run')), false);
  writeNpz(path.join(dir, 'onehot5.npz'), { x, y: { descr: '<i8', shape: [4], values: [0, 1, 2, 2] } });
  const again = captureIo();
  assert.equal(await runCli(['train', spec, '--backend', 'cpu'], again), 0, again.stderr.join('\n'));
  assert.ok(fs.existsSync(path.join(dir, 'run', 'epoch-001', 'model.json')));
});
