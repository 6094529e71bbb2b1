/**
 * The seed's three experiments, each training its variants side by side on seeded synthetic
 * Gaussian clusters (syntheticData.ts, the data of the committed examples/) and writing every
 * variant's checkpoints under `<outDir>/<experiment>/<variant>/epoch-NNN`:
 * - initialization: 784-128-128-10 with RandomUniform(-0.01, 0.01) vs GlorotUniform vs HeNormal,
 *   each probed before training (gradient verdicts) and trained with SGD;
 * - regularization: plain 256-256 vs L2(0.01) + Dropout(0.2), train/validation curves;
 * - precision: one trained model stored as float32, float16 and uint8 (TF.js converter
 *   quantization), with the output drift against float32 and the accuracy of each.
 */
import * as path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { Diagnostic } from '../analysis/diagnostics/diagnostic';
import { float16BitsToNumber } from '../core/dtypes';
import { throwIfAborted } from '../core/errors';
import { initLayers, type BackendInfo, type BackendName, type Tfl } from './backend';
import type { DataSet } from './dataLoader';
import { gradientDiagnostics } from './gradientRules';
import { probeModel } from './probe';
import { clusters } from './syntheticData';
import { modelArtifacts, runTraining, type EpochMetrics, type RunSpec, type TrainEvent } from './training';
import { quantize, writeTfjsModel } from './tfjsArtifacts';

/** Experiment names. */
export const experimentNames = ['initialization', 'regularization', 'precision'] as const;

/** One of the seed's experiments. */
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
}

/** Experiment events: training events tagged with the variant. */
export type ExperimentEvent = { variant: string; event: TrainEvent };

/** Options of runExperiment. */
export interface ExperimentOptions {
  /** Folder for the checkpoints (a subfolder per experiment). */
  outDir: string;
  /** Epochs per variant (defaults: initialization 5, regularization 30, precision 10). */
  epochs?: number;
  /** Backend. */
  backend?: BackendName | 'auto';
  /** Progress. */
  onEvent?: (e: ExperimentEvent) => void;
  /** Cancels between steps. */
  signal?: AbortSignal;
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

/** The seed's Example 1 model: 784-128-128-10 (ReLU, ReLU, softmax) with the given kernel initializer. */
export function initializationModel(tfl: Tfl, name: string, init: (seed: number) => ReturnType<Tfl['initializers']['zeros']>): LayersModel {
  const m = tfl.sequential({ name });
  m.add(tfl.layers.dense({ inputShape: [784], units: 128, activation: 'relu', kernelInitializer: init(1), name: 'hidden1' }));
  m.add(tfl.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(2), name: 'hidden2' }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3), name: 'output' }));
  return m;
}

/** The seed's Example 2 model: 20-256-256-2, optionally with L2(0.01) + Dropout(0.2). */
export function regularizationModel(tfl: Tfl, name: string, regularized: boolean): LayersModel {
  const m = tfl.sequential({ name });
  const kr = regularized ? tfl.regularizers.l2({ l2: 0.01 }) : undefined;
  m.add(tfl.layers.dense({ inputShape: [20], units: 256, activation: 'relu', kernelRegularizer: kr, kernelInitializer: tfl.initializers.heNormal({ seed: 11 }), name: 'dense1' }));
  if (regularized) {
    m.add(tfl.layers.dropout({ rate: 0.2, name: 'dropout1' }));
  }
  m.add(tfl.layers.dense({ units: 256, activation: 'relu', kernelRegularizer: kr, kernelInitializer: tfl.initializers.heNormal({ seed: 12 }), name: 'dense2' }));
  if (regularized) {
    m.add(tfl.layers.dropout({ rate: 0.2, name: 'dropout2' }));
  }
  m.add(tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 13 }), name: 'output' }));
  return m;
}

/** Runs one experiment. */
export async function runExperiment(name: ExperimentName, options: ExperimentOptions): Promise<ExperimentResult> {
  const { tf, tfl, info } = await initLayers({ preferred: options.backend ?? 'auto' });
  const outDir = path.join(options.outDir, name);
  const variants: VariantResult[] = [];
  const train = async (variant: string, model: LayersModel, data: DataSet, spec: Partial<RunSpec>): Promise<VariantResult> => {
    throwIfAborted(options.signal);
    const done = await runTraining(
      { model: variant, ...spec },
      { tf, tfl, backend: info, model, data, runDir: path.join(outDir, variant), signal: options.signal, metadata: { experiment: name, variant }, onEvent: (event) => options.onEvent?.({ variant, event }) },
    );
    return { name: variant, history: done.history, diagnostics: [], checkpoints: done.checkpoints };
  };
  if (name === 'initialization') {
    const data = toDataSet(clusters(640, 784, 10, 17, 1.0), 'synthetic clusters (784 features, 10 classes)');
    const inits: [string, (s: number) => ReturnType<Tfl['initializers']['zeros']>][] = [
      ['uniform-0.01', (s) => tfl.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed: s })],
      ['glorot-uniform', (s) => tfl.initializers.glorotUniform({ seed: s })],
      ['he-normal', (s) => tfl.initializers.heNormal({ seed: s })],
    ];
    for (const [variant, init] of inits) {
      const model = initializationModel(tfl, variant.replace(/[^a-z0-9]+/g, '_'), init);
      const probe = await probeModel(model, tf, tfl, { batchSize: 64, learningRate: 0.05, seed: 2, signal: options.signal });
      const r = await train(variant, model, data, { optimizer: 'sgd', learningRate: 0.05, epochs: options.epochs ?? 5, batchSize: 32, validationSplit: 0.2 });
      r.diagnostics = gradientDiagnostics(probe);
      variants.push(r);
      model.dispose();
    }
  } else if (name === 'regularization') {
    // Few training samples so the plain net overfits; the validation set is separate (as in examples/).
    const trainSet = toDataSet(clusters(160, 20, 2, 7, 2.5), 'synthetic clusters');
    const valSet = toDataSet(clusters(400, 20, 2, 8, 2.5), 'synthetic clusters');
    const data = concatSets(trainSet, valSet);
    for (const [variant, regularized] of [['plain', false], ['l2-dropout', true]] as const) {
      const model = regularizationModel(tfl, variant.replace(/-/g, '_'), regularized);
      variants.push(await train(variant, model, data, { optimizer: 'adam', learningRate: 0.003, epochs: options.epochs ?? 30, batchSize: 32, validationSplit: 400 / 560 }));
      model.dispose();
    }
  } else {
    const trainSet = toDataSet(clusters(600, 20, 3, 21, 1.5), 'synthetic clusters');
    const m = tfl.sequential({ name: 'precision' });
    m.add(tfl.layers.dense({ inputShape: [20], units: 64, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 31 }), name: 'dense1' }));
    m.add(tfl.layers.dense({ units: 64, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 32 }), name: 'dense2' }));
    m.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 33 }), name: 'output' }));
    const base = await train('float32', m, trainSet, { optimizer: 'adam', learningRate: 0.003, epochs: options.epochs ?? 10, batchSize: 32, validationSplit: 0.25 });
    const nVal = Math.floor(600 * 0.25);
    const xVal = tf.tensor(trainSet.x.subarray((600 - nVal) * 20), [nVal, 20]);
    const yVal = tf.tensor(trainSet.y!.subarray((600 - nVal) * 3), [nVal, 3]);
    const reference = m.predict(xVal) as Tensor;
    const measure = (model: LayersModel): { drift: number; acc: number } => {
      const p = model.predict(xVal) as Tensor;
      const drift = tf.max(tf.abs(tf.sub(p, reference))).dataSync()[0] ?? NaN;
      const acc = tf.mean(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(yVal, -1)), 'float32')).dataSync()[0] ?? NaN;
      p.dispose();
      return { drift, acc };
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
      await writeTfjsModel(dir, artifacts, { quantize: q, metadata: { experiment: name, variant: q, parent: path.basename(base.checkpoints.at(-1) ?? '') } });
      // the same rounding the stored file holds, applied to the live weights
      m.setWeights(original.map((v, i) => tf.tensor(dequantized(v, q), m.getWeights()[i]!.shape)));
      const r = measure(m);
      variants.push({ name: q === 'uint8' ? 'int8 (uint8 affine)' : q, history: [], diagnostics: [], checkpoints: [dir], outputDrift: r.drift, accuracy: r.acc });
    }
    m.setWeights(original.map((v, i) => tf.tensor(v, m.getWeights()[i]!.shape)));
    tf.dispose([xVal, yVal, reference]);
    m.dispose();
  }
  return { experiment: name, backend: info, variants, outDir };
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
