/**
 * JSON-safe statistics of tensors and layers. Non-finite values never appear in these objects:
 * NaN and infinities are counted, and min/max/mean... are computed over finite values only
 * (null when there are none).
 */

import type { ErrorSummary } from '../core/errors';

/** A histogram: `counts[i]` values fell in [edges[i], edges[i+1]) (last bin closed). */
export interface Histogram {
  /** Bin edges, length counts.length + 1. */
  edges: number[];
  /** Counts per bin. */
  counts: number[];
}

/** Percentile keys reported for every tensor. */
export const percentileKeys = ['p0.1', 'p1', 'p5', 'p25', 'p50', 'p75', 'p95', 'p99', 'p99.9'] as const;

/** One of the reported percentiles. */
export type PercentileKey = (typeof percentileKeys)[number];

/** Full statistics of one tensor's values. */
export interface TensorStats {
  /** Number of elements. */
  count: number;
  /** NaN elements. */
  nanCount: number;
  /** +Infinity elements. */
  posInfCount: number;
  /** -Infinity elements. */
  negInfCount: number;
  /** Elements exactly 0 (both signs). */
  zeroCount: number;
  /** Mean of finite values; null when none. */
  mean: number | null;
  /** Population standard deviation of finite values; null when none. */
  std: number | null;
  /** Smallest finite value; null when none. */
  min: number | null;
  /** Largest finite value; null when none. */
  max: number | null;
  /** Sum of |x| over finite values. */
  l1: number;
  /** sqrt(sum x^2) over finite values. */
  l2: number;
  /** Largest |x| over finite values; null when none. */
  absMax: number | null;
  /** Population skewness (third standardized moment); null when std is 0 or undefined. */
  skewness: number | null;
  /** Excess kurtosis (fourth standardized moment minus 3); null when std is 0 or undefined. */
  kurtosis: number | null;
  /** Fraction of finite values with |x| < 1e-3 * absMax (0 when absMax is 0 or null). */
  nearZeroFraction: number;
  /** Percentiles of finite values (linear interpolation, NumPy's default); null when none. */
  percentiles: Record<PercentileKey, number | null>;
  /** Upper bound on |reported percentile - exact percentile|, in value units (0 = exact). */
  percentileErrorBound: number;
  /** Linear histogram of finite values over [min, max]. */
  histogram: Histogram;
  /** Histogram of log10|x| over finite non-zero values; zeros are counted in zeroCount. */
  logHistogram: Histogram;
}

/** The analysis result of one tensor: statistics of type `S` (a table may keep only the few it shows), or why there are none. */
export type StatsResult<S = TensorStats> = { ok: true; stats: S } | { ok: false; error: ErrorSummary };
