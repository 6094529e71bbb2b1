import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { groupByModelFingerprint } from '../../../src/analysis/fingerprint';
import { runFingerprintInThread, runFingerprintInWorker } from '../../../src/analysis/fingerprintClient';
import { WeightFileError } from '../../../src/core/errors';
import { openLocalPath } from '../../../src/formats/registry';
import { repoRoot } from '../helpers/fixtures';

/** hashlib/NumPy fingerprints of the committed examples (scripts/reference-fingerprint.py). */
const reference = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'test', 'unit', 'analysis', 'fingerprint.reference.json'), 'utf8')) as Record<
  string,
  { model: string; modelTensorCount: number; tensors: Record<string, string> }
>;
const goodInit = 'examples/initialization/good-init-glorot-uniform/model.json';
const badInit = 'examples/initialization/bad-init-uniform-0.01/model.json';

test('the worker fingerprints a TF.js model exactly as hashlib does over the canonical bytes', async () => {
  const progress: [string, number, number][] = [];
  const r = await runFingerprintInWorker(path.join(repoRoot, goodInit), { onTensor: (t, done, total) => progress.push([t.name, done, total]) });
  const ref = reference[goodInit]!;
  assert.equal(r.model, ref.model);
  assert.equal(r.modelTensorCount, ref.modelTensorCount);
  assert.equal(r.partial, false);
  assert.deepEqual(Object.fromEntries(r.tensors.map((t) => [t.name, t.fingerprint])), ref.tensors);
  assert.deepEqual(
    progress.map((p) => p[1]),
    [1, 2, 3, 4, 5, 6],
    'one progress message per tensor',
  );
  assert.ok(progress.every((p) => p[2] === 6));
});

test('known fingerprints are taken as given, and the in-thread run agrees with the worker', async () => {
  const file = await openLocalPath(path.join(repoRoot, badInit));
  try {
    const ref = reference[badInit]!;
    const inThread = await runFingerprintInThread(file);
    assert.equal(inThread.model, ref.model);
    // A wrong "known" value is used as is: it proves the tensor was not read again.
    const fake = 'f'.repeat(64);
    const withKnown = await runFingerprintInWorker(path.join(repoRoot, badInit), { known: new Map([['hidden1/kernel', fake]]) });
    assert.equal(withKnown.tensors.find((t) => t.name === 'hidden1/kernel')?.fingerprint, fake);
    assert.notEqual(withKnown.model, ref.model);
  } finally {
    await file.close();
  }
});

test('a cancelled worker run rejects with cancelled; a broken file rejects with its reason', async () => {
  const controller = new AbortController();
  const run = runFingerprintInWorker(path.join(repoRoot, goodInit), { signal: controller.signal });
  controller.abort();
  await assert.rejects(run, (ex) => WeightFileError.is(ex, 'cancelled'));
  const missing = path.join(repoRoot, 'examples', 'no-such-model.json');
  await assert.rejects(runFingerprintInWorker(missing), (ex) => ex instanceof WeightFileError && ex.reason === 'notFound');
});

test('grouping by model fingerprint: pairs and more, first-appearance order, partial and empty fingerprints left out', () => {
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);
  const groups = groupByModelFingerprint([
    { key: 'x/one.h5', model: a, modelTensorCount: 3, partial: false },
    { key: 'y/model.json', model: b, modelTensorCount: 2, partial: false },
    { key: 'z/two.h5', model: a, modelTensorCount: 3, partial: false },
    { key: 'z/two.h5', model: a, modelTensorCount: 3, partial: false },
    { key: 'w/damaged.h5', model: b, modelTensorCount: 1, partial: true },
    { key: 'e1', model: 'e'.repeat(64), modelTensorCount: 0, partial: false },
    { key: 'e2', model: 'e'.repeat(64), modelTensorCount: 0, partial: false },
    { key: 'v/three.tflite', model: a, modelTensorCount: 3, partial: false },
  ]);
  assert.deepEqual(groups, [{ fingerprint: a, keys: ['x/one.h5', 'z/two.h5', 'v/three.tflite'] }]);
});
