/**
 * Jobs side by side in one thread share TF.js's one backend: a job switches it only through its
 * hold, which waits until no other job computes on another backend (backendHolds.ts). Against a
 * stand-in for TF.js that records every switch; the real TF.js case is in training.backend.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { BackendHolds, useBackend, type BackendSwitch } from '../../../src/runtime/backendHolds';

/** A stand-in for TF.js's global backend; `switches` lists every setBackend, `failing` backends do not initialize. */
function fakeTf(initial: string, failing: string[] = []): BackendSwitch & { switches: string[] } {
  let current = initial;
  const switches: string[] = [];
  return {
    switches,
    getBackend: () => current,
    setBackend: (name: string) => {
      switches.push(name);
      if (failing.includes(name)) {
        return Promise.resolve(false);
      }
      current = name;
      return Promise.resolve(true);
    },
  };
}

/** Whether `p` has settled after the pending callbacks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

test('a lone job switches at once; a job already on its backend switches nothing', async () => {
  const tf = fakeTf('cpu');
  const holds = new BackendHolds();
  const a = holds.open();
  assert.equal(await a.use(tf, 'wasm'), true);
  assert.deepEqual(tf.switches, ['wasm']);
  assert.deepEqual(holds.held(), ['wasm']);
  // a second job on the same backend runs beside it, with no switch
  const b = holds.open();
  assert.equal(await b.use(tf, 'wasm'), true);
  assert.equal(await a.use(tf, 'wasm'), true);
  assert.deepEqual(tf.switches, ['wasm']);
  assert.deepEqual(holds.held(), ['wasm', 'wasm']);
  a.close();
  b.close();
  assert.deepEqual(holds.held(), []);
});

test('a job that must switch while others compute on another backend waits until they have ended, and is told which backend it waits for', async () => {
  const tf = fakeTf('wasm');
  const holds = new BackendHolds();
  const told: string[] = [];
  const a = holds.open((held) => told.push(`a waits for ${held}`));
  const b = holds.open((held) => told.push(`b waits for ${held}`));
  const c = holds.open((held) => told.push(`c waits for ${held}`));
  await a.use(tf, 'wasm');
  await b.use(tf, 'wasm');
  await c.use(tf, 'wasm');
  // b falls back to the CPU backend (a kernel its gradients need is missing on wasm)
  const toCpu = b.use(tf, 'cpu');
  assert.equal(await settled(toCpu), false, 'it waits while a and c compute on wasm');
  assert.deepEqual(told, ['b waits for wasm']);
  assert.equal(tf.getBackend(), 'wasm', 'nothing was switched under a and c');
  assert.deepEqual(holds.held(), ['wasm', 'wasm'], 'the waiting job holds nothing');
  a.close();
  assert.equal(await settled(toCpu), false, 'c still computes on wasm');
  c.close();
  assert.equal(await toCpu, true);
  assert.equal(tf.getBackend(), 'cpu');
  assert.deepEqual(holds.held(), ['cpu']);
  assert.deepEqual(tf.switches, ['cpu']);
  b.close();
});

test('a job that comes while another waits to switch waits behind it, also when it could run beside the jobs computing', async () => {
  const tf = fakeTf('wasm');
  const holds = new BackendHolds();
  const a = holds.open();
  await a.use(tf, 'wasm');
  const order: string[] = [];
  const b = holds.open();
  const bCpu = b.use(tf, 'cpu').then(() => order.push(`b on ${tf.getBackend()}`));
  const cTold: string[] = [];
  const c = holds.open((held) => cTold.push(held));
  const cWasm = c.use(tf, 'wasm').then(() => order.push(`c on ${tf.getBackend()}`));
  assert.equal(await settled(cWasm), false, 'c waits behind b');
  assert.deepEqual(cTold, ['cpu'], 'the backend of the job it waits behind');
  a.close();
  await bCpu;
  assert.equal(await settled(cWasm), false, 'c waits for b to end');
  b.close();
  await cWasm;
  assert.deepEqual(order, ['b on cpu', 'c on wasm']);
  assert.deepEqual(tf.switches, ['cpu', 'wasm']);
  c.close();
});

test('jobs waiting for the same backend go together; a cancelled wait rejects and lets the next job go', async () => {
  const tf = fakeTf('wasm');
  const holds = new BackendHolds();
  const a = holds.open();
  await a.use(tf, 'wasm');
  const b = holds.open();
  const c = holds.open();
  const c2 = holds.open();
  const d = holds.open();
  const stop = new AbortController();
  const bCpu = b.use(tf, 'cpu', stop.signal);
  const cCpu = c.use(tf, 'cpu');
  const c2Cpu = c2.use(tf, 'cpu');
  const dWasm = d.use(tf, 'wasm');
  assert.equal(await settled(bCpu), false);
  stop.abort();
  await assert.rejects(bCpu, (ex: unknown) => ex instanceof WeightFileError && ex.reason === 'cancelled');
  assert.equal(await settled(cCpu), false, 'c still waits for a');
  a.close();
  assert.equal(await cCpu, true);
  assert.equal(await c2Cpu, true, 'c2 goes with c');
  assert.deepEqual(holds.held(), ['cpu', 'cpu']);
  assert.equal(await settled(dWasm), false, 'd waits for c and c2');
  c.close();
  assert.equal(await settled(dWasm), false, 'd waits for c2');
  c2.close();
  assert.equal(await dWasm, true);
  assert.deepEqual(tf.switches, ['cpu', 'wasm']);
  // a wait asked for with a signal that is already aborted does not start
  const e = holds.open();
  await assert.rejects(e.use(tf, 'cpu', AbortSignal.abort()), (ex: unknown) => ex instanceof WeightFileError && ex.reason === 'cancelled');
  b.close();
  d.close();
  e.close();
  assert.deepEqual(holds.held(), []);
});

test('a backend that fails to initialize leaves the job holding the backend TF.js kept, and a job waiting for that one goes at once', async () => {
  const tf = fakeTf('cpu', ['webgl']);
  const holds = new BackendHolds();
  const a = holds.open();
  const b = holds.open();
  const aWebgl = a.use(tf, 'webgl');
  const bCpu = b.use(tf, 'cpu'); // asked while a holds webgl, before its switch fails
  assert.equal(await aWebgl, false);
  assert.equal(await settled(bCpu), true, 'b runs beside a on the backend a kept, without waiting for a to end');
  assert.equal(await bCpu, true);
  assert.deepEqual(holds.held(), ['cpu', 'cpu']);
  a.close();
  b.close();
});

test('without a hold (one job in the process, as in the CLI) useBackend switches at once, and only when needed', async () => {
  const tf = fakeTf('cpu');
  assert.equal(await useBackend(tf, 'cpu', undefined), true);
  assert.deepEqual(tf.switches, []);
  assert.equal(await useBackend(tf, 'wasm', undefined), true);
  assert.deepEqual(tf.switches, ['wasm']);
});

test('a job whose wait ends is told that it goes on (the worker tells the host, which then stops it with a restarted worker instead of moving it); a job that did not wait is told nothing', async () => {
  const tf = fakeTf('wasm');
  const holds = new BackendHolds();
  const told: string[] = [];
  const a = holds.open(
    (held) => told.push(`a waits for ${held}`),
    () => told.push('a goes on'),
  );
  const b = holds.open(
    (held) => told.push(`b waits for ${held}`),
    () => told.push('b goes on'),
  );
  await a.use(tf, 'wasm');
  await b.use(tf, 'wasm');
  const toCpu = b.use(tf, 'cpu');
  assert.equal(await settled(toCpu), false);
  assert.deepEqual(told, ['b waits for wasm']);
  a.close();
  assert.equal(await toCpu, true);
  assert.deepEqual(told, ['b waits for wasm', 'b goes on']);
  b.close();
});
