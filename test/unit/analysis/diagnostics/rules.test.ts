/**
 * The rules on small models whose answer is known by construction: configured vs drawn
 * initializer, activation advice, a frozen-looking layer among trained ones, NaN weights, the
 * precision rules, internal failures contained, and JSON safety of every finding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiagnostics, type Diagnostic } from '../../../../src/analysis/diagnostics/diagnostic';
import { checkWeightFile, shouldFail } from '../../../../src/analysis/diagnostics/check';
import { fp16Overflow } from '../../../../src/analysis/diagnostics/fp16Overflow';
import { sampleTensor } from '../../../../src/analysis/diagnostics/sampleTensor';
import { analyzePrecision } from '../../../../src/analysis/precision';
import { WeightFileError } from '../../../../src/core/errors';
import type { WeightFile } from '../../../../src/core/model';
import { buildModel, statsOf, type TestLayer } from './modelBuilder';

/** Mulberry32 + Box-Muller: seeded draws for the tests. */
function rng(seed: number): { uniform: () => number; normal: () => number } {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { uniform, normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()) };
}

function glorotUniform(fanIn: number, fanOut: number, seed: number): Float32Array {
  const r = rng(seed);
  const l = Math.sqrt(6 / (fanIn + fanOut));
  return Float32Array.from({ length: fanIn * fanOut }, () => (2 * r.uniform() - 1) * l);
}

/** A He-normal draw plus a strong rank-1 update (what training leaves behind). */
function trainedHe(fanIn: number, fanOut: number, seed: number): Float32Array {
  const r = rng(seed);
  const s = Math.sqrt(2 / fanIn);
  const u = Array.from({ length: fanIn }, () => r.normal());
  const v = Array.from({ length: fanOut }, () => r.normal());
  return Float32Array.from({ length: fanIn * fanOut }, (_, i) => s * r.normal() + 0.6 * s * u[Math.floor(i / fanOut)]! * v[i % fanOut]!);
}

async function diagnose(layers: TestLayer[], precision = false): Promise<{ file: WeightFile; d: Diagnostic[] }> {
  const file = buildModel(layers);
  const stats = await statsOf(file);
  const samples = new Map<string, Float64Array>();
  for (const t of file.tensors) {
    samples.set(t.name, await sampleTensor(t));
  }
  const prec = new Map();
  if (precision) {
    for (const t of file.tensors) {
      prec.set(t.name, await analyzePrecision(t));
    }
  }
  return { file, d: runDiagnostics({ file, stats, samples, precision: prec }) };
}

const zeros = (n: number) => ({ weight: 'bias', shape: [n], values: new Float32Array(n) });

test('a kernel drawn by another initializer than the configured one', async () => {
  const { d } = await diagnose([
    { name: 'd', className: 'Dense', activation: 'relu', kernelInitializer: { className: 'HeNormal', config: {} }, weights: [{ weight: 'kernel', shape: [200, 100], values: glorotUniform(200, 100, 1) }, zeros(100)] },
  ]);
  const m = d.find((x) => x.code === 'initializer-config-mismatch');
  assert.ok(m, JSON.stringify(d.map((x) => x.message)));
  assert.equal(m.evidence['identified'], 'glorot_uniform');
  assert.equal(m.severity, 'warning');
});

test('activation advice: glorot before relu is info, glorot before selu a warning', async () => {
  const { d } = await diagnose([
    { name: 'a', className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [100, 100], values: glorotUniform(100, 100, 2) }] },
    { name: 'b', className: 'Dense', activation: 'selu', weights: [{ weight: 'kernel', shape: [100, 100], values: glorotUniform(100, 100, 3) }] },
  ]);
  const adv = d.filter((x) => x.code === 'initializer-activation');
  assert.deepEqual(adv.map((x) => [x.layer, x.severity, x.evidence['recommended']]), [['b', 'warning', 'lecun'], ['a', 'info', 'he']]);
  assert.deepEqual(d.filter((x) => x.code === 'initializer-scale'), []);
});

test('an untouched layer among trained ones is a warning; a frozen one is info', async () => {
  for (const trainable of [true, false]) {
    const { d } = await diagnose([
      { name: 't1', className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [128, 64], values: trainedHe(128, 64, 4) }] },
      { name: 'frozen', className: 'Dense', activation: 'relu', trainable, weights: [{ weight: 'kernel', shape: [64, 64], values: glorotUniform(64, 64, 5) }, zeros(64)] },
      { name: 't2', className: 'Dense', activation: 'linear', weights: [{ weight: 'kernel', shape: [64, 32], values: trainedHe(64, 32, 6) }] },
    ]);
    const match = new Map(d.filter((x) => x.code === 'initializer-match').map((x) => [x.layer, x.evidence['atInit']]));
    assert.deepEqual([...match], [['t1', false], ['frozen', true], ['t2', false]]);
    const u = d.filter((x) => x.code === 'untrained-layer');
    assert.deepEqual(u.map((x) => [x.layer, x.severity]), [['frozen', trainable ? 'warning' : 'info']]);
    assert.match(u[0]!.message, /bias is still all zeros/);
  }
});

test('NaN weights are an error and fail --fail-on error', async () => {
  const v = glorotUniform(10, 10, 7);
  v[3] = NaN;
  v[4] = Infinity;
  const file = buildModel([{ name: 'd', className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [10, 10], values: v }] }]);
  const report = await checkWeightFile(file, await statsOf(file));
  const nf = report.diagnostics.filter((x) => x.code === 'non-finite-values');
  assert.equal(nf.length, 1);
  assert.equal(nf[0]!.severity, 'error');
  assert.deepEqual([nf[0]!.evidence['nanCount'], nf[0]!.evidence['posInfCount']], [1, 1]);
  assert.equal(shouldFail(report, 'error'), true);
  assert.equal(report.precision[0]!.nonFiniteCount, 2);
  const walk = (v: unknown): void => {
    if (typeof v === 'number') {
      assert.ok(Number.isFinite(v));
    } else if (v && typeof v === 'object') {
      Object.values(v).forEach(walk);
    }
  };
  walk(report);
});

test('precision rules: float16 overflow, outlier channels, keep-fp32 advice', async () => {
  const r = rng(8);
  const big = Float32Array.from({ length: 64 * 16 }, () => 0.05 * r.normal());
  big[5] = 1e5;
  const outlier = Float32Array.from({ length: 128 * 32 }, (_, i) => 0.05 * r.normal() * (i % 32 === 7 ? 40 : 1));
  const { d } = await diagnose(
    [
      { name: 'a', className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [64, 16], values: big }] },
      { name: 'b', className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [128, 32], values: outlier }] },
    ],
    true,
  );
  const ov = d.filter((x) => x.code === 'fp16-overflow');
  assert.deepEqual(ov.map((x) => [x.tensor, x.evidence['overflowCount']]), [['a/kernel', 1]]);
  const oc = d.filter((x) => x.code === 'int8-outlier-channels');
  assert.deepEqual(oc.map((x) => [x.tensor, x.evidence['outlierChannels']]), [['b/kernel', 1]]);
  assert.match(oc[0]!.message, /channels 7/);
  assert.deepEqual(d.filter((x) => x.code === 'precision-advice').map((x) => x.tensor), ['a/kernel']);
});

test('without an architecture: identification only, no activation-based findings', async () => {
  const { d } = await diagnose([{ name: 'x', weights: [{ weight: 'kernel', shape: [300, 100], values: glorotUniform(300, 100, 9) }] }]);
  assert.deepEqual([...new Set(d.map((x) => x.code))].sort(), ['initializer-match', 'untrained-layer']);
  assert.equal(d.find((x) => x.code === 'initializer-match')!.evidence['candidate'], 'glorot_uniform');
});

test('every finding is JSON-safe and ordered errors first', async () => {
  const v = glorotUniform(784, 128, 10).map((x) => x / 20);
  const { d } = await diagnose([
    { name: 'h', className: 'Dense', activation: 'sigmoid', weights: [{ weight: 'kernel', shape: [784, 128], values: v }] },
    { name: 'o', className: 'Dense', activation: 'softmax', weights: [{ weight: 'kernel', shape: [128, 10], values: glorotUniform(128, 10, 11) }] },
  ]);
  const order = { error: 0, warning: 1, info: 2 } as const;
  for (let i = 1; i < d.length; i++) {
    assert.ok(order[d[i - 1]!.severity] <= order[d[i]!.severity]);
  }
  const sig = d.find((x) => x.code === 'initializer-scale')!;
  assert.equal(sig.severity, 'error');
  assert.match(sig.message, /sigmoid unit outputs about 0\.5/);
  for (const x of d) {
    for (const v2 of Object.values(x.evidence)) {
      assert.ok(v2 === null || ['string', 'boolean'].includes(typeof v2) || Number.isFinite(v2));
    }
  }
});

test('checkWeightFile: an unreadable tensor is listed in failures and the rest still runs; cancellation throws', async () => {
  const file = buildModel([
    { name: 'ok', className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [64, 32], values: glorotUniform(64, 32, 12) }] },
    { name: 'bad', className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [32, 8], values: glorotUniform(32, 8, 13) }] },
  ]);
  const stats = await statsOf(file);
  const bad = file.tensors[1]!;
  const broken = {
    ...bad,
    async *readValues() {
      yield new Float32Array(4);
      throw new WeightFileError('truncated', 'bad.bin: the shard ends at byte 16, 1024 bytes short.');
    },
  };
  const damaged: WeightFile = { ...file, tensors: [file.tensors[0]!, broken] };
  const report = await checkWeightFile(damaged, stats);
  assert.deepEqual(report.failures.map((f) => [f.tensor, f.reason]), [['bad/kernel', 'truncated']]);
  assert.match(report.failures[0]!.message, /shard ends/);
  assert.equal(report.summary.failedTensors, 1);
  assert.deepEqual(report.precision.map((p) => p.tensor), ['ok/kernel']);
  assert.ok(report.diagnostics.some((d) => d.code === 'initializer-match' && d.layer === 'ok'));
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(checkWeightFile(file, stats, { signal: ac.signal }), (e: Error & { reason?: string }) => e.reason === 'cancelled');
});

test('shouldFail: --fail-on warning also fails on warnings, --fail-on error only on errors', () => {
  const w = { diagnostics: [{ severity: 'warning' as const, code: 'x', message: '', evidence: {} }] };
  assert.equal(shouldFail(w, 'warning'), true);
  assert.equal(shouldFail(w, 'error'), false);
  assert.equal(shouldFail({ diagnostics: [] }, 'warning'), false);
});

test('a linear layer followed by BatchNormalization and ReLU layers is judged as a ReLU layer', async () => {
  const tiny = glorotUniform(256, 64, 14).map((x) => x / 30);
  const { d } = await diagnose([
    { name: 'conv', className: 'Dense', activation: 'linear', weights: [{ weight: 'kernel', shape: [256, 64], values: tiny }] },
    { name: 'relu', className: 'ReLU', weights: [] },
    { name: 'out', className: 'Dense', activation: 'linear', weights: [{ weight: 'kernel', shape: [64, 64], values: glorotUniform(64, 64, 15) }] },
    { name: 'bn', className: 'BatchNormalization', weights: [{ weight: 'gamma', shape: [64], values: new Float32Array(64).fill(1) }] },
    { name: 'act', className: 'Activation', activation: 'tanh', weights: [] },
  ]);
  const s = d.find((x) => x.code === 'initializer-scale' && x.layer === 'conv')!;
  assert.equal(s.evidence['activation'], 'relu');
  assert.equal(s.evidence['recommended'], 'he');
  assert.equal(s.severity, 'error');
  const adv = d.filter((x) => x.code === 'initializer-activation' && x.layer === 'out');
  assert.deepEqual(adv, [], 'glorot before BatchNormalization -> tanh is what Glorot is for');
});

test('keep-fp32 advice says why int8 fails (too noisy or too many values rounded to 0) and claims nothing about int8 for a vector', async () => {
  const r = rng(8);
  // a/kernel: one value of 1e5 among N(0, 0.05^2): float16 overflows it; per-tensor int8 keeps its
  // energy (high SQNR) but rounds almost every other value to 0.
  const big = Float32Array.from({ length: 64 * 16 }, () => 0.05 * r.normal());
  big[5] = 1e5;
  // a/bias: 16 values of 1e-7, subnormal in float16 (relative error ~0.19); int8 stores a constant exactly.
  const bias = new Float32Array(16).fill(1e-7);
  const { d } = await diagnose([{ name: 'a', className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [64, 16], values: big }, { weight: 'bias', shape: [16], values: bias }] }], true);
  const advice = new Map(d.filter((x) => x.code === 'precision-advice').map((x) => [x.tensor, x]));
  const kernel = advice.get('a/kernel')!;
  assert.ok(kernel, JSON.stringify(d.map((x) => x.message)));
  assert.ok((kernel.evidence['int8PerTensorSqnrDb'] as number) >= 30, 'the outlier carries the energy: SQNR alone looks fine');
  assert.match(kernel.message, /int8 rounds [\d.]+% of the values to 0 \(> 5%\) per tensor/);
  assert.doesNotMatch(kernel.message, /dB per tensor[^,]*\(< 30 dB\)/);
  const b = advice.get('a/bias')!;
  assert.ok(b, JSON.stringify(d.map((x) => x.message)));
  assert.match(b.message, /^a\/bias: keep float32 — float16 has relative error [\d.]+\.$/);
});

test('depthwise kernels are judged by the kh x kw inputs each output channel sees, with advice that does not shrink the signal', async () => {
  // [3, 3, 96, 1]: Keras's he_normal uses fan_in 3*3*96 = 864 (std sqrt(2/864)), the signal sees 9 inputs.
  const r = rng(11);
  const draw = (std: number) => Float32Array.from({ length: 864 }, () => std * r.normal());
  const layer = (name: string, std: number): TestLayer => ({ name, className: 'DepthwiseConv2D', activation: 'relu', weights: [{ weight: 'depthwise_kernel', shape: [3, 3, 96, 1], values: draw(std) }] });
  const { d } = await diagnose([layer('signal_scaled', Math.sqrt(2 / 9)), layer('keras_he', Math.sqrt(2 / 864))]);
  const scale = d.filter((x) => x.code === 'initializer-scale');
  assert.deepEqual(scale.map((x) => x.layer), ['keras_he'], JSON.stringify(scale.map((x) => x.message)));
  const s = scale[0]!;
  // rms / sqrt(2/9) = sqrt(9/864) = 0.102 and gain 9 x (2/864) x 1/2 = 0.0104, within the draw's sampling.
  assert.ok(Math.abs((s.evidence['ratio'] as number) / Math.sqrt(9 / 864) - 1) < 0.1, String(s.evidence['ratio']));
  assert.ok(Math.abs((s.evidence['forwardGain'] as number) / (9 * (2 / 864) * 0.5) - 1) < 0.2, String(s.evidence['forwardGain']));
  assert.equal(s.evidence['fanIn'], 9);
  assert.match(s.message, /fan_in 9 /);
  assert.doesNotMatch(s.message, /Use he_normal/);
  assert.match(s.message, /VarianceScaling\(scale=192, mode='fan_in'\)/); // (2/9) x 864
});

test('"fixed scale that ignores fan_in" names the initializer that drew the kernel, only when its scale is fixed', async () => {
  const r = rng(12);
  const tiny = Float32Array.from({ length: 256 * 256 }, () => 0.01 * (2 * r.uniform() - 1));
  const { d } = await diagnose([
    { name: 'a', className: 'Dense', activation: 'relu', kernelInitializer: { className: 'GlorotUniform', config: {} }, weights: [{ weight: 'kernel', shape: [256, 256], values: tiny }] },
    { name: 'b', className: 'Dense', activation: 'relu', kernelInitializer: { className: 'RandomUniform', config: { minval: -0.01, maxval: 0.01 } }, weights: [{ weight: 'kernel', shape: [256, 256], values: tiny }] },
  ]);
  const msg = new Map(d.filter((x) => x.code === 'initializer-scale').map((x) => [x.layer, x.message]));
  assert.doesNotMatch(msg.get('a')!, /fixed scale/);
  assert.match(msg.get('b')!, /RandomUniform\(-0\.01, 0\.01\) is a fixed scale that ignores fan_in/);
});

test('initializer-scale calls the root mean square RMS and keeps the std apart', async () => {
  // Values 1 +- 0.2 alternating: mean 1, std 0.2, RMS sqrt(1 + 0.04) = 1.0198, 5.8x He's sqrt(2/64).
  const v = Float32Array.from({ length: 64 * 64 }, (_, i) => 1 + (i % 2 ? 0.2 : -0.2));
  const { d } = await diagnose([{ name: 'a', className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [64, 64], values: v }] }]);
  const s = d.find((x) => x.code === 'initializer-scale')!;
  assert.ok(s, JSON.stringify(d.map((x) => x.message)));
  assert.match(s.message, /RMS 1\.02 is/);
  assert.doesNotMatch(s.message, /: std 1\.02/);
  assert.ok(Math.abs((s.evidence['observedRms'] as number) - Math.hypot(1, 0.2)) < 1e-5, String(s.evidence['observedRms']));
  assert.ok(Math.abs((s.evidence['observedStd'] as number) - 0.2) < 1e-5, String(s.evidence['observedStd']));
});

test('fp16-overflow states the threshold it counts: |x| >= 65520 rounds to Infinity, 65504 < |x| < 65520 does not', async () => {
  const v = Float32Array.from({ length: 64 }, (_, i) => 0.01 * ((i % 7) - 3));
  v[0] = 65510; // rounds to 65504, the largest float16
  v[1] = -65519;
  v[2] = 65520; // ties to even: Infinity
  v[3] = -1e5;
  const { d } = await diagnose([{ name: 'a', className: 'Dense', activation: 'linear', weights: [{ weight: 'kernel', shape: [8, 8], values: v }] }], true);
  const ov = d.find((x) => x.code === 'fp16-overflow')!;
  assert.equal(ov.evidence['overflowCount'], 2);
  assert.match(ov.message, /2 of 64 values have \|x\| >= 65520/);
  assert.match(fp16Overflow.description, />= 65520/);
});

test('a Keras-default glorot_uniform first layer before ReLU that widens 3 -> 64 is a one-off shrink (info), a fixed tiny scale stays an error', async () => {
  // glorot std sqrt(2/67) against He's sqrt(2/3): ratio sqrt(3/67) = 0.212 < 0.25.
  const r = rng(13);
  const glorot = (fi: number, fo: number) => Float32Array.from({ length: fi * fo }, () => Math.sqrt(6 / (fi + fo)) * (2 * r.uniform() - 1));
  const he = (fi: number, fo: number) => Float32Array.from({ length: fi * fo }, () => Math.sqrt(2 / fi) * r.normal());
  const g = { className: 'GlorotUniform', config: {} };
  const { d } = await diagnose([
    { name: 'first', className: 'Dense', activation: 'relu', kernelInitializer: g, weights: [{ weight: 'kernel', shape: [3, 64], values: glorot(3, 64) }] },
    { name: 'hidden', className: 'Dense', activation: 'relu', kernelInitializer: { className: 'HeNormal', config: {} }, weights: [{ weight: 'kernel', shape: [64, 64], values: he(64, 64) }] },
  ]);
  const s = d.filter((x) => x.code === 'initializer-scale');
  assert.deepEqual(s.map((x) => [x.layer, x.severity]), [['first', 'info']], JSON.stringify(s.map((x) => x.message)));
  assert.ok(Math.abs((s[0]!.evidence['ratio'] as number) / Math.sqrt(3 / 67) - 1) < 0.1, String(s[0]!.evidence['ratio']));
  assert.doesNotMatch(s[0]!.message, /vanish with depth/);
  const tiny = { className: 'RandomUniform', config: { minval: -0.01, maxval: 0.01 } };
  const u = (n: number) => Float32Array.from({ length: n }, () => 0.01 * (2 * r.uniform() - 1));
  const bad = await diagnose([
    { name: 'first', className: 'Dense', activation: 'relu', kernelInitializer: tiny, weights: [{ weight: 'kernel', shape: [64, 64], values: u(4096) }] },
    { name: 'hidden', className: 'Dense', activation: 'relu', kernelInitializer: tiny, weights: [{ weight: 'kernel', shape: [64, 64], values: u(4096) }] },
  ]);
  assert.deepEqual(bad.d.filter((x) => x.code === 'initializer-scale').map((x) => x.severity), ['error', 'error']);
});

test('the one-off first-layer shrink follows the verdict of the forecast: a dip that a normalization cancels does not make it a warning', async () => {
  // first: 3 x (2/67) x 1/2 = 0.045; hidden: 64 x 0.056^2 x 1/2 = 0.1, so the chain reaches 0.0045 at
  // 'hidden', whose output a BatchNormalization resets: the forecast judges no vanishing there.
  const r = rng(17);
  const g = { className: 'GlorotUniform', config: {} };
  const { d } = await diagnose([
    { name: 'first', className: 'Dense', activation: 'relu', kernelInitializer: g, weights: [{ weight: 'kernel', shape: [3, 64], values: Float32Array.from({ length: 192 }, () => Math.sqrt(6 / 67) * (2 * r.uniform() - 1)) }] },
    { name: 'hidden', className: 'Dense', activation: 'relu', kernelInitializer: { className: 'RandomNormal', config: { stddev: 0.056 } }, weights: [{ weight: 'kernel', shape: [64, 64], values: Float32Array.from({ length: 4096 }, () => 0.056 * r.normal()) }] },
    { name: 'bn', className: 'BatchNormalization', weights: [{ weight: 'gamma', shape: [64], values: new Float32Array(64).fill(1) }] },
    { name: 'out', className: 'Dense', activation: 'relu', kernelInitializer: { className: 'HeNormal', config: {} }, weights: [{ weight: 'kernel', shape: [64, 64], values: Float32Array.from({ length: 4096 }, () => Math.sqrt(2 / 64) * r.normal()) }] },
  ]);
  assert.deepEqual(d.filter((x) => x.code === 'signal-vanishing'), []);
  const first = d.filter((x) => x.code === 'initializer-scale' && x.layer === 'first');
  assert.deepEqual(first.map((x) => x.severity), ['info'], JSON.stringify(first.map((x) => x.message)));
  assert.match(first[0]!.message, /The forecast keeps the signal within the healthy band/);
});
