/**
 * Tests of the panel DTO mapping: health problems, JSON safety, and the summary of a real TFLite
 * fixture against the shapes its README documents.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { TensorResult } from '../../../src/analysis/statsPool';
import type { TensorStats } from '../../../src/analysis/statsTypes';
import type { TensorInfo } from '../../../src/core/model';
import { toRowStats, toSnapshot, toTensorDetail, tensorIssues } from '../../../src/extension/weightsDto';
import { openLocalPath } from '../../../src/formats/registry';
import { writeUnknownShapeCheckpoint } from '../formats/helpers/bundleWriter';
import { fixtureOrSkip, makeTempDir, repoRoot } from '../helpers/fixtures';

/** Stats with the given counts; the rest is filler that the mapping passes through. */
function stats(p: Partial<TensorStats>): TensorStats {
  return {
    count: 4,
    nanCount: 0,
    posInfCount: 0,
    negInfCount: 0,
    zeroCount: 0,
    mean: 0.5,
    std: 0.1,
    min: 0.25,
    max: 0.75,
    l1: 2,
    l2: 1,
    absMax: 0.75,
    skewness: 0,
    kurtosis: 0,
    nearZeroFraction: 0,
    percentiles: { 'p0.1': 0, p1: 0, p5: 0, p25: 0, p50: 0, p75: 0, p95: 0, p99: 0, 'p99.9': 0 },
    percentileErrorBound: 0,
    histogram: { edges: [0, 1], counts: [4] },
    logHistogram: { edges: [-1, 0], counts: [4] },
    ...p,
  };
}

/** A tensor without data (the mapping never reads values). */
function tensor(p: Partial<TensorInfo>): TensorInfo {
  return {
    name: 'dense/kernel',
    layer: 'dense',
    weight: 'kernel',
    role: 'kernel',
    group: 'model',
    dtype: 'float32',
    storageDtype: 'float32',
    shape: [2, 2],
    byteLength: 16,
    async *readValues() {
      throw new Error('not used');
    },
    ...p,
  };
}

test('tensorIssues: non-finite values are a warning with the three counts', () => {
  const r: TensorResult = { ok: true, stats: stats({ count: 10, nanCount: 2, posInfCount: 1, negInfCount: 3, mean: null }) };
  const issues = tensorIssues(tensor({}), r);
  assert.equal(issues.length, 1);
  assert.equal(issues[0]!.kind, 'nonFinite');
  assert.equal(issues[0]!.severity, 'warning');
  assert.equal(issues[0]!.message, '6 of 10 values are not finite (NaN 2, +Inf 1, -Inf 3).');
});

test('tensorIssues: an all-zero kernel is flagged, an all-zero bias or optimizer slot is not', () => {
  const zero: TensorResult = { ok: true, stats: stats({ zeroCount: 4, mean: 0, std: 0, min: 0, max: 0 }) };
  assert.deepEqual(
    tensorIssues(tensor({}), zero).map((i) => i.kind),
    ['allZero'],
  );
  assert.deepEqual(tensorIssues(tensor({ role: 'bias', name: 'dense/bias' }), zero), []);
  assert.deepEqual(tensorIssues(tensor({ group: 'optimizer', role: 'optimizer_state' }), zero), []);
  // a single zero scalar is not "all zero" worth a warning
  assert.deepEqual(tensorIssues(tensor({ shape: [] }), { ok: true, stats: stats({ count: 1, zeroCount: 1 }) }), []);
});

test('tensorIssues: unavailable tensors and failed analyses are errors carrying their message', () => {
  const unavailable = tensor({ unavailable: { reason: 'missingCompanionFile', message: "model.json: shard 'group1-shard2of2.bin' is missing." } });
  assert.deepEqual(tensorIssues(unavailable, undefined), [
    { kind: 'unavailable', severity: 'error', message: "model.json: shard 'group1-shard2of2.bin' is missing." },
  ]);
  const failed: TensorResult = { ok: false, error: { reason: 'truncated', message: 'x.h5: expected 8 more bytes at offset 100 (file size 108).' } };
  assert.equal(tensorIssues(tensor({}), failed)[0]!.kind, 'analysisFailed');
  assert.deepEqual(tensorIssues(tensor({}), undefined), [], 'not analysed yet: nothing known');
});

test('toRowStats: zero fraction and non-finite count', () => {
  const row = toRowStats(stats({ count: 8, zeroCount: 2, nanCount: 1, posInfCount: 1 }));
  assert.equal(row.zeroFraction, 0.25);
  assert.equal(row.nonFiniteCount, 2);
  assert.equal(toRowStats(stats({ count: 0, zeroCount: 0 })).zeroFraction, 0);
});

test('toTensorDetail: quantization is described and errors are carried', () => {
  const q = tensor({
    storageDtype: 'int8',
    quantization: { storageDtype: 'int8', scheme: 'tflite-affine', scale: [0.5], zeroPoint: [0], axis: undefined },
  });
  const d = toTensorDetail(q, undefined);
  assert.equal(d.quantization, 'tflite-affine, stored as int8; scale 0.5; zero point 0');
  assert.equal(d.row.storageDtype, 'int8');
  assert.equal(d.stats, null);
  const f = toTensorDetail(tensor({}), { ok: false, error: { reason: 'corrupt', message: 'bad' } });
  assert.deepEqual(f.error, { reason: 'corrupt', message: 'bad' });
});

test('toSnapshot of a failed open carries the error and no rows', () => {
  const s = toSnapshot({
    uri: 'file:///x/broken.h5',
    fileName: 'broken.h5',
    error: { reason: 'truncated', message: 'broken.h5: truncated.' },
    results: new Map(),
    analysis: { state: 'idle', done: 0, total: 0 },
  });
  assert.equal(s.status, 'failed');
  assert.deepEqual(s.error, { reason: 'truncated', message: 'broken.h5: truncated.' });
  assert.deepEqual(s.tensors, []);
  assert.equal(s.summary, undefined);
});

test('toSnapshot of the TFLite hello-world model: summary from the README shapes, JSON-safe', async (t) => {
  const p = fixtureOrSkip(t, 'tflite/tflm-hello-world-tf2.11/hello_world_float.tflite');
  if (!p) {
    return;
  }
  const file = await openLocalPath(p);
  try {
    const results = new Map<string, TensorResult>();
    // One tensor with non-finite stats: must survive JSON (null, never NaN) and be flagged.
    const first = file.tensors[0]!;
    results.set(first.name, { ok: true, stats: stats({ count: 16, nanCount: 16, mean: null, std: null, min: null, max: null, absMax: null }) });
    const s = toSnapshot({ uri: 'file:///m.tflite', fileName: 'hello_world_float.tflite', file, results, analysis: { state: 'done', done: 6, total: 6 } });
    assert.equal(s.status, 'open');
    // README: kernels [16,1], [16,16], [1,16] and biases [16], [16], [1], all FLOAT32.
    assert.equal(s.summary!.tensorCount, 6);
    assert.equal(s.summary!.params, 16 + 256 + 16 + 16 + 16 + 1);
    assert.equal(s.summary!.bytes, 4 * 321);
    assert.deepEqual(s.summary!.dtypes, [{ dtype: 'float32', tensors: 6 }]);
    assert.deepEqual(s.tensors.map((r) => r.shape).sort(), [[1], [1, 16], [16], [16], [16, 1], [16, 16]].sort());
    assert.equal(s.layers.length, 3);
    const flagged = s.tensors.find((r) => r.name === first.name)!;
    assert.equal(flagged.issues[0]!.kind, 'nonFinite');
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s, 'the snapshot round-trips through JSON unchanged');
  } finally {
    await file.close();
  }
});

test('toSnapshot carries tensor fingerprints in the rows and the model fingerprint (hashlib reference of the example)', async () => {
  const rel = 'examples/initialization/good-init-glorot-uniform/model.json';
  const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'fingerprint.reference.json'), 'utf8')) as Record<
    string,
    { model: string; modelTensorCount: number; tensors: Record<string, string> }
  >;
  const ref = reference[rel]!;
  const file = await openLocalPath(path.join(repoRoot, rel));
  try {
    const fingerprints = new Map(Object.entries(ref.tensors).filter(([name]) => name !== 'output/bias'));
    const fingerprint = { state: 'done' as const, done: 6, total: 6, model: ref.model, modelTensorCount: ref.modelTensorCount, partial: false, fromCache: 0 };
    const s = toSnapshot({ uri: 'file:///m/model.json', fileName: 'model.json', file, results: new Map(), analysis: { state: 'done', done: 6, total: 6 }, fingerprints, fingerprint });
    assert.deepEqual(s.fingerprint, fingerprint);
    for (const row of s.tensors) {
      assert.equal(row.fingerprint, row.name === 'output/bias' ? undefined : ref.tensors[row.name], row.name);
      assert.ok(row.name === 'output/bias' ? !('fingerprint' in row) : true, 'no fingerprint field while unknown');
    }
    const detail = toTensorDetail(file.tensors[0]!, undefined, ref.tensors[file.tensors[0]!.name]);
    assert.equal(detail.row.fingerprint, ref.tensors['hidden1/kernel']);
    // Without fingerprint input the snapshot says idle, never undefined.
    const idle = toSnapshot({ uri: 'file:///m/model.json', fileName: 'model.json', file, results: new Map(), analysis: { state: 'idle', done: 0, total: 0 } });
    assert.deepEqual(idle.fingerprint, { state: 'idle', done: 0, total: 0 });
    assert.ok(idle.tensors.every((r) => r.fingerprint === undefined));
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s, 'the snapshot round-trips through JSON unchanged');
  } finally {
    await file.close();
  }
});

test('toSnapshot of a checkpoint with entries of unknown shape: rows say so, and the parameter totals leave them out', async () => {
  const file = await openLocalPath(writeUnknownShapeCheckpoint(makeTempDir('weightscope-dto-shape-')));
  try {
    const s = toSnapshot({ uri: 'file:///model.ckpt.index', fileName: 'model.ckpt.index', file, results: new Map(), analysis: { state: 'idle', done: 0, total: 0 } });
    assert.equal(s.summary!.params, 6 + 3);
    assert.equal(s.summary!.unknownShapeTensors, 2);
    assert.deepEqual(s.layers.map((l) => [l.name, l.params]), [['dense', 9]]);
    const rows = new Map(s.tensors.map((r) => [r.name, r]));
    assert.deepEqual([rows.get('dense/scale')!.shape, rows.get('dense/scale')!.shapeUnknown, rows.get('dense/scale')!.params], [[-1, 3], true, null]);
    assert.deepEqual([rows.get('dense/state')!.shape, rows.get('dense/state')!.shapeUnknown, rows.get('dense/state')!.params], [[], true, null]);
    assert.deepEqual([rows.get('dense/kernel')!.shapeUnknown, rows.get('dense/kernel')!.params], [undefined, 6]);
    assert.equal(rows.get('dense/state')!.issues[0]!.kind, 'unavailable');
  } finally {
    await file.close();
  }
});
