/**
 * Regularization as configured and as observed: the L1/L2/L1L2 regularizers of every layer (Keras
 * 2, Keras 3 and TF.js class names), the penalty each adds to the loss (lambda x norm, Keras's
 * definitions: l1 * sum|w| + l2 * sum w^2), each penalty's share of the total, observed sparsity
 * and L1/L2 ratio, dropout layers and rates, and large unregularized layers whose weights grew
 * well past their initial scale. Formulas: docs/diagnostics.md.
 */
import type { KerasObjectConfig, LayerInfo, WeightFile } from '../core/model';
import { computeFans } from './fans';
import { candidateFromConfig, familyStd } from './initializers';
import type { TensorStats } from './statsTypes';

/** The coefficients of a parsed regularizer. */
export interface RegularizerCoefficients {
  /** L1 coefficient (0 when none). */
  l1: number;
  /** L2 coefficient (0 when none). */
  l2: number;
  /** Class name as written. */
  className: string;
}

/** One configured regularizer and its current penalty. */
export interface RegularizerEntry {
  /** What it regularizes. */
  target: 'kernel' | 'bias' | 'activity';
  /** Coefficients. */
  coefficients: RegularizerCoefficients;
  /** Tensor it applies to (kernel/bias), when found. */
  tensor?: string;
  /** l1 * sum|w| + l2 * sum w^2 for kernel/bias; null for activity (needs activations). */
  penalty: number | null;
  /** penalty / total penalty of the model (null when not computable). */
  share: number | null;
}

/** Per-layer regularization facts. */
export interface LayerRegularization {
  /** Layer name. */
  layer: string;
  /** Layer class, when known. */
  className?: string;
  /** Configured regularizers. */
  regularizers: RegularizerEntry[];
  /** Main kernel's name, when any. */
  kernel?: string;
  /** Kernel parameter count. */
  kernelParams?: number;
  /** Fraction of kernel values exactly 0. */
  sparsity?: number;
  /** Fraction of kernel values with |x| < 1e-3 x absMax. */
  nearZeroFraction?: number;
  /** sum|w| / (sqrt(n) * ||w||_2): 1 for constant magnitude, 0.80 Gaussian, 0.87 uniform, lower when sparse. */
  l1l2Ratio?: number;
  /** Kernel rms / rms of its initializer (configured, else Glorot uniform) for its fans. */
  growth?: number;
  /** Dropout rate (Dropout layers and RNN `dropout`). */
  dropoutRate?: number;
  /** RNN recurrent dropout rate. */
  recurrentDropoutRate?: number;
}

/** The whole model's regularization. */
export interface RegularizationReport {
  /** Layers with weights, regularizers or dropout, in file order. */
  layers: LayerRegularization[];
  /** Sum of the computable kernel/bias penalties. */
  totalPenalty: number;
  /** Number of configured regularizers. */
  regularizerCount: number;
  /** Dropout layers with their rates. */
  dropout: { layer: string; rate: number }[];
  /** True when the file carries an architecture (else nothing configured is known). */
  hasArchitecture: boolean;
}

/** Parses a Keras/TF.js regularizer config ('L2' {l2}, 'L1L2' {l1,l2}, 'l1_l2', TF.js 'L1L2'). */
export function parseRegularizer(r: KerasObjectConfig | undefined): RegularizerCoefficients | undefined {
  if (!r) {
    return undefined;
  }
  const cls = r.className.replace(/^keras\.regularizers\./, '');
  const lower = cls.toLowerCase().replace(/_/g, '');
  const c = r.config ?? {};
  const get = (k: string): number | undefined => (typeof c[k] === 'number' && Number.isFinite(c[k]) ? (c[k] as number) : undefined);
  switch (lower) {
    case 'l1':
      return { l1: get('l1') ?? get('l') ?? 0.01, l2: 0, className: cls };
    case 'l2':
      return { l1: 0, l2: get('l2') ?? get('l') ?? 0.01, className: cls };
    case 'l1l2':
      return { l1: get('l1') ?? 0, l2: get('l2') ?? 0, className: cls };
    case 'orthogonalregularizer':
      return undefined;
    default:
      return get('l1') !== undefined || get('l2') !== undefined ? { l1: get('l1') ?? 0, l2: get('l2') ?? 0, className: cls } : undefined;
  }
}

/** l1 * sum|w| + l2 * sum w^2 from a tensor's stats. */
export function penaltyOf(coef: RegularizerCoefficients, stats: TensorStats): number {
  return coef.l1 * stats.l1 + coef.l2 * stats.l2 * stats.l2;
}

/** Analyses the configured and observed regularization of a file. */
export function analyzeRegularization(file: WeightFile, stats: ReadonlyMap<string, TensorStats>): RegularizationReport {
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const hasArchitecture = file.layers.some((l) => l.className !== undefined);
  const layers: LayerRegularization[] = [];
  const dropout: { layer: string; rate: number }[] = [];
  let total = 0;
  let count = 0;
  for (const layer of file.layers) {
    const tensors = layer.tensors.map((n) => byName.get(n)).filter((t) => t && t.group === 'model');
    const kernel = tensors.find((t) => t!.role === 'kernel' || t!.role === 'embeddings' || t!.role === 'depthwise_kernel');
    const bias = tensors.find((t) => t!.role === 'bias');
    const entry: LayerRegularization = { layer: layer.name, className: layer.className, regularizers: [] };
    const add = (target: RegularizerEntry['target'], cfg: KerasObjectConfig | undefined, tensorName?: string): void => {
      const coef = parseRegularizer(cfg);
      if (!coef) {
        return;
      }
      count++;
      const s = tensorName ? stats.get(tensorName) : undefined;
      const penalty = target === 'activity' || !s ? null : penaltyOf(coef, s);
      if (penalty !== null) {
        total += penalty;
      }
      entry.regularizers.push({ target, coefficients: coef, tensor: tensorName, penalty, share: null });
    };
    add('kernel', layer.kernelRegularizer, kernel?.name);
    add('bias', layer.biasRegularizer, bias?.name);
    add('activity', layer.activityRegularizer);
    if (layer.dropoutRate !== undefined && layer.dropoutRate > 0) {
      entry.dropoutRate = layer.dropoutRate;
      dropout.push({ layer: layer.name, rate: layer.dropoutRate });
    }
    if (layer.recurrentDropoutRate !== undefined && layer.recurrentDropoutRate > 0) {
      entry.recurrentDropoutRate = layer.recurrentDropoutRate;
    }
    if (kernel) {
      const s = stats.get(kernel.name);
      entry.kernel = kernel.name;
      entry.kernelParams = s?.count;
      if (s && s.count > 0) {
        entry.sparsity = s.zeroCount / s.count;
        entry.nearZeroFraction = s.nearZeroFraction;
        entry.l1l2Ratio = s.l2 > 0 ? s.l1 / (Math.sqrt(s.count) * s.l2) : 0;
        entry.growth = growthOf(kernel, layer, s, file);
      }
    }
    if (entry.regularizers.length > 0 || entry.kernel || entry.dropoutRate !== undefined) {
      layers.push(entry);
    }
  }
  for (const l of layers) {
    for (const r of l.regularizers) {
      r.share = r.penalty !== null && total > 0 ? r.penalty / total : null;
    }
  }
  return { layers, totalPenalty: total, regularizerCount: count, dropout, hasArchitecture };
}

function growthOf(kernel: NonNullable<ReturnType<WeightFile['tensors']['find']>>, layer: LayerInfo, s: TensorStats, file: WeightFile): number | undefined {
  if (s.std === null || s.mean === null) {
    return undefined;
  }
  const fans = computeFans(kernel, layer, file.format);
  const configured = layer.kernelInitializer ? candidateFromConfig(layer.kernelInitializer, fans.initFanIn, fans.initFanOut, fans.kerasShape, file.format.startsWith('tfjs')) : undefined;
  const initStd = configured && configured.std > 0 ? Math.sqrt(configured.std ** 2 + configured.mean ** 2) : familyStd('glorot', fans.initFanIn, fans.initFanOut);
  const rms = Math.sqrt(s.std * s.std + s.mean * s.mean);
  return initStd > 0 ? rms / initStd : undefined;
}
