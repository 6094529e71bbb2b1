/**
 * Gradient probe: one forward and backward pass of a rebuilt model on a batch (synthetic, shaped
 * from the model's inputs, or the user's data), measuring per layer the gradient L2 norm, the
 * gradient/weight norm ratio, activation mean/std, the dead-ReLU fraction, the saturated
 * sigmoid/tanh fraction and where non-finite values start. Sums are accumulated in float64.
 * The verdicts (vanishing/exploding) are in gradientRules.ts.
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { throwIfAborted, WeightFileError } from '../core/errors';
import type { BackendInfo, BackendName, Tf, Tfl } from './backend';
import { useBackend, type BackendHold } from './backendHolds';
import { concreteShape, flattenLayers, openDimSize } from './modelBuilder';
import { randomIndices, randomValues, rng, type SyntheticDistribution } from './syntheticData';

/** Loss functions the probe and the trainer know (Keras names). */
export type LossName = 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'binaryCrossentropy' | 'meanSquaredError';

/** A batch of user data: features and optional targets, row-major. */
export interface ProbeData {
  /** Features, flat. */
  x: Float32Array;
  /** Shape of x, batch first. */
  xShape: number[];
  /** Targets, flat (absent: synthetic targets). */
  y?: Float32Array;
  /** Shape of y, batch first. */
  yShape?: number[];
}

/** Probe settings. */
export interface ProbeOptions {
  /** Batch size of synthetic inputs (default 32). */
  batchSize?: number;
  /** Distribution of synthetic inputs (default 'normal'). */
  distribution?: SyntheticDistribution;
  /** Seed of synthetic inputs and targets (default 1). */
  seed?: number;
  /** The user's data instead of synthetic inputs. */
  data?: ProbeData;
  /** Loss to use (default: from the training config, else from the output activation). */
  loss?: LossName;
  /** Training config of the file, for its loss. */
  trainingConfig?: Readonly<Record<string, unknown>>;
  /** Learning rate for the update/weight ratio (default 0.01). */
  learningRate?: number;
  /** Cancels the probe between steps. */
  signal?: AbortSignal;
}

/** Measurements of one layer (numbers are null when not finite or not applicable). */
export interface LayerProbe {
  /** Layer name. */
  layer: string;
  /** Layer class, e.g. 'Dense'. */
  className: string;
  /** Activation name, when the layer has one. */
  activation?: string;
  /** Position among the probed layers (0 = nearest the input). */
  depth: number;
  /** Whether the layer has trainable weights. */
  hasWeights: boolean;
  /** L2 norm of the loss gradient over the layer's trainable weights. */
  gradNorm: number | null;
  /** L2 norm of the layer's trainable weights. */
  weightNorm: number | null;
  /** gradNorm / weightNorm. */
  gradWeightRatio: number | null;
  /** Mean of the layer's output over the batch. */
  activationMean: number | null;
  /** Standard deviation of the layer's output over the batch. */
  activationStd: number | null;
  /** ReLU layers: fraction of units whose output is 0 for every sample of the batch. */
  deadReluFraction?: number;
  /** Sigmoid/tanh layers: fraction of outputs in the flat tails (sigmoid < 0.01 or > 0.99, |tanh| > 0.99). */
  saturatedFraction?: number;
  /** Whether the layer's output holds NaN or Inf. */
  nonFiniteActivation: boolean;
  /** Whether the layer's gradient holds NaN or Inf. */
  nonFiniteGradient: boolean;
  /** Whether the layer's stored weights hold NaN or Inf. */
  nonFiniteWeight: boolean;
  /**
   * True when the layer does not feed the model's first output, the one the loss is taken on (a
   * second head): it gets no gradient, so gradNorm and gradWeightRatio are null and the gradient
   * rules leave it out.
   */
  offLossPath?: boolean;
}

/** Result of a probe. */
export interface ProbeResult {
  /** Loss value on the batch (null when not finite). */
  loss: number | null;
  /** Loss function used. */
  lossName: LossName;
  /** Why that loss: 'option', 'training config' (', from logits' when so) or 'output activation'. */
  lossSource: string;
  /** True when the loss took the model's outputs as logits (from_logits in the training config); absent otherwise. */
  fromLogits?: boolean;
  /** Samples in the batch. */
  batchSize: number;
  /** The shape of one synthetic input when the model leaves dimensions besides the batch open (they are openDimSize); absent otherwise. */
  openInputShape?: number[];
  /** Where the inputs came from: 'normal', 'uniform', 'indices' (uniform integer indices for an Embedding input, see inputIndexRange) or 'data'. */
  inputSource: SyntheticDistribution | 'indices' | 'data';
  /** Where the targets of the loss came from: the data's, or 'synthetic' (no data, or data without targets). */
  targetSource: 'data' | 'synthetic';
  /** Learning rate used for update ratios. */
  learningRate: number;
  /** Standard deviation of the input batch (the reference for activation growth; null for index inputs). */
  inputStd: number | null;
  /** Per layer, input to output. */
  layers: LayerProbe[];
  /** First layer (forward order) whose output, or else whose gradient, holds NaN/Inf. */
  firstNonFiniteLayer?: string;
}

/** Keras loss names (training_config) mapped to the probe's. */
const lossAliases: Record<string, LossName> = {
  categorical_crossentropy: 'categoricalCrossentropy',
  categoricalcrossentropy: 'categoricalCrossentropy',
  sparse_categorical_crossentropy: 'sparseCategoricalCrossentropy',
  sparsecategoricalcrossentropy: 'sparseCategoricalCrossentropy',
  binary_crossentropy: 'binaryCrossentropy',
  binarycrossentropy: 'binaryCrossentropy',
  mse: 'meanSquaredError',
  mean_squared_error: 'meanSquaredError',
  meansquarederror: 'meanSquaredError',
};

/**
 * Reads a loss name from a Keras/TF.js training config, in the spellings Keras writes: a name
 * ('sparse_categorical_crossentropy', TF.js 'sparseCategoricalCrossentropy'), a loss object
 * (`{class_name: 'SparseCategoricalCrossentropy', config}`), a Keras 3 function object
 * (`{class_name: 'function', config: 'sparse_categorical_crossentropy'}`), a list or an
 * output-name map of those (the first output's loss counts).
 */
export function lossFromTrainingConfig(tc: Readonly<Record<string, unknown>> | undefined): LossName | undefined {
  const name = trainingConfigLoss(tc).name;
  return name === undefined ? undefined : lossAliases[name.toLowerCase().replace(/^(keras>|keras\.losses\.|losses\.)/, '')];
}

/** Whether the training config's loss object says `from_logits: true` (the model outputs logits, not probabilities). */
export function lossFromLogits(tc: Readonly<Record<string, unknown>> | undefined): boolean {
  return trainingConfigLoss(tc).config?.['from_logits'] === true;
}

/** The first loss of a training config: its name and, for a loss object, its config. */
function trainingConfigLoss(tc: Readonly<Record<string, unknown>> | undefined): { name?: string; config?: Readonly<Record<string, unknown>> } {
  let loss: unknown = tc?.['loss'];
  for (let depth = 0; depth < 4 && typeof loss === 'object' && loss !== null; depth++) {
    if (Array.isArray(loss)) {
      loss = loss[0];
      continue;
    }
    const o = loss as Record<string, unknown>;
    if (typeof o['class_name'] === 'string') {
      // Keras 3 stores a loss function as {class_name: 'function', config: '<name>'}
      if (o['class_name'] === 'function' && typeof o['config'] === 'string') {
        return { name: o['config'] };
      }
      const config = o['config'];
      return { name: o['class_name'], ...(typeof config === 'object' && config !== null && !Array.isArray(config) ? { config: config as Record<string, unknown> } : {}) };
    }
    loss = Object.values(o)[0]; // {output_name: loss}
  }
  return typeof loss === 'string' ? { name: loss } : {};
}

/**
 * Targets arranged for a loss and an output of `outUnits` units: class ids ([n] or [n, 1]) become
 * one-hot rows [n, outUnits] for categorical cross-entropy; one-hot or probability rows
 * [n, outUnits > 1] become class ids [n, 1] (the row's argmax) for sparse categorical cross-entropy; a flat [n]
 * becomes [n, 1] for the other losses. Anything else is returned as it is.
 */
export function targetsForLoss(y: Float32Array, yShape: readonly number[], outUnits: number, loss: LossName): { y: Float32Array; yShape: number[] } {
  const n = yShape[0] ?? 0;
  const width = yShape.slice(1).reduce((a, b) => a * b, 1);
  if (loss === 'categoricalCrossentropy' && outUnits > 1 && width === 1) {
    const out = new Float32Array(n * outUnits);
    for (let i = 0; i < n; i++) {
      const c = Math.round(y[i]!);
      if (c >= 0 && c < outUnits) {
        out[i * outUnits + c] = 1;
      }
    }
    return { y: out, yShape: [n, outUnits] };
  }
  if (loss === 'sparseCategoricalCrossentropy') {
    if (yShape.length === 2 && width > 1 && width === outUnits) {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < width; c++) {
          if (y[i * width + c]! > y[i * width + best]!) {
            best = c;
          }
        }
        out[i] = best;
      }
      return { y: out, yShape: [n, 1] };
    }
    return { y, yShape: [...yShape] };
  }
  if (yShape.length === 1) {
    return { y, yShape: [n, 1] };
  }
  return { y, yShape: [...yShape] };
}

/** The loss that fits an output activation: softmax -> categorical CE, sigmoid -> binary CE, else MSE. */
export function lossForActivation(activation: string | undefined): LossName {
  return activation === 'softmax' ? 'categoricalCrossentropy' : activation === 'sigmoid' ? 'binaryCrossentropy' : 'meanSquaredError';
}

/** A chosen loss. */
export interface ChosenLoss {
  /** The loss function. */
  name: LossName;
  /** Why: 'option', 'training config' or 'output activation', with ', from logits' when the cross-entropy takes the outputs as logits. */
  source: string;
  /** Whether the cross-entropy takes the model's outputs as logits (see outputsAreLogits); false for mean squared error. */
  fromLogits: boolean;
}

/**
 * Chooses the loss: explicit option, else training config, else output activation; and whether a
 * cross-entropy takes the outputs as logits (outputsAreLogits).
 */
export function chooseLoss(model: LayersModel, options: Pick<ProbeOptions, 'loss' | 'trainingConfig'>): ChosenLoss {
  const fromConfig = lossFromTrainingConfig(options.trainingConfig);
  const activation = outputActivation(model);
  const name = options.loss ?? fromConfig ?? lossForActivation(activation);
  const fromLogits = outputsAreLogits(name, options.trainingConfig, activation);
  const source = options.loss ? 'option' : fromConfig ? 'training config' : 'output activation';
  return { name, source: fromLogits ? `${source}, from logits` : source, fromLogits };
}

/**
 * Whether the cross-entropy `loss` takes the model's outputs as logits, as a Keras user would have
 * it: logits are a property of the outputs, not of which cross-entropy reads them. When the training
 * config names a cross-entropy, its `from_logits` (false unless given) says what the outputs are: it
 * holds for its own loss, and for another cross-entropy chosen instead (categorical for sparse,
 * binary) unless the output activation is softmax or sigmoid, which make probabilities. When the
 * config names none (no training config, or mean squared error), an output whose activation is
 * 'linear' gives logits: a cross-entropy over raw linear outputs read as probabilities is
 * meaningless. Mean squared error takes no logits.
 */
export function outputsAreLogits(loss: LossName, trainingConfig: Readonly<Record<string, unknown>> | undefined, activation: string | undefined): boolean {
  if (loss === 'meanSquaredError') {
    return false;
  }
  const fromConfig = lossFromTrainingConfig(trainingConfig);
  if (fromConfig !== undefined && fromConfig !== 'meanSquaredError') {
    const configLogits = lossFromLogits(trainingConfig);
    return loss === fromConfig ? configLogits : configLogits && activation !== 'softmax' && activation !== 'sigmoid';
  }
  return activation === 'linear';
}

/** Activation of the layer giving the model's first output, inside a nested model when that layer is one (undefined when none). */
export function outputActivation(model: LayersModel): string | undefined {
  const last = model.outputs[0]?.sourceLayer ?? model.layers[model.layers.length - 1];
  return last && isContainer(last) ? outputActivation(last) : last ? activationOf(last) : undefined;
}

/** Whether a layer is a model used as a layer (a nested Sequential or Functional). */
function isContainer(layer: LayersModel['layers'][number]): layer is LayersModel {
  return 'inputs' in layer && 'outputs' in layer && 'layers' in layer;
}

/**
 * Whether a layer feeds the model's first output, on which the probe takes the loss: found by
 * walking back from that output. With one output every layer counts (a nested model that a
 * Sequential took as its first layer is not called in the graph, yet feeds it).
 */
function lossPathLayers(model: LayersModel): (layer: LayersModel['layers'][number]) => boolean {
  const first = model.outputs[0];
  if (model.outputs.length <= 1 || !first) {
    return () => true;
  }
  const layers = new Set<unknown>();
  const seen = new Set<unknown>();
  const pending = [first];
  for (let t = pending.pop(); t; t = pending.pop()) {
    layers.add(t.sourceLayer);
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    if (!node || seen.has(node)) {
      continue;
    }
    seen.add(node);
    pending.push(...node.inputTensors);
  }
  return (layer) => layers.has(layer);
}

/**
 * The output of each of `model`'s layers in the model's own graph, found by walking back from its
 * outputs. A nested model has an inbound node of its own graph besides its call in this one, and a
 * shared layer one node per call, so their `output` is ill-defined: the first call in this graph
 * counts. A nested model that a Sequential took as its first layer is not called in the graph (its
 * inputs and outputs are the Sequential's own), so its own output is taken. A layer with several
 * outputs gives its first.
 */
function graphOutputs(model: LayersModel): (layer: LayersModel['layers'][number]) => SymbolicTensor | undefined {
  const found = new Map<LayersModel['layers'][number], SymbolicTensor>();
  const seen = new Set<unknown>();
  const pending = [...model.outputs];
  for (let t = pending.pop(); t; t = pending.pop()) {
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    if (!node || seen.has(node)) {
      continue;
    }
    seen.add(node);
    pending.push(...node.inputTensors);
    const known = found.get(t.sourceLayer);
    if (!known || t.nodeIndex < known.nodeIndex) {
      found.set(t.sourceLayer, node.outputTensors[0]!);
    }
  }
  return (layer) => found.get(layer) ?? (isContainer(layer) ? layer.outputs[0] : undefined);
}

function activationOf(layer: LayersModel['layers'][number]): string | undefined {
  const config = layer.getConfig();
  const a = config['activation'];
  if (typeof a === 'string') {
    return a;
  }
  const cls = layer.getClassName();
  return cls === 'ReLU' ? 'relu' : cls === 'Softmax' ? 'softmax' : undefined;
}

/**
 * Loss value (scalar tensor) of predictions `p` against targets `y`, as Keras defines them; with
 * `fromLogits` the cross-entropies take `p` as logits (log-softmax, or Keras's stable sigmoid form).
 */
export function lossTensor(tf: Tf, name: LossName, y: Tensor, p: Tensor, fromLogits = false): Tensor {
  const eps = 1e-7;
  switch (name) {
    case 'categoricalCrossentropy': {
      if (fromLogits) {
        return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.sub(p, tf.logSumExp(p, -1, true))), -1)));
      }
      const pc = tf.clipByValue(tf.div(p, tf.sum(p, -1, true)), eps, 1 - eps);
      return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(pc)), -1)));
    }
    case 'sparseCategoricalCrossentropy': {
      const depth = p.shape[p.shape.length - 1] ?? 1;
      const oneHot = tf.oneHot(tf.cast(tf.reshape(y, [-1]), 'int32'), depth);
      return lossTensor(tf, 'categoricalCrossentropy', oneHot, tf.reshape(p, [-1, depth]), fromLogits);
    }
    case 'binaryCrossentropy': {
      if (fromLogits) {
        // max(z, 0) - z·y + log(1 + exp(-|z|)), as tf.nn.sigmoid_cross_entropy_with_logits
        return tf.mean(tf.add(tf.sub(tf.relu(p), tf.mul(p, y)), tf.log1p(tf.exp(tf.neg(tf.abs(p))))));
      }
      const pc = tf.clipByValue(p, eps, 1 - eps);
      const one = tf.scalar(1);
      return tf.neg(tf.mean(tf.add(tf.mul(y, tf.log(pc)), tf.mul(tf.sub(one, y), tf.log(tf.sub(one, pc))))));
    }
    case 'meanSquaredError':
      return tf.mean(tf.square(tf.sub(p, y)));
  }
}

/**
 * How many distinct indices the model's (first) input takes when it holds integer indices: the
 * input_dim of the Embedding or the num_tokens of the CategoryEncoding it feeds (inside nested
 * models too); undefined for an input of real values.
 */
export function inputIndexRange(model: LayersModel): number | undefined {
  const input = model.inputs[0];
  for (const layer of model.layers) {
    if (!input || !layer.inboundNodes.some((n) => n.inputTensors.includes(input))) {
      continue;
    }
    const config = layer.getConfig();
    const range = layer.getClassName() === 'Embedding' ? config['inputDim'] : layer.getClassName() === 'CategoryEncoding' ? config['numTokens'] : undefined;
    if (typeof range === 'number' && range >= 1) {
      return range;
    }
    const nested = isContainer(layer) ? inputIndexRange(layer) : undefined;
    if (nested !== undefined) {
      return nested;
    }
  }
  return undefined;
}

/** Synthetic samples per probe when the model is cheap enough or the backend fast (see syntheticBatch). */
export const defaultProbeBatch = 32;

/**
 * Forward multiply-accumulates the probe may spend on the CPU backend, whose gradients are plain
 * JavaScript: a forward and backward pass of 10^8 of them takes some 0.4 s on one core for plain
 * convolutions and some 2.4 s for a MobileNet (depthwise convolutions, batch normalization), so a
 * MobileNet gets a batch of 8 (about 15 s, 1.1 GB), the smallest on which dead ReLUs are judged.
 */
const cpuProbeMacs = 6e8;

/**
 * Memory the probe may fill on the WebAssembly backend, whose heap ends at 4 GiB, and what one
 * value of a layer's output costs there during a forward and backward pass (the output kept for
 * the gradient, its gradient, temporaries): measured on a MobileNet (Teachable Machine export),
 * about 140 MB per sample for 9.9 million output values, which fills the heap at batch 32.
 */
const wasmProbeBytes = 2.5 * 2 ** 30;
const wasmBytesPerActivation = 16;

/**
 * Multiply-accumulates of one sample's forward pass, estimated from the weights: each layer's
 * parameters times the positions of its output per sample (1 for a Dense layer on vectors, H x W for
 * a 2-D convolution), an Embedding's output_dim per position (a row lookup), the layers of nested
 * models included.
 */
export function macsPerSample(model: LayersModel): number {
  let total = 0;
  for (const layer of flattenLayers(model)) {
    const params = layer.countParams();
    if (params === 0) {
      continue;
    }
    const dims = sampleOutputDims(layer) ?? [];
    const positions = dims.slice(0, -1).reduce((a, d) => a * d, 1);
    // An Embedding looks up one row of its table per position: output_dim values, not the whole table.
    const last = dims[dims.length - 1];
    total += (layer.getClassName() === 'Embedding' && last !== undefined ? last : params) * positions;
  }
  return total;
}

/**
 * Values of every layer's output for one sample (nested models' layers included): what a forward
 * pass keeps for the backward one, which grows with the batch.
 */
export function activationsPerSample(model: LayersModel): number {
  let total = 0;
  for (const layer of flattenLayers(model)) {
    total += sampleOutputDims(layer)?.reduce((a, d) => a * d, 1) ?? 0;
  }
  return total;
}

/** A layer's output shape without the batch axis (open sizes as openDimSize); undefined when it has several outputs or none is known. */
function sampleOutputDims(layer: LayersModel['layers'][number]): number[] | undefined {
  let shape: unknown;
  try {
    shape = layer.outputShape;
  } catch {
    return undefined; // a layer called more than once has several output shapes
  }
  const dims = Array.isArray(shape) && Array.isArray(shape[0]) ? (shape[0] as unknown[]) : Array.isArray(shape) ? (shape as unknown[]) : undefined;
  return dims?.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : openDimSize));
}

/**
 * The synthetic batch for a probe of `model` on `backend` when none was asked for: 32 samples, or
 * fewer (at least 1) where that is too much: on the CPU backend as many as fit its budget of
 * multiply-adds, so that a large convolutional network is probed in seconds rather than many
 * minutes; on the WebAssembly backend as many as fit its memory. `reduced` says why when fewer than 32.
 */
export function syntheticBatch(model: LayersModel, backend: BackendName): { size: number; reduced?: string } {
  if (backend === 'wasm') {
    const bytes = activationsPerSample(model) * wasmBytesPerActivation;
    const size = Math.max(1, Math.min(defaultProbeBatch, Math.floor(wasmProbeBytes / Math.max(1, bytes))));
    return size < defaultProbeBatch
      ? { size, reduced: `${size} instead of ${defaultProbeBatch}: about ${Math.round(bytes / 2 ** 20)} MiB per sample for the layers' outputs and gradients, and the WebAssembly backend has at most 4 GiB` }
      : { size };
  }
  if (backend !== 'cpu') {
    return { size: defaultProbeBatch };
  }
  const macs = macsPerSample(model);
  const size = Math.max(1, Math.min(defaultProbeBatch, Math.floor(cpuProbeMacs / Math.max(1, macs))));
  return size < defaultProbeBatch
    ? { size, reduced: `${size} instead of ${defaultProbeBatch}: about ${(macs / 1e6).toPrecision(3)} million multiply-adds per sample on the CPU backend` }
    : { size };
}

/**
 * Refuses a model with more than one input, which the probe and the trainer cannot feed (they feed
 * one array): throws an `unsupportedFormat` WeightFileError naming the file. The caller disposes
 * the model (in its finally), as it does however else the probe or run ends.
 */
export function requireOneInput(model: LayersModel, file: string, use: 'probed' | 'trained'): void {
  if (model.inputs.length !== 1) {
    const count = model.inputs.length;
    const names = model.inputs.map((i) => `'${i.sourceLayer.name}'`).join(', ');
    throw new WeightFileError('unsupportedFormat', `${file} is a model with ${count} inputs (${names}), and only a model with one input can be ${use} here.`, { file });
  }
}

/** Synthetic targets shaped like the output: one-hot classes, class indices ([batch, classes] -> batch values), 0/1 labels or N(0, 1) values. */
export function syntheticTargets(shape: number[], loss: LossName, seed: number): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed ^ 0x5eed);
  const out = new Float32Array(count);
  if (loss === 'categoricalCrossentropy') {
    const k = shape[shape.length - 1] ?? 1;
    for (let i = 0; i < count / k; i++) {
      out[i * k + Math.floor(r() * k)] = 1;
    }
    return out;
  }
  if (loss === 'sparseCategoricalCrossentropy') {
    const k = shape[shape.length - 1] ?? 1;
    return Float32Array.from({ length: shape[0] ?? 0 }, () => Math.floor(r() * k)); // class indices
  }
  if (loss === 'binaryCrossentropy') {
    for (let i = 0; i < count; i++) {
      out[i] = r() < 0.5 ? 0 : 1;
    }
    return out;
  }
  return randomValues(count, 'normal', seed ^ 0x7a46);
}

interface Moments {
  mean: number | null;
  std: number | null;
  nonFinite: boolean;
  sumSquares: number;
}

function moments(values: Float32Array | Int32Array | Uint8Array): Moments {
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  let nonFinite = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      nonFinite = true;
      continue;
    }
    n++;
    sum += v;
    sumSq += v * v;
  }
  const mean = n > 0 ? sum / n : null;
  const variance = n > 0 && mean !== null ? Math.max(0, sumSq / n - mean * mean) : null;
  return { mean, std: variance === null ? null : Math.sqrt(variance), nonFinite, sumSquares: sumSq };
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/**
 * Runs one forward/backward pass and measures every top-level layer (a nested model counts as one
 * layer). Dropout and other training-only layers run in inference mode so the probe is deterministic.
 */
export async function probeModel(model: LayersModel, tf: Tf, tfl: Tfl, options: ProbeOptions = {}): Promise<ProbeResult> {
  throwIfAborted(options.signal);
  const seed = options.seed ?? 1;
  const learningRate = options.learningRate ?? 0.01;
  const loss = chooseLoss(model, options);
  const input = model.inputs[0];
  if (!input || model.inputs.length !== 1) {
    throw new Error(`The probe needs a model with exactly one input; this one has ${model.inputs.length}.`);
  }
  // Every layer but the InputLayer, a nested model as one, tapped at its output in this graph.
  const probed = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const outputOf = graphOutputs(model);
  const onLossPath = lossPathLayers(model);
  const outputs: SymbolicTensor[] = probed.map((l) => {
    const output = outputOf(l);
    if (!output) {
      throw new Error(`Layer '${l.name}' has no output in the graph of model '${model.name}'.`);
    }
    return output;
  });
  // the loss is taken on the model's first output (the training config's first loss is its)
  const lossAt = outputs.includes(model.outputs[0]!) ? outputs.indexOf(model.outputs[0]!) : outputs.length;
  const tap = tfl.model({ inputs: model.inputs, outputs: lossAt < outputs.length ? outputs : [...outputs, model.outputs[0]!] });

  const indexRange = inputIndexRange(model);
  // everything made from here on is disposed on every way out: a cancel, a failed pass, the return
  const made: Tensor[] = [];
  try {
    let x: Tensor;
    let inputSource: ProbeResult['inputSource'];
    if (options.data) {
      x = tf.tensor(options.data.x, options.data.xShape, 'float32');
      inputSource = 'data';
    } else {
      const batch = options.batchSize ?? defaultProbeBatch;
      const shape = concreteShape(input.shape, batch);
      const distribution = options.distribution ?? 'normal';
      const count = shape.reduce((a, b) => a * b, 1);
      x = tf.tensor(indexRange !== undefined ? randomIndices(count, indexRange, seed) : randomValues(count, distribution, seed), shape, 'float32');
      inputSource = indexRange !== undefined ? 'indices' : distribution;
    }
    made.push(x);
    const batchSize = x.shape[0] ?? 0;
    // indices have no scale for activations to grow or shrink from
    const inputStd = indexRange !== undefined ? null : moments((await x.data()) as Float32Array).std;
    // An output with open dimensions (a fully convolutional network's) takes its size from the input.
    let outDims: (number | null)[] = model.outputs[0]?.shape.slice(1) ?? [];
    if (outDims.includes(null)) {
      outDims = tf.tidy(() => {
        const out = model.predict(tf.slice(x, 0, 1)) as Tensor | Tensor[];
        return (Array.isArray(out) ? out[0]! : out).shape.slice(1);
      });
    }
    const outShape = [batchSize, ...outDims.map((d) => d ?? 1)];
    const outUnits = outShape[outShape.length - 1] ?? 1;
    // the user's targets arranged for the loss (class ids vs one-hot rows) when the output is [batch, units]
    const given = options.data?.y && options.data.yShape ? { y: options.data.y, yShape: options.data.yShape } : undefined;
    const targets = given && outShape.length === 2 ? targetsForLoss(given.y, given.yShape, outUnits, loss.name) : given;
    const y = targets
      ? tf.tensor(targets.y, targets.yShape, 'float32')
      : loss.name === 'sparseCategoricalCrossentropy'
        ? tf.tensor(syntheticTargets([batchSize, outUnits], 'sparseCategoricalCrossentropy', seed), [batchSize])
        : tf.tensor(syntheticTargets(outShape, loss.name, seed), outShape, 'float32');
    made.push(y);

    const trainable = probed.flatMap((l) => l.trainableWeights.map((w) => ({ layer: l.name, variable: w.read() as Variable })));
    const activations: Tensor[] = [];
    const { value, grads } = gradientsOrDiscard(tf, () => {
      const outs = tap.apply(x, { training: false }) as Tensor | Tensor[];
      const list = Array.isArray(outs) ? outs : [outs];
      for (const o of list.slice(0, probed.length)) {
        const kept = tf.keep(o);
        activations.push(kept);
        made.push(kept);
      }
      return lossTensor(tf, loss.name, y, list[lossAt]!, loss.fromLogits);
    }, trainable.map((t) => t.variable));
    made.push(value, ...Object.values(grads));

    const lossValue = (await value.data())[0] ?? NaN;
    const layers: LayerProbe[] = [];
    for (let depth = 0; depth < probed.length; depth++) {
      throwIfAborted(options.signal);
      const layer = probed[depth]!;
      const act = activations[depth]!;
      const actValues = (await act.data()) as Float32Array;
      const m = moments(actValues);
      let gradSq = 0;
      let weightSq = 0;
      let nonFiniteGradient = false;
      let nonFiniteWeight = false;
      const own = trainable.filter((t) => t.layer === layer.name);
      for (const { variable } of own) {
        const g = grads[variable.name];
        if (g) {
          const gm = moments((await g.data()) as Float32Array);
          gradSq += gm.sumSquares;
          nonFiniteGradient ||= gm.nonFinite;
        }
        const wm = moments((await variable.data()) as Float32Array);
        weightSq += wm.sumSquares;
        nonFiniteWeight ||= wm.nonFinite;
      }
      const activation = activationOf(layer);
      const offLossPath = !onLossPath(layer);
      const gradNorm = own.length > 0 && !nonFiniteGradient && !offLossPath ? Math.sqrt(gradSq) : null;
      const weightNorm = own.length > 0 && !nonFiniteWeight ? Math.sqrt(weightSq) : null;
      const probe: LayerProbe = {
        layer: layer.name,
        className: layer.getClassName(),
        ...(activation ? { activation } : {}),
        depth,
        hasWeights: own.length > 0,
        gradNorm: gradNorm === null ? null : finiteOrNull(gradNorm),
        weightNorm: weightNorm === null ? null : finiteOrNull(weightNorm),
        gradWeightRatio: gradNorm !== null && weightNorm !== null && weightNorm > 0 ? finiteOrNull(gradNorm / weightNorm) : null,
        activationMean: m.mean,
        activationStd: m.std,
        nonFiniteActivation: m.nonFinite,
        nonFiniteGradient,
        nonFiniteWeight,
        ...(offLossPath ? { offLossPath } : {}),
      };
      if (activation === 'relu') {
        probe.deadReluFraction = deadUnitFraction(actValues, act.shape);
      } else if (activation === 'sigmoid' || activation === 'tanh') {
        let saturated = 0;
        for (const v of actValues) {
          if (activation === 'sigmoid' ? v < 0.01 || v > 0.99 : Math.abs(v) > 0.99) {
            saturated++;
          }
        }
        probe.saturatedFraction = actValues.length > 0 ? saturated / actValues.length : 0;
      }
      layers.push(probe);
    }
    const firstNonFinite =
      layers.find((l) => l.nonFiniteActivation || l.nonFiniteWeight) ?? [...layers].reverse().find((l) => l.nonFiniteGradient);
    return {
      loss: finiteOrNull(lossValue),
      lossName: loss.name,
      lossSource: loss.source,
      ...(loss.fromLogits ? { fromLogits: true } : {}),
      batchSize,
      ...(inputSource !== 'data' && input.shape.slice(1).includes(null) ? { openInputShape: x.shape.slice(1) } : {}),
      inputSource,
      targetSource: given ? 'data' : 'synthetic',
      learningRate,
      inputStd,
      layers,
      ...(firstNonFinite ? { firstNonFiniteLayer: firstNonFinite.layer } : {}),
    };
  } finally {
    tf.dispose(made);
  }
}

/**
 * Frees what a gradient pass that threw left in the engine: its tape, with the tensors saved for
 * the backward pass (tf.variableGrads frees them only when it completes). Nothing when no gradient
 * pass is under way or abandoned.
 */
export function discardAbandonedTape(tf: Tf): void {
  const state = tf.engine().state;
  if (state.gradientDepth === 0 && state.activeTape) {
    tf.dispose(state.activeTape.flatMap((node) => node.saved ?? []));
    state.activeTape = null as never;
  }
}

/**
 * tf.variableGrads of the scalar `f` returns with respect to `variables`; when `f` or the backward
 * pass throws, the tape it left is freed (discardAbandonedTape) before the error goes on.
 */
export function gradientsOrDiscard(tf: Tf, f: () => Tensor, variables: Variable[]): { value: Tensor; grads: Record<string, Tensor> } {
  try {
    return tf.variableGrads(f as () => never, variables);
  } catch (ex) {
    discardAbandonedTape(tf);
    throw ex;
  }
}

/** The kernel named by TF.js's "Kernel 'X' not registered for backend 'Y'" error, else undefined. */
function missingKernel(ex: unknown): string | undefined {
  const m = /Kernel '([^']+)' not registered for backend/.exec(ex instanceof Error ? ex.message : String(ex));
  return m?.[1];
}

/**
 * Makes sure the TF.js backend in use can compute `model`'s gradients, before a probe or a run
 * starts: one forward/backward pass on one zero sample (inference mode, inside tidy, so no
 * variable changes and nothing leaks). When the backend lacks a kernel the gradients need (the
 * WASM backend has no FFT, for one; segmentSum.ts, convFilterGrad.ts, depthwiseGrad.ts and
 * wasmBridge.ts supply the ones Keras layers need), TF.js is switched to the CPU backend (the
 * model's weights move with it) and the returned BackendInfo says so in its fallbacks. A backend
 * left by an earlier switch in this process is restored first. Other errors are left to the real pass.
 * With `hold` (jobs side by side in one thread, see backendHolds.ts) each switch waits until no
 * other job computes on another backend; `signal` cancels that wait.
 */
export async function ensureGradientBackend(tf: Tf, info: BackendInfo, model: LayersModel, hold?: BackendHold, signal?: AbortSignal): Promise<BackendInfo> {
  await useBackend(tf, info.name, hold, signal);
  if (info.name === 'cpu') {
    return info;
  }
  try {
    tf.tidy(() => {
      const inputs = model.inputs.map((i) => tf.zeros(concreteShape(i.shape, 1)));
      const variables = model.trainableWeights.map((w) => w.read() as Variable);
      tf.variableGrads(() => {
        const out = model.apply(inputs.length === 1 ? inputs[0]! : inputs, { training: false }) as Tensor | Tensor[];
        return tf.addN((Array.isArray(out) ? out : [out]).map((o) => tf.sum(o))) as never;
      }, variables.length > 0 ? (variables as never) : undefined);
    });
    return info;
  } catch (ex) {
    discardAbandonedTape(tf);
    const kernel = missingKernel(ex);
    if (kernel === undefined || !(await useBackend(tf, 'cpu', hold, signal))) {
      return info;
    }
    return {
      ...info,
      name: 'cpu',
      label: 'CPU (plain JavaScript)',
      fallbacks: [...info.fallbacks, `The ${info.label} backend has no '${kernel}' kernel, which this model's gradients need, so the CPU backend is used.`],
    };
  }
}

/** Fraction of units (last axis) whose output is exactly 0 for every sample. */
function deadUnitFraction(values: Float32Array, shape: number[]): number {
  const units = shape[shape.length - 1] ?? 1;
  if (units === 0) {
    return 0;
  }
  const alive = new Uint8Array(units);
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== 0) {
      alive[i % units] = 1;
    }
  }
  let dead = 0;
  for (const a of alive) {
    dead += a === 0 ? 1 : 0;
  }
  return dead / units;
}
