import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import { initLayers } from '../../../src/runtime/backend';
import { captureIo } from '../helpers/captureIo';
import { makeTempDir, repoRoot } from '../helpers/fixtures';
import { saveModel, skipWithTfjsNode, writeNpy } from '../helpers/runtimeData';

/** The 784-128-128-10 example classifier (examples/initialization). */
const model = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');

test('probe --data with a missing file exits 2 with error[notFound] naming the file', async () => {
  const missing = path.join(makeTempDir(), 'nonexistent.npy');
  const io = captureIo();
  assert.equal(await runCli(['probe', model, '--data', missing, '--backend', 'cpu'], io), 2);
  assert.equal(io.stderr.length, 1, io.stderr.join('\n'));
  assert.equal(io.stderr[0], `error[notFound]: ${missing}: the file does not exist or cannot be read.`);
});

test('probe --data whose samples do not fit the model input exits 2 naming the file and both shapes', async () => {
  const dir = makeTempDir();
  const narrow = writeNpy(path.join(dir, 'x10.npy'), [5, 10]);
  const io = captureIo();
  assert.equal(await runCli(['probe', model, '--data', narrow, '--backend', 'cpu'], io), 2);
  assert.equal(io.stderr.length, 1, io.stderr.join('\n'));
  assert.equal(io.stderr[0], `error[corrupt]: ${narrow} holds samples of shape [10] but the model's input takes samples of shape [784].`);
  // samples of 28 x 28 = 784 values are laid out as the input's 784
  const images = writeNpy(path.join(dir, 'images.npy'), [3, 28, 28]);
  const ok = captureIo();
  assert.equal(await runCli(['probe', model, '--data', images, '--backend', 'cpu', '--json'], ok), 0, ok.stderr.join('\n'));
  const report = JSON.parse(ok.stdout.join('\n'));
  assert.equal(report.probe.inputSource, 'data');
  assert.equal(report.probe.batchSize, 3);
  // The .npy holds inputs only: the loss is taken against synthetic targets, which the report says.
  assert.equal(report.probe.targetSource, 'synthetic');
  const table = captureIo();
  assert.equal(await runCli(['probe', model, '--data', images, '--backend', 'cpu'], table), 0, table.stderr.join('\n'));
  assert.match(table.stdout.join('\n'), /batch: 3 from data, synthetic targets \(the data has none\)  lr:/);
});

test('probe --backend tensorflow without tfjs-node warns once on stderr naming the backend in use, which the JSON keeps', skipWithTfjsNode, async () => {
  const io = captureIo();
  assert.equal(await runCli(['probe', model, '--backend', 'tensorflow', '--batch', '4', '--json'], io), 0, io.stderr.join('\n'));
  const report = JSON.parse(io.stdout.join('\n'));
  assert.notEqual(report.backend.name, 'tensorflow');
  assert.equal(report.backend.requested, 'tensorflow');
  assert.equal(io.stderr.length, 1, io.stderr.join('\n'));
  assert.match(io.stderr[0]!, /^warning\[backend\]: The tensorflow backend was asked for but .+ is used: tfjs-node is not installed/);
  assert.ok(io.stderr[0]!.includes(` ${report.backend.label} is used`), io.stderr[0]);
  // a backend that is available gives no warning
  const cpu = captureIo();
  assert.equal(await runCli(['probe', model, '--backend', 'cpu', '--batch', '4', '--json'], cpu), 0);
  assert.deepEqual(cpu.stderr, []);
  assert.equal(JSON.parse(cpu.stdout.join('\n')).backend.requested, 'cpu');
});

test('probe --data with JSON nested deeper than 512 levels exits 2 with error[corrupt] naming the file, not a stack overflow', async () => {
  const deep = path.join(makeTempDir(), 'deep.json');
  fs.writeFileSync(deep, `{"x": ${'['.repeat(200_000)}1${']'.repeat(200_000)}}`);
  const io = captureIo();
  assert.equal(await runCli(['probe', model, '--data', deep, '--backend', 'cpu'], io), 2);
  assert.deepEqual(io.stderr, [`error[corrupt]: ${deep} is not valid JSON (nested 200001 levels deep, more than the 512 accepted).`]);
});

test('probe’s forecast from the weights alone is the one check makes, normalization layers included', async () => {
  const { tf, tfl } = await initLayers({ preferred: 'cpu' });
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [8], units: 32, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), name: 'hidden1' }));
  // a gamma of 3 makes the normalization's reset of the scale (E[gamma^2] = 9) show in the forecast
  m.add(tfl.layers.batchNormalization({ gammaInitializer: tfl.initializers.constant({ value: 3 }), name: 'bn' }));
  m.add(tfl.layers.dense({ units: 32, activation: 'relu', kernelInitializer: tfl.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed: 2 }), name: 'hidden2' }));
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }), name: 'out' }));
  const file = await saveModel(tf, m, path.join(makeTempDir(), 'model'));
  const checked = captureIo();
  assert.equal(await runCli(['check', file, '--json', '--no-precision'], checked), 0, checked.stderr.join('\n'));
  const check = JSON.parse(checked.stdout.join('\n')) as { forecast: { layers: { name: string }[]; skipped: unknown[] }; diagnostics: { code: string }[] };
  assert.ok(check.forecast.layers.some((l) => l.name === 'bn'), 'check models the normalization');
  const probed = captureIo();
  assert.equal(await runCli(['probe', file, '--json', '--backend', 'cpu'], probed), 0, probed.stderr.join('\n'));
  const probe = JSON.parse(probed.stdout.join('\n')) as { forecast: unknown; forecastDiagnostics: unknown[] };
  assert.deepEqual(probe.forecast, check.forecast);
  assert.deepEqual(
    probe.forecastDiagnostics,
    check.diagnostics.filter((d) => d.code.startsWith('signal-')),
  );
});
