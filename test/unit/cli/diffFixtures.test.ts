/**
 * `weightscope diff` on real files of the shared fixtures: model-level numbers when nothing can be
 * compared, model fingerprints, and checkpoints that carry non-numeric metadata tensors.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { DiffResult } from '../../../src/analysis/diff';
import { runCli } from '../../../src/cli/main';
import { captureIo } from '../helpers/captureIo';
import { fixturesDir, repoRoot, skipUnlessFixtures } from '../helpers/fixtures';

/** Model fingerprints of fixture .h5 files by h5py + hashlib (scripts/reference-fingerprint.py). */
const fingerprints = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'fingerprintFixtures.reference.json'), 'utf8')) as Record<string, { model: string }>;

const resnetH5 = path.join(fixturesDir, 'tflite', 'mlperf-tiny-resnet8-tf2.4', 'pretrainedResnet.h5');
const charityH5 = path.join(fixturesDir, 'keras-h5', 'alphabet-soup-charity-keras2.15', 'model_weights.h5');

async function diffJson(a: string, b: string): Promise<DiffResult> {
  const io = captureIo();
  assert.equal(await runCli(['diff', a, b, '--json', '--workers', '0'], io), 0, io.stderr.join('\n'));
  return JSON.parse(io.stdout.join('\n')) as DiffResult;
}

test('diff of two unrelated models whose only pairs cannot be compared: model change null in JSON, - in text', skipUnlessFixtures, async () => {
  // h5py: the only names both files share are dense/dense/kernel:0 (64,10) against (43,80) and
  // dense/dense/bias:0 (10,) against (80,): different element counts, nothing to compare.
  const r = await diffJson(resnetH5, charityH5);
  const pairs = r.tensors.filter((t) => t.a !== null && t.b !== null);
  assert.ok(pairs.length > 0);
  assert.ok(pairs.every((t) => t.status === 'incomparable' && t.diffNorm === null));
  assert.equal(r.summary.compared, 0);
  assert.equal(r.summary.relL2, null);
  assert.equal(r.summary.identicalModels, false);
  assert.ok(r.layers.every((l) => l.compared > 0 || l.relL2 === null));
  const io = captureIo();
  assert.equal(await runCli(['diff', resnetH5, charityH5, '--workers', '0'], io), 0);
  assert.match(io.stdout.join('\n'), /^model relative L2 change \|\|B-A\|\|\/\|\|A\|\|: - {2}\(no model tensor pair could be compared\)$/m);
});

test('self-diff of a TF2 checkpoint: the string object-graph tensor is listed apart, not an error, and the weights are identical', skipUnlessFixtures, async () => {
  const dir = path.join(fixturesDir, 'tf-checkpoint-v2', 'keras-lso-ckpt-tf2.2');
  const r = await diffJson(dir, path.join(dir, 'ckpt.index'));
  // ckpt.index: the BundleEntryProto of _CHECKPOINTABLE_OBJECT_GRAPH starts 08 07, dtype 7 = DT_STRING.
  assert.equal(r.summary.incomparable, 0);
  assert.equal(r.summary.identicalModels, true);
  assert.ok(r.tensors.every((t) => t.a !== '_CHECKPOINTABLE_OBJECT_GRAPH' && !t.error));
  assert.deepEqual(r.nonNumeric.a, [{ name: '_CHECKPOINTABLE_OBJECT_GRAPH', dtype: 'string' }]);
  assert.deepEqual(r.nonNumeric.b, r.nonNumeric.a);
  const io = captureIo();
  assert.equal(await runCli(['diff', dir, path.join(dir, 'ckpt.index'), '--workers', '0'], io), 0);
  const text = io.stdout.join('\n');
  assert.match(text, /incomparable 0;/);
  assert.match(text, /\(identical weights\)/);
  assert.match(text, /^not compared, no numeric values: A: _CHECKPOINTABLE_OBJECT_GRAPH \(string\); B: _CHECKPOINTABLE_OBJECT_GRAPH \(string\)$/m);
  assert.doesNotMatch(text, /error\[/);
  // A pairing naming it is refused with the reason.
  const io2 = captureIo();
  assert.equal(await runCli(['diff', dir, path.join(dir, 'ckpt.index'), '--map', '_CHECKPOINTABLE_OBJECT_GRAPH='], io2), 2);
  assert.match(io2.stderr[0]!, /'_CHECKPOINTABLE_OBJECT_GRAPH' .*no numeric values \(dtype 'string'\)/);
});

test('diff reports the model fingerprints of both files, also across formats and for unrelated models', skipUnlessFixtures, async () => {
  const resnet = fingerprints['tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.h5']!.model;
  const charity = fingerprints['keras-h5/alphabet-soup-charity-keras2.15/model_weights.h5']!.model;
  const unrelated = await diffJson(resnetH5, charityH5);
  assert.equal(unrelated.summary.modelFingerprintA, resnet);
  assert.equal(unrelated.summary.modelFingerprintB, charity);
  // Against its TFLite conversion most tensors of the .h5 (BatchNorm, optimizer) have no partner.
  const dir = path.join(fixturesDir, 'tflite', 'mlperf-tiny-resnet8-tf2.4');
  for (const tflite of ['pretrainedResnet.tflite', 'pretrainedResnet_quant.tflite']) {
    const r = await diffJson(resnetH5, path.join(dir, tflite));
    assert.ok(r.summary.removed > 0, tflite);
    assert.equal(r.summary.modelFingerprintA, resnet, tflite);
    // The same number `weightscope fingerprint` gives for the file.
    const io = captureIo();
    assert.equal(await runCli(['fingerprint', path.join(dir, tflite), '--json'], io), 0);
    assert.equal(r.summary.modelFingerprintB, (JSON.parse(io.stdout.join('\n')) as { files: { model: string }[] }).files[0]!.model, tflite);
  }
  // A SavedModel against its TFLite conversion (the SavedModel's object-graph string is no model tensor).
  const kws = path.join(fixturesDir, 'tflite', 'mlperf-tiny-kws-dscnn-tf2.3');
  const rk = await diffJson(path.join(kws, 'kws_ref_model'), path.join(kws, 'kws_ref_model_float32.tflite'));
  for (const [side, file] of [['modelFingerprintA', 'kws_ref_model'], ['modelFingerprintB', 'kws_ref_model_float32.tflite']] as const) {
    const io = captureIo();
    assert.equal(await runCli(['fingerprint', path.join(kws, file), '--json'], io), 0);
    assert.equal(rk.summary[side], (JSON.parse(io.stdout.join('\n')) as { files: { model: string }[] }).files[0]!.model, file);
  }
  const io = captureIo();
  assert.equal(await runCli(['diff', resnetH5, path.join(dir, 'pretrainedResnet.tflite'), '--workers', '0'], io), 0);
  assert.match(io.stdout.join('\n'), new RegExp(`^fingerprint A: ${resnet}$`, 'm'));
});

test('diff table: TFLite fused constant names are shortened, with a note', skipUnlessFixtures, async () => {
  const dir = path.join(fixturesDir, 'tflite', 'mlperf-tiny-resnet8-tf2.4');
  const io = captureIo();
  assert.equal(await runCli(['diff', path.join(dir, 'pretrainedResnet.tflite'), path.join(dir, 'pretrainedResnet_quant.tflite'), '--workers', '0'], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  assert.match(text, /^model\/activation\/Relu;…;model\/conv2d\/Conv2D +\[16\] /m);
  assert.ok(text.includes('(names longer than 64 characters are shortened in the middle (…); --json gives them whole)'));
});

test('fingerprint --tensors lists a string tensor (a TF2 object graph) as having no numeric values, not as an error', skipUnlessFixtures, async () => {
  const dir = path.join(fixturesDir, 'tf-savedmodel', 'serving-half-plus-two-tf2-cpu-tf2.14', '00000123');
  const io = captureIo();
  assert.equal(await runCli(['fingerprint', dir, '--tensors'], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  assert.doesNotMatch(text, /error\[/);
  assert.match(text, /^ {2}- {65}_CHECKPOINTABLE_OBJECT_GRAPH {2}\(no numeric values: string\)$/m);
  assert.match(text, /^ {2}[0-9a-f]{64} {2}a$/m);
});
