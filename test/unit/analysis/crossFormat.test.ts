import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { normalizeTensorPath } from '../../../src/analysis/alignTensors';
import { diffLocalFiles } from '../../../src/analysis/diffPool';
import { fingerprintFile } from '../../../src/analysis/fingerprint';
import { openLocalPath } from '../../../src/formats/registry';
import { fixtureOrSkip, makeTempDir } from '../helpers/fixtures';

const resnetH5 = 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.h5';

/**
 * Writes the TF.js twin of a Keras file: model.json + weights.bin holding the model weights under
 * the names the TF.js converter gives them (the .h5 weight names without ':0'), same values.
 */
async function writeTfjsTwin(h5: string, dir: string): Promise<number> {
  const file = await openLocalPath(h5);
  try {
    const weights: { name: string; shape: number[]; dtype: string }[] = [];
    const parts: Buffer[] = [];
    for (const t of file.tensors) {
      if (t.group !== 'model') {
        continue;
      }
      assert.equal(t.dtype, 'float32', `${t.name} is float32 in the fixture`);
      weights.push({ name: normalizeTensorPath(t.name), shape: [...t.shape], dtype: 'float32' });
      for await (const chunk of t.readValues()) {
        const f = chunk instanceof Float32Array ? chunk : Float32Array.from(chunk);
        parts.push(Buffer.from(f.buffer, f.byteOffset, f.byteLength));
      }
    }
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(parts));
    fs.writeFileSync(
      path.join(dir, 'model.json'),
      JSON.stringify({ format: 'layers-model', generatedBy: 'weightscope test', convertedBy: null, modelTopology: null, weightsManifest: [{ paths: ['weights.bin'], weights }] }),
    );
    return weights.length;
  } finally {
    await file.close();
  }
}

test('the same model saved as Keras .h5 and as TF.js gets identical fingerprints and a diff of zero', async (t) => {
  const h5 = fixtureOrSkip(t, resnetH5);
  if (!h5) {
    return;
  }
  const dir = makeTempDir('weightscope-twin-');
  const written = await writeTfjsTwin(h5, dir);
  // fixtures/README.md: 9 Conv2D (kernel, bias) + 7 BatchNormalization (4 each) + Dense (kernel, bias).
  assert.equal(written, 9 * 2 + 7 * 4 + 2);

  const fa = await openLocalPath(h5);
  const fb = await openLocalPath(path.join(dir, 'model.json'));
  try {
    assert.equal(fa.format, 'keras-h5');
    assert.equal(fb.format, 'tfjs-layers');
    const [pa, pb] = [await fingerprintFile(fa), await fingerprintFile(fb)];
    assert.equal(pa.modelTensorCount, written);
    assert.equal(pb.modelTensorCount, written);
    assert.equal(pa.model, pb.model, 'model fingerprints are equal across formats');
    const byName = new Map(pb.tensors.map((x) => [x.name, x.fingerprint]));
    for (const x of pa.tensors.filter((y) => y.group === 'model')) {
      assert.equal(byName.get(normalizeTensorPath(x.name)), x.fingerprint, `tensor ${x.name}`);
    }
  } finally {
    await fa.close();
    await fb.close();
  }

  const r = await diffLocalFiles(h5, path.join(dir, 'model.json'));
  const model = r.tensors.filter((x) => x.group === 'model');
  assert.equal(model.length, written);
  for (const x of model) {
    assert.equal(x.status, 'identical', `${x.a} -> ${x.b}`);
    assert.equal(x.matchedBy, 'path', `${x.a} is paired by its normalized path`);
    assert.equal(x.relL2, 0);
    assert.equal(x.maxAbsDiff, 0);
  }
  assert.equal(r.summary.relL2, 0);
  assert.equal(r.summary.added, 0);
  // Only the optimizer state of the .h5 has no TF.js counterpart.
  assert.ok(r.tensors.filter((x) => x.status === 'removed').every((x) => x.group === 'optimizer'));
  assert.equal(r.summary.modelFingerprintA, r.summary.modelFingerprintB);
  assert.deepEqual(r.topLayers, []);
});

test('a float .tflite against its Keras .h5: kernels pair by layer, transposes are detected, unfolded ones equal bit for bit', async (t) => {
  const h5 = fixtureOrSkip(t, resnetH5);
  const tflite = fixtureOrSkip(t, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.tflite');
  if (!h5 || !tflite) {
    return;
  }
  const r = await diffLocalFiles(h5, tflite);
  const kernels = r.tensors.filter((x) => x.a !== null && x.b !== null && /kernel:0$/.test(x.a));
  assert.equal(kernels.length, 10, '9 conv kernels and the dense kernel are paired');
  for (const k of kernels) {
    assert.equal(k.matchedBy, 'layer');
    assert.equal(k.shapeChange, 'transposed', `${k.a} ${JSON.stringify(k.shapeA)} vs ${JSON.stringify(k.shapeB)}`);
    // Keras HWIO -> TFLite OHWI; Dense [in, out] -> [out, in].
    assert.deepEqual(k.permutation, k.shapeA!.length === 4 ? [3, 0, 1, 2] : [1, 0]);
  }
  // fixtures/README.md (verified): conv2d_5, conv2d_8 (no BatchNorm after them) and the dense kernel
  // equal the .h5 kernels transposed bit for bit; the 7 others carry folded BatchNorm.
  for (const name of ['conv2d_5/conv2d_5/kernel:0', 'conv2d_8/conv2d_8/kernel:0', 'dense/dense/kernel:0']) {
    const k = kernels.find((x) => x.a === name)!;
    assert.equal(k.changedFraction, 0, name);
    assert.equal(k.relL2, 0, name);
  }
  assert.ok(kernels.filter((x) => (x.changedFraction ?? 0) > 0).length === 7);
});
