/**
 * The Keras / TF.js weight initializers as probability distributions, and the test that names the
 * one a tensor was drawn from: expected std from the fans, the distribution's shape (uniform,
 * normal, normal truncated at 2 sigma, orthogonal), a Kolmogorov-Smirnov distance between a value
 * sample and each candidate, and the checks that tell a tensor still at its initial draw from a
 * trained one (KS at the 0.1% level, Gram matrix of orthogonal draws, Marchenko-Pastur spectral
 * edge). Formulas and thresholds: docs/diagnostics.md.
 */
import { gaussian, rng } from '../core/random';
import type { KerasObjectConfig } from '../core/model';

/** Shape of an initializer's distribution. */
export type InitDistribution = 'uniform' | 'normal' | 'truncated-normal' | 'orthogonal' | 'constant';

/** One initializer as a distribution for given fans. */
export interface InitializerCandidate {
  /** Stable id, e.g. 'he_normal', 'glorot_normal_tfjs', 'random_uniform_0.05', 'configured'. */
  id: string;
  /** Family used for advice and for the corpus score: glorot, he, lecun, orthogonal, random_uniform, ... */
  family: string;
  /** Human-readable name, e.g. 'he_normal' or 'RandomUniform(-0.01, 0.01)'. */
  label: string;
  /** Distribution shape. */
  distribution: InitDistribution;
  /** Expected standard deviation of the drawn values. */
  std: number;
  /** Mean of the drawn values (0 except for RandomNormal/Constant configs). */
  mean: number;
  /** Hard bound on |x - mean| (uniform limit, 2 x stddev for truncated normals); null when unbounded. */
  bound: number | null;
  /** True when the scale depends on the fans (variance scaling, orthogonal). */
  fanBased: boolean;
}

/** std of a standard normal truncated to [-2, 2] (Keras divides by it; TF.js does not). */
export const truncatedNormalStdFactor = 0.87962566103423978;

/** Excess kurtosis of each distribution shape (orthogonal entries are close to normal). */
export const excessKurtosis: Readonly<Record<InitDistribution, number>> = {
  uniform: -1.2,
  normal: 0,
  'truncated-normal': truncatedNormalExcessKurtosis(),
  orthogonal: 0,
  constant: 0,
};

/** Variance-scaling mode: which fan divides the scale. */
type FanMode = 'fan_in' | 'fan_out' | 'fan_avg';

function fanDivisor(mode: FanMode, fanIn: number, fanOut: number): number {
  if (mode === 'fan_in') {
    return Math.max(1, fanIn);
  }
  if (mode === 'fan_out') {
    return Math.max(1, fanOut);
  }
  return Math.max(1, (fanIn + fanOut) / 2);
}

/**
 * A variance-scaling initializer. `normalFlavor` says how 'normal' is drawn: Keras truncates at
 * 2 sigma and rescales by 1/0.8796 (std = sqrt(scale/n)); TF.js truncates without rescaling
 * (std = 0.8796 sqrt(scale/n)); 'untruncated' is Keras's `untruncated_normal`.
 */
export function varianceScaling(
  id: string,
  family: string,
  label: string,
  scale: number,
  mode: FanMode,
  distribution: 'uniform' | 'keras-normal' | 'tfjs-normal' | 'untruncated',
  fanIn: number,
  fanOut: number,
): InitializerCandidate {
  const variance = scale / fanDivisor(mode, fanIn, fanOut);
  if (distribution === 'uniform') {
    const limit = Math.sqrt(3 * variance);
    return { id, family, label, distribution: 'uniform', std: Math.sqrt(variance), mean: 0, bound: limit, fanBased: true };
  }
  if (distribution === 'untruncated') {
    return { id, family, label, distribution: 'normal', std: Math.sqrt(variance), mean: 0, bound: null, fanBased: true };
  }
  const stddevParam = distribution === 'keras-normal' ? Math.sqrt(variance) / truncatedNormalStdFactor : Math.sqrt(variance);
  return {
    id,
    family,
    label,
    distribution: 'truncated-normal',
    std: stddevParam * truncatedNormalStdFactor,
    mean: 0,
    bound: 2 * stddevParam,
    fanBased: true,
  };
}

/** A fixed-scale uniform U(minval, maxval). */
export function uniformCandidate(id: string, family: string, label: string, minval: number, maxval: number): InitializerCandidate {
  const half = (maxval - minval) / 2;
  return { id, family, label, distribution: 'uniform', std: half / Math.sqrt(3), mean: (minval + maxval) / 2, bound: half, fanBased: false };
}

/** A fixed-scale normal, optionally truncated at 2 stddev (TruncatedNormal never rescales). */
export function normalCandidate(id: string, family: string, label: string, mean: number, stddev: number, truncated: boolean): InitializerCandidate {
  return truncated
    ? { id, family, label, distribution: 'truncated-normal', std: stddev * truncatedNormalStdFactor, mean, bound: 2 * stddev, fanBased: false }
    : { id, family, label, distribution: 'normal', std: stddev, mean, bound: null, fanBased: false };
}

/** The orthogonal initializer for a tensor flattened to [prod(shape[:-1]), shape[-1]]. */
export function orthogonalCandidate(shape: readonly number[], gain = 1, id = 'orthogonal', label = 'orthogonal'): InitializerCandidate {
  const { rows, cols } = matrixView(shape);
  return { id, family: 'orthogonal', label, distribution: 'orthogonal', std: gain / Math.sqrt(Math.max(rows, cols, 1)), mean: 0, bound: null, fanBased: true };
}

/** The 2-D view Keras/TF.js use for orthogonal draws: [prod(shape[:-1]), shape[-1]]. */
export function matrixView(shape: readonly number[]): { rows: number; cols: number } {
  if (shape.length === 0) {
    return { rows: 1, cols: 1 };
  }
  const cols = shape[shape.length - 1]!;
  let rows = 1;
  for (let i = 0; i < shape.length - 1; i++) {
    rows *= shape[i]!;
  }
  return { rows, cols };
}

/**
 * Every built-in initializer of Keras and TF.js for a tensor with these fans and (Keras-layout)
 * shape: glorot/he/lecun x uniform / normal (Keras-rescaled and TF.js truncated), orthogonal,
 * the RandomUniform(+-0.05), RandomNormal(0.05), TruncatedNormal(0.05) defaults and the "tiny"
 * U(+-0.01), N(0, 0.01).
 */
export function initializerCandidates(fanIn: number, fanOut: number, kerasShape: readonly number[]): InitializerCandidate[] {
  const out: InitializerCandidate[] = [];
  const families: [string, number, FanMode][] = [
    ['glorot', 1, 'fan_avg'],
    ['he', 2, 'fan_in'],
    ['lecun', 1, 'fan_in'],
  ];
  for (const [family, scale, mode] of families) {
    out.push(varianceScaling(`${family}_uniform`, family, `${family}_uniform`, scale, mode, 'uniform', fanIn, fanOut));
    out.push(varianceScaling(`${family}_normal`, family, `${family}_normal`, scale, mode, 'keras-normal', fanIn, fanOut));
    out.push(varianceScaling(`${family}_normal_tfjs`, family, `${family}_normal (TF.js: truncated, not rescaled)`, scale, mode, 'tfjs-normal', fanIn, fanOut));
  }
  if (kerasShape.length >= 2) {
    out.push(orthogonalCandidate(kerasShape));
  }
  out.push(uniformCandidate('random_uniform_0.05', 'random_uniform', 'RandomUniform(-0.05, 0.05)', -0.05, 0.05));
  out.push(normalCandidate('random_normal_0.05', 'random_normal', 'RandomNormal(stddev=0.05)', 0, 0.05, false));
  out.push(normalCandidate('truncated_normal_0.05', 'truncated_normal', 'TruncatedNormal(stddev=0.05)', 0, 0.05, true));
  out.push(uniformCandidate('random_uniform_0.01', 'tiny_uniform', 'RandomUniform(-0.01, 0.01)', -0.01, 0.01));
  out.push(normalCandidate('random_normal_0.01', 'tiny_normal', 'RandomNormal(stddev=0.01)', 0, 0.01, false));
  return out;
}

function num(config: Readonly<Record<string, unknown>>, key: string, fallback: number): number {
  const v = config[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function normalizeMode(mode: unknown): FanMode {
  const m = String(mode ?? 'fan_in').replace(/([A-Z])/g, '_$1').toLowerCase();
  return m === 'fan_out' ? 'fan_out' : m === 'fan_avg' ? 'fan_avg' : 'fan_in';
}

/**
 * The candidate a configured initializer (Keras or TF.js JSON) describes, or undefined when the
 * class is unknown. `tfjs` selects TF.js semantics for 'normal' (truncated, not rescaled); TF.js
 * configs are recognised by their camelCase modes ('fanAvg') as well.
 */
export function candidateFromConfig(
  init: KerasObjectConfig,
  fanIn: number,
  fanOut: number,
  kerasShape: readonly number[],
  tfjs = false,
): InitializerCandidate | undefined {
  const cls = init.className.replace(/^keras\.initializers\./, '');
  const c = init.config ?? {};
  const lower = cls.toLowerCase().replace(/_/g, '');
  const named: Record<string, [string, number, FanMode, 'uniform' | 'normal']> = {
    glorotuniform: ['glorot', 1, 'fan_avg', 'uniform'],
    glorotnormal: ['glorot', 1, 'fan_avg', 'normal'],
    heuniform: ['he', 2, 'fan_in', 'uniform'],
    henormal: ['he', 2, 'fan_in', 'normal'],
    lecununiform: ['lecun', 1, 'fan_in', 'uniform'],
    lecunnormal: ['lecun', 1, 'fan_in', 'normal'],
  };
  const known = named[lower];
  if (known) {
    const [family, scale, mode, dist] = known;
    const flavor = dist === 'uniform' ? 'uniform' : tfjs ? 'tfjs-normal' : 'keras-normal';
    const id = dist === 'uniform' ? `${family}_uniform` : tfjs ? `${family}_normal_tfjs` : `${family}_normal`;
    return varianceScaling(id, family, id, scale, mode, flavor, fanIn, fanOut);
  }
  switch (lower) {
    case 'variancescaling': {
      const scale = num(c, 'scale', 1);
      const modeRaw = c['mode'];
      const isTfjs = tfjs || (typeof modeRaw === 'string' && /[A-Z]/.test(modeRaw));
      const mode = normalizeMode(modeRaw);
      const distRaw = String(c['distribution'] ?? 'truncated_normal').toLowerCase();
      const dist = distRaw.includes('uniform')
        ? 'uniform'
        : distRaw === 'untruncated_normal'
          ? 'untruncated'
          : isTfjs
            ? 'tfjs-normal'
            : 'keras-normal';
      const family = scale === 2 && mode === 'fan_in' ? 'he' : scale === 1 && mode === 'fan_avg' ? 'glorot' : scale === 1 && mode === 'fan_in' ? 'lecun' : 'variance_scaling';
      const kind = dist === 'uniform' ? 'uniform' : 'normal';
      const id = family === 'variance_scaling' ? 'configured' : `${family}_${kind}${dist === 'tfjs-normal' ? '_tfjs' : dist === 'untruncated' ? '_untruncated' : ''}`;
      return varianceScaling(id, family, family === 'variance_scaling' ? `VarianceScaling(scale=${scale}, ${mode}, ${distRaw})` : id, scale, mode, dist, fanIn, fanOut);
    }
    case 'randomuniform':
    case 'uniform': {
      const minval = num(c, 'minval', -0.05);
      const maxval = num(c, 'maxval', 0.05);
      const tiny = Math.max(Math.abs(minval), Math.abs(maxval)) <= 0.011;
      return uniformCandidate('configured', tiny ? 'tiny_uniform' : 'random_uniform', `RandomUniform(${minval}, ${maxval})`, minval, maxval);
    }
    case 'randomnormal':
    case 'normal': {
      const stddev = num(c, 'stddev', 0.05);
      return normalCandidate('configured', stddev <= 0.011 ? 'tiny_normal' : 'random_normal', `RandomNormal(mean=${num(c, 'mean', 0)}, stddev=${stddev})`, num(c, 'mean', 0), stddev, false);
    }
    case 'truncatednormal': {
      const stddev = num(c, 'stddev', 0.05);
      return normalCandidate('configured', 'truncated_normal', `TruncatedNormal(mean=${num(c, 'mean', 0)}, stddev=${stddev})`, num(c, 'mean', 0), stddev, true);
    }
    case 'orthogonal':
    case 'orthogonalinitializer': {
      const gain = num(c, 'gain', 1);
      return orthogonalCandidate(kerasShape, gain, gain === 1 ? 'orthogonal' : 'configured', gain === 1 ? 'orthogonal' : `Orthogonal(gain=${gain})`);
    }
    case 'zeros':
    case 'ones':
    case 'constant': {
      const value = lower === 'zeros' ? 0 : lower === 'ones' ? 1 : num(c, 'value', 0);
      return { id: 'configured', family: 'constant', label: `${cls}(${value})`, distribution: 'constant', std: 0, mean: value, bound: 0, fanBased: false };
    }
    default:
      return undefined;
  }
}

/** Recommended initializer family for an activation (ReLU family -> He, SELU -> LeCun, else Glorot). */
export function recommendedFamily(activation: string | undefined): 'he' | 'glorot' | 'lecun' {
  const a = (activation ?? 'linear').toLowerCase();
  if (a === 'selu') {
    return 'lecun';
  }
  if (/relu|elu|gelu|swish|silu|mish|leaky/.test(a)) {
    return 'he';
  }
  return 'glorot';
}

/** Expected std of a family's initializer for the fans (uniform and Keras-normal agree). */
export function familyStd(family: 'he' | 'glorot' | 'lecun', fanIn: number, fanOut: number): number {
  if (family === 'he') {
    return Math.sqrt(2 / Math.max(1, fanIn));
  }
  if (family === 'lecun') {
    return Math.sqrt(1 / Math.max(1, fanIn));
  }
  return Math.sqrt(2 / Math.max(1, fanIn + fanOut));
}

// ---------------------------------------------------------------------------------------------
// Distribution functions

/** Complementary error function (Numerical Recipes `erfcc`, fractional error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** The CDF of a candidate's distribution (orthogonal entries approximated as normal). */
export function candidateCdf(c: InitializerCandidate): (x: number) => number {
  const m = c.mean;
  switch (c.distribution) {
    case 'uniform': {
      const l = c.bound ?? 0;
      return (x) => (l <= 0 ? (x < m ? 0 : 1) : Math.min(1, Math.max(0, (x - m + l) / (2 * l))));
    }
    case 'truncated-normal': {
      const s = (c.bound ?? 0) / 2;
      const lo = normalCdf(-2);
      const z = normalCdf(2) - lo;
      return (x) => {
        if (s <= 0) {
          return x < m ? 0 : 1;
        }
        const u = (x - m) / s;
        return u <= -2 ? 0 : u >= 2 ? 1 : (normalCdf(u) - lo) / z;
      };
    }
    case 'normal':
    case 'orthogonal':
      return (x) => (c.std <= 0 ? (x < m ? 0 : 1) : normalCdf((x - m) / c.std));
    case 'constant':
      return (x) => (x < m ? 0 : 1);
  }
}

/** Kolmogorov-Smirnov distance between an ascending-sorted sample and a CDF. */
export function ksDistance(sorted: ArrayLike<number>, cdf: (x: number) => number): number {
  const n = sorted.length;
  if (n === 0) {
    return 0;
  }
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i]!);
    const lo = f - i / n;
    const hi = (i + 1) / n - f;
    if (lo > d) {
      d = lo;
    }
    if (hi > d) {
      d = hi;
    }
  }
  return d;
}

/** KS critical distance at the 0.1% level for n samples (Kolmogorov asymptotic: 1.949/sqrt(n)). */
export function ksCritical(n: number): number {
  return 1.949 / Math.sqrt(Math.max(1, n));
}

/**
 * KS distance above which a trained tensor is no longer said to come from a candidate (std ratios
 * beyond 1.25x either way also); both limits widen to what sampling alone produces for small
 * tensors (the KS critical value and the std tolerance at the 0.1% level).
 */
export const noFitKs = 0.1;
/** Std ratio beyond which (either way) a tensor is no longer said to come from a candidate. */
export const noFitStdRatio = 1.25;

/** True when a fit is still recognisable as its candidate's draw, trained or not (see `noFitKs`). */
export function recognizable(f: Pick<CandidateFit, 'ks' | 'stdRatio'>, ksCriticalValue: number, stdToleranceValue: number): boolean {
  return f.ks <= Math.max(noFitKs, ksCriticalValue) && Math.abs(Math.log(f.stdRatio)) <= Math.max(Math.log(noFitStdRatio), stdToleranceValue);
}

/** Two-sided standard-normal quantile at the 0.1% level (the level of `ksCritical`). */
export const stdTestZ = 3.2905;

/** Smallest std tolerance (5%): real generators' draws of large tensors stray a little beyond i.i.d. noise. */
export const minStdTolerance = 0.05;

/**
 * Largest |log(observed std / expected std)| an untouched draw of n values shows: the sample std
 * of n i.i.d. values has relative standard error sqrt((kappa + 2) / (4 n)), kappa the excess
 * kurtosis of the distribution (uniform -1.2, normal 0), taken at the 0.1% level, and never
 * less than `minStdTolerance`.
 */
export function stdTolerance(n: number, distribution: InitDistribution): number {
  const kappa = excessKurtosis[distribution];
  return Math.max(minStdTolerance, stdTestZ * Math.sqrt(Math.max(0, kappa + 2) / (4 * Math.max(1, n))));
}

function truncatedNormalExcessKurtosis(): number {
  // Numerical moments of N(0,1) restricted to [-2, 2] (Simpson's rule, 2000 panels).
  const steps = 2000;
  const h = 4 / steps;
  let m0 = 0;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i <= steps; i++) {
    const x = -2 + i * h;
    const w = (i === 0 || i === steps ? 1 : i % 2 ? 4 : 2) * Math.exp(-0.5 * x * x);
    m0 += w;
    m2 += w * x * x;
    m4 += w * x * x * x * x;
  }
  const v = m2 / m0;
  return m4 / m0 / (v * v) - 3;
}

// ---------------------------------------------------------------------------------------------
// Matrix structure: orthogonality and the spectral edge

/** Largest |G - g I| / g of the Gram matrix on the smaller side of a row-major [rows, cols] matrix (g = mean diagonal). */
export function orthogonalityError(values: ArrayLike<number>, rows: number, cols: number): { error: number; gain: number } {
  const byRows = rows <= cols;
  const k = byRows ? rows : cols;
  const len = byRows ? cols : rows;
  const at = (i: number, j: number): number => (byRows ? values[i * cols + j]! : values[j * cols + i]!);
  const g = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      let s = 0;
      for (let j = 0; j < len; j++) {
        s += at(a, j) * at(b, j);
      }
      g[a * k + b] = s;
      g[b * k + a] = s;
    }
  }
  let diag = 0;
  for (let a = 0; a < k; a++) {
    diag += g[a * k + a]!;
  }
  diag /= Math.max(1, k);
  if (!(diag > 0)) {
    return { error: Infinity, gain: 0 };
  }
  let worst = 0;
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      const e = Math.abs(g[a * k + b]! - (a === b ? diag : 0)) / diag;
      if (e > worst) {
        worst = e;
      }
    }
  }
  return { error: worst, gain: Math.sqrt(diag) };
}

/**
 * Largest singular value of a row-major [rows, cols] matrix (power iteration on the smaller Gram
 * side, deterministic start) divided by the Marchenko-Pastur edge rms*(sqrt(rows)+sqrt(cols)) of
 * an i.i.d. matrix with the same root-mean-square value. About 1 for an untrained draw; a
 * low-rank structure learned in training shows up as a ratio well above 1.
 */
export function spectralEdgeRatio(values: ArrayLike<number>, rows: number, cols: number, iterations = 60): number {
  let sumSq = 0;
  for (let i = 0; i < rows * cols; i++) {
    sumSq += values[i]! * values[i]!;
  }
  const rms = Math.sqrt(sumSq / Math.max(1, rows * cols));
  if (!(rms > 0)) {
    return 0;
  }
  // v in R^cols; u = M v in R^rows; v = M^T u.
  let v = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    v[j] = 1 + ((j * 7919) % 13) / 13;
  }
  let sigma = 0;
  const u = new Float64Array(rows);
  for (let it = 0; it < iterations; it++) {
    let vn = 0;
    for (let j = 0; j < cols; j++) {
      vn += v[j]! * v[j]!;
    }
    vn = Math.sqrt(vn);
    if (!(vn > 0)) {
      return 0;
    }
    for (let j = 0; j < cols; j++) {
      v[j] = v[j]! / vn;
    }
    for (let i = 0; i < rows; i++) {
      let s = 0;
      const base = i * cols;
      for (let j = 0; j < cols; j++) {
        s += values[base + j]! * v[j]!;
      }
      u[i] = s;
    }
    const next = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      const ui = u[i]!;
      const base = i * cols;
      for (let j = 0; j < cols; j++) {
        next[j] = next[j]! + values[base + j]! * ui;
      }
    }
    let un = 0;
    for (let i = 0; i < rows; i++) {
      un += u[i]! * u[i]!;
    }
    sigma = Math.sqrt(un);
    v = next;
  }
  return sigma / (rms * (Math.sqrt(rows) + Math.sqrt(cols)));
}

// ---------------------------------------------------------------------------------------------
// Identification

/** How well one candidate explains a tensor. */
export interface CandidateFit {
  /** Candidate id. */
  id: string;
  /** Candidate family. */
  family: string;
  /** Candidate label. */
  label: string;
  /** Candidate distribution. */
  distribution: InitDistribution;
  /** Expected std of the candidate. */
  expectedStd: number;
  /** Observed std / expected std. */
  stdRatio: number;
  /** KS distance between the sample and the candidate at its expected scale. */
  ks: number;
  /** Fraction of sampled values beyond the candidate's hard bound (0 for unbounded). */
  beyondBound: number;
  /** Ranking score (lower is better). */
  score: number;
}

/** The verdict on a tensor's initial distribution. */
export interface InitializerMatch {
  /** Best-fitting candidate. */
  best: CandidateFit;
  /** The distribution behind `best` (for `atInitTestPower`). */
  candidate?: InitializerCandidate;
  /** The next best candidates (up to 3), for the evidence. */
  runnersUp: CandidateFit[];
  /** Ids of candidates with the same distribution as the best (e.g. glorot = lecun when fan_in = fan_out). */
  equivalent: string[];
  /** The configured initializer's fit, when the architecture names one. */
  configured?: CandidateFit;
  /** True when the tensor is still at its initial draw (see `untrainedEvidence`). */
  atInit: boolean;
  /** The numbers behind `atInit`. */
  untrainedEvidence: {
    /** KS distance to the best candidate. */
    ks: number;
    /** KS critical value at 0.1% for the sample size. */
    ksCritical: number;
    /** |mean| in units of std/sqrt(n). */
    meanZ: number;
    /** Largest singular value / Marchenko-Pastur edge (null when no matrix sample). */
    spectralRatio: number | null;
    /** Orthogonality error of the Gram matrix (null when not tested). */
    orthogonalityError: number | null;
    /** Largest |log std ratio| an untouched draw of this size shows (0.1% level) for the best fit's shape. */
    stdTolerance: number;
    /** True when the layer's zero-initialized bias has moved (vetoes "at init"); null when unknown. */
    biasMoved: boolean | null;
  };
  /** Sample size used. */
  sampleSize: number;
  /** Observed std (full tensor when stats are given, else the sample's). */
  observedStd: number;
  /** Observed excess kurtosis. */
  observedKurtosis: number | null;
}

/** Options of identifyInitializer. */
export interface IdentifyOptions {
  /** Exact std of the whole tensor (from TensorStats); default: the sample's. */
  std?: number;
  /** Exact mean of the whole tensor; default: the sample's. */
  mean?: number;
  /** The configured initializer, when the architecture names one (it joins the candidates). */
  configured?: InitializerCandidate;
  /** Row-major matrix layout of the sample when it is a set of whole rows: enables the structure tests. */
  matrix?: { rows: number; cols: number };
  /** Number of values `std` was computed over (the whole tensor's finite count); default: the sample size. */
  count?: number;
  /** True when the layer's bias, drawn as zeros, is no longer all zeros: training moved the layer. */
  biasMoved?: boolean;
}

/** Spectral ratio above which a matrix (smaller side >= 32) is called trained (see docs/diagnostics.md). */
export const spectralTrainedRatio = 1.06;
/** Spectral ratio limit for matrices whose smaller side is 8..31 (larger finite-size fluctuations). */
export const spectralTrainedRatioSmall = 1.2;
/** Fraction of values beyond 1.01 x a candidate's hard bound still compatible with an untouched draw. */
export const beyondBoundTolerance = 0.001;
/** Orthogonality error below which a matrix is an untouched orthogonal draw. */
export const orthogonalTolerance = 1e-3;

/**
 * Names the initializer a sample of a tensor was drawn from and says whether it is still at that
 * draw. Candidates are ranked by the sum of squares of three standardized errors: log std ratio,
 * excess-kurtosis difference and KS distance at the candidate's exact scale (`scoreUnits`); an
 * exact orthogonal Gram matrix overrides the ranking.
 */
export function identifyInitializer(sample: Float64Array, candidates: readonly InitializerCandidate[], options: IdentifyOptions = {}): InitializerMatch {
  // NaN/Inf (reported by the non-finite-values rule) say nothing about the draw and would poison
  // every moment and bound below; without them the sample is no whole-row matrix any more, so the
  // structure tests are skipped (n no longer equals rows x cols).
  const sorted = Float64Array.from(sample.every(Number.isFinite) ? sample : sample.filter(Number.isFinite)).sort();
  const n = sorted.length;
  let s1 = 0;
  for (let i = 0; i < n; i++) {
    s1 += sorted[i]!;
  }
  const sampleMean = n ? s1 / n : 0;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = sorted[i]! - sampleMean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  const sampleStd = n ? Math.sqrt(m2 / n) : 0;
  const std = options.std ?? sampleStd;
  const mean = options.mean ?? sampleMean;
  const kurt = m2 > 0 ? (m4 / n) / ((m2 / n) * (m2 / n)) - 3 : null;

  const all = options.configured ? [options.configured, ...candidates.filter((c) => !sameDistribution(c, options.configured!))] : [...candidates];
  // Branch and bound: the KS pass is the expensive part, and the KS term only adds to the
  // scale + shape score, so candidates whose partial score already exceeds the best full score
  // cannot win and are not evaluated (the configured initializer always is, for its evidence).
  const partial = all.map((c) => ({ c, p: partialScore(c, std, kurt) })).sort((a, b) => a.p - b.p);
  const fits: CandidateFit[] = [];
  const candidateOf = new Map<CandidateFit, InitializerCandidate>();
  let bestScore = Infinity;
  for (const { c, p } of partial) {
    if (p > bestScore && fits.length >= 4 && c !== options.configured) {
      continue;
    }
    const fit = fitCandidate(c, sorted, std, kurt);
    candidateOf.set(fit, c);
    fits.push(fit);
    bestScore = Math.min(bestScore, fit.score);
  }
  fits.sort((a, b) => a.score - b.score);
  if (n > 0 && fits.length > 0 && Math.abs(Math.log(fits[0]!.stdRatio)) > Math.log(1.1)) {
    // No built-in scale fits: try a uniform draw with a custom limit (hand-written
    // RandomUniform(-a, a)). Only the uniform shape is fitted: its hard edges are never produced
    // by training, while a fitted normal would also match many trained tensors.
    const limit = Math.max(Math.abs(sorted[0]!), Math.abs(sorted[n - 1]!)) * (1 + 1 / n);
    const custom = uniformCandidate('custom_uniform', 'custom_uniform', `RandomUniform(${-round3sig(limit)}, ${round3sig(limit)}) (custom scale)`, -limit, limit);
    const fit = fitCandidate(custom, sorted, std, kurt);
    candidateOf.set(fit, custom);
    if (fit.ks <= ksCritical(n)) {
      fits.unshift(fit);
    }
  }

  let orthoError: number | null = null;
  let spectral: number | null = null;
  if (options.matrix && options.matrix.rows * options.matrix.cols === n && n > 0) {
    const { rows, cols } = options.matrix;
    if (Math.min(rows, cols) >= 4 && Math.min(rows, cols) * n <= 64 * 1024 * 1024) {
      const ortho = orthogonalityError(sample, rows, cols);
      orthoError = Number.isFinite(ortho.error) ? ortho.error : null;
      if (ortho.error < orthogonalTolerance) {
        const gain = ortho.gain;
        const label = Math.abs(gain - 1) < 0.01 ? 'orthogonal' : `Orthogonal(gain=${round3(gain)})`;
        const orthoCandidate = orthogonalCandidate([rows, cols], gain, 'orthogonal', label);
        const fit = fitCandidate(orthoCandidate, sorted, std, kurt);
        candidateOf.set(fit, orthoCandidate);
        fit.score = -1;
        fits.unshift(fit);
      }
    }
    if (Math.min(rows, cols) >= 8) {
      spectral = spectralEdgeRatio(sample, rows, cols);
    }
  }
  const crit = ksCritical(n);
  const stdN = options.count ?? n;
  // A candidate the values could have been drawn from, untouched: KS below the critical value,
  // std within sampling noise, and no value beyond its hard bound (a uniform's limit, a truncated
  // normal's 2 sigma), which a draw never produces.
  const plausible = (f: CandidateFit): boolean =>
    f.ks <= crit && f.beyondBound <= beyondBoundTolerance && Math.abs(Math.log(f.stdRatio)) <= stdTolerance(stdN, f.distribution);
  // Near-equivalent candidates (e.g. glorot vs lecun with similar fans) rank in any order: the
  // configured initializer is named when it is plausible, else the first plausible of the three
  // best fits, so the reported fit is always one the values are compatible with. When none is,
  // or the bias shows the layer was trained, the configured initializer is still named while it is
  // recognisable.
  const configuredFit = options.configured ? fits.find((f) => f.id === options.configured!.id && f.label === options.configured!.label) : undefined;
  if (fits[0]!.score !== -1) {
    const firstPlausible = fits.slice(0, 3).find(plausible);
    const trained = !firstPlausible || options.biasMoved === true;
    const preferred =
      configuredFit && (plausible(configuredFit) || (trained && recognizable(configuredFit, crit, stdTolerance(stdN, configuredFit.distribution))))
        ? configuredFit
        : firstPlausible;
    if (preferred && preferred !== fits[0]) {
      fits.splice(fits.indexOf(preferred), 1);
      fits.unshift(preferred);
    }
  }
  const best = fits[0]!;
  const equivalent = fits.filter((f) => f !== best && f.distribution === best.distribution && Math.abs(f.expectedStd / best.expectedStd - 1) < 0.01).map((f) => f.id);
  const runnersUp = fits.filter((f) => f !== best && !equivalent.includes(f.id)).slice(0, 3);
  const configured = configuredFit;
  const meanZ = std > 0 && n > 0 ? Math.abs(mean - (best.distribution === 'constant' ? mean : 0)) / (std / Math.sqrt(n)) : 0;
  let atInit: boolean;
  if (best.distribution === 'orthogonal' && orthoError !== null) {
    // An orthogonal draw is exact to float32 rounding; anything else has been changed.
    atInit = orthoError < orthogonalTolerance;
  } else {
    const spectralLimit = spectral === null ? Infinity : Math.min(options.matrix!.rows, options.matrix!.cols) >= 32 ? spectralTrainedRatio : spectralTrainedRatioSmall;
    atInit = meanZ <= 4.5 && (spectral === null || spectral <= spectralLimit) && plausible(best);
  }
  // A zero-initialized bias that is no longer zero was moved by training, and so was its layer.
  if (options.biasMoved) {
    atInit = false;
  }
  return {
    best,
    candidate: candidateOf.get(best),
    runnersUp,
    equivalent,
    configured,
    atInit,
    untrainedEvidence: {
      ks: best.ks,
      ksCritical: crit,
      meanZ,
      spectralRatio: spectral,
      orthogonalityError: orthoError,
      stdTolerance: stdTolerance(stdN, best.distribution),
      biasMoved: options.biasMoved ?? null,
    },
    sampleSize: n,
    observedStd: std,
    observedKurtosis: kurt,
  };
}

/** Relative size of the update, ||dW|| / ||W0||, against which the at-init test's power is reported ("moderate training"). */
export const moderateUpdate = 0.25;

/** n values drawn from a candidate (uniform, normal, normal truncated at its bound). */
function drawCandidate(c: InitializerCandidate, n: number, u: () => number): Float64Array {
  const gauss = (): number => gaussian(u);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (c.distribution === 'uniform') {
      out[i] = c.mean + (2 * u() - 1) * (c.bound ?? 0);
    } else if (c.distribution === 'truncated-normal') {
      const s = (c.bound ?? 0) / 2;
      let z = gauss();
      while (Math.abs(z) > 2) {
        z = gauss();
      }
      out[i] = c.mean + s * z;
    } else {
      out[i] = c.mean + c.std * gauss();
    }
  }
  return out;
}

/**
 * The power of the "still at its initial draw" test against moderate training: the fraction of
 * simulated fresh draws of `c` ([rows, cols], row-major), each moved by a rank-1 update u v^T of
 * `relativeUpdate` x its norm (what gradient steps on a layer add), that the test flags as
 * trained (std, KS, hard bound and mean tests at the sample size; the spectral edge test when
 * `matrixTests` and the smaller side is >= 8). Seeded, so the same tensor always gets the same
 * answer. Orthogonal draws are exact, so any update is caught (1); constant ones are not tested (1).
 */
export function atInitTestPower(c: InitializerCandidate, rows: number, cols: number, matrixTests: boolean, relativeUpdate = moderateUpdate, trials = rows * cols <= 4096 ? 64 : 16, seed = 20261130): number {
  if (c.distribution === 'orthogonal' || c.distribution === 'constant' || rows < 1 || cols < 1) {
    return 1;
  }
  const n = rows * cols;
  const u = rng(seed);
  const gauss = (): number => gaussian(u);
  const unit = (k: number): Float64Array => {
    const v = Float64Array.from({ length: k }, gauss);
    const norm = Math.sqrt(v.reduce((acc, x) => acc + x * x, 0)) || 1;
    return v.map((x) => x / norm);
  };
  const crit = ksCritical(n);
  const tol = stdTolerance(n, c.distribution);
  const spectralLimit = Math.min(rows, cols) >= 32 ? spectralTrainedRatio : spectralTrainedRatioSmall;
  let detected = 0;
  for (let t = 0; t < trials; t++) {
    const w = drawCandidate(c, n, u);
    let norm2 = 0;
    for (const x of w) {
      norm2 += (x - c.mean) * (x - c.mean);
    }
    const a = unit(rows);
    const b = unit(cols);
    const theta = relativeUpdate * Math.sqrt(norm2);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        w[i * cols + j] = w[i * cols + j]! + theta * a[i]! * b[j]!;
      }
    }
    const sorted = Float64Array.from(w).sort();
    let s1 = 0;
    for (const x of sorted) {
      s1 += x;
    }
    const mean = s1 / n;
    let m2 = 0;
    let m4 = 0;
    for (const x of sorted) {
      m2 += (x - mean) ** 2;
      m4 += (x - mean) ** 4;
    }
    const std = Math.sqrt(m2 / n);
    const kurt = m2 > 0 ? m4 / n / ((m2 / n) * (m2 / n)) - 3 : null;
    const fit = fitCandidate(c, sorted, std, kurt);
    const plausible = fit.ks <= crit && fit.beyondBound <= beyondBoundTolerance && Math.abs(Math.log(fit.stdRatio)) <= tol;
    const meanZ = std > 0 ? Math.abs(mean - c.mean) / (std / Math.sqrt(n)) : 0;
    const spectralOk = !matrixTests || Math.min(rows, cols) < 8 || spectralEdgeRatio(w, rows, cols) <= spectralLimit;
    if (!(plausible && meanZ <= 4.5 && spectralOk)) {
      detected++;
    }
  }
  return detected / trials;
}

function round3sig(x: number): number {
  return Number(x.toPrecision(3));
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function sameDistribution(a: InitializerCandidate, b: InitializerCandidate): boolean {
  return a.distribution === b.distribution && Math.abs(a.std - b.std) <= 1e-9 * Math.max(a.std, b.std) && a.mean === b.mean;
}

/** Score units: a 5% std error, a 0.3 excess-kurtosis error and a KS distance of 0.05 each count 1. */
export const scoreUnits = { logStd: 0.05, kurtosis: 0.3, ks: 0.05 } as const;

function scaleAndShape(c: InitializerCandidate, observedStd: number, observedKurtosis: number | null): { stdRatio: number; scaleZ: number; kurtZ: number } {
  const stdRatio = c.std > 0 ? observedStd / c.std : observedStd > 0 ? Infinity : 1;
  const scaleZ = Number.isFinite(stdRatio) && stdRatio > 0 ? Math.log(stdRatio) / scoreUnits.logStd : 1e6;
  const kurtZ = observedKurtosis === null || c.distribution === 'constant' ? 0 : (observedKurtosis - excessKurtosis[c.distribution]) / scoreUnits.kurtosis;
  return { stdRatio, scaleZ, kurtZ };
}

function partialScore(c: InitializerCandidate, observedStd: number, observedKurtosis: number | null): number {
  const { scaleZ, kurtZ } = scaleAndShape(c, observedStd, observedKurtosis);
  return scaleZ * scaleZ + kurtZ * kurtZ;
}

function fitCandidate(c: InitializerCandidate, sorted: Float64Array, observedStd: number, observedKurtosis: number | null): CandidateFit {
  const n = sorted.length;
  const ks = ksDistance(sorted, candidateCdf(c));
  let beyond = 0;
  if (c.bound !== null && n > 0) {
    const lim = c.bound * 1.01 + 1e-12;
    for (let i = 0; i < n && sorted[i]! - c.mean < -lim; i++) {
      beyond++;
    }
    for (let i = n - 1; i >= 0 && sorted[i]! - c.mean > lim; i--) {
      beyond++;
    }
    beyond /= n;
  }
  // Scale, shape (kurtosis) and the exact-distribution KS distance, each in its own unit; the
  // scale and kurtosis terms survive a few training steps, the KS term sharpens untrained draws.
  const { stdRatio, scaleZ, kurtZ } = scaleAndShape(c, observedStd, observedKurtosis);
  const ksZ = ks / scoreUnits.ks;
  return {
    id: c.id,
    family: c.family,
    label: c.label,
    distribution: c.distribution,
    expectedStd: c.std,
    stdRatio: Number.isFinite(stdRatio) ? stdRatio : 1e9,
    ks,
    beyondBound: beyond,
    score: scaleZ * scaleZ + kurtZ * kurtZ + ksZ * ksZ,
  };
}
