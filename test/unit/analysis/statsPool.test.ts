import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { openLocalPath } from '../../../src/formats/registry';
import { StatsPool, type TensorResult } from '../../../src/analysis/statsPool';
import { computeTensorStats } from '../../../src/analysis/tensorStats';
import { fixtureOrSkip, makeTempDir } from '../helpers/fixtures';

const tfjsLayers = 'tfjs-layers/tfjs-e2e-layers-model/model.json';

/** Writes a TF.js layers model (weights only, float32) with the given tensors into a fresh folder. */
function writeTfjsModel(tensors: { name: string; shape: number[]; values?: (i: number) => number; declaredExtra?: number }[]): string {
  const dir = makeTempDir('weightscope-pool-');
  const weights: { name: string; shape: number[]; dtype: string }[] = [];
  const parts: Buffer[] = [];
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    weights.push({ name: t.name, shape: t.shape, dtype: 'float32' });
    const stored = n - (t.declaredExtra ?? 0);
    const data = new Float32Array(stored);
    for (let i = 0; i < stored; i++) {
      data[i] = t.values ? t.values(i) : Math.sin(i * 0.001) * 0.1;
    }
    parts.push(Buffer.from(data.buffer));
  }
  const model = {
    format: 'layers-model',
    generatedBy: 'weightscope unit test',
    modelTopology: { class_name: 'Sequential', config: { name: 'seq', layers: [] } },
    weightsManifest: [{ paths: ['weights.bin'], weights }],
  };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(model));
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(parts));
  return path.join(dir, 'model.json');
}

test('StatsPool results equal computeTensorStats in-thread on the TF.js fixture', async (t) => {
  const p = fixtureOrSkip(t, tfjsLayers);
  if (!p) {
    return;
  }
  const file = await openLocalPath(p);
  const names = file.tensors.map((x) => x.name);
  assert.ok(names.length >= 4, `tensors: ${names.join(', ')}`);
  const expected = new Map<string, TensorResult>();
  for (const tensor of file.tensors) {
    expected.set(tensor.name, { ok: true, stats: await computeTensorStats(tensor) });
  }
  await file.close();
  const pool = new StatsPool({ workers: 2 });
  try {
    const streamed: string[] = [];
    const results = await pool.analyzeFile(p, names, { onResult: (name) => streamed.push(name) });
    assert.deepEqual([...results.keys()], names, 'results keep the requested order');
    assert.deepEqual([...streamed].sort(), [...names].sort(), 'every result streamed once');
    assert.deepEqual(results, expected);
    // A second call reuses the workers (and their opened file).
    const again = await pool.analyzeFile(p, [names[0]!]);
    assert.deepEqual(again.get(names[0]!), expected.get(names[0]!));
  } finally {
    await pool.dispose();
  }
});

test('callerIdle: the calling thread analyses next to the workers, with the same results, in the requested order', async (t) => {
  const p = fixtureOrSkip(t, tfjsLayers);
  if (!p) {
    return;
  }
  const file = await openLocalPath(p);
  const names = file.tensors.map((x) => x.name);
  const expected = new Map<string, TensorResult>();
  for (const tensor of file.tensors) {
    expected.set(tensor.name, { ok: true, stats: await computeTensorStats(tensor) });
  }
  await file.close();
  const pool = new StatsPool({ workers: 1, callerIdle: true });
  try {
    assert.equal(pool.workerCount, 1);
    pool.prepare(p);
    const results = await pool.analyzeFile(p, [...names, 'missing/tensor']);
    assert.deepEqual([...results.keys()], [...names, 'missing/tensor']);
    const missing = results.get('missing/tensor')!;
    assert.ok(!missing.ok && missing.error.reason === 'notFound', JSON.stringify(missing));
    results.delete('missing/tensor');
    assert.deepEqual(results, expected);
  } finally {
    await pool.dispose();
  }
  // With workers that crash on every request, the first tensor still comes from the calling thread.
  const dir = makeTempDir('weightscope-crash-');
  const script = path.join(dir, 'crashWorker.js');
  fs.writeFileSync(script, "require('node:worker_threads').parentPort.on('message', () => process.exit(3));\n");
  const crashing = new StatsPool({ workers: 1, callerIdle: true, workerScript: script });
  try {
    const results = await crashing.analyzeFile(p, names);
    assert.deepEqual(results.get(names[0]!), expected.get(names[0]!));
    assert.ok([...results.values()].some((r) => !r.ok && r.error.reason === 'internal'), 'the worker lane failed');
  } finally {
    await crashing.dispose();
  }
  // With the caller's open file, the calling thread analyses from it: it needs no path of its own.
  const reopened = await openLocalPath(p);
  const fromOpen = new StatsPool({ workers: 1, callerIdle: true, workerScript: script });
  try {
    const results = await fromOpen.analyzeFile(path.join(dir, 'absent', 'model.json'), names, { openFile: reopened });
    assert.deepEqual(results.get(names[0]!), expected.get(names[0]!));
  } finally {
    await fromOpen.dispose();
    await reopened.close();
  }
});

test('prepare() of a file that cannot be opened: the error reaches each request, nothing crashes', async () => {
  const dir = makeTempDir('weightscope-prepare-');
  const p = path.join(dir, 'model.json');
  fs.writeFileSync(p, '{ not json');
  const pool = new StatsPool({ workers: 2 });
  try {
    pool.prepare(p);
    pool.prepare(path.join(dir, 'absent.h5'));
    const results = await pool.analyzeFile(p, ['a', 'b']);
    for (const name of ['a', 'b']) {
      const r = results.get(name)!;
      assert.ok(!r.ok && r.error.reason !== 'internal', JSON.stringify(r));
      assert.match(r.error.message, /model\.json/);
    }
  } finally {
    await pool.dispose();
  }
});

test('a bad tensor yields ok:false only for it', async () => {
  const p = writeTfjsModel([
    { name: 'good/kernel', shape: [64, 32] },
    { name: 'short/kernel', shape: [10, 10], declaredExtra: 50 }, // the shard ends early
  ]);
  const pool = new StatsPool({ workers: 1 });
  try {
    const results = await pool.analyzeFile(p, ['good/kernel', 'missing/tensor', 'short/kernel']);
    const good = results.get('good/kernel')!;
    assert.ok(good.ok, JSON.stringify(good));
    assert.equal(good.stats.count, 64 * 32);
    const missing = results.get('missing/tensor')!;
    assert.ok(!missing.ok && missing.error.reason === 'notFound', JSON.stringify(missing));
    const short = results.get('short/kernel')!;
    assert.ok(!short.ok && short.error.reason === 'truncated', JSON.stringify(short));
  } finally {
    await pool.dispose();
  }
});

test('cancellation stops the workers promptly and the pool stays usable', async (t) => {
  const big = Array.from({ length: 6 }, (_, i) => ({ name: `big_${i}/kernel`, shape: [2048, 2048] }));
  const p = writeTfjsModel([...big, { name: 'small/bias', shape: [16], values: (i: number) => i }]);
  const pool = new StatsPool({ workers: 1 });
  try {
    const controller = new AbortController();
    const seen: string[] = [];
    const started = Date.now();
    let firstResultMs = 0;
    const run = pool.analyzeFile(
      p,
      big.map((b) => b.name),
      {
        signal: controller.signal,
        onResult: (name) => {
          seen.push(name);
          firstResultMs = Date.now() - started;
          controller.abort();
        },
      },
    );
    await assert.rejects(run, (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
    assert.equal(seen.length, 1, 'no result is delivered after the cancel');
    // The single worker was busy with the second big tensor when the cancel came; it must stop
    // between chunks, so the next request is answered well before that tensor could have finished
    // (the first one, opening included, took firstResultMs).
    const nextStarted = Date.now();
    const next = await pool.analyzeFile(p, ['small/bias']);
    const nextMs = Date.now() - nextStarted;
    const small = next.get('small/bias')!;
    assert.ok(small.ok && small.stats.max === 15, JSON.stringify(small));
    t.diagnostic(`first tensor ${firstResultMs} ms, request after cancel ${nextMs} ms`);
    assert.ok(nextMs < Math.max(50, firstResultMs / 2), `request after cancel took ${nextMs} ms (first tensor ${firstResultMs} ms)`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.length, 1);
  } finally {
    await pool.dispose();
  }
});

test('a crashing worker becomes an internal error per tensor and is replaced, never a hang', async () => {
  const dir = makeTempDir('weightscope-crash-');
  const script = path.join(dir, 'crashWorker.js');
  fs.writeFileSync(script, "require('node:worker_threads').parentPort.on('message', () => process.exit(3));\n");
  const pool = new StatsPool({ workers: 2, workerScript: script });
  try {
    const results = await pool.analyzeFile('/nonexistent/model.json', ['a', 'b', 'c']);
    for (const name of ['a', 'b', 'c']) {
      const r = results.get(name)!;
      assert.ok(!r.ok && r.error.reason === 'internal', JSON.stringify(r));
      assert.match(r.error.message, new RegExp(`'${name}'`));
    }
  } finally {
    await pool.dispose();
  }
});

test('an already aborted signal rejects at once; an empty request resolves empty', async () => {
  const pool = new StatsPool({ workers: 1 });
  try {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(pool.analyzeFile('x', ['a'], { signal: controller.signal }), (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
    assert.equal((await pool.analyzeFile('x', [])).size, 0);
  } finally {
    await pool.dispose();
  }
});
