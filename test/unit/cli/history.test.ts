import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import { writeCutTensorRun, writeMissingLayerRun, writeSafetensorsRun } from '../analysis/helpers/missingLayerRun';
import { noVariableReadableBytes, writeTfCheckpointRun } from '../analysis/helpers/tfCheckpointRun';
import { captureIo } from '../helpers/captureIo';
import { fixturesDir, skipUnlessFixtures } from '../helpers/fixtures';

test('weightscope history shows a layer a checkpoint lacks as absent (null in JSON), with a missing warning and no stalled one', async () => {
  const dir = writeMissingLayerRun();
  const io = captureIo();
  assert.equal(await runCli(['history', dir, '--workers', '0'], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  assert.match(text, /^warning\[missing\]: Layer 'bn' is missing from 1 of 3 checkpoints/m);
  assert.doesNotMatch(text, /warning\[stalled\]/);
  assert.match(text, /^ckpt-2\.safetensors\s+absent\s+-\s+-\s+-\s+-$/m);
  const json = captureIo();
  assert.equal(await runCli(['history', dir, '--json', '--workers', '0'], json), 0, json.stderr.join('\n'));
  const h = JSON.parse(json.stdout.join('\n')) as { layers: { layer: string; points: unknown[] }[] };
  assert.equal(h.layers.find((l) => l.layer === 'bn')!.points[1], null);
});

test('weightscope history of a file is a usage error naming the file; of a missing path, notFound', async () => {
  const dir = writeMissingLayerRun();
  const file = path.join(dir, 'ckpt-1.safetensors');
  const io = captureIo();
  assert.equal(await runCli(['history', file], io), 2);
  assert.equal(io.stderr[0], `error[usage]: history takes a folder of checkpoints, and ${file} is a file.`);
  const missing = path.join(dir, 'no-such-run');
  assert.ok(!fs.existsSync(missing));
  const io2 = captureIo();
  assert.equal(await runCli(['history', missing], io2), 2);
  assert.deepEqual(io2.stderr, [`error[notFound]: ${missing}: no such folder.`]);
});

test('weightscope history marks a checkpoint that holds only part of a layer: a values column and a partial warning', async () => {
  const dir = writeSafetensorsRun({ 'ckpt-1.safetensors': { 'dense/kernel': [3, 4], 'dense/bias': [12] }, 'ckpt-2.safetensors': { 'dense/kernel': [0, 4] } });
  const io = captureIo();
  assert.equal(await runCli(['history', dir, '--workers', '0'], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  assert.match(text, /^warning\[partial\]: Checkpoint ckpt-2\.safetensors holds only part of layer 'dense': 'dense\/bias' has no counterpart there/m);
  assert.match(text, /^checkpoint +values +norm/m);
  assert.match(text, /^ckpt-1\.safetensors +3 +13 /m);
  assert.match(text, /^ckpt-2\.safetensors +2 of 3 \(partial\) +4 +2 /m);
});

test('weightscope history of the har-dnn TFLite conversions: every layer whole in every checkpoint (renamed layers, other tensor orders)', skipUnlessFixtures, async () => {
  // The three files hold the same 4 Dense layers (kernel + bias each); stripped_sparse_float16.tflite
  // renames them (sequential_1/dense_4..7) and stores its tensors in another order.
  const json = captureIo();
  assert.equal(await runCli(['history', path.join(fixturesDir, 'tflite', 'har-dnn-tf2.14'), '--json', '--workers', '0'], json), 0, json.stderr.join('\n'));
  const h = JSON.parse(json.stdout.join('\n')) as { warnings: { kind: string }[]; layers: { layer: string; count: number; points: ({ count: number; missingTensors: string[] } | null)[] }[] };
  const counts = Object.fromEntries(h.layers.map((l) => [l.layer, l.count]));
  assert.deepEqual(counts, { 'sequential/dense': 256 * 561 + 256, 'sequential/dense_1': 128 * 256 + 128, 'sequential/dense_2': 64 * 128 + 64, 'sequential/dense_3': 6 * 64 + 6 });
  for (const l of h.layers) {
    assert.deepEqual(l.points.map((p) => [p?.count, p?.missingTensors]), [0, 1, 2].map(() => [l.count, []]), l.layer);
  }
  assert.deepEqual(h.warnings.filter((w) => w.kind === 'partial' || w.kind === 'missing'), []);
});

test('weightscope history shows a layer whose tensors a checkpoint cannot read as unreadable, not as zeros, with an unreadable warning', async () => {
  const dir = writeCutTensorRun();
  const io = captureIo();
  assert.equal(await runCli(['history', dir, '--workers', '0'], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  assert.match(text, /^warning\[unreadable\]: Checkpoint ckpt-2\.safetensors: 'out\/kernel' could not be read \(truncated: /m);
  assert.doesNotMatch(text, /warning\[(stalled|missing)\]/);
  assert.match(text, /^ckpt-2\.safetensors\s+unreadable\s+-\s+-\s+-\s+-$/m);
  assert.match(text, /^ckpt-3\.safetensors\s+6\s+3\s+3\s+2\s+-$/m);
});

test('weightscope history of a run whose last checkpoint cannot be opened still shows the others, then that checkpoint\'s error line and exit 2', async () => {
  const dir = writeMissingLayerRun();
  const bad = path.join(dir, 'ckpt-4.safetensors');
  fs.writeFileSync(bad, ''); // a checkpoint still being written
  const io = captureIo();
  assert.equal(await runCli(['history', dir, '--workers', '0'], io), 2);
  assert.deepEqual(io.stderr, [`error[empty]: ${bad}: the file is empty (0 bytes).`]);
  const text = io.stdout.join('\n');
  assert.match(text, /: 3 checkpoints ordered by step/);
  assert.match(text, /^ckpt-3\.safetensors +3 /m);
  assert.doesNotMatch(text, /ckpt-4/);
  const json = captureIo();
  assert.equal(await runCli(['history', dir, '--json', '--workers', '0'], json), 2);
  const h = JSON.parse(json.stdout.join('\n')) as { checkpoints: { label: string }[]; skipped: { label: string; reason: string }[] };
  assert.deepEqual(h.checkpoints.map((c) => c.label), ['ckpt-1.safetensors', 'ckpt-2.safetensors', 'ckpt-3.safetensors']);
  assert.deepEqual(h.skipped.map((s) => [s.label, s.reason]), [['ckpt-4.safetensors', 'empty']]);
  // When no checkpoint can be opened, the error of the first one.
  const none = writeSafetensorsRun({});
  fs.writeFileSync(path.join(none, 'ckpt-1.safetensors'), '');
  const io2 = captureIo();
  assert.equal(await runCli(['history', none, '--workers', '0'], io2), 2);
  assert.match(io2.stderr[0]!, /^error\[empty\]: .*ckpt-1\.safetensors: the file is empty/);
  assert.equal(io2.stdout.length, 0);
});

test('weightscope history of TF1 checkpoints whose first cannot be read shows the others\' own numbers, with distances from the first as - (null in JSON)', skipUnlessFixtures, async () => {
  // model.ckpt-1's data file is cut to 1284 bytes: none of its 12 variables can be read.
  const dir = writeTfCheckpointRun([noVariableReadableBytes, undefined, undefined]);
  const io = captureIo();
  assert.equal(await runCli(['history', dir, '--workers', '0'], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  const unreadable = text.split('\n').filter((l) => l.startsWith('warning[unreadable]'));
  assert.equal(unreadable.length, 12);
  assert.ok(
    unreadable.every((l) => /^warning\[unreadable\]: Checkpoint model\.ckpt-1\.index: '[^']+' could not be read \(truncated: .*\); layer '[^']+' is left out of the comparisons there, so its distance from the first checkpoint is unavailable in every checkpoint\.$/.test(l)),
    unreadable.join('\n'),
  );
  // Model table: no distance from the first; the step from 2 to 3 (identical copies) is 0.
  assert.match(text, /^model\.ckpt-1\.index +1 +- +-$/m);
  assert.match(text, /^model\.ckpt-2\.index +2 +- +-$/m);
  assert.match(text, /^model\.ckpt-3\.index +3 +- +0$/m);
  // Layer tables: the element count from the shapes, the readable checkpoints' own numbers.
  const variable = text.slice(text.indexOf('\nVariable (800 values)\n'), text.indexOf('\nVariable_1 ('));
  assert.match(variable, /^model\.ckpt-1\.index +unreadable +- +- +- +-$/m);
  assert.match(variable, /^model\.ckpt-2\.index +35\.47 +0\.01335 +1\.254 +- +-$/m);
  assert.match(variable, /^model\.ckpt-3\.index +35\.47 +0\.01335 +1\.254 +- +0$/m);

  type Json = { relDistanceFromFirst: (number | null)[]; layers: { layer: string; unreadable?: number[]; points: ({ norm: number; mean: number | null; std: number | null; histogram: number[]; distanceFromFirst: number | null; relDistanceFromFirst: number | null } | null)[] }[] };
  const json = captureIo();
  assert.equal(await runCli(['history', dir, '--json', '--workers', '0'], json), 0, json.stderr.join('\n'));
  const h = JSON.parse(json.stdout.join('\n')) as Json;
  // The same two checkpoints without the damaged one give the same numbers.
  const clean = captureIo();
  assert.equal(await runCli(['history', writeTfCheckpointRun([undefined, undefined]), '--json', '--workers', '0'], clean), 0, clean.stderr.join('\n'));
  const c = JSON.parse(clean.stdout.join('\n')) as Json;
  assert.deepEqual(h.relDistanceFromFirst, [null, null, null]);
  for (const l of h.layers) {
    const cl = c.layers.find((x) => x.layer === l.layer)!;
    assert.deepEqual(l.unreadable, [0], l.layer);
    assert.equal(l.points[0], null, l.layer);
    assert.deepEqual(
      l.points.slice(1).map((p) => p && [p.norm, p.mean, p.std, p.histogram]),
      cl.points.map((p) => p && [p.norm, p.mean, p.std, p.histogram]),
      l.layer,
    );
    assert.deepEqual(l.points.slice(1).map((p) => p && [p.distanceFromFirst, p.relDistanceFromFirst]), [[null, null], [null, null]], l.layer);
  }
});

test('history: a layer the first checkpoint reads only in part gets no blow-up warning from the tensors it could not read; the unreadable warning names each checkpoint\'s own tensors', async () => {
  // dense/bias and dense/kernel: the kernel (last in the file) is cut off in ckpt-1, the bias (last there) in ckpt-3;
  // every tensor moves by 10% from one checkpoint to the next, so nothing grows out of bounds.
  const kernel = (f: number): number[] => Array.from({ length: 64 }, (_, i) => f * (i % 2 === 0 ? 1 : -1));
  const bias = (f: number): number[] => [0.01 * f, -0.01 * f, 0.02 * f, 0];
  const dir = writeSafetensorsRun({
    'ckpt-1.safetensors': { 'dense/bias': bias(1), 'dense/kernel': kernel(1) },
    'ckpt-2.safetensors': { 'dense/bias': bias(1.1), 'dense/kernel': kernel(1.1) },
    'ckpt-3.safetensors': { 'dense/kernel': kernel(1.21), 'dense/bias': bias(1.21) },
  });
  for (const file of ['ckpt-1.safetensors', 'ckpt-3.safetensors']) {
    const cut = path.join(dir, file);
    fs.truncateSync(cut, fs.statSync(cut).size - 4);
  }
  const io = captureIo();
  assert.equal(await runCli(['history', dir, '--workers', '0'], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  assert.doesNotMatch(text, /warning\[blowup\]/);
  assert.match(text, /^warning\[unreadable\]: Checkpoint ckpt-1\.safetensors \(and 1 more checkpoint: ckpt-3\.safetensors: 'dense\/bias'\): 'dense\/kernel' could not be read /m);
});
