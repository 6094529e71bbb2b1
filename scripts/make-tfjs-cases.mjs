// Writes small TF.js models saved by TensorFlow.js itself (tfjs-core + tfjs-layers on the CPU
// backend, through tf.io.withSaveHandler) into a folder, each with an expected.json holding the
// values the script chose (or, for the trained case, the values TF.js reports after training).
// The TF.js reader tests run it at test time into a temp folder; nothing it writes is committed.
//   node scripts/make-tfjs-cases.mjs <outDir>
// Cases:
//   known/    layers-model Sequential (Dense, BatchNormalization, Dense) with weights set to known values, NaN/Inf included
//   sharded/  the same kind of model with its weight bytes split into 1001-byte shards (tensors and elements straddle shards)
//   trained/  a compiled model after one fit step, saved with its optimizer (group 'optimizer') and training config
//   special/  a graph-model manifest written by tf.io.encodeWeights: NaN/Inf, an empty tensor, a 0-d scalar,
//             int32, bool, complex64 and string weights (a string weight followed by an int32 one)
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers');

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node scripts/make-tfjs-cases.mjs <outDir>');
  process.exit(2);
}

/** JSON-safe number list (NaN, infinities and -0 as strings). */
function jsonValues(values) {
  return Array.from(values, (v) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : Object.is(v, -0) ? '-0' : v));
}

/** Values i*step+start for a shape, exact in float32 when step and start are binary fractions. */
function ramp(count, start, step) {
  return Float32Array.from({ length: count }, (_, i) => start + i * step);
}

function writeCase(name, modelJson, shards, expected) {
  const dir = path.join(outDir, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, bytes] of Object.entries(shards)) {
    fs.writeFileSync(path.join(dir, file), bytes);
  }
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  fs.writeFileSync(path.join(dir, 'expected.json'), JSON.stringify(expected));
}

/** Saves a model through a save handler and returns the artifacts TF.js produced. */
async function artifactsOf(model, config) {
  let artifacts;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    }),
    config,
  );
  return artifacts;
}

/** model.json as tfjs-core's file:// and browser handlers write it (io_utils getModelJSONForModelArtifacts, not exported). */
function modelJsonFor(artifacts, paths) {
  const result = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
  };
  for (const key of ['signature', 'userDefinedMetadata', 'modelInitializer', 'initializerSignature', 'trainingConfig']) {
    if (artifacts[key] != null) {
      result[key] = artifacts[key];
    }
  }
  return result;
}

function weightBytes(artifacts) {
  const data = artifacts.weightData;
  return Buffer.from(Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data);
}

async function knownModel(units) {
  const model = tfl.sequential({ name: 'known_model' });
  model.add(tfl.layers.dense({ name: 'dense_a', units, inputShape: [4], activation: 'relu', kernelRegularizer: tfl.regularizers.l2({ l2: 0.01 }) }));
  model.add(tfl.layers.batchNormalization({ name: 'bn' }));
  model.add(tfl.layers.dense({ name: 'dense_b', units: 2, activation: 'softmax' }));
  const values = {};
  const weights = model.weights.map((w, i) => {
    const n = w.shape.reduce((a, d) => a * d, 1);
    let v = ramp(n, -1 + i * 0.5, 0.0625);
    if (w.originalName === 'bn/moving_mean') {
      v = Float32Array.from(v, (x, k) => (k === 0 ? NaN : k === 1 ? Infinity : k === 2 ? -Infinity : x));
    }
    values[w.originalName] = { shape: w.shape, dtype: 'float32', values: jsonValues(v) };
    return tf.tensor(v, w.shape, 'float32');
  });
  model.setWeights(weights);
  return { model, values };
}

async function main() {
  await tf.setBackend('cpu');
  tf.env().set('PROD', true);

  // known/: one weights.bin, as the Node file:// handler writes it.
  {
    const { model, values } = await knownModel(3);
    const artifacts = await artifactsOf(model);
    writeCase('known', modelJsonFor(artifacts, ['weights.bin']), { 'weights.bin': weightBytes(artifacts) }, { tensors: values, order: artifacts.weightSpecs.map((s) => s.name) });
  }

  // sharded/: 1001-byte shards so tensors span two shards and float32 elements straddle shard boundaries.
  {
    const { model, values } = await knownModel(40);
    const artifacts = await artifactsOf(model);
    const bytes = weightBytes(artifacts);
    const shardBytes = 1001;
    const count = Math.ceil(bytes.length / shardBytes);
    const shards = {};
    const paths = [];
    for (let i = 0; i < count; i++) {
      const file = `group1-shard${i + 1}of${count}.bin`;
      shards[file] = bytes.subarray(i * shardBytes, Math.min(bytes.length, (i + 1) * shardBytes));
      paths.push(file);
    }
    writeCase('sharded', modelJsonFor(artifacts, paths), shards, { tensors: values, order: artifacts.weightSpecs.map((s) => s.name), shardBytes, totalBytes: bytes.length });
  }

  // trained/: optimizer weights (manifest group 'optimizer') and trainingConfig; expected values as TF.js reports them.
  {
    const model = tfl.sequential({ name: 'trained_model' });
    model.add(tfl.layers.dense({ name: 'dense_t', units: 2, inputShape: [3], kernelInitializer: 'ones', biasInitializer: 'zeros' }));
    model.compile({ optimizer: tf.train.adam(0.1), loss: 'meanSquaredError' });
    await model.fit(tf.tensor2d([[1, 2, 3], [0, -1, 0.5]]), tf.tensor2d([[1, 0], [0, 1]]), { epochs: 1, batchSize: 2, shuffle: false, verbose: 0 });
    const artifacts = await artifactsOf(model, { includeOptimizer: true });
    const values = {};
    const optimizerWeights = await model.optimizer.getWeights();
    for (const w of model.weights) {
      values[w.originalName] = { shape: w.shape, dtype: w.dtype, values: jsonValues(await w.read().data()) };
    }
    for (const w of optimizerWeights) {
      values[w.name] = { shape: w.tensor.shape, dtype: w.tensor.dtype, values: jsonValues(await w.tensor.data()) };
    }
    writeCase('trained', modelJsonFor(artifacts, ['weights.bin']), { 'weights.bin': weightBytes(artifacts) }, {
      tensors: values,
      order: artifacts.weightSpecs.map((s) => s.name),
      optimizer: artifacts.weightSpecs.filter((s) => s.group === 'optimizer').map((s) => s.name),
    });
  }

  // special/: dtypes and shapes layers models do not produce, encoded by tf.io.encodeWeights.
  {
    const tensors = {
      'special/nan_inf': tf.tensor([NaN, Infinity, -Infinity, -0, 1.5, -2.25], [2, 3], 'float32'),
      'special/empty': tf.zeros([0, 3], 'float32'),
      'special/scalar': tf.scalar(0.75, 'float32'),
      'special/int32': tf.tensor([-2147483648, -7, 0, 42, 2147483647], [5], 'int32'),
      'special/bool': tf.tensor([true, false, false, true], [2, 2], 'bool'),
      'special/complex': tf.complex([1.5, -2], [0.25, 8]),
      'special/labels': tf.tensor(['alpha', 'h\u00e9llo', ''], [3], 'string'),
      'special/after_string': tf.tensor([11, -12], [2], 'int32'),
    };
    const { data, specs } = await tf.io.encodeWeights(tensors);
    const values = {
      'special/nan_inf': { shape: [2, 3], dtype: 'float32', values: jsonValues([NaN, Infinity, -Infinity, -0, 1.5, -2.25]) },
      'special/empty': { shape: [0, 3], dtype: 'float32', values: [] },
      'special/scalar': { shape: [], dtype: 'float32', values: [0.75] },
      'special/int32': { shape: [5], dtype: 'int32', values: [-2147483648, -7, 0, 42, 2147483647] },
      'special/bool': { shape: [2, 2], dtype: 'bool', values: [1, 0, 0, 1] },
      'special/complex': { shape: [2], dtype: 'complex64', values: [1.5, 0.25, -2, 8] },
      'special/labels': { shape: [3], dtype: 'string', byteLength: 3 * 4 + 5 + 6 + 0 },
      'special/after_string': { shape: [2], dtype: 'int32', values: [11, -12] },
    };
    const modelJson = {
      format: 'graph-model',
      generatedBy: `tfjs-core ${tf.version_core}`,
      convertedBy: null,
      modelTopology: { node: [], versions: { producer: 1 } },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
    };
    writeCase('special', modelJson, { 'group1-shard1of1.bin': Buffer.from(data) }, { tensors: values, order: specs.map((s) => s.name) });
  }
}

main().catch((ex) => {
  console.error(ex);
  process.exit(1);
});
