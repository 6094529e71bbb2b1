/**
 * The three experiments, each training its variants side by side on seeded synthetic
 * Gaussian clusters (syntheticData.ts, the data of the committed examples/) or on the user's data
 * file, and writing every variant's checkpoints under `<outDir>/<experiment>/<variant>/epoch-NNN`
 * (`<experiment>-2`, `-3` ... for reruns, so none writes over an earlier run):
 * - initialization: 784-128-128-10 with RandomUniform(-0.01, 0.01) vs GlorotUniform vs HeNormal,
 *   each probed before training (gradient verdicts) and trained with SGD;
 * - regularization: plain 20-256-256-2 vs L2(0.01) + Dropout(0.2), train/validation curves;
 * - precision: one trained 20-64-64-3 model stored as float32, float16 and uint8 (TF.js converter
 *   quantization), with the output drift against float32 and the accuracy of each.
 * On the user's data the input and output layers take the data's feature and class counts
 * (d-128-128-k, d-256-256-k, d-64-64-k); see prepareExperimentData for how the file is read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { Diagnostic } from '../analysis/diagnostics/diagnostic';
import { makeFolder } from '../core/atomicWrite';
import { float16BitsToNumber } from '../core/dtypes';
import { throwIfAborted, WeightFileError } from '../core/errors';
import { fileSystemError } from '../core/nodeFileSource';
import { initLayers, type BackendInfo, type BackendName, type Tfl } from './backend';
import { useBackend, type BackendHold } from './backendHolds';
import { loadDataSet, positionIn, type DataSet } from './dataLoader';
import { gradientDiagnostics } from './gradientRules';
import { probeModel } from './probe';
import { clusters, rng } from './syntheticData';
import { modelArtifacts, runTraining, writeCheckpointFolder, type EpochMetrics, type RunSpec, type TrainEvent } from './training';
import { quantize } from './tfjsArtifacts';

/** Experiment names. */
export const experimentNames = ['initialization', 'regularization', 'precision'] as const;

/** One of the experiments. */
export type ExperimentName = (typeof experimentNames)[number];

/** One variant's outcome. */
export interface VariantResult {
  /** Variant name, e.g. 'uniform-0.01'. */
  name: string;
  /** Metrics per epoch. */
  history: EpochMetrics[];
  /** Gradient-probe verdicts before training (initialization) or none. */
  diagnostics: Diagnostic[];
  /** Checkpoint folders. */
  checkpoints: string[];
  /** Precision only: max |output - float32 output| over the validation set. */
  outputDrift?: number;
  /** Precision only: validation accuracy. */
  accuracy?: number;
}

/** An experiment's outcome. */
export interface ExperimentResult {
  /** Which experiment. */
  experiment: ExperimentName;
  /** Backend in use. */
  backend: BackendInfo;
  /** Variants side by side. */
  variants: VariantResult[];
  /** Folder holding the variants' checkpoints. */
  outDir: string;
  /** The data the variants were trained on, e.g. 'iris.csv: 150 samples, 4 features, 3 classes'. */
  data: string;
}

/** Experiment events: training events tagged with the variant. */
export type ExperimentEvent = { variant: string; event: TrainEvent };

/** Options of runExperiment. */
export interface ExperimentOptions {
  /** Folder for the checkpoints (a subfolder per experiment). */
  outDir: string;
  /** Epochs per variant (defaults: initialization 5, regularization 30, precision 10). */
  epochs?: number;
  /** The user's data file (.npy/.npz/.csv/.json, see dataLoader.ts); absent = synthetic clusters. */
  dataFile?: string;
  /** Backend. */
  backend?: BackendName | 'auto';
  /** Progress. */
  onEvent?: (e: ExperimentEvent) => void;
  /** Cancels between steps. */
  signal?: AbortSignal;
  /** The job's hold on TF.js's backend, when jobs run side by side in this thread (backendHolds.ts). */
  hold?: BackendHold;
}

function toDataSet(set: { x: Float32Array; y: Float32Array; n: number; d: number; k: number }, source: string): DataSet {
  return { x: set.x, xShape: [set.n, set.d], y: set.y, yShape: [set.n, set.k], source };
}

function concatSets(a: DataSet, b: DataSet): DataSet {
  const join = (p: Float32Array, q: Float32Array): Float32Array => {
    const out = new Float32Array(p.length + q.length);
    out.set(p);
    out.set(q, p.length);
    return out;
  };
  return {
    x: join(a.x, b.x),
    xShape: [(a.xShape[0] ?? 0) + (b.xShape[0] ?? 0), ...a.xShape.slice(1)],
    y: join(a.y!, b.y!),
    yShape: [(a.yShape![0] ?? 0) + (b.yShape![0] ?? 0), ...a.yShape!.slice(1)],
    source: a.source,
  };
}

/** A labelled data set ready for an experiment: standardized features, one-hot labels. */
export interface ExperimentData {
  /** Features, n x d row-major. */
  x: Float32Array;
  /** One-hot labels, n x k row-major. */
  y: Float32Array;
  /** Samples. */
  n: number;
  /** Features per sample (the input layer's units). */
  d: number;
  /** Classes (the output layer's units). */
  k: number;
  /** Where it came from, for the UI. */
  source: string;
}

/** Most classes an experiment accepts from a data file (more: the targets are probably not class ids). */
export const maxExperimentClasses = 1000;

/**
 * The user's data set made ready for an experiment: features flattened to d per sample and
 * standardized per feature (zero mean, unit variance, as the synthetic clusters roughly are),
 * targets as one-hot labels over k classes (class ids 0..k-1, or one-hot rows of width k > 1;
 * soft labels are refused), and the rows shuffled with a fixed seed so the validation split (the last rows)
 * holds every class even when the file is sorted by class. Throws a `corrupt` WeightFileError when
 * the targets are missing or are not class labels.
 */
export function prepareExperimentData(data: DataSet, seed = 5): ExperimentData {
  const n = data.xShape[0] ?? 0;
  const d = data.xShape.slice(1).reduce((a, b) => a * b, 1);
  const name = data.source;
  if (!data.y || !data.yShape || n < 10) {
    throw new WeightFileError('corrupt', `${name} has ${data.y ? `${n} samples` : 'no targets'}; an experiment needs labelled samples (at least 10) to train and validate on.`, { file: name });
  }
  const width = data.yShape.length > 1 ? data.yShape.slice(1).reduce((a, b) => a * b, 1) : 1;
  let k: number;
  const label = new Int32Array(n);
  if (width > 1) {
    // One-hot rows: 0s and a single 1 (soft labels are not class ids, as for training: dataCheck.ts).
    k = width;
    const want = 'an experiment needs class ids 0, 1, 2, ... or one-hot rows (0s and a single 1)';
    for (let i = 0; i < n; i++) {
      let ones = 0;
      for (let c = 0; c < k; c++) {
        const v = data.y[i * k + c]!;
        if (v !== 0 && v !== 1) {
          throw new WeightFileError('corrupt', `${name} holds the target ${v} at ${positionIn(data, 'y', i * k + c)}; ${want}.`, { file: name });
        }
        if (v === 1) {
          ones++;
          label[i] = c;
        }
      }
      if (ones !== 1) {
        throw new WeightFileError('corrupt', `${name} holds a target row of ${ones} ones at ${positionIn(data, 'y', i * k)}; ${want}.`, { file: name });
      }
    }
  } else {
    let max = 0;
    for (let i = 0; i < n; i++) {
      const v = data.y[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= maxExperimentClasses) {
        throw new WeightFileError('corrupt', `${name} holds the target ${v} in sample ${i + 1}; an experiment needs class ids 0, 1, 2, ... (or one-hot rows).`, { file: name });
      }
      label[i] = v;
      max = Math.max(max, v);
    }
    k = Math.max(2, max + 1);
  }
  // standardize each feature over all samples (float64 sums)
  const x = new Float32Array(n * d);
  for (let j = 0; j < d; j++) {
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const v = data.x[i * d + j]!;
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    const std = Math.sqrt(Math.max(0, sq / n - mean * mean));
    for (let i = 0; i < n; i++) {
      x[i * d + j] = std > 1e-12 ? (data.x[i * d + j]! - mean) / std : 0;
    }
  }
  const order = Array.from({ length: n }, (_, i) => i);
  const r = rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const xs = new Float32Array(n * d);
  const ys = new Float32Array(n * k);
  order.forEach((from, to) => {
    xs.set(x.subarray(from * d, (from + 1) * d), to * d);
    ys[to * k + label[from]!] = 1;
  });
  return { x: xs, y: ys, n, d, k, source: `${name}: ${n} samples, ${d} features, ${k} classes` };
}

/** The first `count` samples of a set (probes), or the rows from `from` on. */
function rows(set: ExperimentData, from: number, count: number): DataSet {
  const m = Math.max(0, Math.min(count, set.n - from));
  return { x: set.x.slice(from * set.d, (from + m) * set.d), xShape: [m, set.d], y: set.y.slice(from * set.k, (from + m) * set.k), yShape: [m, set.k], source: set.source };
}

/** The initialization experiment's model (examples/initialization): 784-128-128-10 (ReLU, ReLU, softmax) with the given kernel initializer; `inputs`-128-128-`classes` on the user's data. */
export function initializationModel(tfl: Tfl, name: string, init: (seed: number) => ReturnType<Tfl['initializers']['zeros']>, inputs = 784, classes = 10): LayersModel {
  const m = tfl.sequential({ name });
  m.add(tfl.layers.dense({ inputShape: [inputs], units: 128, activation: 'relu', kernelInitializer: init(1), name: 'hidden1' }));
  m.add(tfl.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(2), name: 'hidden2' }));
  m.add(tfl.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: init(3), name: 'output' }));
  return m;
}

/** The regularization experiment's model (examples/regularization): 20-256-256-2 (`inputs`-256-256-`classes` on the user's data), optionally with L2(0.01) + Dropout(0.2). */
export function regularizationModel(tfl: Tfl, name: string, regularized: boolean, inputs = 20, classes = 2): LayersModel {
  const m = tfl.sequential({ name });
  const kr = regularized ? tfl.regularizers.l2({ l2: 0.01 }) : undefined;
  m.add(tfl.layers.dense({ inputShape: [inputs], units: 256, activation: 'relu', kernelRegularizer: kr, kernelInitializer: tfl.initializers.heNormal({ seed: 11 }), name: 'dense1' }));
  if (regularized) {
    m.add(tfl.layers.dropout({ rate: 0.2, name: 'dropout1' }));
  }
  m.add(tfl.layers.dense({ units: 256, activation: 'relu', kernelRegularizer: kr, kernelInitializer: tfl.initializers.heNormal({ seed: 12 }), name: 'dense2' }));
  if (regularized) {
    m.add(tfl.layers.dropout({ rate: 0.2, name: 'dropout2' }));
  }
  m.add(tfl.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 13 }), name: 'output' }));
  return m;
}

/** The precision experiment's model: 20-64-64-3 (`inputs`-64-64-`classes` on the user's data). */
export function precisionModel(tfl: Tfl, inputs = 20, classes = 3): LayersModel {
  const m = tfl.sequential({ name: 'precision' });
  m.add(tfl.layers.dense({ inputShape: [inputs], units: 64, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 31 }), name: 'dense1' }));
  m.add(tfl.layers.dense({ units: 64, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 32 }), name: 'dense2' }));
  m.add(tfl.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 33 }), name: 'output' }));
  return m;
}

/**
 * A new folder for one run of experiment `name` under `root`: `<root>/<name>`, or `<name>-2`,
 * `<name>-3` ... when earlier runs hold those, so a rerun never writes over an earlier one's
 * checkpoints. The folder is created exclusively: of two runs started at once each gets its own.
 */
async function takeExperimentDir(root: string, name: ExperimentName): Promise<string> {
  await makeFolder(root);
  for (let i = 1; i <= 1000; i++) {
    const dir = path.join(root, i === 1 ? name : `${name}-${i}`);
    try {
      await fs.promises.mkdir(dir);
      return dir;
    } catch (ex) {
      if ((ex as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw fileSystemError(ex, dir, 'create the folder');
      }
    }
  }
  throw new WeightFileError('tooLarge', `${root}: holds 1000 runs of the ${name} experiment already; remove some or choose another folder.`, { file: root });
}

/** Runs one experiment (on synthetic clusters, or on `options.dataFile` with layers sized from it). */
export async function runExperiment(name: ExperimentName, options: ExperimentOptions): Promise<ExperimentResult> {
  const { tf, tfl, info } = await initLayers({ preferred: options.backend ?? 'auto' });
  // An earlier probe or run in this process may have left another backend (ensureGradientBackend).
  await useBackend(tf, info.name, options.hold, options.signal);
  const user = options.dataFile ? prepareExperimentData(await loadDataSet(options.dataFile, options.signal)) : undefined;
  const outDir = await takeExperimentDir(options.outDir, name);
  const variants: VariantResult[] = [];
  const train = async (variant: string, model: LayersModel, data: DataSet, spec: Partial<RunSpec>): Promise<VariantResult> => {
    throwIfAborted(options.signal);
    const done = await runTraining(
      { model: variant, ...spec },
      {
        tf,
        tfl,
        backend: info,
        model,
        data,
        runDir: path.join(outDir, variant),
        signal: options.signal,
        metadata: { experiment: name, variant, data: data.source },
        onEvent: (event) => options.onEvent?.({ variant, event }),
      },
    );
    return { name: variant, history: done.history, diagnostics: [], checkpoints: done.checkpoints };
  };
  let described = '';
  if (name === 'initialization') {
    const data = user ? rows(user, 0, user.n) : toDataSet(clusters(640, 784, 10, 17, 1.0), 'synthetic clusters (784 features, 10 classes)');
    described = user?.source ?? `synthetic clusters: 640 samples, 784 features, 10 classes`;
    const inits: [string, (s: number) => ReturnType<Tfl['initializers']['zeros']>][] = [
      ['uniform-0.01', (s) => tfl.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed: s })],
      ['glorot-uniform', (s) => tfl.initializers.glorotUniform({ seed: s })],
      ['he-normal', (s) => tfl.initializers.heNormal({ seed: s })],
    ];
    for (const [variant, init] of inits) {
      const model = initializationModel(tfl, variant.replace(/[^a-z0-9]+/g, '_'), init, user?.d, user?.k);
      try {
        // the probe runs on a batch of the user's samples, else on synthetic inputs shaped from the model
        const batch = user ? rows(user, 0, 64) : undefined;
        const probe = await probeModel(model, tf, tfl, { batchSize: 64, learningRate: 0.05, seed: 2, signal: options.signal, ...(batch ? { data: { x: batch.x, xShape: batch.xShape, y: batch.y!, yShape: batch.yShape! } } : {}) });
        const r = await train(variant, model, data, { optimizer: 'sgd', learningRate: 0.05, epochs: options.epochs ?? 5, batchSize: 32, validationSplit: 0.2 });
        r.diagnostics = gradientDiagnostics(probe);
        variants.push(r);
      } finally {
        model.dispose(); // a cancelled or failed variant frees its model too
      }
    }
  } else if (name === 'regularization') {
    let data: DataSet;
    let validationSplit: number;
    if (user) {
      data = rows(user, 0, user.n);
      validationSplit = 0.3;
      described = user.source;
    } else {
      // Few training samples so the plain net overfits; the validation set is separate (as in examples/).
      const trainSet = toDataSet(clusters(160, 20, 2, 7, 2.5), 'synthetic clusters');
      const valSet = toDataSet(clusters(400, 20, 2, 8, 2.5), 'synthetic clusters');
      data = concatSets(trainSet, valSet);
      validationSplit = 400 / 560;
      described = 'synthetic clusters: 160 training + 400 validation samples, 20 features, 2 classes';
    }
    for (const [variant, regularized] of [['plain', false], ['l2-dropout', true]] as const) {
      const model = regularizationModel(tfl, variant.replace(/-/g, '_'), regularized, user?.d, user?.k);
      try {
        variants.push(await train(variant, model, data, { optimizer: 'adam', learningRate: 0.003, epochs: options.epochs ?? 30, batchSize: 32, validationSplit }));
      } finally {
        model.dispose();
      }
    }
  } else {
    const trainSet = user ? rows(user, 0, user.n) : toDataSet(clusters(600, 20, 3, 21, 1.5), 'synthetic clusters');
    described = user?.source ?? 'synthetic clusters: 600 samples, 20 features, 3 classes';
    const n = trainSet.xShape[0]!;
    const d = trainSet.xShape[1]!;
    const k = trainSet.yShape![1]!;
    const m = precisionModel(tfl, d, k);
    const held: Tensor[] = [];
    try {
      const base = await train('float32', m, trainSet, { optimizer: 'adam', learningRate: 0.003, epochs: options.epochs ?? 10, batchSize: 32, validationSplit: 0.25 });
      const nVal = Math.floor(n * 0.25);
      const xVal = tf.tensor(trainSet.x.subarray((n - nVal) * d), [nVal, d]);
      const yVal = tf.tensor(trainSet.y!.subarray((n - nVal) * k), [nVal, k]);
      held.push(xVal, yVal);
      const reference = m.predict(xVal) as Tensor;
      held.push(reference);
      // every intermediate of a measurement is freed (tidy); only the two numbers come out
      const measure = (model: LayersModel): { drift: number; acc: number } =>
        tf.tidy(() => {
          const p = model.predict(xVal) as Tensor;
          const drift = tf.max(tf.abs(tf.sub(p, reference))).dataSync()[0] ?? NaN;
          const acc = tf.mean(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(yVal, -1)), 'float32')).dataSync()[0] ?? NaN;
          return { drift, acc };
        });
      // setWeights copies the values into the model's variables; the tensors handed to it are freed after
      const setValues = (values: Float32Array[]): void => {
        const shapes = m.getWeights().map((w) => w.shape);
        const tensors = values.map((v, i) => tf.tensor(v, shapes[i]));
        try {
          m.setWeights(tensors);
        } finally {
          tf.dispose(tensors);
        }
      };
      const f32 = measure(m);
      base.outputDrift = f32.drift;
      base.accuracy = f32.acc;
      variants.push(base);
      const artifacts = await modelArtifacts(tf, m);
      const original = m.getWeights().map((w) => w.dataSync() as Float32Array);
      for (const q of ['float16', 'uint8'] as const) {
        throwIfAborted(options.signal);
        const dir = path.join(outDir, q);
        await writeCheckpointFolder(dir, artifacts, { quantize: q, metadata: { experiment: name, variant: q, parent: path.basename(base.checkpoints.at(-1) ?? '') } });
        // the same rounding the stored file holds, applied to the live weights
        setValues(original.map((v) => dequantized(v, q)));
        const r = measure(m);
        variants.push({ name: q === 'uint8' ? 'int8 (uint8 affine)' : q, history: [], diagnostics: [], checkpoints: [dir], outputDrift: r.drift, accuracy: r.acc });
      }
      setValues(original);
    } finally {
      tf.dispose(held);
      m.dispose();
    }
  }
  return { experiment: name, backend: info, variants, outDir, data: described };
}

/** Float32 values after a round trip through the stored quantized form. */
export function dequantized(values: Float32Array, q: 'float16' | 'uint8'): Float32Array {
  const { bytes, meta } = quantize(values, q);
  const out = new Float32Array(values.length);
  if (q === 'float16') {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, values.length);
    for (let i = 0; i < out.length; i++) {
      out[i] = float16BitsToNumber(h[i]!);
    }
    return out;
  }
  const scale = meta['scale'] as number;
  const min = meta['min'] as number;
  for (let i = 0; i < out.length; i++) {
    out[i] = bytes[i]! * scale + min;
  }
  return out;
}
