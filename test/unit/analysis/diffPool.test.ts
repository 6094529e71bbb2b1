import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as fs from 'node:fs';
import { defaultDiffWorkers, diffLocalFiles, DiffPool } from '../../../src/analysis/diffPool';
import { fixtureOrSkip, makeTempDir, repoRoot } from '../helpers/fixtures';
import type { DiffResult } from '../../../src/analysis/diff';
import { loadDiffReference, runHashes, trainingRunDir } from './helpers/trainingRun';

const ref = loadDiffReference();
const metricKeys = ['count', 'relL2', 'cosine', 'maxAbsDiff', 'meanAbsDiff', 'changedFraction', 'signFlipFraction', 'normA', 'normB', 'diffNorm', 'meanA', 'meanB', 'stdA', 'stdB'] as const;

function near(actual: unknown, expected: number | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.equal(typeof actual, 'number', `${what}: ${String(actual)}`);
  const tol = 1e-9 * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs((actual as number) - expected) <= tol, `${what}: ${String(actual)} vs NumPy ${expected}`);
}

function checkAgainstReference(r: DiffResult, pair: (typeof ref.pairs)[number]): void {
  for (const [name, expected] of Object.entries(pair.tensors)) {
    const t = r.tensors.find((x) => x.a === name);
    assert.ok(t, `tensor ${name} missing from the diff`);
    assert.equal(t.b, name);
    for (const k of metricKeys) {
      near(t[k], expected[k] ?? null, `${pair.a}->${pair.b} ${name}.${k}`);
    }
  }
  for (const [layer, rel] of Object.entries(pair.layers)) {
    near(r.layers.find((l) => l.layer === layer)?.relL2, rel, `${pair.a}->${pair.b} layer ${layer}`);
  }
  near(r.summary.relL2, pair.relL2, `${pair.a}->${pair.b} model relL2`);
  assert.deepEqual(r.topLayers, pair.topLayers);
}

test('the TF.js training run written in the test has the bytes the NumPy reference was computed on', async () => {
  const dir = await trainingRunDir();
  assert.deepEqual(runHashes(dir), ref.sha256, 'the generator is no longer deterministic on this backend; rerun scripts/reference-diff.py only if the change is intended');
});

test('diffs of per-epoch TF.js checkpoints equal NumPy, in worker threads', async () => {
  const dir = await trainingRunDir();
  for (const pair of ref.pairs) {
    const r = await diffLocalFiles(path.join(dir, pair.a), path.join(dir, pair.b), { workers: 2 });
    assert.equal(r.a.format, 'tfjs-layers');
    assert.equal(r.summary.paired, Object.keys(pair.tensors).length);
    assert.equal(r.summary.added + r.summary.removed, 0);
    checkAgainstReference(r, pair);
  }
});

test('the in-thread path gives the same numbers as the workers', async () => {
  const dir = await trainingRunDir();
  const pair = ref.pairs[0]!;
  const r = await diffLocalFiles(path.join(dir, pair.a), path.join(dir, pair.b), { workers: 0, chunkElements: 5 });
  checkAgainstReference(r, pair);
});

test('a file diffed against itself is identical with equal model fingerprints', async () => {
  const dir = await trainingRunDir();
  const r = await diffLocalFiles(path.join(dir, 'epoch-002'), path.join(dir, 'epoch-002', 'model.json'), { workers: 1 });
  assert.equal(r.summary.identicalModels, true);
  assert.ok(r.summary.modelFingerprintA && r.summary.modelFingerprintA === r.summary.modelFingerprintB);
  assert.equal(r.topLayers.length, 0);
});

test('cancelling a diff rejects with a cancelled WeightFileError', async () => {
  const dir = await trainingRunDir();
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(diffLocalFiles(path.join(dir, 'epoch-000'), path.join(dir, 'epoch-001'), { workers: 1, signal: controller.signal }), { name: 'WeightFileError', reason: 'cancelled' });
});

test('a caller that only waits (the CLI) gets a diff worker per CPU, the extension host one less, 1 to 4 either way', () => {
  const cpus = os.availableParallelism();
  assert.equal(defaultDiffWorkers(true), Math.min(4, cpus));
  assert.equal(defaultDiffWorkers(false), Math.min(4, Math.max(1, cpus - 1)));
});

test('two unrelated models: the tensors no pair read are fingerprinted by the workers, and both model fingerprints equal the independent reference', async (t) => {
  const refs = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'fingerprintFixtures.reference.json'), 'utf8')) as Record<string, { model: string }>;
  const [relA, relB] = Object.keys(refs) as [string, string];
  const a = fixtureOrSkip(t, relA);
  const b = fixtureOrSkip(t, relB);
  if (!a || !b) {
    return;
  }
  // A worker that logs what it is sent, then runs the real diff worker.
  const log = path.join(makeTempDir(), 'requests.jsonl');
  const script = path.join(makeTempDir('weightscope-spy-'), 'spyDiffWorker.js');
  const real = path.join(__dirname, '..', '..', '..', 'src', 'analysis', 'diffWorker.js');
  fs.writeFileSync(script, `const fs = require('node:fs');\nrequire('node:worker_threads').parentPort.on('message', (m) => fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(m) + '\\n'));\nrequire(${JSON.stringify(real)});\n`);
  const pool = new DiffPool({ workers: 2, workerScript: script });
  try {
    const r = await diffLocalFiles(a, b, { pool });
    assert.ok(r.summary.added + r.summary.removed > 0, 'the models hold tensors the other lacks');
    assert.equal(r.summary.modelFingerprintA, refs[relA]!.model);
    assert.equal(r.summary.modelFingerprintB, refs[relB]!.model);
    const sent = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; name?: string });
    const fingerprinted = sent.filter((m) => m.type === 'fingerprint').map((m) => m.name);
    const oneSided = r.tensors.filter((d) => (d.status === 'added' || d.status === 'removed') && d.group === 'model').map((d) => d.a ?? d.b);
    assert.ok(oneSided.length > 0 && oneSided.every((n) => fingerprinted.includes(n!)), 'every added or removed tensor was fingerprinted in a worker');
  } finally {
    await pool.dispose();
  }
  // The same in this thread.
  const inThread = await diffLocalFiles(a, b, { workers: 0 });
  assert.equal(inThread.summary.modelFingerprintA, refs[relA]!.model);
  assert.equal(inThread.summary.modelFingerprintB, refs[relB]!.model);
});

/**
 * A stand-in diff worker: it answers each job with an 'error' reply naming the worker's thread,
 * except a job for the tensor 'crash', on which its thread exits.
 */
function standInDiffWorker(): string {
  const file = path.join(makeTempDir(), 'standInDiffWorker.js');
  fs.writeFileSync(
    file,
    [
      "const { parentPort, threadId } = require('node:worker_threads');",
      'parentPort.on(\'message\', (m) => {',
      "  if (m.type === 'close') return parentPort.postMessage({ type: 'closed' });",
      "  if (m.type !== 'job') return;",
      "  if (m.a === 'crash') process.exit(3);",
      "  parentPort.postMessage({ type: 'error', id: m.id, error: { reason: 'internal', message: 'thread ' + threadId } });",
      '});',
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * Keeps this process alive, as the extension host is, while a test waits for the pool's (unref'd)
 * workers, so that a hang shows as the test's timeout (10 s); it lets go 5 s after that, so that a
 * hung test does not keep the process forever.
 */
function keepAlive(): () => void {
  const timer = setTimeout(() => undefined, 15_000);
  return () => clearTimeout(timer);
}

test('a diff worker that exits during a comparison fails that pair, and the pairs after it go to a new worker instead of waiting forever for the dead one', { timeout: 10_000 }, async () => {
  const pool = new DiffPool({ workers: 1, workerScript: standInDiffWorker() });
  const release = keepAlive();
  try {
    const pairs = ['x', 'crash', 'y', 'z', 'w'].map((n) => ({ a: n, b: n, matchedBy: 'name' as const }));
    // every reply is an error (the stand-in compares nothing), so the run resolves with no result
    await pool.runner('a', 'b')(pairs, {}, () => assert.fail('the stand-in sends no result'));
    // and the pool still serves a later run
    await pool.runner('a', 'b')(pairs.filter((p) => p.a !== 'crash'), {}, () => assert.fail('the stand-in sends no result'));
  } finally {
    release();
    await pool.dispose();
  }
});

test('disposing a diff pool while a comparison runs ends that comparison with an error instead of leaving it waiting', { timeout: 10_000 }, async () => {
  const file = path.join(makeTempDir(), 'stuckDiffWorker.js');
  // answers 'close' only: a comparison in it never ends by itself
  fs.writeFileSync(file, "const { parentPort } = require('node:worker_threads');\nparentPort.on('message', (m) => { if (m.type === 'close') parentPort.postMessage({ type: 'closed' }); });\n");
  const pool = new DiffPool({ workers: 1, workerScript: file });
  const release = keepAlive();
  const pairs = ['x', 'y', 'z'].map((n) => ({ a: n, b: n, matchedBy: 'name' as const }));
  const run = pool.runner('a', 'b')(pairs, {}, () => assert.fail('no result')).then(
    () => undefined,
    (ex: unknown) => ex,
  );
  await new Promise((r) => setImmediate(r)); // the first pair is posted
  await pool.dispose();
  const outcome = await run;
  release();
  assert.ok(outcome instanceof Error, `the run ends with an error, not ${String(outcome)}`);
  assert.match(outcome.message, /disposed/);
});
