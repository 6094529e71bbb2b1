// Regenerates examples/: small TF.js checkpoints that show what Weightscope finds.
//   npm run examples
// - initialization/: the classic 784-128-128-10 MLP initialized with RandomUniform(-0.01, 0.01) (signals vanish)
//   next to the same net with GlorotUniform kernels (HeNormal variants are built by the tests).
// - regularization/: a plain 256-256 net trained until it overfits, next to L2(0.01) + Dropout(0.2).
// - training-run/: one short training run, a checkpoint per epoch with metrics and parent in its metadata.
// - quantized/: the regularized model exported float16- and uint8-quantized as the TF.js converter does.
// Data is synthetic and seeded, so a re-run writes the same models on the same backend.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const require = createRequire(import.meta.url);
if (spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--out-only'], { stdio: 'inherit' }).status !== 0) {
  process.exit(1);
}
const { initBackend } = require(path.join(root, 'out', 'src', 'runtime', 'backend.js'));
const { writeTfjsModel } = require(path.join(root, 'out', 'src', 'runtime', 'tfjsArtifacts.js'));
const { clusters: syntheticClusters } = require(path.join(root, 'out', 'src', 'runtime', 'syntheticData.js'));
const { tf, info } = await initBackend({ preferred: 'cpu' }); // CPU: bit-for-bit reproducible
const tfl = require('@tensorflow/tfjs-layers');
console.log(`backend: ${info.label}`);

const out = path.join(root, 'examples');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

/** n samples of d features in k Gaussian clusters (one-hot labels), from src/runtime/syntheticData.ts. */
function clusters(n, d, k, seed, spread = 1.0) {
  const set = syntheticClusters(n, d, k, seed, spread);
  return { x: tf.tensor2d(set.x, [n, d]), y: tf.tensor2d(set.y, [n, k]) };
}

/** Saves a layers model through a save handler and writes model.json + weights.bin. */
async function save(model, dir, metadata, quantize) {
  let artifacts;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  await writeTfjsModel(path.join(out, dir), artifacts, { metadata, quantize });
  console.log(`wrote examples/${dir}`);
}

// 1. Initialization: 784-128-128-10 (ReLU, ReLU, softmax), saved as initialized.
const mlp = (name, init) => {
  const m = tfl.sequential({ name });
  m.add(tfl.layers.dense({ inputShape: [784], units: 128, activation: 'relu', kernelInitializer: init(1), name: 'hidden1' }));
  m.add(tfl.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(2), name: 'hidden2' }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3), name: 'output' }));
  m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
};
const inits = {
  'bad-init-uniform-0.01': (s) => tfl.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed: s }),
  'good-init-glorot-uniform': (s) => tfl.initializers.glorotUniform({ seed: s }),
};
for (const [name, init] of Object.entries(inits)) {
  await save(mlp(name.replace(/[^a-z0-9]+/g, '_'), init), `initialization/${name}`, { experiment: 'initialization', epoch: 0, note: 'freshly initialized' });
}

// 2. Regularization: 20 features, 2 classes, few samples so the plain net overfits.
const reg = clusters(160, 20, 2, 7, 2.5);
const regVal = clusters(400, 20, 2, 7, 2.5);
const net = (name, regularized) => {
  const m = tfl.sequential({ name });
  const kr = regularized ? tfl.regularizers.l2({ l2: 0.01 }) : undefined;
  m.add(tfl.layers.dense({ inputShape: [20], units: 256, activation: 'relu', kernelRegularizer: kr, kernelInitializer: tfl.initializers.heNormal({ seed: 11 }), name: 'dense1' }));
  if (regularized) m.add(tfl.layers.dropout({ rate: 0.2, seed: 5, name: 'dropout1' }));
  m.add(tfl.layers.dense({ units: 256, activation: 'relu', kernelRegularizer: kr, kernelInitializer: tfl.initializers.heNormal({ seed: 12 }), name: 'dense2' }));
  if (regularized) m.add(tfl.layers.dropout({ rate: 0.2, seed: 6, name: 'dropout2' }));
  m.add(tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 13 }), name: 'output' }));
  m.compile({ optimizer: tf.train.adam(0.003), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
};
let regularizedModel;
for (const [name, regularized] of [['overfitting-plain', false], ['regularized-l2-dropout', true]]) {
  const m = net(name.replace(/-/g, '_'), regularized);
  const h = await m.fit(reg.x, reg.y, { epochs: 60, batchSize: 32, shuffle: false, validationData: [regVal.x, regVal.y], verbose: 0 });
  const last = (k) => Number(h.history[k].at(-1).toFixed(4));
  await save(m, `regularization/${name}`, {
    experiment: 'regularization', epoch: 60,
    metrics: { loss: last('loss'), val_loss: last('val_loss'), acc: last('acc'), val_acc: last('val_acc') },
  });
  if (regularized) regularizedModel = m;
}

// 3. One training run, a checkpoint per epoch.
const run = clusters(512, 20, 3, 21, 1.5);
const small = tfl.sequential({ name: 'run' });
small.add(tfl.layers.dense({ inputShape: [20], units: 32, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 31 }), name: 'dense' }));
small.add(tfl.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 32 }), name: 'dense_1' }));
small.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 33 }), name: 'dense_2' }));
small.compile({ optimizer: tf.train.sgd(0.05), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
await save(small, 'training-run/epoch-000', { experiment: 'training-run', epoch: 0, parent: null });
for (let epoch = 1; epoch <= 5; epoch++) {
  const h = await small.fit(run.x, run.y, { epochs: 1, batchSize: 32, shuffle: false, validationSplit: 0.2, verbose: 0 });
  await save(small, `training-run/epoch-${String(epoch).padStart(3, '0')}`, {
    experiment: 'training-run', epoch, parent: `epoch-${String(epoch - 1).padStart(3, '0')}`,
    metrics: { loss: Number(h.history.loss[0].toFixed(4)), val_loss: Number(h.history.val_loss[0].toFixed(4)) },
  });
}

// 4. Quantized exports of the regularized model.
for (const q of ['float16', 'uint8']) {
  await save(regularizedModel, `quantized/regularized-${q}`, { experiment: 'precision', quantized: q, parent: 'regularization/regularized-l2-dropout' }, q);
}

let total = 0;
const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else total += fs.statSync(p).size; } };
walk(out);
console.log(`examples/: ${(total / 1024).toFixed(0)} KiB`);
