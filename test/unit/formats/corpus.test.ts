/**
 * The fixture corpus: every file under ../shared/fixtures, opened directly, with its expected format
 * and tensor count (or the expected error reason), selected names and shapes; then, for every file
 * that NumPy/h5py can read independently (scripts/make-reference.py → corpus.reference.json), the
 * full statistics of every tensor compared with the reference values.
 * Counts and names come from the fixtures' README (what the files are documented to contain).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { computeTensorStats } from '../../../src/analysis/tensorStats';
import type { TensorStats } from '../../../src/analysis/statsTypes';
import { WeightFileError } from '../../../src/core/errors';
import type { TensorInfo, WeightFile } from '../../../src/core/model';
import { openLocalPath } from '../../../src/formats/registry';
import { fixturesDir, haveFixtures, missingFixturesReason } from '../helpers/fixtures';

/** What opening one fixture file must give. */
interface Row {
  /** Path relative to the fixtures folder. */
  file: string;
  /** Expected format id, or the error reason when opening must fail. */
  format?: string;
  /** Expected error reason. */
  error?: string;
  /** Number of tensors listed (all groups). */
  tensors?: number;
  /** Tensors of the optimizer group. */
  optimizerTensors?: number;
  /** Selected tensors: name → shape (and dtype when given). */
  has?: Record<string, { shape: number[]; dtype?: string; layer?: string }>;
  /** Layer names that must be present. */
  layers?: string[];
}

const ckptLso = 'tf-checkpoint-v2/keras-lso-ckpt-tf2.2';
const smLso = 'tf-savedmodel/keras-lso-savedmodel-tf2.2';
const hp2 = 'tf-savedmodel/serving-half-plus-two-tf2-cpu-tf2.14/00000123';
const hp1 = 'tf-savedmodel/serving-half-plus-two-cpu-tf1.14/00000123';
const mkl = 'tf-savedmodel/serving-half-plus-two-mkl-tf1.12/00000123';
const house = 'tf1-checkpoint/mattchubb-houseprices-tf1.10';
const v1 = 'tf1-checkpoint-v1-format/serving-session-bundle-half-plus-two/00000123';
const kws = 'tflite/mlperf-tiny-kws-dscnn-tf2.3';
const resnet = 'tflite/mlperf-tiny-resnet8-tf2.4';

/** Every entry point of one TF bundle opens the same model. */
function bundleRows(files: string[], row: Omit<Row, 'file'>): Row[] {
  return files.map((file) => ({ file, ...row }));
}

const lsoVariables = { tensors: 11, has: { 'sequential/dense/kernel': { shape: [2, 2], dtype: 'float32', layer: 'dense' } } };

const rows: Row[] = [
  { file: 'README.md', error: 'unrecognized' },
  { file: 'SHA256SUMS', error: 'unrecognized' },
  // Keras legacy HDF5 (fixtures README: Dense 80/30/1; Adam m/v + iteration).
  {
    file: 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5',
    format: 'keras-h5',
    tensors: 19,
    optimizerTensors: 13,
    layers: ['dense', 'dense_1', 'dense_2'],
    has: { 'dense/dense/kernel:0': { shape: [43, 80], dtype: 'float32', layer: 'dense' }, 'dense_2/dense_2/bias:0': { shape: [1], layer: 'dense_2' } },
  },
  {
    file: 'keras-h5/alphabet-soup-charity-keras2.15/model_weights.h5',
    format: 'keras-weights-h5',
    tensors: 6,
    layers: ['dense', 'dense_1', 'dense_2'],
    has: { 'dense_1/dense_1/kernel:0': { shape: [80, 30], layer: 'dense_1' } },
  },
  { file: 'keras-h5/teachable-machine-nested-keras2.4/keras_model.h5', format: 'keras-h5', tensors: 263, layers: ['Conv1', 'dense_Dense1'] },
  // Keras 3.
  { file: 'keras3-keras/keras-nested-container-3.15/pre_pr22362_nested_container.keras', format: 'keras-v3', tensors: 5, layers: ['d_0', 'd_1', 'd_2'] },
  { file: 'keras3-keras/keras-masking-lstm-3.8/model.keras', format: 'keras-v3', tensors: 3 },
  { file: 'keras3-keras/keras-custom-layer-3.13/fixed_model.keras', format: 'keras-v3', tensors: 20, optimizerTensors: 14 },
  { file: 'keras3-weights-h5/diabetes-simple-model/model.weights.h5', format: 'keras-v3-weights', tensors: 20, optimizerTensors: 14 },
  { file: 'keras3-weights-h5/diabetes-simple-model/model.json', error: 'unrecognized' }, // the Keras 3 config, a companion file
  // TF tensor bundles (README: 12 entries in the checkpoint, 14 in the SavedModel, minus the object graph).
  ...bundleRows([`${ckptLso}/checkpoint`, `${ckptLso}/ckpt.index`, `${ckptLso}/ckpt.data-00000-of-00002`, `${ckptLso}/ckpt.data-00001-of-00002`], {
    format: 'tf-checkpoint',
    ...lsoVariables,
  }),
  ...bundleRows(
    [`${smLso}/saved_model.pb`, `${smLso}/variables/variables.index`, `${smLso}/variables/variables.data-00000-of-00002`, `${smLso}/variables/variables.data-00001-of-00002`],
    { format: 'tf-savedmodel', tensors: 13, layers: ['dense'] },
  ),
  ...bundleRows([`${hp2}/saved_model.pb`, `${hp2}/variables/variables.index`, `${hp2}/variables/variables.data-00000-of-00001`], {
    format: 'tf-savedmodel',
    has: { a: { shape: [] }, b: { shape: [] }, c: { shape: [] } },
  }),
  { file: `${hp2}/fingerprint.pb`, error: 'unrecognized' },
  { file: `${hp2}/assets/foo.txt`, error: 'unrecognized' },
  ...bundleRows([`${hp1}/saved_model.pb`, `${hp1}/variables/variables.index`, `${hp1}/variables/variables.data-00000-of-00001`], {
    format: 'tf-savedmodel',
    tensors: 5,
    has: { a: { shape: [] }, a2: { shape: [] }, b: { shape: [] }, c: { shape: [] }, c2: { shape: [] } },
  }),
  { file: `${hp1}/assets/foo.txt`, error: 'unrecognized' },
  ...bundleRows([`${mkl}/saved_model.pb`, `${mkl}/variables/variables.index`, `${mkl}/variables/variables.data-00000-of-00001`], {
    format: 'tf-savedmodel',
    tensors: 9,
    has: { 'conv2d_1/kernel': { shape: [1, 1, 1, 1], layer: 'conv2d_1' }, 'conv2d_2/bias': { shape: [1], layer: 'conv2d_2' } },
  }),
  { file: `${mkl}/assets/foo.txt`, error: 'unrecognized' },
  ...bundleRows([`${house}/checkpoint`, `${house}/model.ckpt.index`, `${house}/model.ckpt.data-00000-of-00001`], {
    format: 'tf-checkpoint',
    tensors: 34,
    optimizerTensors: 22, // Adam and Adam_1 of Variable..Variable_9, beta1_power, beta2_power
    has: { Variable: { shape: [8, 100] }, 'Variable/Adam': { shape: [8, 100] }, Variable_2: { shape: [100, 5] } },
  }),
  { file: `${house}/model.ckpt.meta`, error: 'unrecognized' },
  { file: `${v1}/export-00000-of-00001`, error: 'unsupportedFormat' },
  { file: `${v1}/export.meta`, error: 'unrecognized' },
  // TF.js.
  {
    file: 'tfjs-layers/tfjs-e2e-layers-model/model.json',
    format: 'tfjs-layers',
    tensors: 4,
    layers: ['embedding_Embedding2', 'gru_GRU1'],
    has: { 'embedding_Embedding2/embeddings': { shape: [100, 20], layer: 'embedding_Embedding2' }, 'gru_GRU1/recurrent_kernel': { shape: [4, 12] } },
  },
  { file: 'tfjs-layers/tfjs-e2e-layers-model/weights.bin', error: 'unrecognized' },
  { file: 'tfjs-graph/tfjs-e2e-graph-model/model.json', format: 'tfjs-graph', tensors: 1, has: { w: { shape: [2, 2], dtype: 'float32' } } },
  { file: 'tfjs-graph/tfjs-e2e-graph-model/weights.bin', error: 'unrecognized' },
  { file: 'tfjs-graph/tfjs-move-lstm/model.json', format: 'tfjs-graph', tensors: 75 },
  { file: 'tfjs-graph/tfjs-move-lstm/group1-shard1of1.bin', error: 'unrecognized' },
  { file: 'tfjs-quantized/nsfwjs-mobilenet-v2-uint8/model.json', format: 'tfjs-layers', tensors: 266, has: { 'Conv1/kernel': { shape: [3, 3, 3, 32], dtype: 'float32' } } },
  { file: 'tfjs-quantized/nsfwjs-mobilenet-v2-uint8/group1-shard1of1', error: 'unrecognized' },
  // TFLite (README: constants of subgraph 0).
  { file: 'tflite/har-dnn-tf2.14/model_float16.tflite', format: 'tflite', tensors: 8 },
  { file: 'tflite/har-dnn-tf2.14/model_dynamic.tflite', format: 'tflite', tensors: 8 },
  { file: 'tflite/har-dnn-tf2.14/stripped_sparse_float16.tflite', format: 'tflite', tensors: 8 },
  { file: 'tflite/mediapipe-blazeface-toco/face_detection_front.tflite', format: 'tflite', tensors: 85 },
  { file: `${kws}/kws_ref_model.tflite`, format: 'tflite', tensors: 21 },
  { file: `${kws}/kws_ref_model_float32.tflite`, format: 'tflite', tensors: 21 },
  ...bundleRows([`${kws}/kws_ref_model/saved_model.pb`, `${kws}/kws_ref_model/variables/variables.index`, `${kws}/kws_ref_model/variables/variables.data-00000-of-00001`], {
    format: 'tf-savedmodel',
  }),
  { file: `${resnet}/pretrainedResnet.h5`, format: 'keras-h5', layers: ['conv2d', 'dense', 'batch_normalization'] },
  { file: `${resnet}/pretrainedResnet.tflite`, format: 'tflite', tensors: 21 },
  { file: `${resnet}/pretrainedResnet_quant.tflite`, format: 'tflite', tensors: 21 },
  { file: 'tflite/tflite-style-transfer-toco/style_transfer_f16_384.tflite', format: 'tflite', tensors: 133 },
  { file: 'tflite/tflite-style-transfer-toco/style_transfer_quantized_dynamic.tflite', format: 'tflite', tensors: 152 },
  { file: 'tflite/tflm-hello-world-tf2.11/hello_world_float.tflite', format: 'tflite', tensors: 6 },
  { file: 'tflite/tflm-hello-world-tf2.11/hello_world_int8.tflite', format: 'tflite', tensors: 6 },
];

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      out.push(...listFiles(p));
    } else {
      out.push(path.relative(fixturesDir, p).split(path.sep).join('/'));
    }
  }
  return out.sort();
}

const skip = haveFixtures ? false : missingFixturesReason;

test('every fixture file has a corpus row', { skip }, () => {
  const listed = new Set(rows.map((r) => r.file));
  const missing = listFiles(fixturesDir).filter((f) => !listed.has(f));
  assert.deepEqual(missing, [], 'fixture files without a row in the corpus table');
  const gone = rows.filter((r) => !fs.existsSync(path.join(fixturesDir, r.file))).map((r) => r.file);
  assert.deepEqual(gone, [], 'corpus rows for files that do not exist');
});

for (const row of rows) {
  test(`corpus: ${row.file}`, { skip }, async () => {
    const full = path.join(fixturesDir, row.file);
    if (row.error) {
      await assert.rejects(openLocalPath(full), (ex: unknown) => {
        assert.ok(WeightFileError.is(ex), `expected a WeightFileError, got ${String(ex)}`);
        assert.equal(ex.reason, row.error);
        assert.match(ex.message, new RegExp(escape(path.basename(row.file))), 'the message names the file');
        return true;
      });
      return;
    }
    const file = await openLocalPath(full);
    try {
      assert.equal(file.format, row.format);
      assert.deepEqual(file.warnings, [], 'a complete fixture opens without warnings');
      if (row.tensors !== undefined) {
        assert.equal(file.tensors.length, row.tensors, `tensor count (${file.tensors.map((t) => t.name).join(', ').slice(0, 400)})`);
      }
      if (row.optimizerTensors !== undefined) {
        assert.equal(file.tensors.filter((t) => t.group === 'optimizer').length, row.optimizerTensors, 'optimizer tensors');
      }
      const names = new Set(file.tensors.map((t) => t.name));
      assert.equal(names.size, file.tensors.length, 'tensor names are unique');
      for (const [name, want] of Object.entries(row.has ?? {})) {
        const t = file.tensors.find((x) => x.name === name);
        assert.ok(t, `tensor '${name}' is listed (have: ${[...names].slice(0, 20).join(', ')})`);
        assert.deepEqual([...t.shape], want.shape, `shape of ${name}`);
        if (want.dtype) {
          assert.equal(t.dtype, want.dtype, `dtype of ${name}`);
        }
        if (want.layer) {
          assert.equal(t.layer, want.layer, `layer of ${name}`);
        }
      }
      for (const layer of row.layers ?? []) {
        assert.ok(
          file.layers.some((l) => l.name === layer || l.name.endsWith(`/${layer}`)),
          `layer '${layer}' is listed (have: ${file.layers.map((l) => l.name).slice(0, 30).join(', ')})`,
        );
      }
      for (const t of file.tensors) {
        assert.equal(t.unavailable, undefined, `${t.name} is readable`);
        assert.ok(t.shape.every((d) => Number.isInteger(d) && d >= 0), `${t.name} has a valid shape`);
      }
    } finally {
      await file.close();
    }
  });
}

/** Independent NumPy/h5py statistics (scripts/make-reference.py). */
interface RefTensor {
  shape: number[];
  head: number[];
  stats: Omit<TensorStats, 'histogram' | 'logHistogram' | 'percentileErrorBound'> & { histogram: { counts: number[] } | null };
}
const reference: Record<string, Record<string, RefTensor>> = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '..', '..', '..', '..', 'test', 'unit', 'formats', 'corpus.reference.json'), 'utf8'),
);

/** Finds the tensor a reference key (HDF5 path or manifest name) describes. */
function findTensor(file: WeightFile, key: string): TensorInfo | undefined {
  return file.tensors.find((t) => {
    const h5 = typeof t.extra?.['hdf5Path'] === 'string' ? (t.extra['hdf5Path'] as string).replace(/^\//, '') : undefined;
    return h5 === key || t.name === key;
  });
}

function close(actual: number | null, expected: number | null, what: string, rel = 1e-6): void {
  if (expected === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.ok(actual !== null, `${what}: got null, expected ${expected}`);
  const tol = rel * Math.max(Math.abs(expected), 1e-30) + 1e-12;
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs NumPy ${expected}`);
}

for (const [rel, tensors] of Object.entries(reference)) {
  test(`stats vs NumPy: ${rel}`, { skip }, async () => {
    const file = await openLocalPath(path.join(fixturesDir, rel));
    try {
      for (const [key, ref] of Object.entries(tensors)) {
        const t = findTensor(file, key);
        assert.ok(t, `tensor for '${key}' is listed`);
        assert.deepEqual([...t.shape], ref.shape, `shape of ${key}`);
        const s = await computeTensorStats(t, { chunkElements: 4096 });
        const r = ref.stats;
        for (const k of ['count', 'nanCount', 'posInfCount', 'negInfCount', 'zeroCount'] as const) {
          assert.equal(s[k], r[k], `${key} ${k}`);
        }
        assert.equal(s.min, r.min, `${key} min`);
        assert.equal(s.max, r.max, `${key} max`);
        assert.equal(s.absMax, r.absMax, `${key} absMax`);
        close(s.mean, r.mean, `${key} mean`);
        close(s.std, r.std, `${key} std`);
        close(s.l1, r.l1, `${key} l1`);
        close(s.l2, r.l2, `${key} l2`);
        // Higher moments of nearly constant tensors are ill-conditioned in float64 in both implementations.
        const wellConditioned = r.std !== null && r.mean !== null && r.std > 1e-7 * Math.max(1, Math.abs(r.mean));
        if (wellConditioned) {
          close(s.skewness, r.skewness, `${key} skewness`, 1e-5);
          close(s.kurtosis, r.kurtosis, `${key} kurtosis`, 1e-5);
        }
        close(s.nearZeroFraction, r.nearZeroFraction, `${key} nearZeroFraction`);
        for (const [p, v] of Object.entries(r.percentiles)) {
          const got = s.percentiles[p as keyof typeof s.percentiles];
          if (v === null) {
            assert.equal(got, null);
          } else {
            assert.ok(got !== null && Math.abs(got - v) <= s.percentileErrorBound + 1e-9 * Math.max(1, Math.abs(v)), `${key} ${p}: ${got} vs NumPy ${v} (bound ${s.percentileErrorBound})`);
          }
        }
        if (r.histogram) {
          assert.deepEqual(s.histogram.counts, r.histogram.counts, `${key} histogram counts`);
        }
      }
    } finally {
      await file.close();
    }
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
