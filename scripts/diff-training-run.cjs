// Writes a short, deterministic TF.js training run: one checkpoint per epoch as
// <out>/epoch-NNN/model.json + weights.bin (the layout tfjs-node's file:// handler writes).
// The diff and history tests write it at test time; scripts/reference-diff.py computes NumPy
// reference values on the same bytes. CPU backend, seeded initializers and data, no shuffling:
// two runs write identical bytes (the tests check the SHA-256 stored with the reference).
//   node scripts/diff-training-run.cjs <out-dir>
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS dev script */
const fs = require('node:fs');
const path = require('node:path');

/** Number of epochs trained after the initial checkpoint (epoch-000). */
const epochs = 3;

/** Mulberry32: a tiny seeded PRNG. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r) {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Saves a layers model as model.json + weights.bin in `dir`. */
async function save(tf, model, dir) {
  let artifacts;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  fs.mkdirSync(dir, { recursive: true });
  const data = Buffer.from(artifacts.weightData);
  const json = {
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
  };
  fs.writeFileSync(path.join(dir, 'weights.bin'), data);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
}

/** Trains the run and writes epoch-000 .. epoch-NNN under `out`; returns the checkpoint folders. */
async function writeDiffTrainingRun(out) {
  const tf = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-cpu');
  const tfl = require('@tensorflow/tfjs-layers');
  await tf.setBackend('cpu');
  const r = rng(2024);
  const n = 256;
  const d = 12;
  const k = 3;
  const centers = Array.from({ length: k }, () => Array.from({ length: d }, () => 2 * gaussian(r)));
  const x = new Float32Array(n * d);
  const y = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * k);
    for (let j = 0; j < d; j++) {
      x[i * d + j] = centers[c][j] + gaussian(r);
    }
    y[i * k + c] = 1;
  }
  const xs = tf.tensor2d(x, [n, d]);
  const ys = tf.tensor2d(y, [n, k]);
  const model = tfl.sequential({ name: 'diff_run' });
  model.add(tfl.layers.dense({ inputShape: [d], units: 24, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 41 }), name: 'dense' }));
  model.add(tfl.layers.dense({ units: 12, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 42 }), name: 'dense_1' }));
  model.add(tfl.layers.dense({ units: k, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 43 }), name: 'dense_2' }));
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  const dirs = [];
  const dirOf = (e) => path.join(out, `epoch-${String(e).padStart(3, '0')}`);
  await save(tf, model, dirOf(0));
  dirs.push(dirOf(0));
  for (let e = 1; e <= epochs; e++) {
    await model.fit(xs, ys, { epochs: 1, batchSize: 32, shuffle: false, verbose: 0 });
    await save(tf, model, dirOf(e));
    dirs.push(dirOf(e));
  }
  xs.dispose();
  ys.dispose();
  model.dispose();
  return dirs;
}

module.exports = { writeDiffTrainingRun, epochs };

if (require.main === module) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node scripts/diff-training-run.cjs <out-dir>');
    process.exit(2);
  }
  writeDiffTrainingRun(path.resolve(out)).then((dirs) => console.log(dirs.join('\n')));
}
