/**
 * Conversion check: compares a TensorFlow Lite model with the float model it was converted from
 * (Keras .h5/.keras, SavedModel, TF.js, TF checkpoint) layer by layer, and puts next to each
 * layer the int8/float16 error the precision analysis predicts from the float weights.
 *
 * Alignment: each TFLite layer (one weight-consuming op, see src/formats/tflite.ts) is paired with
 * a float layer by name where the TF scope survives ('model/conv2d_5' -> 'conv2d_5'), else by
 * consumer-op order and shape (the first unpaired float layer whose kernel has the Keras shape of
 * the TFLite kernel). Layouts come from the reader's `extra.kerasLayout`: FULLY_CONNECTED
 * [out, in] vs Dense [in, out], CONV_2D OHWI vs HWIO, DEPTHWISE_CONV_2D [1, kh, kw, C*M] vs
 * [kh, kw, C, M].
 *
 * BatchNorm folding: the converter folds a BatchNormalization that directly follows a conv/dense
 * into it, so the float side is folded the same way before comparing, per output channel c:
 * g = gamma / sqrt(moving_variance + epsilon), W'[..., c] = W[..., c] * g, b' = beta + (b - mean) * g
 * (epsilon from the BN layer config, default 0.001; no gamma = 1, no beta = 0, no bias = 0).
 * Which BN follows which layer: the Keras graph (`inbound_nodes` of the model config, or the
 * previous layer of a Sequential) when the float file has one; else the BN named in the TFLite
 * layer's fused tensor names ('.../batch_normalization_4/FusedBatchNormV3'); else the layer right
 * after it in the float file's layer list.
 *
 * Metrics per tensor and per layer (float64): relative L2 error ||t - f|| / ||f||, SQNR
 * 10 log10(sum f^2 / sum (t - f)^2) in dB (null when exact), max |t - f|. A layer stands out when
 * its SQNR is below `lowSqnrDb` (30 dB, the int8 safety line of docs/diagnostics.md) or its relative
 * error is over `outlierMedianRatio` (3) times the median layer error and above `outlierMinRelL2`
 * (1e-3, below which float rounding differences are not worth a look). A median layer error above
 * 0.5 means the float file is not the source (independent weights of equal size give ~1.4).
 *
 * Memory: one layer at a time; the float tensor is held whole (it has to be transposed), at most
 * `conversionMaxElements` elements; the TFLite tensor is streamed in chunks.
 */
import { elementCount } from '../core/dtypes';
import { summarizeError, throwIfAborted, WeightFileError, type ErrorSummary } from '../core/errors';
import type { FormatId, LayerInfo, TensorInfo, WeightFile } from '../core/model';
import { analyzePrecision, int8SafeSqnrDb } from './precision';

/** Largest float tensor (elements) held in memory to compare against its TFLite twin. */
export const conversionMaxElements = 1 << 24;

/** SQNR below which a converted layer stands out, dB (the int8 safety line of the precision analysis). */
export const lowSqnrDb = int8SafeSqnrDb;

/** A layer stands out when its relative error exceeds this many times the median layer error ... */
export const outlierMedianRatio = 3;

/** ... and is at least this large (smaller errors are float rounding). */
export const outlierMinRelL2 = 1e-3;

/** Median layer error above which the float file is called not the source of the .tflite (uncorrelated weights give ~1.4). */
export const sourceMismatchRelL2 = 0.5;

/** BatchNormalization epsilon when the layer config gives none (Keras default). */
export const defaultBatchNormEpsilon = 0.001;

/** Formats accepted as the float side of a conversion check. */
export const floatSourceFormats: readonly FormatId[] = ['keras-h5', 'keras-weights-h5', 'keras-v3', 'keras-v3-weights', 'tf-savedmodel', 'tf-checkpoint', 'tfjs-layers', 'tfjs-graph'];

/** How the TFLite side stores a weight. */
export type ConversionStorage = 'int8-per-channel' | 'int8-per-tensor' | 'float16' | 'float32' | 'other';

/** The comparison of one TFLite weight with its (folded) float original. JSON-safe. */
export interface ConversionTensorCheck {
  /** TFLite tensor name. */
  tflite: string;
  /** Float tensor name; null when the float layer has none (e.g. a bias the converter added: compared with zeros). */
  float: string | null;
  /** Keras weight name from the layout ('kernel', 'depthwise_kernel', 'bias'). */
  weight: string;
  /** TFLite shape. */
  shapeTflite: number[];
  /** Keras shape the TFLite tensor was mapped to. */
  shapeKeras: number[];
  /** Axis permutation used (Keras axis i = TFLite axis permutation[i]). */
  permutation: number[];
  /** TFLite storage dtype, e.g. 'int8'. */
  storageDtype: string;
  /** How the TFLite weight is stored. */
  storage: ConversionStorage;
  /** Elements compared (0 when not compared). */
  count: number;
  /** ||float||_2 of the (folded) float weight; null when not compared. */
  normFloat: number | null;
  /** ||tflite - float||_2; null when not compared. */
  errorNorm: number | null;
  /** errorNorm / normFloat; null when not compared or normFloat is 0 with an error. */
  relL2: number | null;
  /** 10 log10(sum f^2 / sum e^2) in dB; null when exact or not compared. */
  sqnrDb: number | null;
  /** max |tflite - float|; null when not compared. */
  maxAbsError: number | null;
  /** Why the tensor was not compared. */
  error?: ErrorSummary;
}

/** What the precision analysis predicts for a layer's kernel under the storage the converter chose. */
export interface ConversionPrediction {
  /** Scheme predicted (the one matching the TFLite kernel's storage). */
  scheme: 'int8-per-channel' | 'int8-per-tensor' | 'float16';
  /** Predicted SQNR in dB; null when predicted lossless. */
  sqnrDb: number | null;
  /** Predicted fraction of non-zero values rounded to 0 (int8 schemes), else 0. */
  zeroedFraction: number;
}

/** A BatchNormalization folded into the float layer before comparing. */
export interface FoldedBatchNorm {
  /** BN layer name in the float model. */
  layer: string;
  /** Epsilon used. */
  epsilon: number;
  /** How the BN was found to follow the layer: Keras graph, TFLite fused names, or layer order. */
  source: 'graph' | 'tflite-names' | 'layer-order';
}

/** One TFLite layer against its float original. */
export interface ConversionLayerCheck {
  /** TFLite layer name (see the TFLite reader's naming convention). */
  layer: string;
  /** TFLite op, e.g. 'CONV_2D'. */
  op: string;
  /** Operator index in subgraph 0; null when the reader gave none. */
  opIndex: number | null;
  /** Float layer paired with it; null when none was found. */
  floatLayer: string | null;
  /** How the pair was found; null when unpaired. */
  matchedBy: 'name' | 'order' | null;
  /** The BatchNormalization folded into the float layer, when one was. */
  foldedBatchNorm: FoldedBatchNorm | null;
  /** Per weight (kernel, then bias). */
  tensors: ConversionTensorCheck[];
  /** Elements compared over the layer. */
  count: number;
  /** Relative L2 error over all compared weights of the layer; null when none compared. */
  relL2: number | null;
  /** SQNR over all compared weights, dB; null when exact or none compared. */
  sqnrDb: number | null;
  /** Largest |error| over the layer; null when none compared. */
  maxAbsError: number | null;
  /** Measured SQNR of the kernel alone, dB (what the prediction is about); null when exact or not compared. */
  kernelSqnrDb: number | null;
  /** Prediction for the kernel from the float weights; null for float32 storage or when not computed. */
  predicted: ConversionPrediction | null;
  /** True when the layer's error stands out (see the module comment). */
  standsOut: boolean;
  /** Why it stands out, in words. */
  why?: string;
}

/** The conversion check of one TFLite/float pair. JSON-safe. */
export interface ConversionCheck {
  /** Path of the TFLite file. */
  tflitePath: string;
  /** Path of the float model. */
  floatPath: string;
  /** Which diff side ('a' or 'b') is the TFLite file. */
  tfliteSide: 'a' | 'b';
  /** Conversion mode from the TFLite summary ('float32', 'dynamic-range', 'full-integer', ...), when known. */
  conversionMode: string | null;
  /** Per TFLite layer, in op order. */
  layers: ConversionLayerCheck[];
  /** Float layers with weights that no TFLite layer was paired with (BatchNorms folded away are not listed). */
  unmatchedFloatLayers: string[];
  /** Median of the layers' relative errors; null when no layer was compared. */
  medianRelL2: number | null;
  /** Layers that stand out, worst first. */
  outliers: string[];
  /** True when the median layer error is above `sourceMismatchRelL2`: the float weights are not the ones converted (another training run or file). */
  sourceMismatch: boolean;
  /** Thresholds used. */
  thresholds: { lowSqnrDb: number; outlierMedianRatio: number; outlierMinRelL2: number };
}

/** Options of the check. */
export interface ConversionCheckOptions {
  /** Cancels the check (throws a `cancelled` WeightFileError). */
  signal?: AbortSignal;
  /** Skip the precision predictions (one extra pass over each kernel). */
  skipPrediction?: boolean;
}

/** Which side of a pair is the TFLite model when the other is a float model it could come from; null otherwise. */
export function conversionPairSide(a: Pick<WeightFile, 'format'>, b: Pick<WeightFile, 'format'>): 'a' | 'b' | null {
  if (a.format === 'tflite' && floatSourceFormats.includes(b.format)) {
    return 'a';
  }
  if (b.format === 'tflite' && floatSourceFormats.includes(a.format)) {
    return 'b';
  }
  return null;
}

/** Runs the check when the two files are a TFLite model and a float model; undefined otherwise. */
export async function conversionCheckFor(a: WeightFile, b: WeightFile, options: ConversionCheckOptions = {}): Promise<ConversionCheck | undefined> {
  const side = conversionPairSide(a, b);
  if (!side) {
    return undefined;
  }
  const result = await checkConversion(side === 'a' ? a : b, side === 'a' ? b : a, options);
  return { ...result, tfliteSide: side };
}

interface KerasLayoutExtra {
  permutation: number[];
  kerasShape: number[];
  reshape: boolean;
  kerasWeight: string;
}

interface TfliteWeight {
  tensor: TensorInfo;
  layout: KerasLayoutExtra;
}

const weightedRoles = new Set(['kernel', 'depthwise_kernel']);

/** Compares a TFLite model with its float source. */
export async function checkConversion(tflite: WeightFile, float: WeightFile, options: ConversionCheckOptions = {}): Promise<ConversionCheck> {
  if (tflite.format !== 'tflite') {
    throw new WeightFileError('unrecognized', `${tflite.path}: the conversion check needs a .tflite model, got format '${tflite.format}'.`, { file: tflite.path });
  }
  const floatByName = new Map(float.tensors.map((t) => [t.name, t]));
  const floatLayers = float.layers.filter((l) => l.tensors.some((n) => weightedRoles.has(floatByName.get(n)?.role ?? '')));
  const floatLayerByName = new Map(float.layers.map((l) => [l.name, l]));
  const tfliteByName = new Map(tflite.tensors.map((t) => [t.name, t]));
  const tfliteLayers = tflite.layers
    .map((l) => ({ layer: l, weights: l.tensors.map((n) => tfliteWeight(tfliteByName.get(n))).filter((w): w is TfliteWeight => w !== undefined) }))
    .filter((x) => x.weights.some((w) => w.layout.kerasWeight !== 'bias'));

  // 1. pairing: by name, then by order and shape
  const used = new Set<string>();
  const pairs = new Map<LayerInfo, { floatLayer: LayerInfo; matchedBy: 'name' | 'order' }>();
  for (const { layer, weights } of tfliteLayers) {
    for (const candidate of nameCandidates(layer.name)) {
      const fl = floatLayerByName.get(candidate);
      if (fl && !used.has(fl.name) && kernelFits(fl, weights, floatByName)) {
        pairs.set(layer, { floatLayer: fl, matchedBy: 'name' });
        used.add(fl.name);
        break;
      }
    }
  }
  for (const { layer, weights } of tfliteLayers) {
    if (pairs.has(layer)) {
      continue;
    }
    const fl = floatLayers.find((l) => !used.has(l.name) && kernelFits(l, weights, floatByName));
    if (fl) {
      pairs.set(layer, { floatLayer: fl, matchedBy: 'order' });
      used.add(fl.name);
    }
  }

  // 2. BatchNorm folding map
  const graphFolds = batchNormsFromGraph(float);
  const layers: ConversionLayerCheck[] = [];
  for (const { layer, weights } of tfliteLayers) {
    throwIfAborted(options.signal);
    const pair = pairs.get(layer);
    const op = typeof layer.config?.['op'] === 'string' ? (layer.config['op'] as string) : (layer.className ?? '');
    const opIndex = typeof layer.config?.['opIndex'] === 'number' ? (layer.config['opIndex'] as number) : null;
    if (!pair) {
      layers.push(unpairedLayer(layer.name, op, opIndex, weights));
      continue;
    }
    const fold = findBatchNorm(pair.floatLayer, layer, float, graphFolds);
    layers.push(await compareLayer(layer.name, op, opIndex, pair.floatLayer, pair.matchedBy, fold, weights, float, floatByName, options));
  }

  // 3. outliers
  const rels = layers.map((l) => l.relL2).filter((x): x is number => x !== null).sort((x, y) => x - y);
  const median = rels.length > 0 ? (rels.length % 2 === 1 ? rels[(rels.length - 1) / 2]! : (rels[rels.length / 2 - 1]! + rels[rels.length / 2]!) / 2) : null;
  for (const l of layers) {
    const reasons: string[] = [];
    if (l.sqnrDb !== null && l.sqnrDb < lowSqnrDb) {
      reasons.push(`SQNR ${l.sqnrDb.toFixed(1)} dB is below ${lowSqnrDb} dB`);
    }
    if (l.relL2 !== null && median !== null && l.relL2 > outlierMinRelL2 && l.relL2 > outlierMedianRatio * median) {
      reasons.push(`relative error ${l.relL2.toPrecision(3)} is ${(l.relL2 / median).toFixed(1)}x the median ${median.toPrecision(3)}`);
    }
    if (reasons.length > 0) {
      l.standsOut = true;
      l.why = reasons.join('; ');
    }
  }
  const outliers = layers
    .filter((l) => l.standsOut)
    .sort((x, y) => (y.relL2 ?? 0) - (x.relL2 ?? 0))
    .map((l) => l.layer);
  const foldedAway = new Set(layers.map((l) => l.foldedBatchNorm?.layer).filter((x): x is string => x !== undefined));
  const unmatchedFloatLayers = floatLayers.filter((l) => !used.has(l.name) && !foldedAway.has(l.name)).map((l) => l.name);
  const summary = tflite.metadata['conversionMode'] as { mode?: unknown } | undefined;
  return {
    tflitePath: tflite.path,
    floatPath: float.path,
    tfliteSide: 'b',
    conversionMode: typeof summary?.mode === 'string' ? summary.mode : null,
    layers,
    unmatchedFloatLayers,
    medianRelL2: median,
    outliers,
    sourceMismatch: median !== null && median > sourceMismatchRelL2,
    thresholds: { lowSqnrDb, outlierMedianRatio, outlierMinRelL2 },
  };
}

/** The TFLite weight with its Keras layout, when the reader gave one. */
function tfliteWeight(t: TensorInfo | undefined): TfliteWeight | undefined {
  const layout = t?.extra?.['kerasLayout'] as KerasLayoutExtra | undefined;
  if (!t || !layout || !Array.isArray(layout.permutation) || !Array.isArray(layout.kerasShape)) {
    return undefined;
  }
  return { tensor: t, layout };
}

/** Float layer names a TFLite layer name may come from: the name without ' (op N)', then without each leading scope. */
export function nameCandidates(tfliteLayer: string): string[] {
  const base = tfliteLayer.replace(/ \(op \d+\)$/, '');
  const parts = base.split('/');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    out.push(parts.slice(i).join('/'));
  }
  return out;
}

/** The float tensor of `layer` with the Keras weight name/role `weight`. */
function floatWeight(layer: LayerInfo, weight: string, byName: ReadonlyMap<string, TensorInfo>): TensorInfo | undefined {
  const ts = layer.tensors.map((n) => byName.get(n)).filter((t): t is TensorInfo => t !== undefined && t.group === 'model');
  return ts.find((t) => t.role === weight) ?? ts.find((t) => t.weight.replace(/:\d+$/, '') === weight);
}

/** True when the float layer's kernel has the Keras shape of the TFLite kernel. */
function kernelFits(layer: LayerInfo, weights: readonly TfliteWeight[], byName: ReadonlyMap<string, TensorInfo>): boolean {
  const k = weights.find((w) => w.layout.kerasWeight !== 'bias');
  if (!k) {
    return false;
  }
  const f = floatWeight(layer, k.layout.kerasWeight, byName);
  return f !== undefined && sameShape(f.shape, k.layout.kerasShape);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** BN layer -> the layer it directly follows, from the Keras model config (Functional inbound_nodes, or Sequential order). */
function batchNormsFromGraph(float: WeightFile): Map<string, string> | null {
  const mc = float.modelConfig as { class_name?: unknown; config?: unknown } | undefined;
  if (!mc) {
    return null;
  }
  const cfg = mc.config as { layers?: unknown } | unknown[] | undefined;
  const list = Array.isArray(cfg) ? cfg : Array.isArray((cfg as { layers?: unknown } | undefined)?.layers) ? ((cfg as { layers: unknown[] }).layers) : null;
  if (!list) {
    return null;
  }
  const sequential = mc.class_name === 'Sequential';
  const out = new Map<string, string>();
  let previous: string | null = null;
  for (const entry of list) {
    const e = entry as { class_name?: unknown; name?: unknown; config?: { name?: unknown }; inbound_nodes?: unknown };
    const name = typeof e.config?.name === 'string' ? e.config.name : typeof e.name === 'string' ? e.name : null;
    if (name === null) {
      continue;
    }
    if (e.class_name === 'BatchNormalization') {
      const inputs = sequential ? (previous ? [previous] : []) : inboundLayers(e.inbound_nodes);
      if (inputs.length === 1) {
        out.set(name, inputs[0]!);
      }
    }
    previous = name;
  }
  return out;
}

/** Names of the layers feeding a Keras layer (Keras 2 `[[[name, node, tensor, {}]]]` or Keras 3 `keras_history`). */
function inboundLayers(nodes: unknown): string[] {
  const names = new Set<string>();
  const visit = (x: unknown, depth: number): void => {
    if (depth > 8 || x === null || typeof x !== 'object') {
      return;
    }
    if (Array.isArray(x)) {
      if (x.length >= 3 && typeof x[0] === 'string' && typeof x[1] === 'number') {
        names.add(x[0]);
        return;
      }
      for (const y of x) {
        visit(y, depth + 1);
      }
      return;
    }
    const history = (x as { keras_history?: unknown }).keras_history;
    if (Array.isArray(history) && typeof history[0] === 'string') {
      names.add(history[0]);
      return;
    }
    for (const v of Object.values(x)) {
      visit(v, depth + 1);
    }
  };
  visit(nodes, 0);
  return [...names];
}

/** The BatchNormalization to fold into `floatLayer`, if any. */
function findBatchNorm(floatLayer: LayerInfo, tfliteLayer: LayerInfo, float: WeightFile, graph: Map<string, string> | null): FoldedBatchNorm | null {
  const isBn = (l: LayerInfo | undefined): l is LayerInfo => l?.className === 'BatchNormalization';
  const byName = new Map(float.layers.map((l) => [l.name, l]));
  const make = (bn: LayerInfo, source: FoldedBatchNorm['source']): FoldedBatchNorm => {
    const eps = bn.config?.['epsilon'];
    return { layer: bn.name, epsilon: typeof eps === 'number' && eps >= 0 ? eps : defaultBatchNormEpsilon, source };
  };
  if (graph) {
    for (const [bn, input] of graph) {
      const l = byName.get(bn);
      if (input === floatLayer.name && isBn(l)) {
        return make(l, 'graph');
      }
    }
    return null;
  }
  for (const n of tfliteLayer.tensors) {
    for (const part of n.split(';')) {
      const m = /(?:^|\/)([^/]+)\/FusedBatchNorm(?:V3)?$/.exec(part);
      const l = m ? byName.get(m[1]!) : undefined;
      if (isBn(l)) {
        return make(l, 'tflite-names');
      }
    }
  }
  const i = float.layers.indexOf(floatLayer);
  const next = float.layers[i + 1];
  return isBn(next) ? make(next, 'layer-order') : null;
}

/** The layer entry of a TFLite layer no float layer was found for. */
function unpairedLayer(name: string, op: string, opIndex: number | null, weights: readonly TfliteWeight[]): ConversionLayerCheck {
  return {
    layer: name,
    op,
    opIndex,
    floatLayer: null,
    matchedBy: null,
    foldedBatchNorm: null,
    tensors: weights.map((w) => ({
      ...tensorBase(w, null),
      error: { reason: 'notFound', message: `No float layer has a '${w.layout.kerasWeight}' of shape [${w.layout.kerasShape.join(', ')}] for TFLite tensor '${w.tensor.name}'.` },
    })),
    count: 0,
    relL2: null,
    sqnrDb: null,
    maxAbsError: null,
    kernelSqnrDb: null,
    predicted: null,
    standsOut: false,
  };
}

function storageOf(t: TensorInfo): ConversionStorage {
  const q = t.quantization;
  if (t.storageDtype === 'float16') {
    return 'float16';
  }
  if (t.storageDtype === 'float32' && !q) {
    return 'float32';
  }
  if (q?.scheme === 'tflite-affine' && t.storageDtype === 'int8') {
    return (q.scale?.length ?? 0) > 1 ? 'int8-per-channel' : 'int8-per-tensor';
  }
  return 'other';
}

function tensorBase(w: TfliteWeight, floatName: string | null): ConversionTensorCheck {
  return {
    tflite: w.tensor.name,
    float: floatName,
    weight: w.layout.kerasWeight,
    shapeTflite: [...w.tensor.shape],
    shapeKeras: [...w.layout.kerasShape],
    permutation: [...w.layout.permutation],
    storageDtype: w.tensor.storageDtype,
    storage: storageOf(w.tensor),
    count: 0,
    normFloat: null,
    errorNorm: null,
    relL2: null,
    sqnrDb: null,
    maxAbsError: null,
  };
}

/** A tensor not compared for a reason already summarized (an unreadable side, a BN that cannot be folded). */
class SkippedTensor extends Error {
  constructor(readonly summary: ErrorSummary) {
    super(summary.message);
  }
}

/** Reads a whole tensor into a Float64Array (bounded by conversionMaxElements). */
async function readWhole(t: TensorInfo, signal: AbortSignal | undefined): Promise<Float64Array> {
  if (t.unavailable) {
    throw new SkippedTensor(t.unavailable);
  }
  const n = elementCount(t.shape);
  if (n > conversionMaxElements) {
    throw new WeightFileError('tooLarge', `Tensor '${t.name}' has ${n} elements; the conversion check holds at most ${conversionMaxElements} in memory.`, { tensor: t.name });
  }
  const out = new Float64Array(n);
  let k = 0;
  for await (const chunk of t.readValues({ signal })) {
    if (k + chunk.length > n) {
      throw new WeightFileError('corrupt', `Tensor '${t.name}' yielded more than its ${n} elements.`, { tensor: t.name });
    }
    for (let i = 0; i < chunk.length; i++) {
      out[k++] = chunk[i]!;
    }
  }
  if (k !== n) {
    throw new WeightFileError('truncated', `Tensor '${t.name}' yielded ${k} of its ${n} elements.`, { tensor: t.name });
  }
  return out;
}

/** Per-channel BN factors g and shift (beta - mean * g), or null when the BN cannot be folded into `channels` outputs. */
async function batchNormFactors(
  fold: FoldedBatchNorm,
  float: WeightFile,
  byName: ReadonlyMap<string, TensorInfo>,
  channels: number,
  signal: AbortSignal | undefined,
): Promise<{ g: Float64Array; shift: Float64Array }> {
  const bn = float.layers.find((l) => l.name === fold.layer)!;
  const vec = async (role: string): Promise<Float64Array | null> => {
    const t = floatWeight(bn, role, byName);
    return t ? readWhole(t, signal) : null;
  };
  const [gamma, beta, mean, variance] = [await vec('gamma'), await vec('beta'), await vec('moving_mean'), await vec('moving_variance')];
  if (!mean || !variance) {
    throw new WeightFileError('corrupt', `BatchNormalization '${fold.layer}' has no moving_mean/moving_variance to fold.`, { tensor: fold.layer });
  }
  for (const [v, what] of [[gamma, 'gamma'], [beta, 'beta'], [mean, 'moving_mean'], [variance, 'moving_variance']] as const) {
    if (v && v.length !== channels) {
      throw new WeightFileError('corrupt', `BatchNormalization '${fold.layer}' has ${v.length} ${what} values for ${channels} output channels.`, { tensor: fold.layer });
    }
  }
  const g = new Float64Array(channels);
  const shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    g[c] = (gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + fold.epsilon);
    shift[c] = (beta ? beta[c]! : 0) - mean[c]! * g[c]!;
  }
  return { g, shift };
}

/** Accumulates the comparison of streamed TFLite values against the float values at mapped positions. */
class ErrorAccumulator {
  count = 0;
  sig2 = 0;
  err2 = 0;
  maxErr = 0;

  add(t: number, f: number): void {
    const e = t - f;
    this.count++;
    this.sig2 += f * f;
    this.err2 += e * e;
    const a = Math.abs(e);
    if (a > this.maxErr || a !== a) {
      this.maxErr = a;
    }
  }
}

function sqnrOf(sig2: number, err2: number): number | null {
  if (err2 === 0) {
    return null;
  }
  return sig2 > 0 ? 10 * Math.log10(sig2 / err2) : -Number.MAX_VALUE;
}

function relOf(sig2: number, err2: number): number | null {
  if (sig2 > 0) {
    return Math.sqrt(err2 / sig2);
  }
  return err2 === 0 ? 0 : null;
}

/**
 * Streams the TFLite tensor and compares each value with the float value at the Keras position
 * (flat index of transpose(tflite, permutation); a following reshape keeps the flat order).
 */
async function compareStreamed(w: TfliteWeight, reference: Float64Array, acc: ErrorAccumulator, signal: AbortSignal | undefined): Promise<void> {
  const shape = w.tensor.shape;
  const perm = w.layout.permutation;
  const rank = shape.length;
  const transposed = perm.map((p) => shape[p]!);
  const tStride = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) {
    tStride[i] = tStride[i + 1]! * transposed[i + 1]!;
  }
  const strideOfAxis = new Array<number>(rank).fill(0);
  perm.forEach((p, i) => {
    strideOfAxis[p] = tStride[i]!;
  });
  const idx = new Array<number>(rank).fill(0);
  let kFlat = 0;
  let seen = 0;
  for await (const chunk of w.tensor.readValues({ signal })) {
    throwIfAborted(signal);
    for (let i = 0; i < chunk.length; i++) {
      if (seen >= reference.length) {
        throw new WeightFileError('corrupt', `TFLite tensor '${w.tensor.name}' yielded more than its ${reference.length} elements.`, { tensor: w.tensor.name });
      }
      acc.add(chunk[i]!, reference[kFlat]!);
      seen++;
      // advance the TFLite multi-index (row-major) and the Keras flat index with it
      for (let ax = rank - 1; ax >= 0; ax--) {
        idx[ax]!++;
        kFlat += strideOfAxis[ax]!;
        if (idx[ax]! < shape[ax]!) {
          break;
        }
        kFlat -= strideOfAxis[ax]! * shape[ax]!;
        idx[ax] = 0;
      }
    }
  }
  if (seen !== reference.length) {
    throw new WeightFileError('truncated', `TFLite tensor '${w.tensor.name}' yielded ${seen} of its ${reference.length} elements.`, { tensor: w.tensor.name });
  }
}

/** An in-memory tensor for the precision analysis of the folded float kernel. */
function memoryTensor(name: string, shape: readonly number[], values: Float64Array): TensorInfo {
  return {
    name,
    layer: '',
    weight: 'kernel',
    role: 'kernel',
    group: 'model',
    dtype: 'float64',
    storageDtype: 'float64',
    shape,
    byteLength: values.byteLength,
    async *readValues() {
      yield values;
    },
  };
}

async function compareLayer(
  name: string,
  op: string,
  opIndex: number | null,
  floatLayer: LayerInfo,
  matchedBy: 'name' | 'order',
  fold: FoldedBatchNorm | null,
  weights: readonly TfliteWeight[],
  float: WeightFile,
  byName: ReadonlyMap<string, TensorInfo>,
  options: ConversionCheckOptions,
): Promise<ConversionLayerCheck> {
  const signal = options.signal;
  const out: ConversionLayerCheck = {
    layer: name,
    op,
    opIndex,
    floatLayer: floatLayer.name,
    matchedBy,
    foldedBatchNorm: fold,
    tensors: [],
    count: 0,
    relL2: null,
    sqnrDb: null,
    maxAbsError: null,
    kernelSqnrDb: null,
    predicted: null,
    standsOut: false,
  };
  const kernelW = weights.find((w) => w.layout.kerasWeight !== 'bias');
  const channels = kernelW ? outputChannels(kernelW.layout) : 0;
  let factors: { g: Float64Array; shift: Float64Array } | null = null;
  let foldError: ErrorSummary | undefined;
  if (fold && op === 'TRANSPOSE_CONV') {
    // Conv2DTranspose kernels are [kh, kw, out, in]: the output channel is not innermost
    foldError = { reason: 'unsupportedFormat', message: `Folding BatchNormalization '${fold.layer}' into the transposed convolution '${floatLayer.name}' is not supported.` };
  } else if (fold) {
    try {
      factors = await batchNormFactors(fold, float, byName, channels, signal);
    } catch (ex) {
      if (WeightFileError.is(ex, 'cancelled')) {
        throw ex;
      }
      foldError = ex instanceof SkippedTensor ? ex.summary : summarizeError(ex);
    }
  }
  let sig2 = 0;
  let err2 = 0;
  let maxErr: number | null = null;
  for (const w of [...weights].sort((x, y) => Number(x.layout.kerasWeight === 'bias') - Number(y.layout.kerasWeight === 'bias'))) {
    const isBias = w.layout.kerasWeight === 'bias';
    const ft = floatWeight(floatLayer, w.layout.kerasWeight, byName);
    const entry = tensorBase(w, ft?.name ?? null);
    out.tensors.push(entry);
    try {
      const skip = foldError ?? w.tensor.unavailable;
      if (skip) {
        throw new SkippedTensor(skip);
      }
      let ref: Float64Array;
      if (ft) {
        if (!sameShape(ft.shape, w.layout.kerasShape)) {
          throw new WeightFileError('corrupt', `Float tensor '${ft.name}' has shape [${ft.shape.join(', ')}], the TFLite tensor maps to [${w.layout.kerasShape.join(', ')}].`, { tensor: ft.name });
        }
        ref = await readWhole(ft, signal);
      } else if (isBias) {
        ref = new Float64Array(elementCount(w.layout.kerasShape)); // a bias the converter added (no bias, or folded BN): zeros before folding
      } else {
        throw new WeightFileError('notFound', `Float layer '${floatLayer.name}' has no '${w.layout.kerasWeight}'.`, { tensor: floatLayer.name });
      }
      if (factors) {
        const { g, shift } = factors;
        const n = g.length;
        if (isBias) {
          for (let c = 0; c < ref.length; c++) {
            ref[c] = ref[c]! * g[c % n]! + shift[c % n]!;
          }
        } else {
          for (let i = 0; i < ref.length; i++) {
            ref[i] = ref[i]! * g[i % n]!; // Keras layouts keep output channels innermost (HWIO, [in,out], [kh,kw,C,M] -> c*M+m)
          }
        }
      }
      const acc = new ErrorAccumulator();
      await compareStreamed(w, ref, acc, signal);
      entry.count = acc.count;
      entry.normFloat = Math.sqrt(acc.sig2);
      entry.errorNorm = Math.sqrt(acc.err2);
      entry.relL2 = relOf(acc.sig2, acc.err2);
      entry.sqnrDb = sqnrOf(acc.sig2, acc.err2);
      entry.maxAbsError = acc.maxErr;
      out.count += acc.count;
      sig2 += acc.sig2;
      err2 += acc.err2;
      maxErr = Math.max(maxErr ?? 0, acc.maxErr);
      if (!isBias) {
        out.kernelSqnrDb = entry.sqnrDb;
        if (!options.skipPrediction) {
          out.predicted = await predict(entry.storage, memoryTensor(ft?.name ?? w.tensor.name, w.layout.kerasShape, ref), floatLayer.className, signal);
        }
      }
    } catch (ex) {
      if (WeightFileError.is(ex, 'cancelled') || signal?.aborted) {
        throw ex;
      }
      entry.error = ex instanceof SkippedTensor ? ex.summary : summarizeError(ex);
    }
  }
  if (out.count > 0) {
    out.relL2 = relOf(sig2, err2);
    out.sqnrDb = sqnrOf(sig2, err2);
    out.maxAbsError = maxErr;
  }
  return out;
}

/** Output channels of a Keras kernel layout (innermost axis; depthwise: C*M). */
function outputChannels(layout: KerasLayoutExtra): number {
  const s = layout.kerasShape;
  if (layout.kerasWeight === 'depthwise_kernel' && s.length === 4) {
    return s[2]! * s[3]!;
  }
  return s[s.length - 1] ?? 0;
}

/** The precision analysis' prediction for the storage the converter chose. */
async function predict(storage: ConversionStorage, folded: TensorInfo, className: string | undefined, signal: AbortSignal | undefined): Promise<ConversionPrediction | null> {
  if (storage !== 'int8-per-channel' && storage !== 'int8-per-tensor' && storage !== 'float16') {
    return null;
  }
  const r = await analyzePrecision(folded, signal, className ? { className } : {});
  if (storage === 'float16') {
    const rel = r.fp16.relativeL2Error;
    return { scheme: 'float16', sqnrDb: rel > 0 ? -20 * Math.log10(rel) : null, zeroedFraction: 0 };
  }
  const q = storage === 'int8-per-channel' ? r.int8PerChannel : r.int8PerTensor;
  return q ? { scheme: storage, sqnrDb: q.sqnrDb, zeroedFraction: q.zeroedFraction } : null;
}
