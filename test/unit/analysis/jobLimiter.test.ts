/**
 * JobLimiter: at most limit() jobs at once, first come first served, a job aborted while it waits
 * never starts, and a failing job frees its place.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobLimiter } from '../../../src/analysis/jobLimiter';

/** A job that runs until `release()` is called, recording its start. */
function gate(started: string[], name: string): { job: () => Promise<string>; release: () => void } {
  let release = (): void => undefined;
  const done = new Promise<string>((r) => {
    release = () => r(name);
  });
  return {
    job: () => {
      started.push(name);
      return done;
    },
    release,
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('runs at most limit() jobs at once, in the order they came', async () => {
  let limit = 2;
  const limiter = new JobLimiter(() => limit);
  const started: string[] = [];
  const jobs = ['a', 'b', 'c', 'd'].map((n) => gate(started, n));
  const results = jobs.map((j) => limiter.run(j.job));
  await tick();
  assert.deepEqual(started, ['a', 'b']);
  assert.equal(limiter.active, 2);
  assert.equal(limiter.waiting, 2);
  jobs[1]!.release();
  await tick();
  assert.deepEqual(started, ['a', 'b', 'c']);
  limit = 3; // read again when a place could free up
  jobs[0]!.release();
  await tick();
  assert.deepEqual(started, ['a', 'b', 'c', 'd']);
  jobs[2]!.release();
  jobs[3]!.release();
  assert.deepEqual(await Promise.all(results), ['a', 'b', 'c', 'd']);
  assert.equal(limiter.active, 0);
});

test('a job aborted while it waits rejects as cancelled and never starts; a failing job frees its place', async () => {
  const limiter = new JobLimiter(() => 1);
  const started: string[] = [];
  const first = gate(started, 'first');
  const running = limiter.run(first.job);
  const abort = new AbortController();
  const dropped = limiter.run(gate(started, 'dropped').job, abort.signal);
  const failing = limiter.run(async () => {
    started.push('failing');
    throw new Error('the worker failed');
  });
  const last = gate(started, 'last');
  const after = limiter.run(last.job);
  abort.abort();
  await assert.rejects(dropped, (ex: unknown) => (ex as { reason?: string }).reason === 'cancelled');
  first.release();
  await running;
  await assert.rejects(failing, /the worker failed/);
  await tick();
  last.release();
  assert.equal(await after, 'last');
  assert.deepEqual(started, ['first', 'failing', 'last']);
  await assert.rejects(limiter.run(async () => 'x', abort.signal), (ex: unknown) => (ex as { reason?: string }).reason === 'cancelled');
});
