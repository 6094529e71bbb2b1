/**
 * The whole check on real files from ../shared/fixtures (skipped with the reason when absent):
 * a TF.js uint8-quantized MobileNetV2 (stored quantization read back from its own model.json),
 * a TF.js-saved Embedding + GRU model, and int8 / float TFLite files.
 */
import * as fs from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWeightFile, type CheckReport } from '../../../../src/analysis/diagnostics/check';
import { computeTensorStats } from '../../../../src/analysis/tensorStats';
import type { TensorStats } from '../../../../src/analysis/statsTypes';
import type { WeightFile } from '../../../../src/core/model';
import { openLocalPath } from '../../../../src/formats/registry';
import { fixtureOrSkip } from '../../helpers/fixtures';

async function checkFile(p: string): Promise<{ file: WeightFile; report: CheckReport }> {
  const file = await openLocalPath(p);
  const stats = new Map<string, TensorStats>();
  for (const t of file.tensors) {
    if (!t.unavailable && t.dtype !== 'string') {
      stats.set(t.name, await computeTensorStats(t));
    }
  }
  return { file, report: await checkWeightFile(file, stats) };
}

function assertSane(report: CheckReport): void {
  assert.deepEqual(report.diagnostics.filter((d) => d.code === 'internal'), []);
  const walk = (v: unknown, at: string): void => {
    if (typeof v === 'number') {
      assert.ok(Number.isFinite(v), at);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        walk(x, `${at}.${k}`);
      }
    }
  };
  walk(report, 'report');
  assert.equal(report.failures.length, 0, JSON.stringify(report.failures));
}

test('TF.js uint8-quantized MobileNetV2: stored step and range match its model.json', async (t) => {
  const p = fixtureOrSkip(t, 'tfjs-quantized/nsfwjs-mobilenet-v2-uint8/model.json');
  if (!p) {
    return;
  }
  const { file, report } = await checkFile(p);
  try {
    assertSane(report);
    const manifest = (JSON.parse(fs.readFileSync(p, 'utf8')) as { weightsManifest: { weights: { name: string; quantization: { min: number; scale: number } }[] }[] }).weightsManifest[0]!.weights;
    const q = report.diagnostics.filter((d) => d.code === 'quantized-weights');
    assert.equal(q.length, manifest.length, 'one finding per quantized weight');
    const byTensor = new Map(q.map((d) => [d.tensor, d]));
    // Evidence numbers carry 6 significant digits.
    const near = (a: unknown, b: number, what: string) => assert.ok(Math.abs((a as number) - b) <= 1e-5 * Math.abs(b) + 1e-12, `${what}: ${String(a)} vs ${b}`);
    for (const w of manifest) {
      const d = byTensor.get(w.name);
      assert.ok(d, w.name);
      near(d.evidence['step'], w.quantization.scale, `${w.name} step`);
      near(d.evidence['rangeLow'], w.quantization.min, `${w.name} low`);
      near(d.evidence['rangeHigh'], w.quantization.min + 255 * w.quantization.scale, `${w.name} high`);
      assert.equal(d.evidence['levels'], 256);
    }
    // BatchNormalization layers reset the forecast: it stays finite through 155 layers.
    const norms = report.forecast.layers.filter((l) => l.kind === 'normalization');
    assert.ok(norms.length > 10, `${norms.length} normalization layers`);
    // A converted Keras model with an architecture: every kernel analysed, none at its initial draw.
    const matches = report.diagnostics.filter((d) => d.code === 'initializer-match');
    assert.ok(matches.length > 40);
    assert.ok(matches.filter((d) => d.evidence['atInit'] === true).length <= 2, 'a trained model');
  } finally {
    await file.close();
  }
});

test('trained Keras 2.15 MLP (.h5): trained kernels, configured Glorot read, a healthy forecast', async (t) => {
  const p = fixtureOrSkip(t, 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5');
  if (!p) {
    return;
  }
  const { file, report } = await checkFile(p);
  try {
    assertSane(report);
    assert.deepEqual(report.diagnostics.filter((d) => d.severity !== 'info'), []);
    const m = report.diagnostics.filter((d) => d.code === 'initializer-match');
    assert.equal(m.length, 3);
    assert.ok(m.every((d) => d.evidence['atInit'] === false && d.evidence['configured'] === 'glorot_uniform'), JSON.stringify(m.map((d) => d.evidence)));
    // Dense 43 -> 80 relu -> 30 relu -> 1 sigmoid: Glorot before ReLU gets the He advice.
    assert.deepEqual(report.diagnostics.filter((d) => d.code === 'initializer-activation').map((d) => d.evidence['recommended']), ['he', 'he']);
    assert.deepEqual(report.forecast.layers.map((l) => l.activation), ['relu', 'relu', 'sigmoid']);
    assert.equal(report.regularization.regularizerCount, 0);
  } finally {
    await file.close();
  }
});

test('TF.js-saved Embedding + GRU model: recurrent and embedding fans, no internal failures', async (t) => {
  const p = fixtureOrSkip(t, 'tfjs-layers/tfjs-e2e-layers-model/model.json');
  if (!p) {
    return;
  }
  const { file, report } = await checkFile(p);
  try {
    assertSane(report);
    const m = report.diagnostics.filter((d) => d.code === 'initializer-match');
    const rules = new Map(m.map((d) => [String(d.tensor).split('/').pop(), d.evidence['fanRule']]));
    assert.equal(rules.get('embeddings'), 'embedding');
    assert.equal(rules.get('recurrent_kernel'), 'recurrent');
    assert.equal(rules.get('kernel'), 'dense');
    assert.equal(report.precision.length, file.tensors.filter((x) => x.group === 'model').length);
  } finally {
    await file.close();
  }
});

test('int8 TFLite ResNet-8: per-channel steps of the stored conv filters', async (t) => {
  const p = fixtureOrSkip(t, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet_quant.tflite');
  if (!p) {
    return;
  }
  const { file, report } = await checkFile(p);
  try {
    assertSane(report);
    const q = report.diagnostics.filter((d) => d.code === 'quantized-weights' && d.evidence['storageDtype'] === 'int8');
    assert.equal(q.length, 10, '9 conv filters + 1 dense kernel');
    const perChannel = q.filter((d) => (d.evidence['minStep'] as number) < (d.evidence['step'] as number));
    assert.equal(perChannel.length, 9, 'conv filters carry one scale per output channel');
    for (const d of q) {
      // int8 symmetric: range [-128 s, 127 s] with zero point 0.
      assert.ok(Math.abs((d.evidence['rangeHigh'] as number) / (d.evidence['step'] as number) - 127) < 1e-3, String(d.evidence['rangeHigh']));
    }
  } finally {
    await file.close();
  }
});

test('float TFLite sine model: Keras-layout fans from [out, in] kernels', async (t) => {
  const p = fixtureOrSkip(t, 'tflite/tflm-hello-world-tf2.11/hello_world_float.tflite');
  if (!p) {
    return;
  }
  const { file, report } = await checkFile(p);
  try {
    assertSane(report);
    const m = report.diagnostics.filter((d) => d.code === 'initializer-match');
    const fans = m.map((d) => [d.evidence['fanIn'], d.evidence['fanOut']]).sort();
    assert.deepEqual(fans, [[1, 16], [16, 1], [16, 16]].sort());
    assert.ok(report.precision.every((r) => r.fp16.overflowCount === 0));
  } finally {
    await file.close();
  }
});

for (const name of ['pretrainedResnet.tflite', 'pretrainedResnet_quant.tflite']) {
  test(`TFLite ResNet-8 with batch normalization folded into its convolutions (${name}): info like its .h5, no warnings`, async (t) => {
    const p = fixtureOrSkip(t, `tflite/mlperf-tiny-resnet8-tf2.4/${name}`);
    if (!p) {
      return;
    }
    const { file, report } = await checkFile(p);
    try {
      assertSane(report);
      assert.deepEqual(report.diagnostics.filter((d) => d.severity !== 'info').map((d) => d.message), []);
      // 9 convolutions, 7 with a FusedBatchNormV3 in their bias's name (the two 1x1 shortcuts have none).
      const folded = report.diagnostics.filter((d) => d.code === 'initializer-match' && d.evidence['foldedNormalization']);
      assert.equal(folded.length, 7, JSON.stringify(folded.map((d) => d.tensor)));
      assert.ok(folded.some((d) => d.layer === 'model/conv2d' && d.evidence['foldedNormalization'] === 'model/batch_normalization'));
      const scaled = report.diagnostics.filter((d) => d.code === 'initializer-scale').map((d) => d.layer);
      assert.ok(!scaled.some((l) => folded.some((d) => d.layer === l)), `folded kernels judged against initializers: ${scaled.join(', ')}`);
      const signal = report.diagnostics.filter((d) => d.code.startsWith('signal-'));
      assert.ok(signal.every((d) => /folded into the kernels by the converter/.test(d.message) && d.evidence['residualAdds'] === 3), JSON.stringify(signal.map((d) => d.message)));
    } finally {
      await file.close();
    }
  });
}
