/**
 * Cancelling one job of the shared TF.js worker when it does not stop: the worker is restarted,
 * the cancelled job rejects as cancelled, and the other jobs it ran reject as stopped (not as
 * cancelled: their panels must not say the user cancelled them). Runs against a stand-in worker.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { hardCancelMs, RuntimeClient, WorkerRestartedError, WorkerStoppedError, workerExitOf } from '../../../src/runtime/runtimeClient';
import type { RuntimeJob } from '../../../src/runtime/runtimeProtocol';
import { makeTempDir } from '../helpers/fixtures';

/** The line of a stand-in worker by which job `m` begins: it says its backend, as the real worker does first. */
function begins(backend: string): string {
  return `parentPort.postMessage({ type: 'backend', id: m.id, backend: { name: '${backend}', label: '${backend}', fallbacks: [] } });`;
}

/**
 * Writes a stand-in TF.js worker `<name>.js` in `dir` and returns its path. For each job (`m`, a
 * 'run' message) it runs `body`, with `parentPort`, `threadId`, `fs` and `state` (what it keeps
 * between messages) in scope; before that, a 'stuck' job begins and then never answers and ignores
 * Cancel (a job stuck in a long step). Other messages (Cancel) go unheard.
 */
function standInWorker(dir: string, name: string, body: string[]): string {
  const file = path.join(dir, `${name}.js`);
  fs.writeFileSync(
    file,
    [
      "const { parentPort, threadId } = require('node:worker_threads');",
      "const fs = require('node:fs');",
      'const state = {};',
      "parentPort.on('message', (m) => {",
      "  if (m.type !== 'run') return;",
      `  if (m.job.file === 'stuck') return ${begins('cpu')}`,
      ...body.map((l) => `  ${l}`),
      '});',
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * Stand-in lines for a job told to wait once: in the first worker that sees it, `first` runs (the
 * worker marks in the job's `marker` file that it did so, with its thread id); in the next worker
 * the job answers with that worker's thread id.
 */
function waitOnce(first: string[]): string[] {
  return [
    'if (!fs.existsSync(m.job.marker)) {',
    '  fs.writeFileSync(m.job.marker, String(threadId));',
    ...first.map((l) => `  ${l}`),
    '} else {',
    "  parentPort.postMessage({ type: 'result', id: m.id, result: { threadId } });",
    '}',
  ];
}

/** A worker in `dir` where a 'waits' job is told to wait in the first worker and runs in the next one (waitOnce). */
function waitOnceWorker(dir: string): string {
  return standInWorker(dir, 'waitOnceWorker', waitOnce(["parentPort.postMessage({ type: 'waiting', id: m.id, runningBackend: 'cpu' });"]));
}

test('a job that ignores Cancel is stopped after hardCancelMs as cancelled; the other job of the worker rejects as stopped, not cancelled', { timeout: hardCancelMs + 10_000 }, async () => {
  const client = new RuntimeClient(standInWorker(makeTempDir(), 'stuckWorker', [begins('cpu')])); // every job begins, then is stuck
  try {
    const job = { kind: 'probe', file: '/nonexistent/model.h5', options: {}, backend: 'cpu' } as unknown as RuntimeJob;
    const controller = new AbortController();
    const cancelledRun = client.run(job, { signal: controller.signal }).catch((ex: unknown) => ex);
    const otherRun = client.run(job).catch((ex: unknown) => ex);
    controller.abort();
    const [cancelled, other] = await Promise.all([cancelledRun, otherRun]);
    assert.ok(WeightFileError.is(cancelled, 'cancelled'), String(cancelled));
    // the cancelled job is told why it took the grace period: its worker did not answer and was stopped
    assert.ok(cancelled instanceof WorkerStoppedError, String(cancelled));
    assert.equal((cancelled as Error).message, `The operation was cancelled and did not stop within ${hardCancelMs / 1000} s (one step of a large model can take longer), so its TensorFlow.js worker was stopped; the next job starts a new one.`);
    // and when the stopped worker is gone (after which the files it wrote may be tidied)
    const exited = (cancelled as WorkerStoppedError).exited;
    assert.ok(exited instanceof Promise);
    await exited;
    assert.ok(other instanceof Error && !WeightFileError.is(other, 'cancelled'), String(other));
    assert.match((other as Error).message, /restarted to stop another job that did not respond to Cancel/);
    // it stopped with the worker too: its files may be tidied once the worker is gone, as the cancelled job's
    assert.ok(other instanceof WorkerRestartedError, String(other));
    assert.equal(workerExitOf(other), exited);
  } finally {
    await client.dispose();
  }
});

test('a job that was only waiting for others to end when the worker is restarted moves to the next worker and runs there', { timeout: hardCancelMs + 10_000 }, async () => {
  const dir = makeTempDir();
  const file = waitOnceWorker(dir);
  const marker = path.join(dir, 'waited');
  const client = new RuntimeClient(file);
  try {
    const controller = new AbortController();
    const stuck = client.run({ kind: 'probe', file: 'stuck', backend: 'cpu' } as unknown as RuntimeJob, { signal: controller.signal }).catch((ex: unknown) => ex);
    const waits: string[] = [];
    const queued = client.run<{ threadId: number }>({ kind: 'probe', file: 'waits', marker, backend: 'wasm' } as unknown as RuntimeJob, { onWaiting: (b) => waits.push(b) });
    await new Promise((resolve) => setTimeout(resolve, 200)); // the first worker has said it waits
    assert.deepEqual(waits, ['cpu']);
    controller.abort();
    assert.ok((await stuck) instanceof WorkerStoppedError);
    const result = await queued;
    assert.notEqual(result.threadId, Number(fs.readFileSync(marker, 'utf8')), 'it ran in the next worker');
  } finally {
    await client.dispose();
  }
});

test('a waiting job cancelled while its worker is too busy to hear it does not move to the next worker when that one is restarted: it ends as cancelled', { timeout: 10_000 }, async (t) => {
  const dir = makeTempDir();
  // The first worker hears no Cancel (as one blocked in a long step); a 'waits' job is told to wait
  // there, and in the next worker it runs and answers (which a cancelled job must never do).
  const file = waitOnceWorker(dir);
  const marker = path.join(dir, 'waited');
  // The client's hard-stop timers run on a mock clock, moved by hand: no waiting, and a fixed order.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const client = new RuntimeClient(file);
  try {
    const stuckCancel = new AbortController();
    const stuck = client.run({ kind: 'probe', file: 'stuck', backend: 'cpu' } as unknown as RuntimeJob, { signal: stuckCancel.signal }).catch((ex: unknown) => ex);
    const waitsCancel = new AbortController();
    let saidWaiting!: () => void;
    const waited = new Promise<void>((resolve) => (saidWaiting = resolve));
    const queued = client
      .run({ kind: 'probe', file: 'waits', marker, backend: 'wasm' } as unknown as RuntimeJob, { signal: waitsCancel.signal, onWaiting: () => saidWaiting() })
      .then((result) => ({ result }), (ex: unknown) => ({ ex }));
    await waited;
    stuckCancel.abort();
    t.mock.timers.tick(1000);
    waitsCancel.abort(); // the worker does not answer it: it is busy
    t.mock.timers.tick(hardCancelMs - 1000); // the stuck job's hard stop restarts the worker; the other's is 1 s away
    assert.ok((await stuck) instanceof WorkerStoppedError);
    const outcome = await queued;
    assert.ok('ex' in outcome, `the cancelled job ran in the next worker: ${JSON.stringify(outcome)}`);
    assert.ok(WeightFileError.is(outcome.ex, 'cancelled'), String(outcome.ex));
  } finally {
    await client.dispose();
  }
});

test('a job moved to the next worker takes no answer the old worker sent for it after the restart: it ends with the next worker\'s answer', { timeout: 10_000 }, async () => {
  const dir = makeTempDir();
  // A 'waits' job is told to wait in the first worker; an 'oom' job then leaves that worker unusable
  // and, in the same breath, the first worker fails the waiting job too (as a job running beside
  // one that ran out of WebAssembly memory does). In the next worker the 'waits' job answers.
  const file = standInWorker(dir, 'unusableWorker', [
    "if (m.job.file === 'oom') {",
    "  parentPort.postMessage({ type: 'error', id: m.id, error: { reason: 'tooLarge', message: 'out of memory' }, unusable: true });",
    "  return parentPort.postMessage({ type: 'error', id: state.waiting, error: { reason: 'corrupt', message: 'the old worker failed it' } });",
    '}',
    ...waitOnce(['state.waiting = m.id;', "parentPort.postMessage({ type: 'waiting', id: m.id, runningBackend: 'cpu' });"]),
  ]);
  const marker = path.join(dir, 'waited');
  const client = new RuntimeClient(file);
  try {
    let saidWaiting!: () => void;
    const waited = new Promise<void>((resolve) => (saidWaiting = resolve));
    const queued = client
      .run<{ threadId: number }>({ kind: 'probe', file: 'waits', marker, backend: 'wasm' } as unknown as RuntimeJob, { onWaiting: () => saidWaiting() })
      .then((result) => ({ result }), (ex: unknown) => ({ ex: String(ex) }));
    await waited;
    await assert.rejects(client.run({ kind: 'probe', file: 'oom', backend: 'cpu' } as unknown as RuntimeJob), /out of memory/);
    const outcome = await queued;
    assert.ok('result' in outcome, `the moved job took the old worker's answer: ${JSON.stringify(outcome)}`);
    assert.notEqual(outcome.result.threadId, Number(fs.readFileSync(marker, 'utf8')), 'it ran in the next worker');
  } finally {
    await client.dispose();
  }
});

test('a job that waited through its backend hold and went on stops with its worker when another job\'s hard stop restarts it, rather than running again from the start in the next worker', { timeout: 10_000 }, async (t) => {
  const dir = makeTempDir();
  // A 'held' job starts (its backend), waits through its hold, then goes on and computes without a
  // word (as a probe does until its report); in a next worker it would answer at once.
  const file = standInWorker(dir, 'resumedWorker', [
    "if (m.job.file === 'ping') return parentPort.postMessage({ type: 'result', id: m.id, result: 'pong' });",
    ...waitOnce([begins('wasm'), "parentPort.postMessage({ type: 'waiting', id: m.id, runningBackend: 'wasm' });", "parentPort.postMessage({ type: 'resumed', id: m.id });"]),
  ]);
  const marker = path.join(dir, 'started');
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const client = new RuntimeClient(file);
  try {
    const stuckCancel = new AbortController();
    const stuck = client.run({ kind: 'probe', file: 'stuck', backend: 'wasm' } as unknown as RuntimeJob, { signal: stuckCancel.signal }).catch((ex: unknown) => ex);
    let saidWaiting!: () => void;
    const waited = new Promise<void>((resolve) => (saidWaiting = resolve));
    const held = client
      .run<{ threadId: number }>({ kind: 'probe', file: 'held', marker, backend: 'wasm' } as unknown as RuntimeJob, { onWaiting: () => saidWaiting() })
      .then((result) => ({ result }), (ex: unknown) => ({ ex }));
    await waited;
    // the worker's messages come in order: once this answer is in, so is the 'resumed' sent before it
    assert.equal(await client.run({ kind: 'probe', file: 'ping', backend: 'wasm' } as unknown as RuntimeJob), 'pong');
    stuckCancel.abort();
    t.mock.timers.tick(hardCancelMs);
    assert.ok((await stuck) instanceof WorkerStoppedError);
    const outcome = await held;
    assert.ok('ex' in outcome, `the job that was computing ran again in the next worker: ${JSON.stringify(outcome)}`);
    assert.ok(outcome.ex instanceof WorkerRestartedError, String(outcome.ex));
  } finally {
    await client.dispose();
  }
});

test('a job posted to a worker blocked in another job’s step, which never began it, moves to the next worker when the hard stop restarts that one, and runs there', { timeout: 10_000 }, async (t) => {
  const dir = makeTempDir();
  // A 'blocks' job begins (it says its backend), then blocks the worker's thread for good, as one long
  // step does: the worker reads no later message. Every other job answers with its thread id.
  const file = standInWorker(dir, 'blockedWorker', [
    "if (m.job.file === 'blocks') {",
    `  ${begins('cpu')}`,
    '  for (;;) {}',
    '}',
    "parentPort.postMessage({ type: 'result', id: m.id, result: { threadId } });",
  ]);
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const client = new RuntimeClient(file);
  try {
    const stuckCancel = new AbortController();
    let backendSaid!: () => void;
    const began = new Promise<void>((resolve) => (backendSaid = resolve));
    const stuck = client.run({ kind: 'probe', file: 'blocks', backend: 'cpu' } as unknown as RuntimeJob, { signal: stuckCancel.signal, onBackend: () => backendSaid() }).catch((ex: unknown) => ex);
    await began;
    const later = client.run<{ threadId: number }>({ kind: 'probe', file: 'later', backend: 'cpu' } as unknown as RuntimeJob).then((result) => ({ result }), (ex: unknown) => ({ ex }));
    stuckCancel.abort();
    t.mock.timers.tick(hardCancelMs); // the stuck job's hard stop restarts the worker
    assert.ok((await stuck) instanceof WorkerStoppedError);
    const outcome = await later;
    assert.ok('result' in outcome, `the job the blocked worker never began was stopped with it: ${String((outcome as { ex: unknown }).ex)}`);
  } finally {
    await client.dispose();
  }
});
