/**
 * Regularization: regularizer configs in Keras 2, Keras 3 and TF.js spellings, penalties
 * (l1 x sum|w| + l2 x sum w^2, Keras's definitions) on hand-computable weights, shares, dropout,
 * observed sparsity and L1/L2 ratio, and the large-unregularized-growth rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeRegularization, parseRegularizer } from '../../../src/analysis/regularization';
import { runDiagnostics } from '../../../src/analysis/diagnostics/diagnostic';
import { buildModel, statsOf } from './diagnostics/modelBuilder';

test('parses L1, L2 and L1L2 in every spelling', () => {
  assert.deepEqual(parseRegularizer({ className: 'L2', config: { l2: 0.01 } }), { l1: 0, l2: 0.01, className: 'L2' });
  assert.deepEqual(parseRegularizer({ className: 'L1L2', config: { l1: 0.001, l2: 0.002 } }), { l1: 0.001, l2: 0.002, className: 'L1L2' });
  assert.deepEqual(parseRegularizer({ className: 'l1_l2', config: { l1: 0.5, l2: 0 } }), { l1: 0.5, l2: 0, className: 'l1_l2' });
  assert.deepEqual(parseRegularizer({ className: 'keras.regularizers.L1', config: { l1: 0.3 } }), { l1: 0.3, l2: 0, className: 'L1' });
  assert.equal(parseRegularizer({ className: 'OrthogonalRegularizer', config: { factor: 0.01 } }), undefined);
  assert.equal(parseRegularizer(undefined), undefined);
});

test('penalties, shares, sparsity, L1/L2 ratio and dropout', async () => {
  // kernel a: 50 values +0.2 and 50 zeros -> sum|w| = 10, sum w^2 = 2.
  const a = Float32Array.from({ length: 100 }, (_, i) => (i % 2 ? Math.fround(0.2) : 0));
  const b = new Float32Array(40).fill(Math.fround(0.5)); // sum|w| = 20, sum w^2 = 10
  const file = buildModel([
    { name: 'a', className: 'Dense', activation: 'relu', kernelRegularizer: { className: 'L2', config: { l2: 0.01 } }, activityRegularizer: { className: 'L1', config: { l1: 0.1 } }, weights: [{ weight: 'kernel', shape: [10, 10], values: a }] },
    { name: 'drop', className: 'Dropout', dropoutRate: 0.3, weights: [] },
    { name: 'b', className: 'Dense', activation: 'linear', kernelRegularizer: { className: 'L1L2', config: { l1: 0.01, l2: 0.01 } }, weights: [{ weight: 'kernel', shape: [10, 4], values: b }] },
  ]);
  const r = analyzeRegularization(file, await statsOf(file));
  const la = r.layers.find((l) => l.layer === 'a')!;
  const lb = r.layers.find((l) => l.layer === 'b')!;
  const f32 = (x: number) => Math.fround(x);
  const pa = 0.01 * 50 * f32(0.2) ** 2;
  const pb = 0.01 * 40 * 0.5 + 0.01 * 40 * 0.25;
  assert.ok(Math.abs(la.regularizers[0]!.penalty! - pa) < 1e-9);
  assert.ok(Math.abs(lb.regularizers[0]!.penalty! - pb) < 1e-9);
  assert.ok(Math.abs(r.totalPenalty - (pa + pb)) < 1e-9);
  assert.ok(Math.abs(la.regularizers[0]!.share! - pa / (pa + pb)) < 1e-9);
  assert.equal(la.regularizers[1]!.target, 'activity');
  assert.equal(la.regularizers[1]!.penalty, null);
  assert.equal(la.sparsity, 0.5);
  // sum|w| / (sqrt(n) ||w||) = 10 / (10 * sqrt(2)).
  assert.ok(Math.abs(la.l1l2Ratio! - 1 / Math.SQRT2) < 1e-6);
  assert.ok(Math.abs(lb.l1l2Ratio! - 1) < 1e-12);
  assert.deepEqual(r.dropout, [{ layer: 'drop', rate: 0.3 }]);
  assert.equal(r.regularizerCount, 3);
  const d = runDiagnostics({ file, stats: await statsOf(file) });
  assert.equal(d.filter((x) => x.code === 'regularization-penalty').length, 3);
  const summary = d.find((x) => x.code === 'regularization-summary')!;
  assert.match(summary.message, /3 regularizers configured/);
  assert.match(summary.message, /drop \(0\.3\)/);
});

test('large unregularized layers whose weights grew are called out; regularized ones are not', async () => {
  const glorot = Math.sqrt(2 / (512 + 256));
  const grown = Float32Array.from({ length: 512 * 256 }, (_, i) => (i % 2 ? 3 : -3) * glorot);
  for (const reg of [undefined, { className: 'L2', config: { l2: 1e-4 } }]) {
    const file = buildModel([{ name: 'big', className: 'Dense', activation: 'relu', kernelRegularizer: reg, weights: [{ weight: 'kernel', shape: [512, 256], values: grown }] }]);
    const d = runDiagnostics({ file, stats: await statsOf(file) });
    const g = d.filter((x) => x.code === 'unregularized-growth');
    if (reg) {
      assert.deepEqual(g, []);
    } else {
      assert.equal(g.length, 1);
      assert.equal(g[0]!.severity, 'warning');
      assert.ok(Math.abs((g[0]!.evidence['growth'] as number) - 3) < 1e-4);
    }
  }
});
