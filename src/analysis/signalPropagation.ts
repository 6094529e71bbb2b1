/**
 * Data-free forecast of how the scale of activations (forward) and gradients (backward) changes
 * through the layers, from the weights' second moments, the fans and the activation functions
 * (the mean-field / Glorot-He variance argument). Formulas and constants: docs/diagnostics.md.
 *
 *   forwardGain_l       = fanIn_l  x E[w_l^2] x c(phi_l)
 *   backwardGain_l      = fanOut_l x E[w_l^2] x c'(phi_l)
 *   cumulativeForward_l = product of forwardGain_k for k <= l   (activation scale^2 after layer l)
 *   cumulativeBackward_l = c'(phi_l) x product of backwardGain_k for k > l
 *                          (gradient scale^2 at layer l's pre-activation, which its weights see)
 *
 * Layers are taken in file order as a chain (residual branches are not modelled); normalization
 * layers reset the forward scale to E[gamma^2] and scale gradients by the same factor; an
 * embedding lookup starts the chain (token ids have no scale to compare with); the output
 * layer's sigmoid/softmax counts as linear backwards (it cancels against the cross-entropy loss);
 * a Dense layer that reads a flattened convolution map of P positions multiplies the gradient
 * the kernels below it see by P (each of their weights sums P per-position terms).
 */
import type { LayerInfo, TensorInfo, WeightFile } from '../core/model';
import { computeFans, type Fans } from './fans';
import type { TensorStats } from './statsTypes';

/** Forward and backward constants of an activation for a zero-mean pre-activation. */
export interface ActivationConstants {
  /** c = E[phi(z)^2] / E[z^2] (small-signal slope^2 for saturating functions). */
  forward: number;
  /** c' = E[phi'(z)^2]. */
  backward: number;
  /** phi(0): the output offset a saturating/positive function adds (sigmoid 1/2), 0 if none. */
  meanShift: number;
  /** How the constant was obtained: 'exact' (homogeneous), 'small-signal' (slope at 0), 'unit-variance' (integrated at E[z^2] = 1). */
  basis: 'exact' | 'small-signal' | 'unit-variance' | 'unknown';
}

const seluLambda = 1.0507009873554805;
const seluAlpha = 1.6732632423543772;

/**
 * E[f(z)] for z ~ N(0, 1), by Simpson's rule on [-10, 0] and [0, 10] separately (2000 panels
 * each), so a jump of f at 0 (SELU's derivative) is integrated exactly from both sides.
 */
function gaussianExpectation(f: (z: number) => number): number {
  const half = (sign: number): number => {
    const steps = 2000;
    const h = 10 / steps;
    let s = 0;
    for (let i = 0; i <= steps; i++) {
      const z = sign * (i === 0 ? 1e-15 : i * h);
      const w = i === 0 || i === steps ? 1 : i % 2 ? 4 : 2;
      s += w * f(z) * Math.exp(-0.5 * z * z);
    }
    return (s * h) / 3;
  };
  return (half(-1) + half(1)) / Math.sqrt(2 * Math.PI);
}

function integrated(phi: (z: number) => number, dphi: (z: number) => number): ActivationConstants {
  return {
    forward: gaussianExpectation((z) => phi(z) ** 2),
    backward: gaussianExpectation((z) => dphi(z) ** 2),
    meanShift: 0,
    basis: 'unit-variance',
  };
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
const normalPdf = (z: number): number => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
const normalCdfApprox = (z: number): number => 0.5 * (1 + erf(z / Math.SQRT2));

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for constants; use a series/continued fraction split.
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 60; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // Continued fraction for erfc.
    let f = 0;
    for (let n = 60; n >= 1; n--) {
      f = n / 2 / (ax + f);
    }
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  }
  return x < 0 ? -r : r;
}

/** Constants known in closed form (or by convention). */
const fixedConstants: Record<string, ActivationConstants> = {
  linear: { forward: 1, backward: 1, meanShift: 0, basis: 'exact' },
  relu: { forward: 0.5, backward: 0.5, meanShift: 0, basis: 'exact' },
  relu6: { forward: 0.5, backward: 0.5, meanShift: 0, basis: 'small-signal' },
  tanh: { forward: 1, backward: 1, meanShift: 0, basis: 'small-signal' },
  softsign: { forward: 1, backward: 1, meanShift: 0, basis: 'small-signal' },
  sigmoid: { forward: 1 / 16, backward: 1 / 16, meanShift: 0.5, basis: 'small-signal' },
  hard_sigmoid: { forward: 0.04, backward: 0.04, meanShift: 0.5, basis: 'small-signal' },
  // softmax on logits: the forecast follows the logits' scale (treated as linear).
  softmax: { forward: 1, backward: 1, meanShift: 0, basis: 'small-signal' },
  exponential: { forward: 1, backward: 1, meanShift: 1, basis: 'small-signal' },
};

/** Constants computed by numerical integration, on first use (a few milliseconds each). */
const integratedConstants: Record<string, () => ActivationConstants> = {
  elu: () => integrated((z) => (z > 0 ? z : Math.expm1(z)), (z) => (z > 0 ? 1 : Math.exp(z))),
  selu: () =>
    integrated(
      (z) => seluLambda * (z > 0 ? z : seluAlpha * Math.expm1(z)),
      (z) => seluLambda * (z > 0 ? 1 : seluAlpha * Math.exp(z)),
    ),
  gelu: () => integrated((z) => z * normalCdfApprox(z), (z) => normalCdfApprox(z) + z * normalPdf(z)),
  swish: () => integrated((z) => z * sigmoid(z), (z) => sigmoid(z) * (1 + z * (1 - sigmoid(z)))),
  softplus: () => ({ ...integrated((z) => Math.log1p(Math.exp(z)) - Math.LN2, (z) => sigmoid(z)), meanShift: Math.LN2 }),
};
const integratedDone = new Map<string, ActivationConstants>();

/** The table's constants for a key, if any. */
function tableConstants(key: string): ActivationConstants | undefined {
  const fixed = fixedConstants[key];
  if (fixed) {
    return fixed;
  }
  const make = integratedConstants[key];
  if (!make) {
    return undefined;
  }
  let done = integratedDone.get(key);
  if (!done) {
    done = make();
    integratedDone.set(key, done);
  }
  return done;
}

/** Activation names by their normalized spelling (lower case, no underscores) -> table key. */
const aliases: Record<string, string> = {
  linear: 'linear',
  none: 'linear',
  relu: 'relu',
  relu6: 'relu6',
  tanh: 'tanh',
  softsign: 'softsign',
  sigmoid: 'sigmoid',
  hardsigmoid: 'hard_sigmoid',
  softmax: 'softmax',
  logsoftmax: 'softmax',
  exponential: 'exponential',
  elu: 'elu',
  selu: 'selu',
  gelu: 'gelu',
  swish: 'swish',
  silu: 'swish',
  hardsilu: 'swish',
  hardswish: 'swish',
  softplus: 'softplus',
};

/** The constants of an activation by Keras/TF.js name ('relu', 'leaky_relu', 'LeakyReLU' ...); leaky slope from `alpha`. */
export function activationConstants(activation: string | undefined, alpha?: number): ActivationConstants {
  const a = (activation ?? 'linear').toLowerCase().replace(/_/g, '');
  if (a === 'leakyrelu' || a === 'prelu') {
    const s = alpha ?? 0.2;
    return { forward: (1 + s * s) / 2, backward: (1 + s * s) / 2, meanShift: 0, basis: 'exact' };
  }
  const key = aliases[a];
  return (key ? tableConstants(key) : undefined) ?? { forward: 1, backward: 1, meanShift: 0, basis: 'unknown' };
}

/** One layer of the forecast. */
export interface SignalLayer {
  /** Layer name. */
  name: string;
  /** Layer class, when known. */
  className?: string;
  /** What the layer contributes: weights (a kernel), normalization, or a standalone activation. */
  kind: 'weights' | 'normalization' | 'activation';
  /** Activation applied by this layer ('linear' when none). */
  activation: string;
  /** fanIn x E[w^2] x c: the factor on the activation scale^2. */
  forwardGain: number;
  /** fanOut x E[w^2] x c': the factor on the gradient scale^2 passing back through the layer. */
  backwardGain: number;
  /** Activation scale^2 after this layer relative to the input's. */
  cumulativeForward: number;
  /** Gradient scale^2 at this layer's pre-activation relative to the output gradient's. */
  cumulativeBackward: number;
  /** Signal fan-in (product over the layer's kernels). */
  fanIn: number;
  /** Signal fan-out (product over the layer's kernels). */
  fanOut: number;
  /** E[w^2] of the layer's main kernel (mean square, includes the mean). */
  meanSquareWeight: number;
  /** Activation constants c and c'. */
  c: number;
  /** Backward activation constant. */
  cPrime: number;
  /**
   * True for an embedding lookup: token ids have no scale, so the forward chain starts at its
   * output (cumulative forward = its own gain, 1 for a plain lookup); absent otherwise.
   */
  startsChain?: boolean;
  /** The batch normalization a converter folded into this layer's kernel (see `foldedNormalizationOf`); absent otherwise. */
  foldedNormalization?: string;
  /**
   * For a Dense layer that reads a flattened convolution map: the number of spatial positions P
   * it merges (its fan-in / the map's channels). `backwardGain` includes the factor P, because the
   * kernels below sum their gradient over those P positions. Absent otherwise.
   */
  flattenedPositions?: number;
}

/** The forecast over the whole chain. */
export interface SignalForecast {
  /** Layers in chain order. */
  layers: SignalLayer[];
  /** Lower edge of the healthy band of cumulative gains. */
  lowerBound: number;
  /** Upper edge of the healthy band. */
  upperBound: number;
  /** Layers with kernels that were skipped (no stats, recurrent kernels), with the reason. */
  skipped: { name: string; reason: string }[];
  /**
   * False when the file has no architecture: the chain is then the layers in file order with
   * unknown activations, and the diagnostics do not judge it against the band.
   */
  architecture: boolean;
  /** ADD ops of the graph that join two computed tensors' branches (residual connections), when the format lists ops (TFLite); 0 otherwise. */
  residualAdds: number;
}

/** Healthy band of the cumulative gains. */
export const signalBand = { lower: 1e-2, upper: 1e2 } as const;

/** Layers that turn a convolution map into one vector per sample (the next Dense sees every position). */
const flattenClasses = /^(Flatten|Reshape)$/;
/** Layers after which a convolution map is no longer what a Dense reads. */
const mapEndingClasses = /^(Global\w*Pooling\dD|Global\w*Pool\dD|LSTM|GRU|SimpleRNN|Bidirectional|RNN|TimeDistributed|Concatenate|Dot|Embedding)$/;

/** Output channels of a convolution kernel in Keras layout (depthwise: C x M). */
function mapChannelsOf(fans: Fans): number | undefined {
  const s = fans.kerasShape;
  if (s.length < 3) {
    return undefined;
  }
  const last = s[s.length - 1]!;
  const secondLast = s[s.length - 2]!;
  return fans.rule === 'depthwise' ? last * secondLast : fans.rule === 'conv-transpose' ? secondLast : fans.rule === 'conv' ? last : undefined;
}

const normalizationClasses = /^(BatchNormalization|LayerNormalization|GroupNormalization|SyncBatchNormalization|UnitNormalization|RMSNormalization)$/;
const activationClasses = /^(Activation|ReLU|LeakyReLU|ELU|PReLU|Softmax|ThresholdedReLU)$/;

function meanSquare(stats: TensorStats | undefined): number | undefined {
  if (!stats || stats.std === null || stats.mean === null) {
    return undefined;
  }
  return stats.std * stats.std + stats.mean * stats.mean;
}

function activationOf(layer: LayerInfo): { name: string; alpha?: number } {
  const cfg = layer.config ?? {};
  if (layer.className && activationClasses.test(layer.className) && layer.className !== 'Activation') {
    const alpha = typeof cfg['alpha'] === 'number' ? cfg['alpha'] : typeof cfg['negative_slope'] === 'number' ? cfg['negative_slope'] : undefined;
    const name = layer.className === 'ReLU' ? 'relu' : layer.className === 'LeakyReLU' ? 'leaky_relu' : layer.className === 'ELU' ? 'elu' : layer.className === 'PReLU' ? 'leaky_relu' : layer.className === 'Softmax' ? 'softmax' : 'relu';
    return { name, alpha: layer.className === 'LeakyReLU' ? (alpha ?? 0.3) : alpha };
  }
  const act = layer.activation ?? (typeof cfg['activation'] === 'string' ? cfg['activation'] : undefined);
  return { name: act ?? 'linear' };
}

/**
 * The batch normalization a converter folded into a layer's kernel, from the names of its tensors
 * (the fused bias is named after the ops it replaces: '...;model/batch_normalization/FusedBatchNormV3;...'),
 * or undefined.
 */
export function foldedNormalizationOf(layer: Pick<LayerInfo, 'tensors'>): string | undefined {
  for (const name of layer.tensors) {
    for (const part of name.split(';')) {
      const m = /^(.*?)\/?FusedBatchNorm(V\d+)?$/.exec(part);
      if (m) {
        return m[1] || part;
      }
    }
  }
  return undefined;
}

/**
 * Forecasts forward and backward gains per layer from the weights alone. Needs the architecture
 * for activations; without it every layer counts as linear (activation 'unknown').
 */
export function forecastSignal(file: WeightFile, stats: ReadonlyMap<string, TensorStats>): SignalForecast {
  const byName = new Map<string, TensorInfo>();
  for (const t of file.tensors) {
    byName.set(t.name, t);
  }
  const hasArchitecture = file.layers.some((l) => l.className !== undefined);
  const skipped: { name: string; reason: string }[] = [];
  const partial: Omit<SignalLayer, 'cumulativeForward' | 'cumulativeBackward'>[] = [];
  let cumForward = 1;
  // Channels of the convolution map the chain is on (undefined once a Dense, a global pooling or
  // a recurrent layer consumed it), and whether a Flatten/Reshape turned it into a vector since.
  // A TFLite FULLY_CONNECTED flattens its input itself.
  let mapChannels: number | undefined;
  let flattened = file.format === 'tflite';

  for (const layer of file.layers) {
    const tensors = layer.tensors.map((n) => byName.get(n)).filter((t): t is TensorInfo => !!t && t.group === 'model');
    const act = activationOf(layer);
    const activation = hasArchitecture ? act.name : 'unknown';
    const k = activationConstants(activation, act.alpha);

    if (layer.className && normalizationClasses.test(layer.className)) {
      const gamma = tensors.find((t) => t.role === 'gamma');
      const g2 = gamma ? meanSquare(stats.get(gamma.name)) : 1;
      if (g2 === undefined) {
        skipped.push({ name: layer.name, reason: 'no statistics for gamma' });
        continue;
      }
      const factor = g2 / Math.max(cumForward, 1e-300);
      partial.push({ name: layer.name, className: layer.className, kind: 'normalization', activation: 'linear', forwardGain: factor, backwardGain: factor, fanIn: 1, fanOut: 1, meanSquareWeight: g2, c: 1, cPrime: 1 });
      cumForward = g2;
      continue;
    }
    const kernels = tensors.filter((t) => {
      if (!['kernel', 'depthwise_kernel', 'pointwise_kernel', 'embeddings'].includes(t.role)) {
        return false;
      }
      // Attention: the value and output projections carry the signal; query/key only weight it.
      return !/(^|\/)(query|key)(\/|$)/.test(t.weight) && !/(^|\/)(query|key)(\/|$)/.test(t.name.replace(layer.name, ''));
    });
    if (layer.tensors.some((n) => byName.get(n)?.role === 'recurrent_kernel')) {
      skipped.push({ name: layer.name, reason: 'recurrent kernel: the time recurrence is not part of the depth chain (input kernel only)' });
    }
    if (kernels.length === 0) {
      if (layer.className && flattenClasses.test(layer.className)) {
        flattened = true;
      } else if (layer.className && mapEndingClasses.test(layer.className)) {
        mapChannels = undefined;
      }
      if (layer.className && activationClasses.test(layer.className) && hasArchitecture) {
        partial.push({ name: layer.name, className: layer.className, kind: 'activation', activation, forwardGain: k.forward, backwardGain: k.backward, fanIn: 1, fanOut: 1, meanSquareWeight: 1, c: k.forward, cPrime: k.backward });
        cumForward *= k.forward;
      }
      continue;
    }
    let fwd = 1;
    let bwd = 1;
    let fanIn = 1;
    let fanOut = 1;
    let ms: number | undefined;
    let missing = false;
    let lookup = false;
    let outChannels: number | undefined;
    let dense = false;
    for (const t of kernels) {
      const m = meanSquare(stats.get(t.name));
      if (m === undefined) {
        missing = true;
        break;
      }
      ms ??= m;
      const fans = computeFans(t, layer, file.format);
      if (t.role === 'embeddings') {
        // Token ids have no scale to compare with: the chain starts at the lookup's output.
        lookup = true;
        continue;
      }
      fwd *= fans.signalFanIn * m;
      bwd *= fans.signalFanOut * m;
      fanIn *= fans.signalFanIn;
      fanOut *= fans.signalFanOut;
      outChannels = mapChannelsOf(fans);
      dense = fans.rule === 'dense';
    }
    if (missing || ms === undefined) {
      skipped.push({ name: layer.name, reason: 'no statistics for its kernel' });
      continue;
    }
    // A Dense reading a flattened map of P positions x C channels (fan-in P x C): each kernel
    // weight below sums its gradient over the P positions, and those terms add incoherently (the
    // Dense weights of different positions are independent), so their gradient scale^2 is P times
    // the per-position one the chain carries.
    const readsMap = dense && (layer.className === undefined || layer.className === 'Dense') && kernels.length === 1 && flattened;
    const positions = readsMap && mapChannels !== undefined && fanIn % mapChannels === 0 ? fanIn / mapChannels : 1;
    mapChannels = lookup ? undefined : outChannels;
    flattened = file.format === 'tflite';
    const forwardGain = fwd * k.forward;
    const backwardGain = bwd * k.backward * positions;
    const folded = foldedNormalizationOf(layer);
    partial.push({
      name: layer.name,
      className: layer.className,
      kind: 'weights',
      activation,
      forwardGain,
      backwardGain,
      fanIn,
      fanOut,
      meanSquareWeight: ms,
      c: k.forward,
      cPrime: k.backward,
      ...(lookup ? { startsChain: true } : {}),
      ...(folded ? { foldedNormalization: folded } : {}),
      ...(positions > 1 ? { flattenedPositions: positions } : {}),
    });
    cumForward = lookup ? forwardGain : cumForward * forwardGain;
  }

  // The output layer's sigmoid/softmax cancels against its cross-entropy loss (the gradient at
  // the logits is p - y), so its derivative does not shrink the gradient.
  const lastWeights = partial.map((p) => p.kind).lastIndexOf('weights');
  const last = partial[lastWeights];
  if (last && partial.slice(lastWeights + 1).every((p) => p.kind !== 'weights') && /^(sigmoid|softmax|log_softmax)$/.test(last.activation)) {
    last.backwardGain = last.cPrime > 0 ? last.backwardGain / last.cPrime : last.backwardGain;
    last.cPrime = 1;
  }
  // Cumulative products: forward from the input, backward from the output.
  const layers: SignalLayer[] = [];
  let f = 1;
  for (const p of partial) {
    // A normalization resets the scale to E[gamma^2]; one a converter folded into the layer resets it
    // to that layer's activation constant (gamma, folded away, taken as 1).
    f = p.kind === 'normalization' ? p.meanSquareWeight : p.startsChain ? p.forwardGain : p.foldedNormalization !== undefined ? p.c : f * p.forwardGain;
    layers.push({ ...p, cumulativeForward: f, cumulativeBackward: 1 });
  }
  let b = 1;
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i]!;
    l.cumulativeBackward = l.cPrime * b;
    b *= l.backwardGain;
  }
  for (const l of layers) {
    for (const key of ['forwardGain', 'backwardGain', 'cumulativeForward', 'cumulativeBackward', 'meanSquareWeight'] as const) {
      l[key] = jsonSafe(l[key]);
    }
  }
  return { layers, lowerBound: signalBand.lower, upperBound: signalBand.upper, skipped, architecture: hasArchitecture, residualAdds: residualAddCount(file) };
}

/**
 * ADD ops of a TFLite graph (from the reader's op histogram). A converter fuses biases into the
 * convolutions and dense ops, so the ADDs left join branches: residual connections.
 */
function residualAddCount(file: WeightFile): number {
  if (file.format !== 'tflite') {
    return 0;
  }
  const h = file.metadata['opsHistogram'];
  const n = h && typeof h === 'object' ? (h as Record<string, unknown>)['ADD'] : undefined;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

/** Clamps a positive gain into the finite float range (JSON-safe). */
function jsonSafe(x: number): number {
  if (Number.isNaN(x)) {
    return 0;
  }
  return Math.min(Math.max(x, 0), Number.MAX_VALUE);
}
