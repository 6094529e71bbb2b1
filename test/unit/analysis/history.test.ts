import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { computeHistory, findCheckpoints, HistoryCache, orderCheckpoints, orderingSidecars, orderKeys, type HistoryResult } from '../../../src/analysis/history';
import { compileNamingConvention } from '../../../src/analysis/namingConvention';
import { updateSidecar } from '../../../src/core/sidecar';
import { makeTempDir } from '../helpers/fixtures';
import { writeCutTensorRun, writeMissingLayerRun, writeSafetensorsRun } from './helpers/missingLayerRun';
import { loadDiffReference, trainingRunDir } from './helpers/trainingRun';

const ref = loadDiffReference();

function near(actual: number | null | undefined, expected: number, what: string): void {
  assert.ok(typeof actual === 'number' && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${String(actual)} vs NumPy ${expected}`);
}

test('history of per-epoch TF.js checkpoints: norm, mean, std and distance from the first equal NumPy', async () => {
  const dir = await trainingRunDir();
  const h = await computeHistory(dir, { workers: 2, histogramBins: 16 });
  assert.equal(h.orderedBy, 'epoch');
  assert.deepEqual(h.checkpoints.map((c) => c.label), ['epoch-000', 'epoch-001', 'epoch-002', 'epoch-003']);
  assert.deepEqual(h.layers.map((l) => l.layer), Object.keys(ref.history));
  for (const l of h.layers) {
    const expected = ref.history[l.layer]!;
    l.points.forEach((p, k) => {
      const e = expected[k]!;
      assert.ok(p, `${l.layer}@${e.checkpoint} is present`);
      near(p.norm, e.norm, `${l.layer}@${e.checkpoint} norm`);
      near(p.mean, e.mean, `${l.layer}@${e.checkpoint} mean`);
      near(p.std, e.std, `${l.layer}@${e.checkpoint} std`);
      near(p.distanceFromFirst, e.distanceFromFirst, `${l.layer}@${e.checkpoint} distance`);
      assert.equal(p.histogram.reduce((a, b) => a + b, 0), l.count, 'every value lands in a bin');
    });
    assert.equal(l.histogramEdges.length, 17);
  }
  assert.equal(h.relDistanceFromFirst[0], 0);
  assert.ok(h.relStepChange.slice(1).every((x) => x !== null && x > 0));
  assert.deepEqual(h.warnings, []);
});

test('a history run again with its cache reads only what changed (a checkpoint added or rewritten) and equals one computed afresh', async () => {
  const src = await trainingRunDir();
  const dir = makeTempDir('weightscope-history-cache-');
  for (const e of ['epoch-000', 'epoch-001', 'epoch-002']) {
    fs.cpSync(path.join(src, e), path.join(dir, e), { recursive: true });
  }
  const cache = new HistoryCache();
  const options = { workers: 0, histogramBins: 16 } as const;
  const fresh = (): Promise<HistoryResult> => computeHistory(dir, options);
  // Each checkpoint: one step (its comparisons with the first and the previous) and one histogram pass.
  const first = await computeHistory(dir, { ...options, cache });
  assert.deepEqual([cache.reused, cache.computed], [0, 6]);
  assert.deepEqual(first, await fresh());

  const again = await computeHistory(dir, { ...options, cache });
  assert.deepEqual([cache.reused, cache.computed], [6, 0]);
  assert.deepEqual(again, first);

  // A checkpoint added at the end with values inside the layers' ranges: its own step and pass only.
  fs.cpSync(path.join(src, 'epoch-001'), path.join(dir, 'epoch-003'), { recursive: true });
  const added = await computeHistory(dir, { ...options, cache });
  assert.deepEqual([cache.reused, cache.computed], [6, 2]);
  assert.equal(added.checkpoints.length, 4);
  assert.deepEqual(added, await fresh());

  // The last checkpoint rewritten with values outside them: its step, and every pass (the ranges widened).
  fs.cpSync(path.join(src, 'epoch-003'), path.join(dir, 'epoch-003'), { recursive: true });
  const later = new Date(Date.now() + 5000);
  fs.utimesSync(path.join(dir, 'epoch-003', 'weights.bin'), later, later);
  const rewritten = await computeHistory(dir, { ...options, cache });
  assert.deepEqual([cache.reused, cache.computed], [3, 5]);
  assert.deepEqual(rewritten, await fresh());
  assert.notDeepEqual(rewritten.layers, added.layers);
});

test('a history cache keeps what a finished run used, and a bounded number of results from runs that failed', async () => {
  const cache = new HistoryCache();
  const value = (): Promise<Map<string, number[]>> => Promise.resolve(new Map());
  for (let i = 0; i < 30; i++) {
    const run = cache.begin();
    for (let k = 0; k < 100; k++) {
      await run.get(`run ${i} result ${k}`, value);
    }
    run.end(false);
  }
  assert.equal(cache.size, 2000, 'failed runs add their results up to a bound (4 x the 500 checkpoints a history takes)');
  const run = cache.begin();
  await run.get('run 29 result 99', value);
  await run.get('new', value);
  run.end(true);
  assert.equal(cache.size, 2);
  assert.deepEqual([cache.reused, cache.computed], [1, 1]);
});

test('a layer that stops moving and a layer that blows up are warned about', async () => {
  const src = await trainingRunDir();
  const dir = makeTempDir('weightscope-history-');
  // Copy the run, then freeze dense_2 after epoch-001 and scale dense_1 by 50 in epoch-003.
  for (const e of ['epoch-000', 'epoch-001', 'epoch-002', 'epoch-003']) {
    fs.cpSync(path.join(src, e), path.join(dir, e), { recursive: true });
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'epoch-000', 'model.json'), 'utf8')).weightsManifest[0].weights as { name: string; shape: number[] }[];
  const offsets = new Map<string, [number, number]>();
  let at = 0;
  for (const w of manifest) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    offsets.set(w.name, [at, n]);
    at += 4 * n;
  }
  const weights = (e: string) => path.join(dir, e, 'weights.bin');
  const frozen = fs.readFileSync(weights('epoch-001'));
  for (const e of ['epoch-002', 'epoch-003']) {
    const buf = fs.readFileSync(weights(e));
    for (const name of ['dense_2/kernel', 'dense_2/bias']) {
      const [o, n] = offsets.get(name)!;
      frozen.copy(buf, o, o, o + 4 * n);
    }
    if (e === 'epoch-003') {
      const [o, n] = offsets.get('dense_1/kernel')!;
      const f = new Float32Array(buf.buffer, buf.byteOffset + o, n);
      for (let i = 0; i < n; i++) {
        f[i] = f[i]! * 50;
      }
    }
    fs.writeFileSync(weights(e), buf);
  }
  const h = await computeHistory(dir, { workers: 0 });
  const kinds = h.warnings.map((w) => [w.layer, w.kind, w.checkpoint]);
  assert.deepEqual(kinds, [
    ['dense_1', 'blowup', 'epoch-003'],
    ['dense_2', 'stalled', 'epoch-002'],
  ]);
  assert.match(h.warnings[1]!.message, /dense_2' stopped moving after epoch-001/);
});

test('a checkpoint holding exactly the weights of the one before is warned about once, for the whole model', async () => {
  const src = await trainingRunDir();
  const dir = makeTempDir('weightscope-unchanged-');
  for (const e of ['epoch-000', 'epoch-001', 'epoch-002']) {
    fs.cpSync(path.join(src, e), path.join(dir, e), { recursive: true });
  }
  // epoch-002 saved the state of epoch-001 again.
  fs.copyFileSync(path.join(dir, 'epoch-001', 'weights.bin'), path.join(dir, 'epoch-002', 'weights.bin'));
  const h = await computeHistory(dir, { workers: 0 });
  assert.equal(h.relStepChange[2], 0);
  assert.deepEqual(
    h.warnings.map((w) => [w.layer, w.kind, w.checkpoint, w.message]),
    [['', 'unchanged', 'epoch-002', 'Checkpoint epoch-002 holds exactly the weights of epoch-001: every tensor both hold is identical.']],
  );
  // A run that moves has no such warning.
  fs.cpSync(path.join(src, 'epoch-002'), path.join(dir, 'epoch-002'), { recursive: true });
  assert.deepEqual((await computeHistory(dir, { workers: 0 })).warnings.filter((w) => w.kind === 'unchanged'), []);
});

test('a layer missing from a checkpoint is absent there, left out of the comparisons, and warned about as missing only', async () => {
  // Hand-worked values of helpers/missingLayerRun.ts: ckpt-2 lacks 'bn'.
  const h = await computeHistory(writeMissingLayerRun(), { workers: 0, histogramBins: 4 });
  assert.deepEqual(h.checkpoints.map((c) => c.label), ['ckpt-1.safetensors', 'ckpt-2.safetensors', 'ckpt-3.safetensors']);
  const layer = (name: string) => h.layers.find((l) => l.layer === name)!;
  const bn = layer('bn');
  assert.equal(bn.points[1], null);
  near(bn.points[0]?.norm, Math.SQRT2, 'bn@1 norm');
  near(bn.points[2]?.norm, 2 * Math.SQRT2, 'bn@3 norm');
  near(bn.points[2]?.distanceFromFirst, Math.SQRT2, 'bn@3 distance');
  near(bn.points[2]?.relDistanceFromFirst, 1, 'bn@3 relative distance');
  assert.equal(bn.points[2]?.relStepChange, null, 'no step change from a checkpoint lacking the layer');
  assert.equal(bn.points[2]?.histogram.reduce((a, b) => a + b, 0), 2);
  const dense = layer('dense');
  assert.deepEqual(dense.points.map((p) => p?.norm), [5, 3, 5]);
  assert.deepEqual(dense.points.map((p) => p?.distanceFromFirst), [0, 4, 0]);
  near(dense.points[1]?.relStepChange, 4 / 5, 'dense@2 step');
  near(dense.points[2]?.relStepChange, 4 / 3, 'dense@3 step');
  const out = layer('out');
  near(out.points[2]?.relDistanceFromFirst, 2, 'out@3 relative distance');
  near(out.points[2]?.relStepChange, 0.5, 'out@3 step');
  // Model: over the tensors present in both checkpoints compared.
  assert.equal(h.relDistanceFromFirst[0], 0);
  near(h.relDistanceFromFirst[1], Math.sqrt((16 + 4) / (25 + 4)), 'model@2 distance (dense, out)');
  near(h.relStepChange[1], Math.sqrt((16 + 4) / (25 + 4)), 'model@2 step equals its distance from the first');
  near(h.relDistanceFromFirst[2], Math.sqrt((0 + 2 + 16) / (25 + 2 + 4)), 'model@3 distance (dense, bn, out)');
  near(h.relStepChange[2], Math.sqrt((16 + 4) / (9 + 16)), 'model@3 step (dense, out)');
  assert.deepEqual(
    h.warnings.map((w) => [w.layer, w.kind, w.checkpoint]),
    [['bn', 'missing', 'ckpt-2.safetensors']],
  );
  assert.match(h.warnings[0]!.message, /'bn' is missing from 1 of 3 checkpoints \(ckpt-2\.safetensors\)/);
});

test('a checkpoint holding only some of a layer\'s tensors has a point over those alone, naming the missing ones, and a partial warning', async () => {
  // By hand: ckpt-2 keeps dense/kernel ([3,4] -> [0,4]) and lacks dense/bias.
  const dir = writeSafetensorsRun({ 'ckpt-1.safetensors': { 'dense/kernel': [3, 4], 'dense/bias': [12] }, 'ckpt-2.safetensors': { 'dense/kernel': [0, 4] } });
  const h = await computeHistory(dir, { workers: 0 });
  const dense = h.layers.find((l) => l.layer === 'dense')!;
  assert.equal(dense.count, 3);
  assert.equal(dense.points[0]?.count, 3);
  assert.deepEqual(dense.points[0]?.missingTensors, []);
  const p = dense.points[1]!;
  assert.equal(p.count, 2);
  assert.deepEqual(p.missingTensors, ['dense/bias']);
  near(p.norm, 4, 'kernel-only norm');
  near(p.mean, 2, 'kernel-only mean');
  near(p.distanceFromFirst, 3, 'kernel-only distance');
  near(p.relDistanceFromFirst, 3 / 5, 'kernel-only relative distance');
  assert.deepEqual(h.warnings.map((w) => [w.layer, w.kind, w.checkpoint]), [['dense', 'partial', 'ckpt-2.safetensors']]);
  assert.match(h.warnings[0]!.message, /^Checkpoint ckpt-2\.safetensors holds only part of layer 'dense': 'dense\/bias' has no counterpart there, so its numbers cover 2 of the layer's 3 values\.$/);
});

test('checkpoints with no tensor in common have no model distance or change (null, not 0)', async () => {
  const dir = writeSafetensorsRun({ 'ckpt-1.safetensors': { 'a/kernel': [1, 2] }, 'ckpt-2.safetensors': { 'b/kernel': [3, 4, 5] } });
  const h = await computeHistory(dir, { workers: 0 });
  assert.deepEqual(h.relDistanceFromFirst, [0, null]);
  assert.deepEqual(h.relStepChange, [null, null]);
  assert.deepEqual(h.layers.map((l) => [l.layer, l.points[1]]), [['a', null]]);
  assert.deepEqual(h.warnings.map((w) => [w.layer, w.kind]), [['a', 'missing']]);
});

test('checkpoints are ordered by epoch, step, naming convention, sidecar or time', async () => {
  assert.deepEqual(orderKeys('model-e012-0.345.h5'), { epoch: 12 });
  assert.deepEqual(orderKeys('ckpt-30'), { step: 30 });
  // Epoch and step are whole tokens: 'e2e' in a model's name is no epoch.
  const keys: [string, { epoch?: number; step?: number }][] = [
    ['tfjs-e2e-graph-model', {}],
    ['model-e2e-v2', {}],
    ['epoch-002', { epoch: 2 }],
    ['EPOCH_7.h5', { epoch: 7 }],
    ['ep03', { epoch: 3 }],
    ['e10', { epoch: 10 }],
    ['weights.e05-0.12.h5', { epoch: 5 }],
    ['run-e2e-epoch-4', { epoch: 4 }],
    ['ckpt-1200.index', { step: 1200 }],
    ['step_500', { step: 500 }],
    ['split3', {}],
    ['commit7x', {}],
  ];
  for (const [label, expected] of keys) {
    assert.deepEqual(orderKeys(label), expected, label);
  }
  // A trailing number orders names without epoch or step; a file extension's digits are none.
  const ref = (label: string, mtimeMs: number) => ({ path: label, label, mtimeMs });
  const byNumber = orderCheckpoints([ref('run-12.h5', 1), ref('run-7.h5', 2)]);
  assert.deepEqual([byNumber.orderedBy, byNumber.checkpoints.map((c) => c.label)], ['number', ['run-7.h5', 'run-12.h5']]);
  const byTime = orderCheckpoints([ref('model_weights.h5', 2), ref('AlphabetSoupCharity.h5', 1)]);
  assert.deepEqual([byTime.orderedBy, byTime.checkpoints.map((c) => c.label)], ['time', ['AlphabetSoupCharity.h5', 'model_weights.h5']]);
  const naming = compileNamingConvention('{model}-{val_loss:.3f}-{epoch:03d}');
  assert.deepEqual(orderKeys('mlp-0.345-007.h5', naming), { epoch: 7 });

  const src = await trainingRunDir();
  const dir = makeTempDir('weightscope-order-');
  // Folder names without numbers: the sidecar's epoch decides.
  const names = ['latest', 'first', 'middle'];
  const epochs = [3, 0, 1];
  names.forEach((n, i) => fs.cpSync(path.join(src, `epoch-00${epochs[i]}`), path.join(dir, n), { recursive: true }));
  for (let i = 0; i < names.length; i++) {
    await updateSidecar(path.join(dir, names[i]!, 'model.json'), { epoch: epochs[i] });
  }
  const found = await findCheckpoints(dir);
  assert.equal(found.orderedBy, 'epoch');
  assert.deepEqual(found.checkpoints.map((c) => c.label), ['first', 'middle', 'latest']);
  // Those sidecars order the history, so an open one watches them.
  assert.deepEqual(
    orderingSidecars(found.checkpoints),
    ['first', 'middle', 'latest'].map((n) => path.join(dir, n, 'model.json.weightscope.json')),
  );
});

test('the sidecars that order a history are those of checkpoints whose names (or naming convention) give no epoch or step, existing or not', () => {
  const refs = ['epoch-002', 'best', 'ckpt-30', 'mlp-0.345-007.h5', 'final.h5'].map((label) => ({ path: path.join('/run', label, 'model.json'), label, mtimeMs: 0 }));
  assert.deepEqual(orderingSidecars(refs), ['best', 'mlp-0.345-007.h5', 'final.h5'].map((l) => path.join('/run', l, 'model.json.weightscope.json')));
  const naming = compileNamingConvention('{model}-{val_loss:.3f}-{epoch:03d}');
  assert.deepEqual(orderingSidecars(refs, naming), ['best', 'final.h5'].map((l) => path.join('/run', l, 'model.json.weightscope.json')));
});

test('a TF checkpoint state file lists the checkpoints of the folder', async (t) => {
  const dir = makeTempDir('weightscope-state-');
  fs.writeFileSync(path.join(dir, 'checkpoint'), 'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-2"\n');
  fs.writeFileSync(path.join(dir, 'ckpt-1.index'), '');
  fs.writeFileSync(path.join(dir, 'ckpt-2.index'), '');
  fs.writeFileSync(path.join(dir, 'unrelated.index'), '');
  const found = await findCheckpoints(dir);
  assert.deepEqual(found.checkpoints.map((c) => [c.label, c.step]), [['ckpt-1.index', 1], ['ckpt-2.index', 2]]);
  assert.equal(found.orderedBy, 'step');
  t.diagnostic('state-file listing checked without opening the (empty) bundles');
});

test('a TF checkpoint state file naming paths with text-format escapes (as TensorFlow writes non-ASCII names) lists them', async () => {
  const dir = makeTempDir('weightscope-state-escaped-');
  // 'é' is written as its UTF-8 bytes in octal escapes; a quote in a name as \".
  fs.writeFileSync(path.join(dir, 'checkpoint'), 'model_checkpoint_path: "caf\\303\\251-2"\n  all_model_checkpoint_paths: "caf\\303\\251-1"\nall_model_checkpoint_paths: "a\\"b-2"\n');
  for (const name of ['café-1.index', 'a"b-2.index', 'café-2.index']) {
    fs.writeFileSync(path.join(dir, name), '');
  }
  const found = await findCheckpoints(dir);
  assert.deepEqual(found.checkpoints.map((c) => c.label), ['café-1.index', 'a"b-2.index']);
});

test('a file given as the folder of checkpoints is unrecognized, not notFound', async () => {
  const dir = writeMissingLayerRun();
  await assert.rejects(findCheckpoints(path.join(dir, 'ckpt-1.safetensors')), { name: 'WeightFileError', reason: 'unrecognized', message: /ckpt-1\.safetensors: a file, where a history reads a folder of checkpoints\./ });
});

test('a folder without checkpoints is a clear error', async () => {
  const dir = makeTempDir('weightscope-empty-');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
  await assert.rejects(computeHistory(dir, { workers: 0 }), { name: 'WeightFileError', reason: 'unrecognized' });
});

test('a tensor a checkpoint cannot read (its data cut short) is left out of that checkpoint, not counted as zeros, and warned about as unreadable', async () => {
  // By hand: ckpt-2's out/kernel ([0,4], the last 8 data bytes) is cut short by 4 bytes.
  const dir = writeCutTensorRun();
  const h = await computeHistory(dir, { workers: 0 });
  const out = h.layers.find((l) => l.layer === 'out')!;
  assert.equal(out.points[1], null, 'no numbers for a layer none of whose tensors could be read');
  near(out.points[2]?.norm, 6, 'out@3 norm');
  near(out.points[2]?.relDistanceFromFirst, 2, 'out@3 relative distance');
  assert.equal(out.points[2]?.relStepChange, null, 'no step change from a checkpoint whose values could not be read');
  const dense = h.layers.find((l) => l.layer === 'dense')!;
  assert.deepEqual(dense.points.map((p) => p?.norm), [5, 3, 5]);
  // Model: over the readable tensors present in both.
  near(h.relDistanceFromFirst[1], 4 / 5, 'model@2 distance (dense only)');
  near(h.relStepChange[2], 4 / 3, 'model@3 step (dense only)');
  assert.deepEqual(h.warnings.map((w) => [w.layer, w.kind, w.checkpoint]), [['out', 'unreadable', 'ckpt-2.safetensors']]);
  assert.match(h.warnings[0]!.message, /^Checkpoint ckpt-2\.safetensors: 'out\/kernel' could not be read \(truncated: .*\); layer 'out' is left out of the comparisons there\.$/);
});

test('warnings about the tensors outside any layer call them (no layer), as the table does, not layer \'\'', async () => {
  // Tensors named without a layer path ('w') belong to no layer; ckpt-2 lacks it.
  const dir = writeSafetensorsRun({ 'ckpt-1.safetensors': { w: [1, 2], 'dense/kernel': [3, 4] }, 'ckpt-2.safetensors': { 'dense/kernel': [3, 5] } });
  const h = await computeHistory(dir, { workers: 0 });
  assert.deepEqual(h.layers.map((l) => l.layer), ['', 'dense']);
  assert.deepEqual(h.warnings.map((w) => [w.layer, w.kind]), [['', 'missing']]);
  assert.match(h.warnings[0]!.message, /^Layer '\(no layer\)' is missing from 1 of 2 checkpoints/);
});
