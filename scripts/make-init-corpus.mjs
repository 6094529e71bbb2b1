// Writes a labelled corpus of weight tensors drawn by the TensorFlow.js initializers, for the
// initializer-identification test (test/unit/analysis/diagnostics/initializerCorpus.test.ts).
//   node scripts/make-init-corpus.mjs <out-dir> [--quick]
//
// Every initializer x every shape below, each once as drawn ("untrained") and once after a few
// SGD steps ("trained"); activations rotate over the entries (they do not change the draw but
// the diagnostics read them). Output: <out-dir>/corpus.json (labels) and <out-dir>/<i>.f32
// (raw little-endian float32 values, row-major, Keras layout).
//
// The "trained" variant is a documented synthetic update: the tensor is viewed as the matrix
// W [prod(shape[:-1]), shape[-1]] and takes 3 SGD steps on the least-squares loss
// |X W - X T|^2 / (2 b), with X a batch of b = 32 standard-normal inputs (one-hot token ids for
// embeddings), T = W + A B a rank-4 teacher (A, B normal, scaled to 3x the init std), and the step
// size chosen so that the first step moves W by 10% of its norm (about 25-30% after 3 steps).
// That is what early training does to a layer: a low-rank, data-aligned change of a few tens of
// percent of the initial norm.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const wasm = require('@tensorflow/tfjs-backend-wasm');
wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
const tfl = require('@tensorflow/tfjs-layers');

// The Node build of tfjs-core ships without the chained tensor methods the Orthogonal initializer
// calls (t.flatten(), t.stridedSlice(), ...); register the few it needs.
for (const name of ['flatten', 'stridedSlice', 'sign', 'transpose', 'reshape']) {
  if (!tf.Tensor.prototype[name]) {
    tf.Tensor.prototype[name] = name === 'flatten' ? function () { return tf.reshape(this, [-1]); } : function (...a) { return tf[name](this, ...a); };
  }
}

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node scripts/make-init-corpus.mjs <out-dir> [--quick]');
  process.exit(2);
}
const quick = process.argv.includes('--quick');
// The WASM backend draws the orthogonal matrices (QR) many times faster than the CPU backend.
await tf.setBackend('wasm');
const warn = console.warn;
console.warn = () => {}; // Orthogonal warns about slowness on every matrix over 2000 elements.

/** [name, TF.js initializer factory, expected candidate id (see src/analysis/initializers.ts), config]. */
const initializers = [
  ['glorotUniform', (seed) => tfl.initializers.glorotUniform({ seed }), 'glorot_uniform'],
  ['glorotNormal', (seed) => tfl.initializers.glorotNormal({ seed }), 'glorot_normal_tfjs'],
  ['heUniform', (seed) => tfl.initializers.heUniform({ seed }), 'he_uniform'],
  ['heNormal', (seed) => tfl.initializers.heNormal({ seed }), 'he_normal_tfjs'],
  ['leCunUniform', (seed) => tfl.initializers.leCunUniform({ seed }), 'lecun_uniform'],
  ['leCunNormal', (seed) => tfl.initializers.leCunNormal({ seed }), 'lecun_normal_tfjs'],
  ['orthogonal', (seed) => tfl.initializers.orthogonal({ seed }), 'orthogonal'],
  ['randomUniform', (seed) => tfl.initializers.randomUniform({ seed }), 'random_uniform_0.05'],
  ['randomNormal', (seed) => tfl.initializers.randomNormal({ seed }), 'random_normal_0.05'],
  ['truncatedNormal', (seed) => tfl.initializers.truncatedNormal({ seed }), 'truncated_normal_0.05'],
  ['randomUniform(-0.01,0.01)', (seed) => tfl.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed }), 'random_uniform_0.01'],
  ['randomNormal(0,0.01)', (seed) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.01, seed }), 'random_normal_0.01'],
];

/** [kind, Keras-layout shape, layer class, tensor role]. */
const shapes = [
  ['dense', [256, 64], 'Dense', 'kernel'],
  ['dense-wide-in', [512, 32], 'Dense', 'kernel'],
  ['dense-expanding', [64, 256], 'Dense', 'kernel'],
  ['conv2d', [3, 3, 16, 32], 'Conv2D', 'kernel'],
  ['conv1d', [5, 24, 40], 'Conv1D', 'kernel'],
  ['depthwise', [5, 5, 96, 1], 'DepthwiseConv2D', 'depthwise_kernel'],
  ['embedding', [1000, 32], 'Embedding', 'embeddings'],
  ['lstm-kernel', [40, 128], 'LSTM', 'kernel'],
  ['lstm-recurrent', [32, 128], 'LSTM', 'recurrent_kernel'],
  ['gru-kernel', [48, 96], 'GRU', 'kernel'],
];
const activations = ['relu', 'tanh', 'sigmoid', 'linear', 'selu', 'elu', 'softmax', 'swish'];

/** Deterministic normal generator (Box-Muller over a 32-bit LCG) for the synthetic training. */
function makeRandn(seed) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
}

/** 3 SGD steps of least squares towards a rank-4 teacher, on the matrix view [r, c]. */
function train(values, r, c, oneHot, seed) {
  const randn = makeRandn(seed);
  const w = Float64Array.from(values);
  let ss = 0;
  for (const v of w) ss += v * v;
  const norm0 = Math.sqrt(ss);
  const std = norm0 / Math.sqrt(w.length);
  const rank = 4;
  const a = Float64Array.from({ length: r * rank }, () => randn());
  const b = Float64Array.from({ length: rank * c }, () => randn());
  const t = new Float64Array(r * c);
  const teacherScale = (3 * std) / Math.sqrt(rank);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += a[i * rank + k] * b[k * c + j];
      t[i * c + j] = w[i * c + j] + teacherScale * s;
    }
  }
  const batch = 32;
  let eta = 0;
  for (let step = 0; step < 3; step++) {
    // X [batch, r]; residual R = X (W - T) [batch, c]; G = X^T R / batch.
    const x = new Float64Array(batch * r);
    for (let n = 0; n < batch; n++) {
      if (oneHot) {
        x[n * r + Math.floor(((randn() + 10) * 7919) % r)] = 1;
      } else {
        for (let i = 0; i < r; i++) x[n * r + i] = randn();
      }
    }
    const res = new Float64Array(batch * c);
    for (let n = 0; n < batch; n++) {
      for (let i = 0; i < r; i++) {
        const xi = x[n * r + i];
        if (xi === 0) continue;
        for (let j = 0; j < c; j++) res[n * c + j] += xi * (w[i * c + j] - t[i * c + j]);
      }
    }
    const g = new Float64Array(r * c);
    for (let n = 0; n < batch; n++) {
      for (let i = 0; i < r; i++) {
        const xi = x[n * r + i];
        if (xi === 0) continue;
        for (let j = 0; j < c; j++) g[i * c + j] += (xi * res[n * c + j]) / batch;
      }
    }
    if (step === 0) {
      let gs = 0;
      for (const v of g) gs += v * v;
      eta = gs > 0 ? (0.1 * norm0) / Math.sqrt(gs) : 0;
    }
    for (let i = 0; i < w.length; i++) w[i] -= eta * g[i];
  }
  let ds = 0;
  for (let i = 0; i < w.length; i++) ds += (w[i] - values[i]) ** 2;
  return { values: Float32Array.from(w), relativeUpdate: Math.sqrt(ds) / norm0 };
}

fs.mkdirSync(outDir, { recursive: true });
const entries = [];
let seed = 1;
let index = 0;
const started = Date.now();
for (const [initName, make, label] of initializers) {
  for (const [kind, shape, className, role] of quick ? shapes.slice(0, 3) : shapes) {
    seed++;
    const drawn = make(seed).apply(shape, 'float32');
    const values = Float32Array.from(drawn.dataSync());
    drawn.dispose();
    const c = shape[shape.length - 1];
    const r = values.length / c;
    for (const trained of [false, true]) {
      const variant = trained ? train(values, r, c, role === 'embeddings', seed * 31 + 7) : { values, relativeUpdate: 0 };
      const file = `${index}.f32`;
      fs.writeFileSync(path.join(outDir, file), Buffer.from(variant.values.buffer, variant.values.byteOffset, variant.values.byteLength));
      entries.push({
        file,
        initializer: initName,
        label,
        kind,
        shape,
        className,
        role,
        activation: activations[index % activations.length],
        trained,
        relativeUpdate: Math.round(variant.relativeUpdate * 1e4) / 1e4,
        seed,
      });
      index++;
    }
  }
}
console.warn = warn;
fs.writeFileSync(
  path.join(outDir, 'corpus.json'),
  JSON.stringify({ generator: 'scripts/make-init-corpus.mjs', tfjsLayers: tfl.version_layers, count: entries.length, entries }, null, 1),
);
console.log(`wrote ${entries.length} tensors to ${outDir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
