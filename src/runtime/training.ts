/**
 * Training runs: a seeded mini-batch loop over a rebuilt (or freshly built) TF.js model that
 * reports loss/accuracy (train and validation), per-layer weight norm, gradient norm and update
 * ratio as it goes, raises warnings as they happen (non-finite loss, exploding updates), can stop
 * itself on them, and writes a TF.js checkpoint per epoch (model.json + weights.bin with metadata:
 * epoch, metrics, parent, backend, time) into a run folder, each whole or not at all
 * (writeCheckpointFolder). Cancelling keeps what was written. An
 * epoch that ends before its last step (cancelled, or stopped itself) is partial: it gets no
 * checkpoint, and its metrics stay in the history marked with `partialSteps`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Optimizer, Tensor, Variable } from '@tensorflow/tfjs-core';
import { renameRetrying, writeFileAtomic } from '../core/atomicWrite';
import { throwIfAborted, WeightFileError } from '../core/errors';
import { fileSystemError } from '../core/nodeFileSource';
import type { Diagnostic } from '../analysis/diagnostics/diagnostic';
import type { BackendInfo, Tf, Tfl } from './backend';
import type { DataSet } from './dataLoader';
import { gradientThresholds } from './gradientRules';
import { chooseLoss, gradientsOrDiscard, inputIndexRange, lossTensor, targetsForLoss, type LossName } from './probe';
import { clusters, rng } from './syntheticData';
import { concreteShape, flattenLayers } from './modelBuilder';
import { writeTfjsModel, type TfjsArtifacts } from './tfjsArtifacts';

/** Optimizers a run can use. */
export type OptimizerName = 'sgd' | 'adam' | 'rmsprop';

/** A run spec: what the Train Model... form collects, stored as JSON so it can be edited and re-run. */
export interface RunSpec {
  /** Model file (relative paths are relative to the spec file). */
  model: string;
  /** Data file (.npy/.npz/.csv/.json); absent = synthetic Gaussian clusters. */
  data?: string;
  /** Synthetic data settings when `data` is absent. */
  synthetic?: { samples?: number; seed?: number; spread?: number };
  /** Loss (default: from the training config, else from the output activation). */
  loss?: LossName;
  /** Optimizer (default 'adam'). */
  optimizer?: OptimizerName;
  /** Learning rate (default 0.001). */
  learningRate?: number;
  /** Epochs (default 5). */
  epochs?: number;
  /** Batch size (default 32). */
  batchSize?: number;
  /** Fraction of samples (the last ones, as Keras does) held out for validation (default 0.2). */
  validationSplit?: number;
  /** L1 penalty added to every kernel (override). */
  l1?: number;
  /** L2 penalty added to every kernel (override). */
  l2?: number;
  /** Dropout rate for every Dropout layer, and after hidden Dense layers of Sequential models when they have none (override). */
  dropout?: number;
  /** Run folder (default: runs/<model name>-<time> next to the spec). */
  outDir?: string;
  /** Seed of shuffling and synthetic data (default 1). */
  seed?: number;
  /** Stop on NaN/Inf loss or an exploding update (default true). */
  stopOnNonFinite?: boolean;
}

/** Per-layer measurements at a step. */
export interface LayerStepDto {
  /** Layer name. */
  layer: string;
  /** Weight L2 norm after the step. */
  weightNorm: number | null;
  /** Gradient L2 norm of the step. */
  gradNorm: number | null;
  /** |Δw| / |w| of the step: the L2 norm of the step's change over the weight L2 norm before the step (null when that norm is 0 or a value is not finite). */
  updateRatio: number | null;
}

/** Metrics of an epoch (absent keys: not measured). */
export interface EpochMetrics {
  /** Training loss: the mean over the epoch's samples (each batch's mean weighted by its sample count, as Keras does). */
  loss: number | null;
  /** Training accuracy (classification only), over the epoch's samples like `loss`. */
  acc?: number | null;
  /** Validation loss. */
  val_loss?: number | null;
  /** Validation accuracy. */
  val_acc?: number | null;
  /** Steps run of an epoch that stopped before its last step (cancelled, or stopped itself on NaN/Inf or an exploding update): a partial epoch, which gets no checkpoint; absent for a complete epoch. */
  partialSteps?: number;
}

/** Events of a run, in order. */
export type TrainEvent =
  | { type: 'start'; runDir: string; backend: BackendInfo; layers: string[]; samples: number; validationSamples: number; stepsPerEpoch: number; loss: LossName; fromLogits?: true }
  | { type: 'step'; epoch: number; step: number; loss: number | null; acc: number | null; layers: LayerStepDto[] }
  | { type: 'epoch'; epoch: number; metrics: EpochMetrics; checkpoint: string }
  | { type: 'warning'; step: number; diagnostic: Diagnostic }
  | { type: 'done'; stopped?: 'cancelled' | 'nonFinite' | 'exploding'; checkpoints: string[]; history: EpochMetrics[] };

/** Everything a run needs besides the spec. */
export interface TrainContext {
  /** TF.js core. */
  tf: Tf;
  /** tfjs-layers. */
  tfl: Tfl;
  /** Backend in use (stored in checkpoint metadata). */
  backend: BackendInfo;
  /** The model to train (weights already loaded). */
  model: LayersModel;
  /** Data (absent: synthetic clusters sized from the model). */
  data?: DataSet;
  /** Training config of the model file, for the loss. */
  trainingConfig?: Readonly<Record<string, unknown>>;
  /** Absolute run folder. */
  runDir: string;
  /** Receives progress events. */
  onEvent?: (e: TrainEvent) => void;
  /** Cancels between steps; checkpoints written so far stay. */
  signal?: AbortSignal;
  /** Extra metadata stored in every checkpoint (e.g. experiment and variant). */
  metadata?: Record<string, unknown>;
  /** Steps between 'step' events (default: about 20 per epoch). */
  stepEventEvery?: number;
}

/** Spec defaults. */
export const runDefaults = { optimizer: 'adam' as OptimizerName, learningRate: 0.001, epochs: 5, batchSize: 32, validationSplit: 0.2, seed: 1 };

/** Builds the optimizer of a spec. */
export function makeOptimizer(tf: Tf, name: OptimizerName, lr: number): Optimizer {
  return name === 'sgd' ? tf.train.sgd(lr) : name === 'rmsprop' ? tf.train.rmsprop(lr) : tf.train.adam(lr);
}

/** Most bytes synthetic data may take (float32 inputs and targets, float64 cluster centres). */
const maxSyntheticBytes = 2 ** 31;

/**
 * Synthetic Gaussian clusters shaped for a one-input classifier/regressor: k = max(2, output units)
 * clusters; targets are one-hot rows [n, k], class ids [n, 1] when the loss is sparse categorical
 * cross-entropy, or 0/1 [n, 1] (cluster 1 or not) for a one-unit output. For a model whose input holds
 * indices (an Embedding's, see inputIndexRange) the features are quantized into integers in [0, range).
 */
export function syntheticDataFor(model: LayersModel, spec: RunSpec, loss?: LossName): DataSet {
  const outShape = model.outputs[0]?.shape ?? [null, 1];
  if (outShape.length !== 2) {
    throw new WeightFileError(
      'unsupportedFormat',
      `${spec.model}: synthetic data is made for a model whose output is [batch, units], and this one's is [${outShape.map((d) => d ?? 'null').join(', ')}]; give the run spec a "data" file.`,
      { file: spec.model },
    );
  }
  // Dimensions the input leaves open (a sequence's length) take the size the probe gives them.
  const inShape = concreteShape(model.inputs[0]?.shape ?? [null, null]).slice(1);
  const outUnits = outShape[1] ?? 1;
  const d = inShape.reduce((a, b) => a * b, 1);
  const k = Math.max(2, outUnits);
  const n = spec.synthetic?.samples ?? 512;
  const bytes = 4 * n * (d + k) + 8 * k * d;
  if (bytes > maxSyntheticBytes) {
    throw new WeightFileError(
      'tooLarge',
      `Synthetic data of ${n} samples of ${d} inputs and ${k} classes would take ${Math.ceil(bytes / 2 ** 20)} MiB (at most ${maxSyntheticBytes / 2 ** 20} MiB); ask for fewer "synthetic" samples or give "data".`,
    );
  }
  const set = clusters(n, d, k, spec.synthetic?.seed ?? spec.seed ?? runDefaults.seed, spec.synthetic?.spread ?? 1.0);
  const range = inputIndexRange(model);
  if (range !== undefined) {
    set.x = set.x.map((v) => Math.min(range - 1, Math.floor(((Math.tanh(v / 2) + 1) / 2) * range)));
  }
  if (outUnits === 1 || loss === 'sparseCategoricalCrossentropy') {
    // one output unit: binary target = cluster 1; sparse loss: the cluster's index
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = outUnits === 1 ? (set.y[i * k + 1] ?? 0) : set.y.subarray(i * k, (i + 1) * k).indexOf(1);
    }
    return { x: set.x, xShape: [n, ...inShape], y, yShape: [n, 1], source: 'synthetic clusters' };
  }
  return { x: set.x, xShape: [n, ...inShape], y: set.y, yShape: [n, k], source: 'synthetic clusters' };
}

/** Accuracy of predictions `p` against targets `y` as Keras measures it for the loss (undefined: not a classification loss). */
function accuracy(tf: Tf, loss: LossName, y: Tensor, p: Tensor, fromLogits = false): Tensor | undefined {
  if (loss === 'categoricalCrossentropy') {
    return tf.mean(tf.cast(tf.equal(tf.argMax(y, -1), tf.argMax(p, -1)), 'float32'));
  }
  if (loss === 'sparseCategoricalCrossentropy') {
    // sparse categorical accuracy: the class id in y against the argmax of each prediction row
    const predicted = tf.reshape(tf.argMax(p, -1), [-1]);
    const ids = tf.cast(tf.reshape(y, [-1]), 'int32');
    return ids.size === predicted.size ? tf.mean(tf.cast(tf.equal(ids, predicted), 'float32')) : undefined;
  }
  if (loss === 'binaryCrossentropy') {
    // a probability is class 1 from 0.5 on, a logit from 0 on
    return tf.mean(tf.cast(tf.equal(y, fromLogits ? tf.cast(tf.greaterEqual(p, 0), 'float32') : tf.round(p)), 'float32'));
  }
  return undefined;
}

function sumSquares(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    s += v * v;
  }
  return s;
}

function finite(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

/** The model's first output, which the loss is taken on (the training config's first loss is its); other outputs get no gradient. */
function firstOutput(out: Tensor | Tensor[]): Tensor {
  return Array.isArray(out) ? out[0]! : out;
}

/** Serialized model artifacts (what model.save hands to an IO handler). */
export async function modelArtifacts(tf: Tf, model: LayersModel): Promise<TfjsArtifacts> {
  let artifacts: TfjsArtifacts = {};
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a as TfjsArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return artifacts;
}

/** The temporary sibling a checkpoint folder `name` (epoch-NNN) is written into before it is renamed into place. */
export function checkpointTempName(name: string): string {
  return `.${name}.tmp-${process.pid}`;
}

/** Names of the temporary checkpoint folders (checkpointTempName) a run killed during a save leaves behind. */
export const checkpointTempPattern = /^\.epoch-\d+\.tmp-\d+$/;

/** The files of a checkpoint folder, and the temporary files writeFileAtomic makes for them. */
export const checkpointFilePattern = /^(model\.json|weights\.bin)(\.\d+\.[a-z0-9]+\.tmp)?$/;

/**
 * Removes the checkpoint files (checkpointFilePattern) from `dir`, then the folder itself when
 * that left it empty; nothing else is touched. A folder that is gone already is fine.
 */
export async function removeCheckpointFolder(dir: string): Promise<void> {
  const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
  for (const n of names.filter((f) => checkpointFilePattern.test(f))) {
    const file = path.join(dir, n);
    if ((await fs.promises.lstat(file).catch(() => undefined))?.isFile()) {
      await fs.promises.rm(file).catch((ex: unknown) => {
        throw fileSystemError(ex, file, 'remove the file');
      });
    }
  }
  await fs.promises.rmdir(dir).catch(() => undefined); // kept when it holds anything else
}

/**
 * Writes a checkpoint folder whole or not at all: model.json and weights.bin go into a temporary
 * sibling (checkpointTempName), which is renamed to `dir` once both are complete, so that a run
 * killed or failing during the save leaves no epoch-NNN folder whose model.json does not match its
 * weights.bin, or whose weights.bin is cut short. Where `dir` exists already (a folder an
 * overwritten run left because it holds the user's files, or an experiment's variant folder) the
 * two files are moved into it, weights.bin first, so that a model.json there always has its
 * weights beside it; when model.json cannot follow, the weights.bin moved in is taken out again,
 * so that the folder holds no checkpoint file that nothing lists.
 */
export async function writeCheckpointFolder(dir: string, artifacts: TfjsArtifacts, options: Parameters<typeof writeTfjsModel>[2]): Promise<void> {
  const tmp = path.join(path.dirname(dir), checkpointTempName(path.basename(dir)));
  try {
    await writeTfjsModel(tmp, artifacts, options).catch((ex: unknown) => {
      // named after the checkpoint folder, not the hidden one it was being written in
      throw fileSystemError(WeightFileError.is(ex) && ex.cause !== undefined ? ex.cause : ex, dir, 'write the checkpoint');
    });
    try {
      await renameRetrying(tmp, dir);
    } catch (ex) {
      const code = (ex as NodeJS.ErrnoException).code;
      const st = await fs.promises.lstat(dir).catch(() => undefined);
      if (!st?.isDirectory() || (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM' && code !== 'EACCES')) {
        throw fileSystemError(ex, dir, 'create the folder');
      }
      const weights = path.join(dir, 'weights.bin');
      const modelJson = path.join(dir, 'model.json');
      // An older model.json there would describe the new weights.bin for a moment.
      await fs.promises.rm(modelJson, { force: true }).catch((e: unknown) => {
        throw fileSystemError(e, modelJson, 'replace the file');
      });
      await renameRetrying(path.join(tmp, 'weights.bin'), weights).catch((e: unknown) => {
        throw fileSystemError(e, weights, 'write the file');
      });
      await renameRetrying(path.join(tmp, 'model.json'), modelJson).catch(async (e: unknown) => {
        await fs.promises.rm(weights, { force: true }).catch(() => undefined);
        throw fileSystemError(e, modelJson, 'write the file');
      });
    }
  } finally {
    // gone after the rename; after a failure, what was written of it (a leftover is hidden, and the next run taking the folder removes it)
    await removeCheckpointFolder(tmp).catch(() => undefined);
  }
}

/**
 * Runs the training loop; resolves when done, stopped or cancelled. A cancel that came before the
 * run starts rejects as cancelled (a `cancelled` WeightFileError), nothing written; one that comes
 * later resolves with `stopped: 'cancelled'`, keeping the checkpoints written so far.
 */
export async function runTraining(spec: RunSpec, ctx: TrainContext): Promise<Extract<TrainEvent, { type: 'done' }>> {
  throwIfAborted(ctx.signal);
  const { tf, model } = ctx;
  const emit = ctx.onEvent ?? (() => undefined);
  const epochs = spec.epochs ?? runDefaults.epochs;
  const batchSize = spec.batchSize ?? runDefaults.batchSize;
  const lr = spec.learningRate ?? runDefaults.learningRate;
  const chosen = chooseLoss(model, { loss: spec.loss, trainingConfig: ctx.trainingConfig });
  const loss = chosen.name;
  const fromLogits = chosen.fromLogits;
  const data = ctx.data ?? syntheticDataFor(model, spec, loss);
  if (!data.y) {
    throw new Error(`The data set '${data.source}' has no targets; training needs 'y' (or a label column).`);
  }
  const outUnits = model.outputs[0]?.shape[model.outputs[0].shape.length - 1] ?? 1;
  const targets = targetsForLoss(data.y, data.yShape ?? [data.y.length], outUnits, loss);
  const n = data.xShape[0] ?? 0;
  const nVal = Math.floor(n * (spec.validationSplit ?? runDefaults.validationSplit));
  const nTrain = n - nVal;
  const xAll = tf.tensor(data.x, data.xShape, 'float32');
  const yAll = tf.tensor(targets.y, targets.yShape, 'float32');
  const xTrain = tf.slice(xAll, 0, nTrain);
  const yTrain = tf.slice(yAll, 0, nTrain);
  const xVal = nVal > 0 ? tf.slice(xAll, nTrain, nVal) : undefined;
  const yVal = nVal > 0 ? tf.slice(yAll, nTrain, nVal) : undefined;

  const optimizer = makeOptimizer(tf, spec.optimizer ?? runDefaults.optimizer, lr);
  const layers = model.layers.filter((l) => l.trainableWeights.length > 0);
  const vars = layers.flatMap((l) => l.trainableWeights.map((w) => ({ layer: l.name, lv: w, v: w.read() as Variable })));
  // the penalties of layers inside nested models too (applyOverrides regularizes those as well)
  const regularizers = flattenLayers(model).flatMap((l) => {
    const r = (l as unknown as { kernelRegularizer?: { apply(x: Tensor): Tensor } }).kernelRegularizer;
    const kernel = l.trainableWeights.find((w) => /kernel$/.test(w.originalName));
    return r && kernel ? [{ r, kernel }] : [];
  });
  const stepsPerEpoch = Math.max(1, Math.ceil(nTrain / batchSize));
  const every = ctx.stepEventEvery ?? Math.max(1, Math.floor(stepsPerEpoch / 20));
  const random = rng(spec.seed ?? runDefaults.seed);
  const checkpoints: string[] = [];
  const history: EpochMetrics[] = [];
  const stopOn = spec.stopOnNonFinite ?? true;
  emit({ type: 'start', runDir: ctx.runDir, backend: ctx.backend, layers: layers.map((l) => l.name), samples: nTrain, validationSamples: nVal, stepsPerEpoch, loss, ...(fromLogits ? { fromLogits: true as const } : {}) });

  const save = async (epoch: number, metrics: EpochMetrics | null): Promise<string> => {
    const name = `epoch-${String(epoch).padStart(3, '0')}`;
    const dir = path.join(ctx.runDir, name);
    await writeCheckpointFolder(dir, await modelArtifacts(tf, model), {
      metadata: {
        ...(ctx.metadata ?? {}),
        epoch,
        metrics,
        parent: checkpoints.length > 0 ? path.basename(checkpoints[checkpoints.length - 1]!) : null,
        backend: ctx.backend.name,
        backendLabel: ctx.backend.label,
        time: new Date().toISOString(),
        loss,
        ...(fromLogits ? { fromLogits: true } : {}),
        optimizer: spec.optimizer ?? runDefaults.optimizer,
        learningRate: lr,
      },
    });
    checkpoints.push(dir);
    return dir;
  };
  const writeRunFile = (stopped?: string): Promise<void> =>
    writeFileAtomic(path.join(ctx.runDir, 'run.json'), `${JSON.stringify({ spec, backend: ctx.backend, loss, ...(chosen.fromLogits ? { fromLogits: true } : {}), history, checkpoints: checkpoints.map((c) => path.basename(c)), ...(stopped ? { stopped } : {}) }, null, 2)}\n`).catch((ex: unknown) => {
      throw fileSystemError(ex, path.join(ctx.runDir, 'run.json'), 'write the file');
    });

  let stopped: 'cancelled' | 'nonFinite' | 'exploding' | undefined;
  let globalStep = 0;
  try {
    await save(0, null);
    await writeRunFile();
    for (let epoch = 1; epoch <= epochs && !stopped; epoch++) {
      const order = Array.from({ length: nTrain }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      // sums over samples: each batch's mean times its sample count (the last batch may be smaller)
      let lossSum = 0;
      let accSum = 0;
      let samples = 0;
      let batches = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        if (ctx.signal?.aborted) {
          stopped = 'cancelled';
          break;
        }
        const batch = order.slice(step * batchSize, (step + 1) * batchSize);
        // the step's tensors are freed however it ends, a throw included (the extension's worker lives on)
        const held: Tensor[] = [];
        try {
          const idx = tf.tensor1d(batch, 'int32');
          held.push(idx);
          const xb = tf.gather(xTrain, idx);
          held.push(xb);
          const yb = tf.gather(yTrain, idx);
          held.push(yb);
          const report = globalStep % every === 0;
          const before = report ? vars.map((x) => x.v.dataSync().slice()) : [];
          // the other steps' updates are measured on the device (one small read), so an exploding update is caught on any step
          const beforeT = report ? [] : vars.map((x) => tf.clone(x.v));
          held.push(...beforeT);
          let accT: Tensor | undefined;
          const { value, grads } = gradientsOrDiscard(tf, () => {
            const p = firstOutput(model.apply(xb, { training: true }) as Tensor | Tensor[]);
            accT = tf.keep(accuracy(tf, loss, yb, p, fromLogits) ?? tf.scalar(NaN));
            held.push(accT);
            let l = lossTensor(tf, loss, yb, p, fromLogits);
            for (const { r, kernel } of regularizers) {
              l = tf.add(l, r.apply(kernel.read()));
            }
            return l;
          }, vars.map((x) => x.v));
          held.push(value, ...Object.values(grads));
          const lossValue = (await value.data())[0] ?? NaN;
          const accValue = accT ? ((await accT.data())[0] ?? NaN) : NaN;
          // A NaN/Inf loss or gradient is caught before the update, which is then skipped, so the
          // weights (and every checkpoint) stay finite. g·0 is 0 for a finite g and NaN otherwise:
          // one sum tells whether every gradient is finite (with kernels every backend has).
          const gradList = Object.values(grads);
          const gradsFinite = gradList.length === 0 || Number.isFinite(tf.tidy(() => tf.addN(gradList.map((g) => tf.sum(tf.mul(g, 0)))).dataSync()[0] ?? NaN));
          const stepFinite = Number.isFinite(lossValue) && gradsFinite;
          if (stepFinite) {
            optimizer.applyGradients(grads as Parameters<Optimizer['applyGradients']>[0]);
          }
          lossSum += lossValue * batch.length;
          accSum += accValue * batch.length;
          samples += batch.length;
          batches++;
          if (!stepFinite) {
            const what = Number.isFinite(lossValue) ? `the gradients became NaN or Infinity (loss ${Number(lossValue.toPrecision(4))})` : `the training loss became ${lossValue}`;
            emit({
              type: 'warning',
              step: globalStep,
              diagnostic: {
                severity: 'error',
                code: 'gradient-non-finite',
                message: `At epoch ${epoch}, step ${step + 1}, ${what}; the update was skipped.`,
                evidence: { epoch, step: step + 1, ...(Number.isFinite(lossValue) ? { loss: lossValue } : {}) },
              },
            });
            if (stopOn) {
              stopped = 'nonFinite';
            }
          }
          let ratios: { layer: string; updateRatio: number | null }[] = [];
          if (!report && stepFinite) {
            const sums = tf.tidy(() =>
              tf.stack(layers.flatMap((l) => {
                const own = vars.map((x, i) => ({ x, i })).filter(({ x }) => x.layer === l.name);
                const d = tf.addN(own.map(({ x, i }) => tf.sum(tf.square(tf.sub(x.v, beforeT[i]!)))));
                const w0 = tf.addN(own.map(({ i }) => tf.sum(tf.square(beforeT[i]!))));
                return [d, w0];
              })).dataSync(),
            );
            ratios = layers.map((l, j) => {
              const wn0 = Math.sqrt(sums[2 * j + 1]!);
              return { layer: l.name, updateRatio: wn0 > 0 ? finite(Math.sqrt(sums[2 * j]!) / wn0) : null };
            });
          }
          if (report) {
            const stepLayers: LayerStepDto[] = layers.map((l) => {
              let g = 0;
              let w = 0;
              let w0 = 0;
              let d = 0;
              vars.forEach((x, i) => {
                if (x.layer !== l.name) {
                  return;
                }
                const after = x.v.dataSync();
                const gt = grads[x.v.name];
                g += gt ? sumSquares(gt.dataSync()) : 0;
                w += sumSquares(after);
                const b = before[i]!;
                w0 += sumSquares(b);
                for (let k = 0; k < after.length; k++) {
                  d += (after[k]! - b[k]!) ** 2;
                }
              });
              // the update against the weights it was applied to (the norm before the step), as |Δw|/|w| is defined
              const wn0 = Math.sqrt(w0);
              return { layer: l.name, weightNorm: finite(Math.sqrt(w)), gradNorm: finite(Math.sqrt(g)), updateRatio: wn0 > 0 ? finite(Math.sqrt(d) / wn0) : null };
            });
            emit({ type: 'step', epoch, step: globalStep, loss: finite(lossValue), acc: finite(accValue), layers: stepLayers });
            ratios = stepLayers;
          }
          const worst = ratios.reduce((a, b) => ((b.updateRatio ?? 0) > (a.updateRatio ?? 0) ? b : a), ratios[0]!);
          if (worst && (worst.updateRatio ?? 0) > gradientThresholds.maxUpdateRatio) {
            emit({
              type: 'warning',
              step: globalStep,
              diagnostic: {
                severity: 'warning',
                code: 'gradient-exploding',
                layer: worst.layer,
                message: `At epoch ${epoch}, step ${step + 1}, one update changed layer '${worst.layer}' by ${worst.updateRatio?.toPrecision(3)}x its own norm.`,
                evidence: { epoch, step: step + 1, updateRatio: worst.updateRatio },
              },
            });
            if (stopOn) {
              stopped = 'exploding';
            }
          }
        } finally {
          tf.dispose(held);
        }
        globalStep++;
        if (stopped) {
          break;
        }
        await new Promise((r) => setImmediate(r)); // let cancel messages in
      }
      if (batches === 0) {
        break;
      }
      const metrics: EpochMetrics = { loss: finite(lossSum / samples) };
      if (!Number.isNaN(accSum)) {
        metrics.acc = finite(accSum / samples);
      }
      if (xVal && yVal) {
        const [vl, va] = tf.tidy(() => {
          const p = firstOutput(model.apply(xVal, { training: false }) as Tensor | Tensor[]);
          // As Keras reports it: the penalties are part of the validation loss too.
          let l = lossTensor(tf, loss, yVal, p, fromLogits);
          for (const { r, kernel } of regularizers) {
            l = tf.add(l, r.apply(kernel.read()));
          }
          return [l, accuracy(tf, loss, yVal, p, fromLogits)] as const;
        });
        metrics.val_loss = finite((await vl.data())[0]);
        if (va) {
          metrics.val_acc = finite((await va.data())[0]);
        }
        tf.dispose([vl, ...(va ? [va] : [])]);
      }
      if (batches < stepsPerEpoch || stopped) {
        // a partial epoch (cancelled, or stopped itself on NaN/Inf or an exploding update, its last step included) is not checkpointed; its metrics stay in the history, marked
        metrics.partialSteps = batches;
        history.push(metrics);
        break;
      }
      history.push(metrics);
      const checkpoint = await save(epoch, metrics);
      await writeRunFile();
      emit({ type: 'epoch', epoch, metrics, checkpoint });
    }
  } finally {
    tf.dispose([xAll, yAll, xTrain, yTrain, ...(xVal ? [xVal] : []), ...(yVal ? [yVal] : [])]);
    optimizer.dispose();
  }
  await writeRunFile(stopped);
  const done = { type: 'done' as const, ...(stopped ? { stopped } : {}), checkpoints, history };
  emit(done);
  return done;
}
