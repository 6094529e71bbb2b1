/**
 * Seeded synthetic data for probes, training runs and the experiments: Gaussian clusters with
 * one-hot labels (the data of the committed examples/, see scripts/make-examples.mjs) and plain
 * normal/uniform batches shaped like a model's inputs. Pure JavaScript (no TF.js), so the same seed
 * gives the same numbers everywhere.
 */

import { gaussian, rng } from '../core/random';

export { gaussian, rng };

/** A labelled data set as flat row-major arrays. */
export interface SyntheticSet {
  /** Features, n x d row-major. */
  x: Float32Array;
  /** One-hot labels, n x k row-major. */
  y: Float32Array;
  /** Number of samples. */
  n: number;
  /** Features per sample. */
  d: number;
  /** Number of classes. */
  k: number;
}

/**
 * n samples of d features in k Gaussian clusters (centers ~ N(0, 1), samples ~ center + spread·N(0, 1)),
 * one-hot labels. The same (n, d, k, seed, spread) always gives the same values.
 */
export function clusters(n: number, d: number, k: number, seed: number, spread = 1.0): SyntheticSet {
  const r = rng(seed);
  const centers = Array.from({ length: k }, () => Array.from({ length: d }, () => gaussian(r)));
  const x = new Float32Array(n * d);
  const y = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * k);
    const center = centers[c]!;
    for (let j = 0; j < d; j++) {
      x[i * d + j] = center[j]! + spread * gaussian(r);
    }
    y[i * k + c] = 1;
  }
  return { x, y, n, d, k };
}

/** Distribution of synthetic probe inputs. */
export type SyntheticDistribution = 'normal' | 'uniform';

/** `count` seeded values from N(0, 1) or U(-1, 1). */
export function randomValues(count: number, distribution: SyntheticDistribution, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = distribution === 'normal' ? gaussian(r) : 2 * r() - 1;
  }
  return out;
}

/** `count` seeded integers drawn uniformly from [0, max) (as float32, the way TF.js layers take indices). */
export function randomIndices(count: number, max: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = Math.min(max - 1, Math.floor(r() * max));
  }
  return out;
}
