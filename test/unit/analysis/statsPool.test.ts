import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import type { WeightFile } from '../../../src/core/model';
import { openLocalPath } from '../../../src/formats/registry';
import { startWorkersEarly, takeEarlyWorker } from '../../../src/analysis/earlyWorkers';
import { StatsPool, type TensorResult } from '../../../src/analysis/statsPool';
import { analyzeOpenTensor } from '../../../src/analysis/statsRunner';
import { computeTensorStats } from '../../../src/analysis/tensorStats';
import { fixtureOrSkip, makeTempDir } from '../helpers/fixtures';
import { buildSafetensors } from '../helpers/safetensors';

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
    // retain: false: every result goes to onResult once, and the pool keeps none of them.
    const passed = new Map<string, TensorResult>();
    const kept = await pool.analyzeFile(p, [...names, names[0]!], {
      retain: false,
      onResult: (name, r) => {
        assert.ok(!passed.has(name), `${name} passed once`);
        passed.set(name, r);
      },
    });
    assert.equal(kept.size, 0);
    assert.deepEqual(new Map(names.map((n) => [n, passed.get(n)])), expected);
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

/** A worker script that logs every request it receives to `log` (one JSON line each), then runs the real worker. */
function spyWorker(log: string): string {
  const dir = makeTempDir('weightscope-spy-');
  const script = path.join(dir, 'spyWorker.js');
  const real = path.join(__dirname, '..', '..', '..', 'src', 'analysis', 'statsWorker.js');
  fs.writeFileSync(
    script,
    `const fs = require('node:fs');\nrequire('node:worker_threads').parentPort.on('message', (m) => fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(m) + '\\n'));\nrequire(${JSON.stringify(real)});\n`,
  );
  return script;
}

function logged(log: string): Array<{ type: string; open?: boolean; raw?: unknown; tensorName?: string; batch?: Array<{ tensorName?: string; raw?: unknown }> }> {
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string }) : [];
}

/** prepare() then analyzeFile of `names` with the caller's open `file`, by a pool of one spied worker: the results and the requests it got. */
async function spiedAnalysis(p: string, names: string[], file: WeightFile): Promise<{ results: Map<string, TensorResult>; requests: ReturnType<typeof logged> }> {
  const log = path.join(makeTempDir(), 'requests.jsonl');
  const pool = new StatsPool({ workers: 1, workerScript: spyWorker(log) });
  try {
    pool.prepare(p);
    const results = await pool.analyzeFile(p, names, { openFile: file });
    return { results, requests: logged(log) };
  } finally {
    await pool.dispose();
  }
}

const kerasH5 = 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5';

test('HDF5 datasets stored as plain bytes: workers read them without opening the file, early analyses are claimed once or dropped', async (t) => {
  const p = fixtureOrSkip(t, kerasH5);
  if (!p) {
    return;
  }
  const file = await openLocalPath(p);
  const names = file.tensors.filter((x) => !x.unavailable).map((x) => x.name);
  assert.ok(names.length >= 6 && names.every((n) => file.tensors.find((x) => x.name === n)!.rawSource?.()), 'every tensor of the fixture is plain bytes');
  const expected = new Map<string, TensorResult>();
  for (const name of names) {
    expected.set(name, { ok: true, stats: await computeTensorStats(file.tensors.find((x) => x.name === name)!) });
  }
  try {
    // Raw requests: the worker is told not to open the file, and each request carries a location.
    const { results, requests } = await spiedAnalysis(p, names, file);
    assert.deepEqual(results, expected);
    assert.deepEqual(requests[0], { type: 'prepare', filePath: p, open: false });
    // Small datasets go in batches.
    const analyses = requests.filter((m) => m.type === 'analyze').flatMap((m) => m.batch ?? [m]);
    assert.deepEqual(analyses.map((m) => m.tensorName), names);
    assert.ok(analyses.every((m) => m.raw), 'every request carries its raw location');

    // Early analyses: they start at prepare(), before any request, and each is claimed exactly once.
    const log2 = path.join(makeTempDir(), 'requests.jsonl');
    const early = new StatsPool({ workers: 1, workerScript: spyWorker(log2) });
    try {
      early.prepare(p, { early: true });
      for (let waited = 0; !logged(log2).some((m) => m.type === 'analyze') && waited < 10_000; waited += 20) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(logged(log2).some((m) => m.type === 'analyze'), 'the worker got an early request before analyzeFile');
      const results = await early.analyzeFile(p, names, { openFile: file });
      assert.deepEqual([...results.keys()], names);
      assert.deepEqual(results, expected);
      const analysed = logged(log2).filter((m) => m.type === 'analyze').map((m) => m.tensorName);
      assert.equal(new Set(analysed).size, analysed.length, 'no dataset analysed twice by the worker');
      assert.ok(analysed.length >= names.length, 'every requested tensor was analysed early');
      assert.ok(analysed.every((n) => n!.startsWith('/')), 'early requests name HDF5 dataset paths, not tensor names');
      // A later request of the same file finds no early results left and analyses again.
      const again = await early.analyzeFile(p, [names[0]!], { openFile: file });
      assert.deepEqual(again.get(names[0]!), expected.get(names[0]!));
    } finally {
      await early.dispose();
    }

    // Early analyses nobody asks for are dropped; the one asked for is right; the pool stays usable.
    const dropping = new StatsPool({ workers: 1, callerIdle: true });
    try {
      dropping.prepare(p, { early: true, histogramBins: 64 });
      const one = await dropping.analyzeFile(p, [names[1]!], { openFile: file });
      assert.deepEqual(one.get(names[1]!), expected.get(names[1]!));
      const other = await dropping.analyzeFile(p, names, { openFile: file, histogramBins: 64 });
      assert.deepEqual(other, expected);
      // Early results with other histogram bins are not taken.
      dropping.prepare(p, { early: true, histogramBins: 16 });
      const bins64 = await dropping.analyzeFile(p, names, { openFile: file });
      assert.deepEqual(bins64, expected);
    } finally {
      await dropping.dispose();
    }
  } finally {
    await file.close();
  }
});

test('a safetensors file: workers are told not to open it and read every tensor as plain bytes, small ones in batches, with the in-thread results', async () => {
  // 300 small float32 tensors and one of 200,000 values, laid out as the safetensors writer does.
  const specs = [...Array.from({ length: 300 }, (_, i) => ({ name: `layer_${i >> 2}/w${i & 3}`, n: 16 + (i % 5) })), { name: 'big/kernel', n: 200_000 }];
  const tensors = specs.map((spec, k) => {
    const values = new Float32Array(spec.n);
    for (let i = 0; i < spec.n; i++) {
      values[i] = Math.sin(k * 7919 + i * 0.37) * (1 + (k % 3));
    }
    return { name: spec.name, dtype: 'F32', shape: [spec.n], bytes: new Uint8Array(values.buffer) };
  });
  const p = path.join(makeTempDir(), 'many.safetensors');
  fs.writeFileSync(p, buildSafetensors(tensors));
  const file = await openLocalPath(p);
  try {
    const names = file.tensors.map((x) => x.name);
    const expected = new Map<string, TensorResult>();
    for (const tensor of file.tensors) {
      expected.set(tensor.name, { ok: true, stats: await computeTensorStats(tensor) });
    }
    const { results, requests } = await spiedAnalysis(p, names, file);
    assert.deepEqual(results, expected);
    assert.deepEqual(requests[0], { type: 'prepare', filePath: p, open: false });
    const analyses = requests.filter((m) => m.type === 'analyze');
    assert.ok(analyses.some((m) => (m.batch?.length ?? 0) > 1), 'small tensors go in batches');
    const members = analyses.flatMap((m) => m.batch ?? [m]);
    assert.deepEqual(members.map((m) => m.tensorName).sort(), [...names].sort(), 'each tensor requested once');
    assert.ok(members.every((m) => m.raw), 'every request carries its raw location');
  } finally {
    await file.close();
  }
});

test('callerIdle pool: a request waiting in a busy worker is answered as cancelled at once, and the pool stays usable', async () => {
  const big = Array.from({ length: 6 }, (_, i) => ({ name: `big_${i}/kernel`, shape: [2048, 2048] }));
  const p = writeTfjsModel([...big, { name: 'small/bias', shape: [16], values: (i: number) => i }]);
  const pool = new StatsPool({ workers: 1, callerIdle: true });
  try {
    const controller = new AbortController();
    const run = pool.analyzeFile(
      p,
      big.map((b) => b.name),
      { signal: controller.signal },
    );
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    await assert.rejects(run, (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
    const next = await pool.analyzeFile(p, ['small/bias', big[5]!.name]);
    const small = next.get('small/bias')!;
    assert.ok(small.ok && small.stats.max === 15, JSON.stringify(small));
    const last = next.get(big[5]!.name)!;
    assert.ok(last.ok && last.stats.count === 2048 * 2048, JSON.stringify(last));
  } finally {
    await pool.dispose();
  }
});

test('a worker started early (startWorkersEarly) serves the first pool of its script; one that died before is not taken', async () => {
  const p = writeTfjsModel([
    { name: 'a/kernel', shape: [64, 32] },
    { name: 'b/kernel', shape: [32, 8] },
  ]);
  const names = ['a/kernel', 'b/kernel'];
  const file = await openLocalPath(p);
  const expected = new Map<string, TensorResult>();
  for (const name of names) {
    expected.set(name, { ok: true, stats: await computeTensorStats(file.tensors.find((x) => x.name === name)!) });
  }
  await file.close();
  const log = path.join(makeTempDir(), 'starts.jsonl');
  const dir = makeTempDir('weightscope-early-');
  const script = path.join(dir, 'countingWorker.js');
  const real = path.join(__dirname, '..', '..', '..', 'src', 'analysis', 'statsWorker.js');
  fs.writeFileSync(script, `require('node:fs').appendFileSync(${JSON.stringify(log)}, 'start\\n');\nrequire(${JSON.stringify(real)});\n`);
  startWorkersEarly(script, 1);
  const pool = new StatsPool({ workers: 1, workerScript: script });
  try {
    assert.deepEqual(await pool.analyzeFile(p, names), expected);
  } finally {
    await pool.dispose();
  }
  assert.equal(fs.readFileSync(log, 'utf8'), 'start\n', 'one worker started: the early one served the pool');
  assert.equal(takeEarlyWorker(script), undefined, 'the early worker was taken');

  const dying = path.join(dir, 'dyingWorker.js');
  fs.writeFileSync(dying, 'process.exit(3);\n');
  startWorkersEarly(dying, 1);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(takeEarlyWorker(dying), undefined, 'a worker that exited is dropped');
});

test('callerIdle pool: a job handed to a worker that is still starting is taken back by the idle calling thread', async () => {
  const p = writeTfjsModel([
    { name: 'a/kernel', shape: [64, 32] },
    { name: 'b/kernel', shape: [32, 8] },
    { name: 'c/kernel', shape: [8, 4] },
  ]);
  const names = ['a/kernel', 'b/kernel', 'c/kernel'];
  const file = await openLocalPath(p);
  const expected = new Map<string, TensorResult>();
  for (const name of names) {
    expected.set(name, { ok: true, stats: await computeTensorStats(file.tensors.find((x) => x.name === name)!) });
  }
  await file.close();
  // A worker that takes 20 s to start: every result must come from the calling thread long before.
  const dir = makeTempDir('weightscope-slow-');
  const script = path.join(dir, 'slowWorker.js');
  const real = path.join(__dirname, '..', '..', '..', 'src', 'analysis', 'statsWorker.js');
  fs.writeFileSync(script, `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000);\nrequire(${JSON.stringify(real)});\n`);
  const pool = new StatsPool({ workers: 1, callerIdle: true, workerScript: script });
  const started = Date.now();
  try {
    pool.prepare(p);
    assert.deepEqual(await pool.analyzeFile(p, names), expected);
    assert.ok(Date.now() - started < 15_000, `results took ${Date.now() - started} ms: a job waited for the starting worker`);
  } finally {
    await pool.dispose();
  }
});

test('small tensors of the caller\'s open file go to the threads in batches, each with the result it has alone', async (t) => {
  // 700 tiny tensors, one of 80 KB (not batched), and one whose stored values end early (an error inside a batch).
  const generated = writeTfjsModel([
    ...Array.from({ length: 700 }, (_, i) => ({ name: `dense_${i >> 2}/w${i & 3}`, shape: i % 3 === 0 ? [4, 4] : [i % 7 + 1], values: (k: number) => Math.sin(i * 31 + k) * (i % 5) })),
    { name: 'big/kernel', shape: [100, 200] },
    { name: 'short/kernel', shape: [8], declaredExtra: 3 },
  ]);
  const quantized = fixtureOrSkip(t, 'tfjs-quantized/nsfwjs-mobilenet-v2-uint8/model.json');
  for (const p of [generated, ...(quantized ? [quantized] : [])]) {
    const file = await openLocalPath(p);
    try {
      const names = file.tensors.map((x) => x.name);
      // The existing path, one tensor at a time in this thread.
      const expected = new Map<string, TensorResult>();
      for (const name of names) {
        expected.set(name, await analyzeOpenTensor(file, name, 64, new AbortController().signal));
      }
      for (const callerIdle of [false, true]) {
        const log = path.join(makeTempDir(), 'requests.jsonl');
        const pool = new StatsPool({ workers: 2, callerIdle, workerScript: spyWorker(log) });
        try {
          const streamed: string[] = [];
          const results = await pool.analyzeFile(p, names, { openFile: file, onResult: (name) => streamed.push(name) });
          assert.deepEqual(results, expected, `${p}, callerIdle ${callerIdle}`);
          assert.equal(streamed.length, names.length, 'every result streamed once');
          const requests = logged(log).filter((m) => m.type === 'analyze');
          assert.ok(requests.length < names.length / 4, `${requests.length} requests to the workers for ${names.length} tensors`);
          assert.ok(callerIdle || requests.flatMap((m) => m.batch ?? [m]).length === names.length, 'without the calling thread, the workers got every tensor once');
        } finally {
          await pool.dispose();
        }
      }
      if (p === generated) {
        const short = expected.get('short/kernel')!;
        assert.ok(!short.ok, 'the short tensor fails alone');
        assert.ok([...expected.values()].filter((r) => r.ok).length === names.length - 1);
      }
    } finally {
      await file.close();
    }
  }
});

test('callerIdle pool, tensors of a few values on average: the calling thread takes the small ones, only a large one goes to a worker', async () => {
  const p = writeTfjsModel([
    ...Array.from({ length: 300 }, (_, i) => ({ name: `dense_${i >> 1}/w${i & 1}`, shape: [4, 4], values: (k: number) => Math.cos(i * 7 + k) })),
    { name: 'big/kernel', shape: [100, 200] },
  ]);
  const file = await openLocalPath(p);
  const log = path.join(makeTempDir(), 'requests.jsonl');
  const pool = new StatsPool({ workers: 1, callerIdle: true, workerScript: spyWorker(log) });
  try {
    const names = file.tensors.map((x) => x.name);
    const expected = new Map<string, TensorResult>();
    for (const name of names) {
      expected.set(name, await analyzeOpenTensor(file, name, 64, new AbortController().signal));
    }
    const results = await pool.analyzeFile(p, names, { openFile: file });
    assert.deepEqual(results, expected);
    const sent = logged(log)
      .filter((m) => m.type === 'analyze')
      .flatMap((m) => m.batch ?? [m])
      .map((m) => m.tensorName);
    assert.ok(sent.every((n) => n === 'big/kernel'), `tensors sent to the worker: ${sent.slice(0, 5).join(', ')}`);
  } finally {
    await pool.dispose();
    await file.close();
  }
});
