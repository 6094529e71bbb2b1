import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { inputIndexRange, probeModel } from '../../../src/runtime/probe';
import { probeFile } from '../../../src/runtime/probeReport';
import { syntheticDataFor } from '../../../src/runtime/training';
import { fixtureOrSkip } from '../helpers/fixtures';

let tf: Tf;
let tfl: Tfl;

before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

/** L2 norm per layer of a TF.js model's float32 weights, read straight from its manifest and weights.bin. */
function storedWeightNorms(dir: string): Map<string, number> {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest as { paths: string[]; weights: { name: string; shape: number[] }[] }[];
  const sums = new Map<string, number>();
  for (const group of manifest) {
    const bytes = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
    let at = 0;
    for (const w of group.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      let s = 0;
      for (let i = 0; i < count; i++) {
        s += bytes.readFloatLE(at + 4 * i) ** 2;
      }
      at += 4 * count;
      const layer = w.name.split('/')[0]!;
      sums.set(layer, (sums.get(layer) ?? 0) + s);
    }
  }
  return new Map([...sums].map(([k, v]) => [k, Math.sqrt(v)]));
}

test('the probe feeds an Embedding integer indices: the TF.js GRU model (Embedding(100) -> GRU) probes with finite gradients', async (t) => {
  const dir = fixtureOrSkip(t, 'tfjs-layers/tfjs-e2e-layers-model');
  if (!dir) {
    return;
  }
  const r = await probeFile(path.join(dir, 'model.json'), { backend: 'cpu', batchSize: 8 });
  assert.equal(r.probe.inputSource, 'indices');
  assert.equal(r.probe.inputStd, null);
  assert.deepEqual(r.probe.layers.map((l) => [l.layer, l.className, l.hasWeights]), [
    ['embedding_Embedding2', 'Embedding', true],
    ['gru_GRU1', 'GRU', true],
  ]);
  const norms = storedWeightNorms(dir);
  for (const l of r.probe.layers) {
    assert.ok(l.gradNorm !== null && Number.isFinite(l.gradNorm) && l.gradNorm > 0, `${l.layer}: gradient norm ${l.gradNorm}`);
    assert.ok(!l.nonFiniteActivation && !l.nonFiniteGradient, l.layer);
    const want = norms.get(l.layer)!;
    assert.ok(Math.abs(l.weightNorm! - want) / want < 1e-6, `${l.layer}: weight norm ${l.weightNorm} vs ${want} from weights.bin`);
  }
  assert.ok(r.probe.loss !== null && Number.isFinite(r.probe.loss));
});

/** Input(5) -> Embedding(inputDim 7), directly or inside a nested Sequential -> Flatten -> Dense(3, softmax). */
function embeddingModel(nested: boolean) {
  const embedding = tfl.layers.embedding({ inputDim: 7, outputDim: 4, name: 'emb' });
  const input = tfl.input({ shape: [5] });
  const embedded = nested ? tfl.sequential({ layers: [embedding] }).apply(input) : embedding.apply(input);
  const flat = tfl.layers.flatten().apply(embedded) as ReturnType<typeof tfl.input>;
  const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' }).apply(flat) as ReturnType<typeof tfl.input>;
  return tfl.model({ inputs: input, outputs: out });
}

test('a functional model\'s Embedding gets indices in the probe; one inside a nested model is found too, and synthetic training data holds indices', async () => {
  const m = embeddingModel(false);
  const nested = embeddingModel(true);
  const dense = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [5], units: 2 })] });
  assert.equal(inputIndexRange(m), 7);
  assert.equal(inputIndexRange(nested), 7);
  assert.equal(inputIndexRange(dense), undefined);
  const p = await probeModel(m, tf, tfl, { batchSize: 16 });
  assert.equal(p.inputSource, 'indices');
  assert.ok(p.layers.filter((l) => l.hasWeights).every((l) => l.gradNorm !== null && l.gradNorm > 0), JSON.stringify(p.layers));
  const data = syntheticDataFor(nested, { model: 'm', synthetic: { samples: 200 } });
  assert.deepEqual(data.xShape, [200, 5]);
  const values = [...data.x];
  assert.ok(values.every((v) => Number.isInteger(v) && v >= 0 && v < 7), 'indices in [0, 7)');
  assert.ok(new Set(values).size >= 5, `indices spread over the range: ${[...new Set(values)].sort().join(', ')}`);
  for (const x of [m, nested, dense]) {
    x.dispose();
  }
});
