/**
 * Pairs the tensors of two weight files for a diff: first by exact name, then by a normalized
 * layer/weight path (so Keras `.h5` `dense/dense/kernel:0`, TF.js `dense/kernel` and a TF
 * checkpoint's `dense/kernel/.ATTRIBUTES/VARIABLE_VALUE` meet), then by layer and role (a TFLite
 * `model/conv2d` kernel against the Keras `conv2d` one), then by architecture order and shape
 * among what is left (a renamed layer), with user overrides applied before all of it. The order
 * is the files' layer order when given (a TFLite file stores its tensors in no layer order, and
 * two conversions of one model may store them differently), else the tensor order.
 */
import type { TensorInfo, TensorRole } from '../core/model';

/** The tensor facts alignment looks at. */
export type AlignableTensor = Pick<TensorInfo, 'name' | 'layer' | 'weight' | 'role' | 'group' | 'shape' | 'dtype'>;

/** How a pair was found: exact name, normalized path, same layer and role, architecture order, or a user override. */
export type MatchKind = 'name' | 'path' | 'layer' | 'order' | 'override';

/** One aligned pair of tensors. */
export interface TensorPairing {
  /** Tensor name in file A. */
  a: string;
  /** Tensor name in file B. */
  b: string;
  /** How the pair was found. */
  matchedBy: MatchKind;
}

/** The full mapping between two files. */
export interface Alignment {
  /** Aligned pairs, in file A's order. */
  pairs: TensorPairing[];
  /** Tensors of A without a partner (removed in B), in A's order. */
  removed: string[];
  /** Tensors of B without a partner (added in B), in B's order. */
  added: string[];
}

/** User corrections: tensor of A -> tensor of B, or null to force "removed". */
export type AlignmentOverrides = ReadonlyMap<string, string | null>;

/** The layer names of A and of B in architecture order (WeightFile.layers), for the order matching. */
export interface LayerOrders {
  /** Layers of A, in architecture order. */
  a?: readonly string[];
  /** Layers of B, in architecture order. */
  b?: readonly string[];
}

/** Roles in the order they are matched within a layer; other roles follow, in tensor order. */
const roleOrder: readonly TensorRole[] = [
  'kernel',
  'depthwise_kernel',
  'pointwise_kernel',
  'recurrent_kernel',
  'embeddings',
  'bias',
  'gamma',
  'beta',
  'moving_mean',
  'moving_variance',
  'alpha',
];

/**
 * The tensors in architecture order: by their layer's position in `layers`, then by role, else
 * in their own order. Unchanged when a tensor's layer is not in the list (nothing to order by).
 */
function inArchitectureOrder<T extends AlignableTensor>(ts: readonly T[], layers: readonly string[] | undefined): readonly T[] {
  if (!layers || layers.length === 0) {
    return ts;
  }
  const layerIndex = new Map(layers.map((l, i) => [l, i]));
  if (!ts.every((t) => layerIndex.has(t.layer))) {
    return ts;
  }
  const rank = (t: T): number => {
    const r = roleOrder.indexOf(t.role);
    return r < 0 ? roleOrder.length : r;
  };
  return ts
    .map((t, i) => ({ t, i }))
    .sort((x, y) => layerIndex.get(x.t.layer)! - layerIndex.get(y.t.layer)! || rank(x.t) - rank(y.t) || x.i - y.i)
    .map((x) => x.t);
}

/** Longest sequence the order matcher aligns with dynamic programming (larger lists go greedy). */
const maxDpCells = 4_000_000;

/**
 * A format-neutral path for a tensor: `:N` suffixes, TF checkpoint attribute suffixes and the
 * Keras `model_weights/` prefix dropped, and repeated adjacent segments collapsed
 * (`dense/dense/kernel` -> `dense/kernel`).
 */
export function normalizeTensorPath(name: string): string {
  const segments = name
    .replace(/:\d+$/, '')
    .split('/')
    .filter((s) => s !== '' && s !== '.ATTRIBUTES' && s !== 'VARIABLE_VALUE');
  if (segments[0] === 'model_weights') {
    segments.shift();
  }
  const out: string[] = [];
  for (const s of segments) {
    if (out[out.length - 1] !== s) {
      out.push(s);
    }
  }
  return out.join('/');
}

/** The `layer/weight` key of a tensor from the reader's layer and weight fields, when it has both. */
export function layerWeightKey(t: Pick<AlignableTensor, 'layer' | 'weight'>): string | undefined {
  if (!t.layer || !t.weight) {
    return undefined;
  }
  const weight = t.weight.replace(/:\d+$/, '').split('/').pop() ?? t.weight;
  return `${normalizeTensorPath(t.layer)}/${weight}`;
}

/** True when `b` is a reordering of the dimensions of `a` (and not the same shape). */
export function isPermutedShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length || a.length < 2 || a.every((d, i) => d === b[i])) {
    return false;
  }
  const sa = [...a].sort((x, y) => x - y);
  const sb = [...b].sort((x, y) => x - y);
  return sa.every((d, i) => d === sb[i]);
}

/** How well two tensors fit each other by group, role and shape: 3 same shape, 2 permuted shape, 0 no fit. */
function fitScore(a: AlignableTensor, b: AlignableTensor): number {
  if (a.group !== b.group) {
    return 0;
  }
  if (a.role !== b.role && a.role !== 'other' && b.role !== 'other') {
    return 0;
  }
  if (a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i])) {
    return 3;
  }
  if (isPermutedShape(a.shape, b.shape)) {
    return 2;
  }
  return 0;
}

/** Aligns the tensors of A and B; `layerOrders` gives the architecture order the order matching follows. */
export function alignTensors(a: readonly AlignableTensor[], b: readonly AlignableTensor[], overrides?: AlignmentOverrides, layerOrders?: LayerOrders): Alignment {
  const pairOfA = new Map<string, TensorPairing>();
  const forcedRemoved = new Set<string>();
  const usedB = new Set<string>();
  const bNames = new Set(b.map((t) => t.name));

  for (const [an, bn] of overrides ?? []) {
    if (!a.some((t) => t.name === an)) {
      continue;
    }
    if (bn === null) {
      forcedRemoved.add(an);
    } else if (bNames.has(bn) && !usedB.has(bn)) {
      pairOfA.set(an, { a: an, b: bn, matchedBy: 'override' });
      usedB.add(bn);
    }
  }
  const open = (t: AlignableTensor): boolean => !pairOfA.has(t.name) && !forcedRemoved.has(t.name);

  // 1. exact names
  for (const t of a) {
    if (open(t) && bNames.has(t.name) && !usedB.has(t.name)) {
      pairOfA.set(t.name, { a: t.name, b: t.name, matchedBy: 'name' });
      usedB.add(t.name);
    }
  }
  // 2. normalized paths, then layer/weight keys (only when the key is unique on both sides)
  for (const keyOf of [(t: AlignableTensor) => normalizeTensorPath(t.name), layerWeightKey]) {
    const index = uniqueIndex(b.filter((t) => !usedB.has(t.name)), keyOf);
    const aIndex = uniqueIndex(a.filter(open), keyOf);
    for (const [key, ta] of aIndex) {
      const tb = index.get(key);
      if (tb && !usedB.has(tb.name) && open(ta)) {
        pairOfA.set(ta.name, { a: ta.name, b: tb.name, matchedBy: 'path' });
        usedB.add(tb.name);
      }
    }
  }
  // 3. same layer (last segment of the layer path, e.g. TFLite 'model/conv2d' = Keras 'conv2d')
  //    and role, with a fitting shape, when unique on both sides
  const layerRoleKey = (t: AlignableTensor): string | undefined => {
    const layer = normalizeTensorPath(t.layer).split('/').pop();
    return layer && t.role !== 'other' ? `${t.group}|${layer}|${t.role}` : undefined;
  };
  {
    const index = uniqueIndex(b.filter((t) => !usedB.has(t.name)), layerRoleKey);
    for (const [key, ta] of uniqueIndex(a.filter(open), layerRoleKey)) {
      const tb = index.get(key);
      if (tb && !usedB.has(tb.name) && open(ta) && fitScore(ta, tb) > 0) {
        pairOfA.set(ta.name, { a: ta.name, b: tb.name, matchedBy: 'layer' });
        usedB.add(tb.name);
      }
    }
  }
  // 4. architecture order and shape, per group
  const restA = inArchitectureOrder(a.filter(open), layerOrders?.a);
  const restB = inArchitectureOrder(b.filter((t) => !usedB.has(t.name)), layerOrders?.b);
  for (const [ia, ib] of orderMatch(restA, restB)) {
    const ta = restA[ia]!;
    const tb = restB[ib]!;
    pairOfA.set(ta.name, { a: ta.name, b: tb.name, matchedBy: 'order' });
    usedB.add(tb.name);
  }

  const pairs: TensorPairing[] = [];
  const removed: string[] = [];
  for (const t of a) {
    const p = pairOfA.get(t.name);
    if (p) {
      pairs.push(p);
    } else {
      removed.push(t.name);
    }
  }
  return { pairs, removed, added: b.filter((t) => !usedB.has(t.name)).map((t) => t.name) };
}

/** Key -> tensor for keys that occur exactly once. */
function uniqueIndex(ts: readonly AlignableTensor[], keyOf: (t: AlignableTensor) => string | undefined): Map<string, AlignableTensor> {
  const out = new Map<string, AlignableTensor>();
  const dup = new Set<string>();
  for (const t of ts) {
    const k = keyOf(t);
    if (k === undefined || k === '') {
      continue;
    }
    if (out.has(k)) {
      dup.add(k);
    } else {
      out.set(k, t);
    }
  }
  for (const k of dup) {
    out.delete(k);
  }
  return out;
}

/**
 * Order-preserving matching maximizing the summed fit (a weighted longest common subsequence),
 * so an inserted or deleted layer does not shift every later pairing. Returns index pairs.
 */
function orderMatch(a: readonly AlignableTensor[], b: readonly AlignableTensor[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) {
    return [];
  }
  if (n * m > maxDpCells) {
    return greedyMatch(a, b);
  }
  const w = m + 1;
  const best = new Float64Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const s = fitScore(a[i]!, b[j]!);
      const take = s > 0 ? s + best[(i + 1) * w + j + 1]! : 0;
      best[i * w + j] = Math.max(take, best[(i + 1) * w + j]!, best[i * w + j + 1]!);
    }
  }
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    const s = fitScore(a[i]!, b[j]!);
    if (s > 0 && best[i * w + j] === s + best[(i + 1) * w + j + 1]!) {
      out.push([i, j]);
      i++;
      j++;
    } else if (best[(i + 1) * w + j] === best[i * w + j]) {
      i++;
    } else {
      j++;
    }
  }
  return out;
}

/** Fallback for very long lists: each A tensor takes the next fitting B tensor. */
function greedyMatch(a: readonly AlignableTensor[], b: readonly AlignableTensor[]): [number, number][] {
  const out: [number, number][] = [];
  let j0 = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = j0; j < b.length; j++) {
      if (fitScore(a[i]!, b[j]!) > 0) {
        out.push([i, j]);
        j0 = j + 1;
        break;
      }
    }
  }
  return out;
}
