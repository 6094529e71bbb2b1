import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { checkFailedExitCode, renderCheck } from '../../../src/cli/commands/check';
import type { CheckReport } from '../../../src/analysis/diagnostics/check';
import { runCli } from '../../../src/cli/main';
import { captureIo } from '../helpers/captureIo';
import { fixturesDir, makeTempDir, repoRoot, skipUnlessFixtures } from '../helpers/fixtures';
import { buildSafetensors } from '../helpers/safetensors';

const examples = path.join(repoRoot, 'examples', 'initialization');

test('check --fail-on error gates on the seed\'s bad initialization (RandomUniform(-0.01, 0.01)), with worker threads or none', async () => {
  for (const workers of [[], ['--workers', '0']]) {
    const io = captureIo();
    const code = await runCli(['check', path.join(examples, 'bad-init-uniform-0.01'), '--json', '--fail-on', 'error', '--no-precision', ...workers], io);
    assert.equal(code, checkFailedExitCode, io.stderr.join('\n'));
    const r = JSON.parse(io.stdout.join('\n'));
    const scaleErrors = r.diagnostics.filter((d: { code: string; severity: string }) => d.code === 'initializer-scale' && d.severity === 'error');
    assert.deepEqual(scaleErrors.map((d: { layer: string }) => d.layer).sort(), ['hidden1', 'hidden2', 'output']);
    assert.ok(r.diagnostics.some((d: { code: string }) => d.code === 'signal-vanishing'));
    assert.ok(r.forecast.layers.at(-1).cumulativeForward < 1e-2, 'the forward forecast leaves the healthy band');
  }
});

test('check passes the Glorot-initialized twin and prints text', async () => {
  const io = captureIo();
  assert.equal(await runCli(['check', path.join(examples, 'good-init-glorot-uniform'), '--fail-on', 'warning'], io), 0, io.stdout.join('\n'));
  const text = io.stdout.join('\n');
  assert.match(text, /errors: 0 {2}warnings: 0/);
  assert.match(text, /matches glorot_uniform/);
});

test('the signal forecast table stays aligned with layer names longer than its column', () => {
  const names = ['dense', 'StatefulPartitionedCall/model_1/classifier_head/dense_final', 'conv'];
  const report = {
    file: 'm.h5',
    formatName: 'Keras HDF5',
    summary: { errors: 0, warnings: 0, infos: 0 },
    diagnostics: [],
    failures: [],
    forecast: { layers: names.map((name, i) => ({ name, cumulativeForward: 10 ** i, cumulativeBackward: 2 * 10 ** i })) },
  } as unknown as CheckReport;
  const rows = renderCheck(report).split('\n').filter((l) => l.includes(' forward '));
  assert.equal(rows.length, 3);
  const at = rows.map((l) => l.indexOf(' forward '));
  assert.ok(at.every((x) => x === at[0]), rows.join('\n'));
  assert.ok(rows[1]!.startsWith(`  ${names[1]} forward`), 'the longest name sets the column');
});

test('the forecast table says when the file has no architecture, so its numbers are not judged against the band', skipUnlessFixtures, async () => {
  const withArchitecture = captureIo();
  await runCli(['check', path.join(examples, 'good-init-glorot-uniform'), '--no-precision'], withArchitecture);
  assert.match(withArchitecture.stdout.join('\n'), /^Signal forecast \(cumulative gain per layer; healthy within \[1e-2, 1e2\]\):$/m);
  const checkpoint = captureIo();
  assert.equal(await runCli(['check', path.join(fixturesDir, 'tf-checkpoint-v2', 'keras-lso-ckpt-tf2.2'), '--no-precision', '--json'], checkpoint), 0, checkpoint.stderr.join('\n'));
  const report = JSON.parse(checkpoint.stdout.join('\n')) as CheckReport;
  assert.equal(report.forecast.architecture, false);
  assert.ok(report.forecast.layers.length > 0);
  assert.ok(!report.diagnostics.some((d) => d.code.startsWith('signal-')), 'no signal finding without an architecture');
  assert.match(renderCheck(report), /^Signal forecast \(the file has no architecture: layers in file order, activations unknown; not judged\):$/m);
});

test('check leaves NaN/Inf values out of the initializer identification: no NaN in its findings, the same initializer named', async () => {
  // dense/kernel [64, 32] drawn from U(-0.75, 0.75) (a hand-written RandomUniform: 3x the glorot_uniform
  // limit sqrt(6 / (64 + 32)) = 0.25, so no built-in initializer fits) with a fixed LCG; the second
  // file has three of its values replaced by NaN, +Inf and -Inf.
  const a = 0.75;
  const values = new Float32Array(64 * 32);
  let state = 12345;
  for (let i = 0; i < values.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    values[i] = (state / 2 ** 32) * 2 * a - a;
  }
  const dirty = Float32Array.from(values);
  dirty[5] = NaN;
  dirty[700] = Infinity;
  dirty[1500] = -Infinity;
  const dir = makeTempDir('weightscope-check-nonfinite-');
  const write = (name: string, v: Float32Array): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, buildSafetensors([{ name: 'dense/kernel', dtype: 'F32', shape: [64, 32], bytes: new Uint8Array(v.buffer) }]));
    return file;
  };
  const report = async (file: string): Promise<CheckReport> => {
    const io = captureIo();
    await runCli(['check', file, '--json', '--workers', '0'], io);
    return JSON.parse(io.stdout.join('\n')) as CheckReport;
  };
  const clean = await report(write('clean.safetensors', values));
  const bad = await report(write('dirty.safetensors', dirty));
  const match = (r: CheckReport) => r.diagnostics.find((d) => d.code === 'initializer-match' && d.tensor === 'dense/kernel');
  assert.equal(match(clean)?.evidence['label'], 'RandomUniform(-0.75, 0.75) (custom scale)');
  assert.equal(match(bad)?.evidence['label'], 'RandomUniform(-0.75, 0.75) (custom scale)', match(bad)?.message);
  assert.ok(bad.diagnostics.some((d) => d.code === 'non-finite-values'));
  for (const d of bad.diagnostics.filter((x) => x.code !== 'non-finite-values')) {
    assert.doesNotMatch(d.message, /NaN/, d.message);
  }
});

/** Out-of-band forecast values of a rendered report that neither a finding nor a note on their row explains. */
function unexplained(report: CheckReport): string[] {
  const text = renderCheck(report);
  const lines = text.split('\n');
  const rows = lines.slice(lines.findIndex((l) => l.startsWith('Signal forecast')) + 1, lines.findIndex((l) => l.startsWith('Signal forecast')) + 1 + report.forecast.layers.length);
  const found = new Set(report.diagnostics.filter((d) => d.code.startsWith('signal-')).map((d) => d.evidence['direction']));
  const notJudged = /^ {2}Not judged: /m.test(text);
  const out: string[] = [];
  report.forecast.layers.forEach((l, i) => {
    for (const [direction, x] of [['forward', l.cumulativeForward], ['backward', l.cumulativeBackward]] as const) {
      const outside = x < 1e-2 || x > 1e2;
      if (outside && !found.has(direction) && !notJudged && !rows[i]!.includes(`${direction} not judged: `)) {
        out.push(`${l.name} ${direction} ${x}`);
      }
    }
  });
  return out;
}

test('the forecast table says why a value outside the healthy band is not a finding: a single-layer model is not judged (one line), a layer before a normalization is marked', skipUnlessFixtures, async () => {
  const single = captureIo();
  assert.equal(await runCli(['check', path.join(fixturesDir, 'tf-savedmodel', 'keras-lso-savedmodel-tf2.2'), '--no-precision'], single), 0, single.stderr.join('\n'));
  const text = single.stdout.join('\n');
  assert.match(text, /^ {2}dense +forward +203\.4 +backward +1$/m);
  assert.match(text, /^ {2}Not judged: only 1 layer has weights, so there is no depth for the scale to compound through \(initializer-scale judges that layer's own scale\)\.$/m);
  assert.doesNotMatch(text, /signal-(vanishing|exploding)/);
  const reports: CheckReport[] = [];
  for (const rel of [
    ['tf-savedmodel', 'keras-lso-savedmodel-tf2.2'],
    ['keras-h5', 'teachable-machine-nested-keras2.4', 'keras_model.h5'],
    ['tfjs-quantized', 'nsfwjs-mobilenet-v2-uint8', 'model.json'],
    ['tflite', 'mlperf-tiny-resnet8-tf2.4', 'pretrainedResnet.tflite'],
    ['keras3-keras', 'keras-masking-lstm-3.8', 'model.keras'],
  ]) {
    const io = captureIo();
    await runCli(['check', path.join(fixturesDir, ...rel), '--no-precision', '--json'], io);
    reports.push(JSON.parse(io.stdout.join('\n')) as CheckReport);
  }
  for (const r of reports) {
    assert.deepEqual(unexplained(r), [], r.file);
  }
  // MobileNetV2 (nsfwjs): expanded_conv_depthwise's forward 215 goes straight into its BatchNormalization.
  const mobilenet = renderCheck(reports[2]!);
  assert.match(mobilenet, /^ {2}expanded_conv_depthwise +forward +215\.\d +backward +\S+ {2}\(forward not judged: the normalization after it resets the scale\)$/m);
  // The TFLite ResNet-8 has its batch normalizations folded into the kernels: each such layer resets
  // the forward scale to its activation's constant (ReLU: 1/2), as the .h5's BatchNormalization layers
  // do, so no layer after them is called vanishing on gains the normalizations cancel.
  const resnet = renderCheck(reports[3]!);
  assert.match(resnet, /^ {2}model\/conv2d +forward +0\.5 +backward /m);
  assert.doesNotMatch(resnet, /signal-vanishing/);
});

test('check of a folder that is not one model checks each weight file in it, in order: each report as the file alone gets it, --fail-on over all of them', async () => {
  const models = ['bad-init-uniform-0.01', 'good-init-glorot-uniform'].map((m) => path.join(examples, m, 'model.json'));
  const alone: unknown[] = [];
  for (const m of models) {
    const io = captureIo();
    await runCli(['check', m, '--json', '--no-precision', '--workers', '0'], io);
    alone.push(JSON.parse(io.stdout.join('\n')));
  }
  const io = captureIo();
  assert.equal(await runCli(['check', examples, '--json', '--no-precision', '--fail-on', 'error'], io), checkFailedExitCode, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  const reports = JSON.parse(text) as CheckReport[];
  assert.deepEqual(reports, alone);
  assert.equal(text, JSON.stringify(reports, null, 2), 'the array is printed as JSON.stringify prints it');
  assert.deepEqual(io.stderr, []);
  // text: one report after the other, parted by an empty line; the Glorot model alone passes --fail-on
  const shown = captureIo();
  assert.equal(await runCli(['check', examples, '--no-precision'], shown), 0);
  const out = shown.stdout.join('\n');
  assert.deepEqual(
    out.split('\n').filter((l) => l.endsWith('model.json')),
    models,
  );
  assert.match(out, /\n\n.*good-init-glorot-uniform.model\.json\n {2}format: /);
});

test('check of a folder: a file that cannot be read gets its error line after the reports before it, the others are still checked, and the exit code is 2 also when --fail-on found diagnostics', async () => {
  const dir = makeTempDir();
  fs.cpSync(path.join(examples, 'bad-init-uniform-0.01'), path.join(dir, 'a-bad-init'), { recursive: true });
  const values = new Float32Array(64 * 32).map((_, i) => Math.sin(i) * 0.1);
  const whole = buildSafetensors([{ name: 'dense/kernel', dtype: 'F32', shape: [64, 32], bytes: new Uint8Array(values.buffer) }]);
  fs.writeFileSync(path.join(dir, 'b-cut.safetensors'), whole.subarray(0, 40)); // cut inside its header
  fs.writeFileSync(path.join(dir, 'c-whole.safetensors'), whole);
  for (const format of [['--json'], []]) {
    const io = captureIo();
    assert.equal(await runCli(['check', dir, '--no-precision', '--fail-on', 'warning', ...format], io), 2);
    const files = format.length ? (JSON.parse(io.stdout.join('\n')) as CheckReport[]).map((r) => r.file) : io.stdout.join('\n').split('\n').filter((l) => /\.(json|safetensors)$/.test(l));
    assert.deepEqual(files, [path.join(dir, 'a-bad-init', 'model.json'), path.join(dir, 'c-whole.safetensors')]);
    assert.equal(io.stderr.length, 1, io.stderr.join('\n'));
    assert.match(io.stderr[0]!, /^error\[(truncated|corrupt)\]: .*b-cut\.safetensors/);
  }
});
