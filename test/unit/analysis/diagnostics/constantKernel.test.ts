/**
 * The constant-kernel rule: a kernel whose values are all equal is said to be constant, with its
 * value, instead of "no longer matches any standard initializer ... trained away". Real file: the
 * Keras 3 nested-container fixture (reference values from scripts/reference-constant.py); small
 * models built in memory for the cases the fixture lacks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWeightFile } from '../../../../src/analysis/diagnostics/check';
import { runDiagnostics } from '../../../../src/analysis/diagnostics/diagnostic';
import { fmt } from '../../../../src/analysis/diagnostics/format';
import { sampleTensor } from '../../../../src/analysis/diagnostics/sampleTensor';
import { computeTensorStats } from '../../../../src/analysis/tensorStats';
import type { TensorStats } from '../../../../src/analysis/statsTypes';
import { openLocalPath } from '../../../../src/formats/registry';
import { fixtureOrSkip, repoRoot } from '../../helpers/fixtures';
import { buildModel, statsOf, type TestLayer } from './modelBuilder';

const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'diagnostics', 'constant.reference.json'), 'utf8')) as {
  fixture: string;
  tensors: Record<string, { shape: number[]; count: number; min: number; max: number }>;
};

test('the Keras 3 nested-container fixture: each constant kernel is called constant with its value, not "trained away"', async (t) => {
  const p = fixtureOrSkip(t, reference.fixture);
  if (!p) {
    return;
  }
  const file = await openLocalPath(p);
  try {
    const stats = new Map<string, TensorStats>();
    for (const x of file.tensors) {
      stats.set(x.name, await computeTensorStats(x));
    }
    const report = await checkWeightFile(file, stats);
    assert.deepEqual(report.diagnostics.filter((d) => d.code === 'initializer-match').map((d) => d.message), []);
    const constant = report.diagnostics.filter((d) => d.code === 'constant-kernel');
    const kernels = Object.entries(reference.tensors).filter(([, r]) => r.shape.length === 2);
    assert.deepEqual(constant.map((d) => d.tensor), kernels.map(([name]) => name));
    kernels.forEach(([name, r], i) => {
      const d = constant[i]!;
      assert.equal(r.min, r.max, `${name} is constant in the reference`);
      assert.equal(d.evidence['value'], Number(r.min.toPrecision(6)));
      assert.equal(d.evidence['count'], r.count);
      assert.ok(d.message.startsWith(`${name} is constant: all ${r.count} values are ${fmt(r.min)}, so its ${r.shape[1]} units compute the same function`), d.message);
      // Every kernel after the first three is followed by another constant kernel; the last one has none.
      const last = i === kernels.length - 1;
      assert.equal(d.severity, last ? 'info' : 'warning', name);
      assert.match(d.message, last ? /as the last layer/ : /constant too, get the same gradient: training never breaks the symmetry/);
    });
    assert.deepEqual(
      constant.map((d) => fmt(d.evidence['value'] as number)),
      ['0.1', '0.2', '0.3', '0.5'],
    );
  } finally {
    await file.close();
  }
});

async function diagnose(layers: TestLayer[]) {
  const file = buildModel(layers);
  const stats = await statsOf(file);
  const samples = new Map<string, Float64Array>();
  for (const x of file.tensors) {
    samples.set(x.name, await sampleTensor(x));
  }
  return runDiagnostics({ file, stats, samples });
}

function glorot(fanIn: number, fanOut: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const l = Math.sqrt(6 / (fanIn + fanOut));
  return Float32Array.from({ length: fanIn * fanOut }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * l;
  });
}

test('a Constant-initialized hidden layer before a random one: warned as 32 copies of one unit; different biases are said to be the only difference', async () => {
  const constantInit = { className: 'Constant', config: { value: 0.05 } };
  const base = (bias: Float32Array): TestLayer[] => [
    {
      name: 'hidden',
      className: 'Dense',
      activation: 'relu',
      kernelInitializer: constantInit,
      weights: [
        { weight: 'kernel', shape: [64, 32], values: new Float32Array(64 * 32).fill(0.05) },
        { weight: 'bias', shape: [32], values: bias },
      ],
    },
    { name: 'out', className: 'Dense', activation: 'softmax', weights: [{ weight: 'kernel', shape: [32, 10], values: glorot(32, 10, 7) }] },
  ];
  const d = await diagnose(base(new Float32Array(32)));
  const c = d.filter((x) => x.code === 'constant-kernel');
  assert.equal(c.length, 1);
  assert.equal(c[0]!.severity, 'warning');
  assert.equal(
    c[0]!.message,
    "hidden/kernel is constant: all 2048 values are 0.05, so its 32 units compute the same function of their input and get the same gradient except through the next layer's weights: the layer starts as 32 copies of one unit.",
  );
  // No initializer verdict talks about a draw of it.
  assert.deepEqual(d.filter((x) => x.code === 'initializer-match' && x.tensor === 'hidden/kernel').map((x) => x.message), []);
  assert.deepEqual(d.filter((x) => x.code === 'untrained-layer' && x.tensor === 'hidden/kernel').map((x) => x.message), []);
  const varied = await diagnose(base(Float32Array.from({ length: 32 }, (_, i) => i / 100)));
  const v = varied.filter((x) => x.code === 'constant-kernel');
  assert.equal(v.length, 1);
  assert.match(v[0]!.message, /all see the same weighted sum of their input \(0\.05 x its sum\) and differ only by their biases\.$/);
});

test('a convolution kernel of zeros is constant too (value 0, filters); a single-unit kernel or a random one is not reported', async () => {
  const d = await diagnose([
    { name: 'conv', className: 'Conv2D', activation: 'relu', weights: [{ weight: 'kernel', shape: [3, 3, 3, 8], values: new Float32Array(216) }] },
    { name: 'conv_1', className: 'Conv2D', activation: 'relu', weights: [{ weight: 'kernel', shape: [3, 3, 8, 8], values: glorot(72, 8, 3) }] },
    { name: 'one', className: 'Dense', activation: 'sigmoid', weights: [{ weight: 'kernel', shape: [8, 1], values: new Float32Array(8).fill(0.2) }] },
  ]);
  const c = d.filter((x) => x.code === 'constant-kernel');
  assert.deepEqual(c.map((x) => x.tensor), ['conv/kernel']);
  assert.match(c[0]!.message, /^conv\/kernel is constant: all 216 values are 0, so its 8 filters compute the same function/);
});
