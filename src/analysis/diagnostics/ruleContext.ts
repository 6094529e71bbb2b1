/**
 * What every rule reads, computed once per run and cached: the layer of each tensor, the kernel
 * analyses (fans, moments, the configured initializer, the initializer identification), the
 * signal forecast and the regularization report.
 */
import { isFloatDType } from '../../core/dtypes';
import type { KerasObjectConfig, LayerInfo, TensorInfo, WeightFile } from '../../core/model';
import { computeFans, type Fans } from '../fans';
import { atInitTestPower, candidateFromConfig, identifyInitializer, initializerCandidates, type InitializerCandidate, type InitializerMatch } from '../initializers';
import type { PrecisionReport } from '../precision';
import { analyzeRegularization, type RegularizationReport } from '../regularization';
import { forecastSignal, foldedNormalizationOf, type SignalForecast } from '../signalPropagation';
import type { TensorStats } from '../statsTypes';
import type { DiagnosticsInput } from './diagnostic';
import { sampleLayout } from './sampleTensor';

/** Roles whose tensors were drawn by a kernel-style initializer. */
export const kernelRoles: readonly TensorInfo['role'][] = ['kernel', 'recurrent_kernel', 'depthwise_kernel', 'pointwise_kernel', 'embeddings'];

/** Moments of a tensor (exact from stats, else estimated from its sample). */
export interface Moments {
  /** Finite values (whole tensor when exact). */
  count: number;
  /** Mean. */
  mean: number;
  /** Population std. */
  std: number;
  /** Largest |x|. */
  absMax: number;
  /** Excess kurtosis, when defined. */
  kurtosis: number | null;
  /** True when from TensorStats of the whole tensor. */
  exact: boolean;
}

/** Everything the initializer rules need about one kernel tensor. */
export interface KernelAnalysis {
  /** The tensor. */
  tensor: TensorInfo;
  /** Its layer, when the file names one. */
  layer?: LayerInfo;
  /** Fans (initializer rule and signal rule). */
  fans: Fans;
  /** Activation of the layer; undefined when the file has no architecture. */
  activation?: string;
  /** Moments; undefined when neither stats nor a sample exist. */
  moments?: Moments;
  /** The configured initializer as a distribution, when the architecture names one. */
  configured?: InitializerCandidate;
  /** The identification, when a sample exists. */
  match?: InitializerMatch;
  /** The sample's row-major matrix layout when the structure tests ran on it; absent otherwise. */
  sampleMatrix?: { rows: number; cols: number };
  /** True when the layer's bias exists and is all zeros (the default bias initializer's draw). */
  biasAllZero?: boolean;
  /** The next layer in file order, when it is a normalization layer (it cancels the kernel's scale). */
  followedByNormalization?: string;
  /**
   * The batch normalization a converter folded into this kernel (TFLite, TF.js graph models: a
   * tensor of the layer is named after `FusedBatchNorm`), e.g. 'model/batch_normalization'; its
   * values are then no initializer's draw and are not identified.
   */
  foldedNormalization?: string;
}

const normalizationClass = /Normalization$/;

/** Rule inputs with lazily computed, cached analyses. */
/** Largest sample whose at-init test power is simulated (atInitPower). */
const powerSimulationMax = 16384;

/** Simulated powers by candidate and layout (atInitPower), at most powerCacheMax of them. */
const powerCache = new Map<string, number>();
const powerCacheMax = 256;

export class RuleContext {
  /** The opened file. */
  readonly file: WeightFile;
  /** Exact per-tensor statistics. */
  readonly stats: ReadonlyMap<string, TensorStats>;
  /** Value samples per tensor name. */
  readonly samples: ReadonlyMap<string, Float64Array>;
  /** Precision reports per tensor name. */
  readonly precision: ReadonlyMap<string, PrecisionReport>;
  /** True when the file carries an architecture (layer classes). */
  readonly hasArchitecture: boolean;
  private readonly layerByTensor = new Map<string, LayerInfo>();
  private kernelCache?: KernelAnalysis[];
  private forecastCache?: SignalForecast;
  private regularizationCache?: RegularizationReport;

  constructor(input: DiagnosticsInput) {
    this.file = input.file;
    this.stats = input.stats;
    this.samples = input.samples ?? new Map();
    this.precision = input.precision ?? new Map();
    this.hasArchitecture = input.file.layers.some((l) => l.className !== undefined);
    for (const layer of input.file.layers) {
      for (const t of layer.tensors) {
        this.layerByTensor.set(t, layer);
      }
    }
  }

  /** The layer holding a tensor. */
  layerOf(tensor: TensorInfo): LayerInfo | undefined {
    return this.layerByTensor.get(tensor.name) ?? this.file.layers.find((l) => l.name === tensor.layer);
  }

  /** Moments of a tensor: from stats when present, else from its sample. */
  moments(name: string): Moments | undefined {
    const s = this.stats.get(name);
    if (s && s.std !== null && s.mean !== null) {
      return { count: s.count - s.nanCount - s.posInfCount - s.negInfCount, mean: s.mean, std: s.std, absMax: s.absMax ?? 0, kurtosis: s.kurtosis, exact: true };
    }
    const sample = this.samples.get(name);
    if (!sample || sample.length === 0) {
      return undefined;
    }
    let s1 = 0;
    let n = 0;
    let absMax = 0;
    for (const v of sample) {
      if (Number.isFinite(v)) {
        s1 += v;
        n++;
        absMax = Math.max(absMax, Math.abs(v));
      }
    }
    if (n === 0) {
      return undefined;
    }
    const mean = s1 / n;
    let m2 = 0;
    let m4 = 0;
    for (const v of sample) {
      if (Number.isFinite(v)) {
        const d = v - mean;
        m2 += d * d;
        m4 += d * d * d * d;
      }
    }
    const variance = m2 / n;
    return { count: n, mean, std: Math.sqrt(variance), absMax, kurtosis: variance > 0 ? m4 / n / (variance * variance) - 3 : null, exact: false };
  }

  /**
   * The activation a layer's output goes through ('linear' when none); undefined without
   * architecture. A linear layer followed (past normalization and dropout layers) by a standalone
   * activation layer (Conv2D -> BatchNormalization -> ReLU) takes that layer's activation.
   */
  activationOf(layer: LayerInfo | undefined): string | undefined {
    if (!this.hasArchitecture || !layer) {
      return undefined;
    }
    const own = layer.activation ?? (typeof layer.config?.['activation'] === 'string' ? (layer.config['activation'] as string) : 'linear');
    if (own !== 'linear') {
      return own;
    }
    const layers = this.file.layers;
    for (let i = layers.indexOf(layer) + 1; i < layers.length; i++) {
      const next = layers[i]!;
      const cls = next.className ?? '';
      if (/Normalization$|^Dropout$|^SpatialDropout|^GaussianNoise$/.test(cls)) {
        continue;
      }
      const standalone: Record<string, string> = { ReLU: 'relu', LeakyReLU: 'leaky_relu', ELU: 'elu', PReLU: 'leaky_relu', Softmax: 'softmax', ThresholdedReLU: 'relu' };
      if (cls === 'Activation') {
        return next.activation ?? (typeof next.config?.['activation'] === 'string' ? (next.config['activation'] as string) : 'linear');
      }
      return standalone[cls] ?? own;
    }
    return own;
  }

  /** True when initializer configs follow TF.js semantics (a model saved by TF.js itself). */
  get tfjsSemantics(): boolean {
    const by = String(this.file.metadata['generatedBy'] ?? '');
    return this.file.format === 'tfjs-layers' && /TensorFlow\.js|tfjs/i.test(by);
  }

  /** Analyses of every float kernel-like model tensor of rank >= 2 (cached). */
  kernels(): KernelAnalysis[] {
    if (this.kernelCache) {
      return this.kernelCache;
    }
    const out: KernelAnalysis[] = [];
    const layers = this.file.layers;
    const byName = new Map(this.file.tensors.map((t) => [t.name, t]));
    for (const tensor of this.file.tensors) {
      if (tensor.group !== 'model' || !kernelRoles.includes(tensor.role) || tensor.shape.length < 2 || !isFloatDType(tensor.dtype) || tensor.unavailable) {
        continue;
      }
      const layer = this.layerOf(tensor);
      const fans = computeFans(tensor, layer, this.file.format);
      const initConfig = layer ? initializerConfigFor(layer, tensor) : undefined;
      const configured = initConfig ? candidateFromConfig(initConfig, fans.initFanIn, fans.initFanOut, fans.kerasShape, this.tfjsSemantics) : undefined;
      const moments = this.moments(tensor.name);
      const analysis: KernelAnalysis = { tensor, layer, fans, activation: this.activationOf(layer), moments, configured };
      const bias = layer ? layer.tensors.map((n) => byName.get(n)).find((t) => t?.role === 'bias') : undefined;
      const bs = bias ? this.stats.get(bias.name) : undefined;
      if (bs) {
        analysis.biasAllZero = bs.count > 0 && bs.zeroCount === bs.count;
      }
      const folded = layer ? foldedNormalizationOf(layer) : undefined;
      if (folded) {
        analysis.foldedNormalization = folded;
      }
      const sample = this.samples.get(tensor.name);
      // (identifyInitializer leaves NaN/Inf out: at least 16 finite values are needed.)
      if (sample && finiteCount(sample) >= 16 && moments && !folded) {
        const plan = sampleLayout(tensor.shape, Math.max(sample.length, 1));
        // TFLite kernels are stored output-first: their [prod(shape[:-1]), shape[-1]] view is not the
        // [inputs, outputs] matrix the structure tests assume.
        const matrix =
          this.file.format === 'tflite'
            ? undefined
            : plan.sampleRows !== undefined && plan.sampleRows * plan.cols === sample.length
              ? { rows: plan.sampleRows, cols: plan.cols }
              : layoutFromSample(tensor, sample);
        const candidates = initializerCandidates(fans.initFanIn, fans.initFanOut, fans.kerasShape);
        if (matrix) {
          analysis.sampleMatrix = matrix;
        }
        analysis.match = identifyInitializer(sample, candidates, {
          std: moments.exact ? moments.std : undefined,
          mean: moments.exact ? moments.mean : undefined,
          configured,
          matrix,
          count: moments.exact ? moments.count : undefined,
          biasMoved: layer !== undefined && bs !== undefined && biasMoved(layer, bs),
        });
      }
      if (layer) {
        const idx = layers.indexOf(layer);
        const next = layers[idx + 1];
        if (next?.className && normalizationClass.test(next.className)) {
          analysis.followedByNormalization = next.name;
        }
      }
      out.push(analysis);
    }
    this.kernelCache = out;
    return out;
  }

  /**
   * For a kernel still at its initial draw: the fraction of simulated fresh draws of its sample's
   * size and layout, each moved by a rank-1 update of `moderateUpdate` (25%) of its norm, that the
   * at-init test catches (`atInitTestPower`). Undefined when the kernel was not identified or its
   * sample holds more than powerSimulationMax values: the test's power grows with the size, and
   * simulating a smaller stand-in would understate it.
   */
  atInitPower(k: KernelAnalysis): number | undefined {
    const m = k.match;
    if (!m?.candidate || m.sampleSize > powerSimulationMax) {
      return undefined;
    }
    const c = m.candidate;
    const [rows, cols, matrix] = k.sampleMatrix ? [k.sampleMatrix.rows, k.sampleMatrix.cols, true] : [m.sampleSize, 1, false];
    // Seeded: the same candidate at the same size always gets the same answer, so it is computed once.
    const key = [c.id, c.label, c.distribution, c.mean, c.std, c.bound, rows, cols, matrix].join('|');
    let power = powerCache.get(key);
    if (power === undefined) {
      power = atInitTestPower(c, rows, cols, matrix);
      if (powerCache.size >= powerCacheMax) {
        powerCache.delete(powerCache.keys().next().value!);
      }
      powerCache.set(key, power);
    }
    return power;
  }

  /** The signal forecast (cached). */
  forecast(): SignalForecast {
    this.forecastCache ??= forecastSignal(this.file, this.stats);
    return this.forecastCache;
  }

  /** The regularization report (cached). */
  regularization(): RegularizationReport {
    this.regularizationCache ??= analyzeRegularization(this.file, this.stats);
    return this.regularizationCache;
  }
}

/** Finite values in a sample. */
function finiteCount(sample: Float64Array): number {
  let n = 0;
  for (const v of sample) {
    if (Number.isFinite(v)) {
      n++;
    }
  }
  return n;
}

/** The sample's matrix layout when a caller passed a sample with a different budget. */
function layoutFromSample(tensor: TensorInfo, sample: Float64Array): { rows: number; cols: number } | undefined {
  const cols = tensor.shape[tensor.shape.length - 1] ?? 1;
  let n = 1;
  for (const d of tensor.shape) {
    n *= d;
  }
  return sample.length === n && cols > 0 ? { rows: n / cols, cols } : undefined;
}

function fromRaw(v: unknown): KerasObjectConfig | undefined {
  if (typeof v === 'string') {
    return { className: v, config: {} };
  }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const cls = o['class_name'] ?? o['className'];
    if (typeof cls === 'string') {
      const cfg = o['config'];
      return { className: cls, config: cfg && typeof cfg === 'object' ? (cfg as Record<string, unknown>) : {} };
    }
  }
  return undefined;
}

/**
 * True when a layer's bias shows that training moved the layer. Keras and TF.js draw biases as
 * zeros (ones on an LSTM's forget gate with `unit_forget_bias`): a bias configured as zeros that
 * is no longer all zeros has moved; when the file names no bias initializer (TFLite, checkpoints)
 * or the forget gate starts at ones, a value other than 0 and 1 says the same. A bias configured
 * otherwise says nothing.
 */
export function biasMoved(layer: LayerInfo, bias: TensorStats): boolean {
  const finite = bias.count - bias.nanCount - bias.posInfCount - bias.negInfCount;
  if (finite <= 0 || bias.mean === null || bias.min === null || bias.max === null) {
    return false;
  }
  const raw = layer.config ?? {};
  const init = layer.biasInitializer ?? fromRaw(raw['bias_initializer'] ?? raw['biasInitializer']);
  const zerosInit = init !== undefined && /^(keras\.initializers\.)?zeros?$/i.test(init.className);
  if (init && !zerosInit) {
    return false;
  }
  const forgetOnes = raw['unit_forget_bias'] === true || raw['unitForgetBias'] === true;
  if (zerosInit && !forgetOnes) {
    return bias.zeroCount !== bias.count;
  }
  // Only 0s and 1s: min and max within [0, 1] and the mean is the share of non-zeros.
  const onlyZerosAndOnes = bias.min >= 0 && bias.max <= 1 && Math.abs(bias.mean - (finite - bias.zeroCount) / finite) <= 1e-9 && (bias.max === 1 || bias.zeroCount === finite);
  return !onlyZerosAndOnes;
}

/** The initializer config that drew a tensor of a layer. */
export function initializerConfigFor(layer: LayerInfo, tensor: TensorInfo): KerasObjectConfig | undefined {
  const raw = layer.config ?? {};
  switch (tensor.role) {
    case 'recurrent_kernel':
      return layer.recurrentInitializer ?? fromRaw(raw['recurrent_initializer'] ?? raw['recurrentInitializer']);
    case 'depthwise_kernel':
      return layer.depthwiseInitializer ?? fromRaw(raw['depthwise_initializer'] ?? raw['depthwiseInitializer']);
    case 'pointwise_kernel':
      return fromRaw(raw['pointwise_initializer'] ?? raw['pointwiseInitializer']);
    case 'embeddings':
      return fromRaw(raw['embeddings_initializer'] ?? raw['embeddingsInitializer']);
    default:
      return layer.kernelInitializer ?? fromRaw(raw['kernel_initializer'] ?? raw['kernelInitializer']);
  }
}
