/**
 * The one-pass UnsortedSegmentSum kernels (src/runtime/segmentSum.ts) on the CPU and WebAssembly
 * backends against NumPy's np.add.at, and what they change: a model with an Embedding computes its
 * gradients on the WebAssembly backend instead of falling back to the CPU backend.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, test } from 'node:test';
import { initLayers, type BackendInfo, type Tf, type Tfl } from '../../../src/runtime/backend';
import { ensureGradientBackend, probeModel } from '../../../src/runtime/probe';

// This file runs in its own process (node --test), so the WASM backend chosen here is not shared.
let tf: Tf;
let tfl: Tfl;
let wasm: BackendInfo;
before(async () => {
  ({ tf, tfl, info: wasm } = await initLayers({ preferred: 'wasm' }));
});

/** Python with NumPy, when this machine has it. */
const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0);

interface Case {
  x: number[];
  xShape: number[];
  ids: number[];
  idsShape: number[];
  numSegments: number;
  dtype: 'float32' | 'int32';
}

/** np.add.at into zeros of [numSegments, ...], ids outside [0, numSegments) left out (numpy would wrap negative ones). */
function numpyReference(cases: Case[]): number[][] {
  const script = `
import json, sys, numpy as np
out = []
for c in json.load(sys.stdin):
    dt = np.float32 if c['dtype'] == 'float32' else np.int32
    x = np.array(c['x'], dtype=dt).reshape(c['xShape'])
    ids = np.array(c['ids'], dtype=np.int64).reshape(c['idsShape'])
    lead = len(c['idsShape'])
    rows = x.reshape((-1,) + x.shape[lead:])
    flat = ids.reshape(-1)
    keep = (flat >= 0) & (flat < c['numSegments'])
    res = np.zeros((c['numSegments'],) + x.shape[lead:], dtype=dt)
    np.add.at(res, flat[keep], rows[keep])
    out.append([float(v) for v in res.ravel()])
json.dump(out, sys.stdout)
`;
  const r = spawnSync(python!, ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as number[][];
}

function seeded(n: number, seed: number, scale: number, whole = false): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    const v = (s / 2 ** 32 - 0.5) * scale;
    return whole ? Math.round(v) : Math.fround(v);
  });
}

test('UnsortedSegmentSum on the CPU and WebAssembly backends equals np.add.at (ids of rank 1 and 2, repeats, ids out of range, int32)', { skip: python ? false : 'python3 with numpy not available' }, async () => {
  const cases: Case[] = [
    { x: seeded(40 * 3, 1, 4), xShape: [40, 3], ids: seeded(40, 2, 14, true).map((v) => Math.abs(v) % 7), idsShape: [40], numSegments: 7, dtype: 'float32' },
    { x: seeded(24, 3, 8), xShape: [2, 3, 4], ids: [0, 5, 5, -1, 2, 6], idsShape: [2, 3], numSegments: 6, dtype: 'float32' },
    { x: seeded(12, 4, 100, true), xShape: [12], ids: [3, 3, 0, 1, 9, 2, 2, 2, 0, 1, 3, -4], idsShape: [12], numSegments: 4, dtype: 'int32' },
    { x: seeded(6, 5, 2), xShape: [3, 2], ids: [0, 1, 0], idsShape: [3], numSegments: 0, dtype: 'float32' },
  ];
  const expected = numpyReference(cases);
  const backends = wasm.name === 'wasm' ? ['wasm', 'cpu'] : ['cpu'];
  for (const backend of backends) {
    await tf.setBackend(backend);
    cases.forEach((c, i) => {
      const got = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor(c.x, c.xShape, c.dtype), tf.tensor(c.ids, c.idsShape, 'int32') as never, c.numSegments).dataSync());
      assert.deepEqual(Array.from(got), expected[i], `${backend}, case ${i}`);
    });
  }
  await tf.setBackend(wasm.name);
});

test('a model with an Embedding computes its gradients on the WebAssembly backend (it fell back to the CPU backend)', async (t) => {
  if (wasm.name !== 'wasm') {
    t.skip(`the WASM backend is not available here: ${wasm.fallbacks.join(' ')}`);
    return;
  }
  const m = tfl.sequential({
    layers: [tfl.layers.embedding({ inputDim: 5000, outputDim: 8, inputLength: 6, name: 'emb' }), tfl.layers.flatten({}), tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' })],
  });
  assert.deepEqual(await ensureGradientBackend(tf, wasm, m), wasm);
  assert.equal(tf.getBackend(), 'wasm');
  const p = await probeModel(m, tf, tfl, { batchSize: 16 });
  assert.equal(p.inputSource, 'indices');
  const emb = p.layers.find((l) => l.layer === 'emb')!;
  assert.ok(emb.gradNorm !== null && emb.gradNorm > 0 && Number.isFinite(emb.gradNorm), `embedding gradient ${emb.gradNorm}`);
  m.dispose();
});
