/**
 * Normalizes Keras model configs (Keras 1, Keras 2 / tf.keras, Keras 3, TF.js layers-model
 * topologies) into LayerInfo lists, and maps stored weight names to layers and roles.
 * Config shapes: Keras `Model.get_config()` / `model_config` attribute (notes section 2.1),
 * Keras 3 `serialize_keras_object` (`{module, class_name, config, registered_name}`, section 2.4),
 * TF.js `modelTopology` (section 3).
 */
import type { KerasObjectConfig, LayerInfo, TensorRole } from '../core/model';
import { parseFileJson } from '../core/json';

/** Normalized architecture from a Keras model config (Keras 1/2/3, tf.keras, TF.js layers-model topology). */
export interface KerasArchitecture {
  /** Class of the outermost model ('Sequential', 'Functional', 'Model', a custom class ...). */
  modelClass?: string;
  /** Name of the outermost model, when the config gives one. */
  modelName?: string;
  /** Every layer, nested models flattened in config order (a container precedes its children). */
  layers: LayerInfo[];
  /** Batch input shapes of the outermost model's inputs (null = unknown dimension), when given. */
  inputShapes?: (number | null)[][];
}

type Json = Record<string, unknown>;

/** Model classes whose `config.layers` holds sub-layers. */
const containerClasses = new Set(['Sequential', 'Functional', 'Model', 'Graph']);

/** Layer classes whose `rate` (Keras 1: `p`) is a dropout rate. */
const dropoutClasses = new Set([
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'SpatialDropout3D',
  'AlphaDropout',
  'GaussianDropout',
]);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function asNumber(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Parses a Keras model config JSON object ({class_name, config}) into layers (nested models
 * flattened with `parent` set, names 'outer/inner' only when needed for uniqueness). Never throws
 * on unknown shapes: unknown fields are kept in `config`.
 */
export function parseKerasModelConfig(modelConfig: unknown): KerasArchitecture {
  let root = modelConfig;
  if (typeof root === 'string') {
    try {
      root = parseFileJson(root) as unknown;
    } catch {
      return { layers: [] };
    }
  }
  // TF.js converted topology: {keras_version, backend, model_config, training_config}.
  for (let depth = 0; depth < 3 && isObject(root) && root.class_name === undefined && root.model_config !== undefined; depth++) {
    root = typeof root.model_config === 'string' ? safeParse(root.model_config) : root.model_config;
  }
  if (!isObject(root)) {
    return { layers: [] };
  }
  const modelClass = asString(root.class_name);
  const config = root.config;
  const modelName = isObject(config) ? asString(config.name) : asString(root.name);
  const collected: Collected[] = [];
  collectLayers(layerList(config), undefined, collected, 0);
  const layers = finalizeNames(collected);
  const inputShapes = findInputShapes(layerList(config));
  const arch: KerasArchitecture = { layers };
  if (modelClass !== undefined) {
    arch.modelClass = modelClass;
  }
  if (modelName !== undefined) {
    arch.modelName = modelName;
  }
  if (inputShapes.length > 0) {
    arch.inputShapes = inputShapes;
  }
  return arch;
}

function safeParse(text: string): unknown {
  try {
    return parseFileJson(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The layer list of a model config: Keras 1 Sequential `config` is the list itself. */
function layerList(config: unknown): unknown[] {
  if (Array.isArray(config)) {
    return config;
  }
  if (isObject(config) && Array.isArray(config.layers)) {
    return config.layers;
  }
  return [];
}

interface Collected {
  info: LayerInfo;
  parent?: Collected;
}

/** Maximum nesting of models inside models that is followed (guards against hostile configs). */
const maxNestingDepth = 32;

function collectLayers(list: unknown[], parent: Collected | undefined, out: Collected[], depth: number): void {
  for (const entry of list) {
    if (!isObject(entry)) {
      continue;
    }
    const className = asString(entry.class_name);
    const config = isObject(entry.config) ? entry.config : Array.isArray(entry.config) ? { layers: entry.config } : {};
    const name = asString(config.name) ?? asString(entry.name) ?? `${className ?? 'layer'}_${out.length}`;
    const info = layerInfoFromConfig(name, className, config);
    const item: Collected = parent ? { info, parent } : { info };
    out.push(item);
    const children = layerList(entry.config);
    if (depth < maxNestingDepth && children.length > 0 && (className === undefined || containerClasses.has(className) || Array.isArray(config.layers))) {
      collectLayers(children, item, out, depth + 1);
    }
  }
}

/** Names stay as written unless two flattened layers share one; those get 'outer/inner'. */
function finalizeNames(items: Collected[]): LayerInfo[] {
  const counts = new Map<string, number>();
  for (const it of items) {
    counts.set(it.info.name, (counts.get(it.info.name) ?? 0) + 1);
  }
  const finalName = new Map<Collected, string>();
  const nameOf = (it: Collected): string => {
    const known = finalName.get(it);
    if (known !== undefined) {
      return known;
    }
    let name = it.info.name;
    if ((counts.get(name) ?? 0) > 1 && it.parent) {
      name = `${nameOf(it.parent)}/${name}`;
    }
    finalName.set(it, name);
    return name;
  };
  return items.map((it) => {
    const name = nameOf(it);
    const info: LayerInfo = { ...it.info, name };
    if (it.parent) {
      info.parent = nameOf(it.parent);
    }
    return info;
  });
}

/** Builds one LayerInfo from a layer's `config`, looking into wrapped layers and RNN cells for missing fields. */
function layerInfoFromConfig(name: string, className: string | undefined, config: Json): LayerInfo {
  const info: LayerInfo = { name, tensors: [], config };
  if (className !== undefined) {
    info.className = className;
  }
  // Own fields first, then the wrapped layer (Bidirectional/TimeDistributed `layer`), then RNN `cell`(s).
  const sources: { className?: string; config: Json }[] = [{ className, config }];
  const inner = config.layer;
  if (isObject(inner) && isObject(inner.config)) {
    sources.push({ className: asString(inner.class_name), config: inner.config });
  }
  for (const src of [...sources]) {
    const cell = src.config.cell;
    const cells = isObject(cell) && isObject(cell.config) && Array.isArray(cell.config.cells) ? cell.config.cells : [cell];
    for (const c of cells) {
      if (isObject(c) && isObject(c.config)) {
        sources.push({ className: asString(c.class_name), config: c.config });
      }
    }
  }
  for (const src of sources) {
    fillFromConfig(info, src.className, src.config);
  }
  return info;
}

function fillFromConfig(info: LayerInfo, className: string | undefined, c: Json): void {
  if (info.activation === undefined) {
    const activation = activationName(c.activation);
    if (activation !== undefined) {
      info.activation = activation;
    }
  }
  if (info.units === undefined) {
    // Keras 1 Dense/RNN: `output_dim`.
    const units = asNumber(c.units) ?? (className !== 'Embedding' ? asNumber(c.output_dim) : undefined);
    if (units !== undefined) {
      info.units = units;
    }
  }
  if (info.filters === undefined) {
    const filters = asNumber(c.filters) ?? asNumber(c.nb_filter);
    if (filters !== undefined) {
      info.filters = filters;
    }
  }
  if (info.kernelSize === undefined) {
    const ks = kernelSize(c);
    if (ks !== undefined) {
      info.kernelSize = ks;
    }
  }
  // Keras 2/3: `*_initializer`; Keras 1: `init`, `inner_init`. Separable convs: pointwise as kernel.
  setIfMissing(info, 'kernelInitializer', kerasObject(c.kernel_initializer ?? c.pointwise_initializer ?? c.embeddings_initializer ?? c.init));
  setIfMissing(info, 'biasInitializer', kerasObject(c.bias_initializer));
  setIfMissing(info, 'recurrentInitializer', kerasObject(c.recurrent_initializer ?? c.inner_init));
  setIfMissing(info, 'depthwiseInitializer', kerasObject(c.depthwise_initializer));
  // Keras 1: `W_regularizer`, `b_regularizer`.
  setIfMissing(
    info,
    'kernelRegularizer',
    kerasObject(c.kernel_regularizer ?? c.pointwise_regularizer ?? c.depthwise_regularizer ?? c.embeddings_regularizer ?? c.W_regularizer),
  );
  setIfMissing(info, 'biasRegularizer', kerasObject(c.bias_regularizer ?? c.b_regularizer));
  setIfMissing(info, 'activityRegularizer', kerasObject(c.activity_regularizer));
  if (info.dropoutRate === undefined) {
    // Dropout layers: `rate` (Keras 1 `p`); RNNs: `dropout` (Keras 1 `dropout_W`).
    const rate =
      className !== undefined && dropoutClasses.has(className) ? (asNumber(c.rate) ?? asNumber(c.p)) : (asNumber(c.dropout) ?? asNumber(c.dropout_W));
    if (rate !== undefined) {
      info.dropoutRate = rate;
    }
  }
  if (info.recurrentDropoutRate === undefined) {
    const rate = asNumber(c.recurrent_dropout) ?? asNumber(c.dropout_U);
    if (rate !== undefined) {
      info.recurrentDropoutRate = rate;
    }
  }
  if (info.trainable === undefined && typeof c.trainable === 'boolean') {
    info.trainable = c.trainable;
  }
}

type ObjectField = 'kernelInitializer' | 'biasInitializer' | 'recurrentInitializer' | 'depthwiseInitializer' | 'kernelRegularizer' | 'biasRegularizer' | 'activityRegularizer';

function setIfMissing(info: LayerInfo, field: ObjectField, value: KerasObjectConfig | undefined): void {
  if (info[field] === undefined && value !== undefined) {
    info[field] = value;
  }
}

/** `kernel_size` as a list (a bare number means a 1-D kernel); Keras 1 `nb_row`/`nb_col`, `filter_length`. */
function kernelSize(c: Json): number[] | undefined {
  const ks = c.kernel_size;
  if (typeof ks === 'number') {
    return [ks];
  }
  if (Array.isArray(ks) && ks.every((d) => typeof d === 'number')) {
    return ks as number[];
  }
  const row = asNumber(c.nb_row);
  const col = asNumber(c.nb_col);
  if (row !== undefined && col !== undefined) {
    return [row, col];
  }
  const length = asNumber(c.filter_length);
  return length !== undefined ? [length] : undefined;
}

/**
 * An activation as a name: strings as written, null/absent → undefined, Keras 3 objects
 * (`{module: 'keras.activations', class_name: 'function', config: 'relu', registered_name}`) → their name.
 */
function activationName(v: unknown): string | undefined {
  if (typeof v === 'string') {
    return v;
  }
  if (!isObject(v)) {
    return undefined;
  }
  if (typeof v.config === 'string') {
    return v.config;
  }
  if (isObject(v.config) && typeof v.config.name === 'string') {
    return v.config.name;
  }
  const registered = asString(v.registered_name);
  if (registered !== undefined) {
    return registered;
  }
  return asString(v.class_name);
}

/** An initializer/regularizer: `'glorot_uniform'`, `{class_name, config}`, Keras 3 `{module, class_name, config, registered_name}` or Keras 1 `{name, ...params}`. */
function kerasObject(v: unknown): KerasObjectConfig | undefined {
  if (typeof v === 'string') {
    return { className: v, config: {} };
  }
  if (!isObject(v)) {
    return undefined;
  }
  const className = asString(v.class_name);
  if (className === undefined) {
    // Keras 1 regularizers: {name: 'WeightRegularizer', l1, l2} with the parameters inline.
    const legacyName = asString(v.name);
    if (legacyName === undefined) {
      return undefined;
    }
    const { name: _name, ...params } = v;
    return { className: legacyName, config: params };
  }
  return { className, config: isObject(v.config) ? v.config : {} };
}

/** Batch input shapes from InputLayer entries (`batch_input_shape`, Keras 3 `batch_shape`) or the first layer. */
function findInputShapes(list: unknown[]): (number | null)[][] {
  const shapes: (number | null)[][] = [];
  for (const entry of list) {
    if (!isObject(entry) || !isObject(entry.config)) {
      continue;
    }
    const isInput = entry.class_name === 'InputLayer';
    const shape = shapeList(entry.config.batch_input_shape ?? entry.config.batch_shape);
    if (shape && (isInput || shapes.length === 0)) {
      shapes.push(shape);
    }
    if (!isInput && shapes.length > 0) {
      break;
    }
  }
  return shapes;
}

function shapeList(v: unknown): (number | null)[] | undefined {
  if (!Array.isArray(v) || !v.every((d) => d === null || typeof d === 'number')) {
    return undefined;
  }
  return v as (number | null)[];
}

/** First path segments that mark optimizer state in stored weight names. */
const optimizerPrefixes = new Set(['optimizer', 'training', 'adam', 'sgd', 'rmsprop', 'adagrad', 'adadelta', 'adamax', 'nadam', 'ftrl', 'adamw', 'lion']);

/** Role by short weight name (Keras 2/3, TF.js). */
const roleByName: ReadonlyMap<string, TensorRole> = new Map<string, TensorRole>([
  ['kernel', 'kernel'],
  ['weights', 'kernel'],
  ['w', 'kernel'],
  ['bias', 'bias'],
  ['biases', 'bias'],
  ['b', 'bias'],
  ['recurrent_kernel', 'recurrent_kernel'],
  ['u', 'recurrent_kernel'],
  ['depthwise_kernel', 'depthwise_kernel'],
  ['pointwise_kernel', 'pointwise_kernel'],
  ['embeddings', 'embeddings'],
  ['gamma', 'gamma'],
  ['beta', 'beta'],
  ['moving_mean', 'moving_mean'],
  ['running_mean', 'moving_mean'],
  ['moving_variance', 'moving_variance'],
  ['running_std', 'moving_variance'],
  ['running_var', 'moving_variance'],
  ['alpha', 'alpha'],
  ['alphas', 'alpha'],
  ['iterations', 'step'],
  ['iteration', 'step'],
  ['iter', 'step'],
  ['step', 'step'],
  ['global_step', 'step'],
]);

/** Keras 1 suffixes glued to the layer name: `dense_1_W`, `lstm_1_U_i`, `batchnormalization_1_running_mean`. */
const keras1Suffix = /_(W|b|U|gamma|beta|running_mean|running_std|alphas)(_[a-z])?$/;

/**
 * Role of a weight from its short name ('kernel', 'bias', 'recurrent_kernel', 'gamma',
 * 'moving_mean', 'depthwise_kernel', 'embeddings', Keras 1 '_W'/'_b' suffixes ...).
 * Full stored names are accepted too: names under an optimizer prefix are optimizer state.
 */
export function roleFromWeightName(weightName: string): TensorRole {
  const name = stripVariableSuffix(weightName);
  const segments = name.split('/');
  const last = segments[segments.length - 1] ?? '';
  const first = (segments[0] ?? '').toLowerCase();
  const direct = roleByName.get(last) ?? roleByName.get(last.toLowerCase());
  if (segments.length > 1 && optimizerPrefixes.has(first)) {
    return direct === 'step' ? 'step' : 'optimizer_state';
  }
  if (direct !== undefined) {
    return direct;
  }
  const m = keras1Suffix.exec(last);
  if (m && m[1] !== undefined) {
    return roleByName.get(m[1].toLowerCase()) ?? 'other';
  }
  return 'other';
}

/** Strips a TF variable output suffix (':0'). */
function stripVariableSuffix(name: string): string {
  return name.replace(/:\d+$/, '');
}

/**
 * Splits a stored weight name like 'dense_1/kernel:0' or 'model/dense/kernel' into { layer, weight }
 * (strips ':0'). The weight is the last path segment and the layer everything before it; a name
 * without '/' is a Keras 1 name ('dense_1_W' → dense_1 / W) or a bare weight (layer '').
 */
export function splitWeightName(name: string): { layer: string; weight: string } {
  const clean = stripVariableSuffix(name);
  const slash = clean.lastIndexOf('/');
  if (slash >= 0) {
    return { layer: clean.slice(0, slash), weight: clean.slice(slash + 1) };
  }
  const m = keras1Suffix.exec(clean);
  if (m && m.index > 0) {
    return { layer: clean.slice(0, m.index), weight: clean.slice(m.index + 1) };
  }
  return { layer: '', weight: clean };
}

/** Deepest '/'-segment count among a layer map's names, cached per map (and its size). */
const layerNameDepth = new WeakMap<ReadonlyMap<string, unknown>, { size: number; depth: number }>();

/**
 * The most specific sub-path of a weight path that names a known layer: the path itself, else
 * sub-paths ending latest first, longest first ('sequential_1/Conv1' → 'Conv1', 'lstm/lstm_cell'
 * → 'lstm'); undefined when none does. Only sub-paths as deep as the deepest layer name are
 * tried, so a path of thousands of segments costs a few lookups per segment.
 */
export function knownLayerSubPath(path: string, layers: ReadonlyMap<string, unknown>): string | undefined {
  if (layers.has(path)) {
    return path;
  }
  let cached = layerNameDepth.get(layers);
  if (!cached || cached.size !== layers.size) {
    let depth = 0;
    for (const name of layers.keys()) {
      depth = Math.max(depth, name.split('/').length);
    }
    cached = { size: layers.size, depth };
    layerNameDepth.set(layers, cached);
  }
  const segments = path.split('/');
  for (let end = segments.length; end >= 1; end--) {
    for (let start = Math.max(0, end - cached.depth); start < end; start++) {
      const candidate = segments.slice(start, end).join('/');
      if (layers.has(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}
