import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCheckInThread, runCheckInWorker } from '../../../src/analysis/checkClient';
import { checkWeightFile } from '../../../src/analysis/diagnostics/check';
import type { TensorStats } from '../../../src/analysis/statsTypes';
import { computeTensorStats } from '../../../src/analysis/tensorStats';
import { WeightFileError } from '../../../src/core/errors';
import { openLocalPath } from '../../../src/formats/registry';

/** The badly initialized example model (uniform(-0.01, 0.01) kernels), committed in examples/. */
const badInit = path.resolve(__dirname, '../../../../examples/initialization/bad-init-uniform-0.01/model.json');

async function statsOf(p: string): Promise<Map<string, TensorStats>> {
  const file = await openLocalPath(p);
  try {
    const stats = new Map<string, TensorStats>();
    for (const t of file.tensors) {
      stats.set(t.name, await computeTensorStats(t, {}));
    }
    return stats;
  } finally {
    await file.close();
  }
}

test('the worker reports exactly what checkWeightFile reports in this thread (bad-init model)', async () => {
  const stats = await statsOf(badInit);
  const file = await openLocalPath(badInit);
  let expected;
  try {
    expected = await checkWeightFile(file, stats);
  } finally {
    await file.close();
  }
  const progress: [number, number][] = [];
  const report = await runCheckInWorker(badInit, stats, { onProgress: (d, t) => progress.push([d, t]) });
  assert.deepEqual(report, expected);
  // The file's point: its kernels are far too small for their fan-in.
  assert.ok(report.diagnostics.some((d) => d.code === 'initializer-scale' && d.severity === 'error'), JSON.stringify(report.summary));
  assert.ok(report.summary.errors > 0);
  assert.ok(progress.length > 0, 'no progress was posted');
  const last = progress[progress.length - 1]!;
  assert.equal(last[0], last[1], 'the last progress message is the completed count');
});

test('without the precision passes the worker skips them, like checkWeightFile', async () => {
  const stats = await statsOf(badInit);
  const report = await runCheckInWorker(badInit, stats, { precision: false });
  assert.equal(report.precision.length, 0);
  assert.equal(report.summary.precisionTensors, 0);
  const file = await openLocalPath(badInit);
  try {
    assert.deepEqual(report, await checkWeightFile(file, stats, { precision: false }));
  } finally {
    await file.close();
  }
});

test('the in-thread fallback gives the same report as the worker', async () => {
  const stats = await statsOf(badInit);
  const file = await openLocalPath(badInit);
  try {
    assert.deepEqual(await runCheckInThread(file, stats), await runCheckInWorker(badInit, stats));
  } finally {
    await file.close();
  }
});

test('a cancelled check rejects with a cancelled WeightFileError and stops its worker', async () => {
  const stats = await statsOf(badInit);
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(runCheckInWorker(badInit, stats, { signal: pre.signal }), (ex: unknown) => WeightFileError.is(ex, 'cancelled'));

  const controller = new AbortController();
  const started = Date.now();
  const run = runCheckInWorker(badInit, stats, { signal: controller.signal });
  setImmediate(() => controller.abort());
  await assert.rejects(run, (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
  assert.ok(Date.now() - started < 5000, 'cancel took longer than the grace period');

  const midway = new AbortController();
  let calls = 0;
  const run2 = runCheckInWorker(badInit, stats, {
    signal: midway.signal,
    onProgress: () => {
      calls++;
      midway.abort();
    },
  });
  await assert.rejects(run2, (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
  assert.ok(calls <= 1, `progress kept arriving after the cancel (${calls} calls)`);
});

test('a file the worker cannot open rejects with the reader\'s reason', async () => {
  const missing = path.join(path.dirname(badInit), 'no-such-model.json');
  await assert.rejects(runCheckInWorker(missing, new Map()), (ex: unknown) => ex instanceof WeightFileError && ex.reason !== 'cancelled' && ex.message.length > 0);
});
