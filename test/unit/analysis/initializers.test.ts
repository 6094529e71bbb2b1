/**
 * Initializer distributions: configs in Keras 2/3 and TF.js spellings with their expected stds
 * (worked out from the initializer definitions), KS distances, the orthogonality and spectral
 * tests on matrices built by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  candidateFromConfig,
  candidateCdf,
  identifyInitializer,
  initializerCandidates,
  ksCritical,
  ksDistance,
  normalCdf,
  orthogonalityError,
  spectralEdgeRatio,
  truncatedNormalStdFactor,
} from '../../../src/analysis/initializers';

const close = (a: number, b: number, rel = 1e-12) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} vs ${b}`);

test('configured initializers as distributions', () => {
  const shape = [300, 100];
  const g = candidateFromConfig({ className: 'GlorotNormal', config: {} }, 300, 100, shape)!;
  assert.equal(g.id, 'glorot_normal');
  close(g.std, Math.sqrt(2 / 400)); // Keras rescales the truncated normal: std is exact
  close(g.bound!, (2 * Math.sqrt(2 / 400)) / truncatedNormalStdFactor);
  const t = candidateFromConfig({ className: 'VarianceScaling', config: { scale: 2, mode: 'fanIn', distribution: 'normal' } }, 300, 100, shape)!;
  assert.equal(t.id, 'he_normal_tfjs'); // TF.js camelCase mode: truncated, not rescaled
  close(t.std, Math.sqrt(2 / 300) * truncatedNormalStdFactor);
  const vs = candidateFromConfig({ className: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'uniform' } }, 300, 100, shape)!;
  assert.equal(vs.id, 'glorot_uniform');
  close(vs.bound!, Math.sqrt(6 / 400));
  const u = candidateFromConfig({ className: 'RandomUniform', config: { minval: -0.01, maxval: 0.01 } }, 300, 100, shape)!;
  assert.deepEqual([u.family, u.distribution, u.bound], ['tiny_uniform', 'uniform', 0.01]);
  close(u.std, 0.01 / Math.sqrt(3));
  const o = candidateFromConfig({ className: 'OrthogonalInitializer', config: { gain: 2 } }, 300, 100, shape)!;
  close(o.std, 2 / Math.sqrt(300));
  assert.equal(candidateFromConfig({ className: 'lecun_normal', config: {} }, 300, 100, shape)!.id, 'lecun_normal');
  assert.equal(candidateFromConfig({ className: 'Zeros', config: {} }, 300, 100, shape)!.distribution, 'constant');
  assert.equal(candidateFromConfig({ className: 'MyInit', config: {} }, 300, 100, shape), undefined);
});

test('built-in candidates for a Dense kernel', () => {
  const c = new Map(initializerCandidates(784, 128, [784, 128]).map((x) => [x.id, x]));
  close(c.get('he_uniform')!.bound!, Math.sqrt(6 / 784));
  close(c.get('lecun_normal_tfjs')!.std, Math.sqrt(1 / 784) * truncatedNormalStdFactor);
  close(c.get('orthogonal')!.std, 1 / Math.sqrt(784));
  close(c.get('random_uniform_0.05')!.std, 0.05 / Math.sqrt(3));
  close(c.get('truncated_normal_0.05')!.std, 0.05 * truncatedNormalStdFactor);
  assert.equal(c.size, 15);
});

test('KS distance and the normal CDF', () => {
  close(normalCdf(0), 0.5, 1e-7);
  close(normalCdf(1.959963984540054), 0.975, 1e-6);
  // A perfectly spread sample on U(-1, 1): KS = 1/n.
  const n = 1000;
  const sorted = Float64Array.from({ length: n }, (_, i) => -1 + (2 * (i + 0.5)) / n);
  const uniform = initializerCandidates(10, 10, [10, 10]).find((x) => x.id === 'random_uniform_0.05')!;
  close(ksDistance(sorted.map((v) => v * 0.05), candidateCdf(uniform)), 0.5 / n, 1e-9);
  close(ksCritical(10000), 0.01949);
});

test('orthogonality and spectral tests', () => {
  // A 4x8 matrix with orthonormal rows (scaled Hadamard rows, gain 1).
  const h = [
    [1, 1, 1, 1, 1, 1, 1, 1],
    [1, -1, 1, -1, 1, -1, 1, -1],
    [1, 1, -1, -1, 1, 1, -1, -1],
    [1, -1, -1, 1, 1, -1, -1, 1],
  ];
  const m = Float64Array.from(h.flat().map((v) => v / Math.sqrt(8)));
  const o = orthogonalityError(m, 4, 8);
  assert.ok(o.error < 1e-12);
  close(o.gain, 1, 1e-12);
  // Transposed (8x4, orthonormal columns) as well.
  const mt = Float64Array.from({ length: 32 }, (_, i) => m[(i % 4) * 8 + Math.floor(i / 4)]!);
  assert.ok(orthogonalityError(mt, 8, 4).error < 1e-12);
  // A rank-1 matrix u v^T: s_max = ||u|| ||v||, rms = ||u|| ||v|| / sqrt(rc).
  const r = 40;
  const c = 30;
  const rank1 = Float64Array.from({ length: r * c }, (_, i) => (1 + (Math.floor(i / c) % 3)) * (1 + (i % c) % 5));
  close(spectralEdgeRatio(rank1, r, c), Math.sqrt(r * c) / (Math.sqrt(r) + Math.sqrt(c)), 1e-9);
});

test('an exact orthogonal draw is named orthogonal and untouched', () => {
  const h = [
    [1, 1, 1, 1, 1, 1, 1, 1],
    [1, -1, 1, -1, 1, -1, 1, -1],
    [1, 1, -1, -1, 1, 1, -1, -1],
    [1, -1, -1, 1, 1, -1, -1, 1],
  ];
  const m = Float64Array.from(h.flat().map((v) => v / Math.sqrt(8)));
  const match = identifyInitializer(m, initializerCandidates(4, 8, [4, 8]), { matrix: { rows: 4, cols: 8 } });
  assert.equal(match.best.id, 'orthogonal');
  assert.equal(match.atInit, true);
  assert.equal(match.untrainedEvidence.orthogonalityError! < 1e-12, true);
});
