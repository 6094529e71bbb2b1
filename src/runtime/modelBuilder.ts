/**
 * Rebuilds a runnable TF.js layers model from an opened WeightFile: the Keras model config the
 * reader kept (`file.modelConfig`: TF.js layers-model topology, Keras 2 `model_config` of a legacy
 * .h5, Keras 3 `config.json` of a .keras, the root object's Keras metadata of a tf.keras SavedModel)
 * is converted to the Keras JSON that tfjs-layers deserializes, then every weight is loaded by name
 * from the reader's tensors (readValues, chunked). Layers TF.js does not implement are listed
 * together in one error; a SavedModel of a plain TensorFlow graph is refused with the reason.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { throwIfAborted, WeightFileError } from '../core/errors';
import type { TensorInfo, WeightFile } from '../core/model';
import type { Tf, Tfl } from './backend';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys of Keras 3 serialized objects that tfjs-layers does not know (dropped). */
const keras3OnlyKeys = new Set(['module', 'registered_name', 'shared_object_id', 'build_config', 'compile_config']);

/**
 * Initializers tfjs-layers builds in Node; others are replaced by Zeros (the stored weights overwrite
 * them). Orthogonal is left out: its Node implementation calls a chained tensor op the Node bundle lacks.
 */
const tfjsInitializers = new Set([
  'Zeros', 'Ones', 'Constant', 'RandomUniform', 'RandomNormal', 'TruncatedNormal', 'Identity', 'VarianceScaling',
  'GlorotUniform', 'GlorotNormal', 'HeNormal', 'HeUniform', 'LeCunNormal', 'LeCunUniform',
]);

/** Result of converting a Keras config to the TF.js topology JSON. */
export interface TopologyConversion {
  /** `{class_name, config}` in the Keras 2 JSON shape tfjs-layers deserializes. */
  topology: Json;
  /** Class names of layers TF.js cannot build (empty when all are supported). */
  unsupported: string[];
}

/**
 * Converts a Keras model config (Keras 2 / tf.keras / TF.js topology / Keras 3) to the Keras 2 JSON
 * TF.js deserializes: Keras 3 `module`/`registered_name` dropped, DTypePolicy objects turned into
 * dtype names, `batch_shape` into `batch_input_shape`, Keras 3 node arguments (`__keras_tensor__`
 * with `keras_history`) into `[layer, node, tensor, {}]` lists, L1/L2 regularizers into L1L2.
 * `isRegistered` tells which layer classes exist in TF.js.
 */
export function convertKerasConfig(modelConfig: unknown, isRegistered: (className: string) => boolean): TopologyConversion {
  let root = modelConfig;
  if (typeof root === 'string') {
    root = JSON.parse(root) as unknown;
  }
  if (isObject(root) && isObject(root['model_config'])) {
    root = root['model_config']; // old converter topology {keras_version, backend, model_config}
  }
  if (!isObject(root) || typeof root['class_name'] !== 'string') {
    throw new WeightFileError('unsupportedFormat', 'The model config has no class_name, so the model cannot be rebuilt.');
  }
  const unsupported = new Set<string>();
  const topology = convertLayer(untuple(root) as Json, isRegistered, unsupported);
  return { topology, unsupported: [...unsupported] };
}

/**
 * Why TF.js could not wire the layers of a functional model in `topology` (a converted config, nested
 * models included), or undefined. TF.js's Container.fromConfig re-queues a node whose inputs are not
 * built yet until every node is built, so a layer without a name, two layers of one name, an input
 * from a layer that is not there or from a node that is never built (a cycle) make it loop forever.
 * The same queue is simulated here, with TF.js's tests, before TF.js sees the config.
 */
export function wiringProblem(topology: unknown): string | undefined {
  if (!isObject(topology)) {
    return undefined;
  }
  const config = isObject(topology['config']) ? topology['config'] : {};
  const layers = Array.isArray(config['layers']) ? config['layers'].filter(isObject) : undefined;
  if (!layers) {
    return undefined;
  }
  const where = typeof config['name'] === 'string' ? `model '${config['name']}'` : 'the model';
  for (const layer of layers) {
    const inner = wiringProblem(layer);
    if (inner) {
      return inner;
    }
  }
  if (topology['class_name'] === 'Sequential' || !layers.some((l) => Array.isArray(l['inbound_nodes']))) {
    return undefined; // a Sequential: TF.js adds its layers in order
  }
  // Nodes built per layer name. An InputLayer has its node once created, and so has a nested model
  // (a Container makes its own first node), whose calls the config counts from node 1.
  const built = new Map<string, number>();
  // TF.js queues a layer's nodes under the name in its config: two of one name would both be built
  // on the first, and the second never.
  const ownNames = new Set<string>();
  for (const [i, layer] of layers.entries()) {
    const name = layer['name'];
    if (typeof name !== 'string') {
      return `layer ${i + 1} of ${where} has no name, so the layers that take its output cannot find it`;
    }
    const own = isObject(layer['config']) && typeof layer['config']['name'] === 'string' ? layer['config']['name'] : name;
    if (built.has(name) || ownNames.has(own)) {
      return `${where} has two layers named '${built.has(name) ? name : own}'`;
    }
    ownNames.add(own);
    const nested = isObject(layer['config']) && Array.isArray(layer['config']['layers']);
    built.set(name, layer['class_name'] === 'InputLayer' || nested ? 1 : 0);
  }
  const pending: { layer: string; inputs: unknown[] }[] = [];
  for (const layer of layers) {
    for (const node of Array.isArray(layer['inbound_nodes']) ? layer['inbound_nodes'] : []) {
      if (Array.isArray(node)) {
        pending.push({ layer: layer['name'] as string, inputs: node });
      }
    }
  }
  // TF.js's own test of an input not built yet: inboundLayer.inboundNodes.length <= inboundNodeIndex.
  const waitsOn = (input: unknown): boolean => built.get((input as unknown[])[0] as string)! <= ((input as unknown[])[1] as number);
  for (let progress = true; pending.length > 0 && progress; ) {
    progress = false;
    for (let k = 0; k < pending.length; k++) {
      const { layer, inputs } = pending[k]!;
      let ready = true;
      for (const input of inputs) {
        const from: unknown = Array.isArray(input) ? input[0] : undefined;
        if (typeof from !== 'string' || !built.has(from)) {
          return `layer '${layer}' of ${where} takes an input from ${typeof from === 'string' ? `'${from}', which is not a layer of it` : 'no named layer'}`;
        }
        if (waitsOn(input)) {
          ready = false;
        }
      }
      if (ready) {
        // TF.js calls the layer (making its next node) only when the node has inputs.
        if (inputs.length > 0) {
          built.set(layer, built.get(layer)! + 1);
        }
        pending.splice(k--, 1);
        progress = true;
      }
    }
  }
  if (pending.length > 0) {
    const { layer, inputs } = pending[0]!;
    const waits = inputs.find(waitsOn) as unknown[];
    return `layer '${layer}' of ${where} takes an input from node ${String(waits[1])} of '${String(waits[0])}', which is never built (the layers' inputs form a cycle or skip a node)`;
  }
  return undefined;
}

/** Layer options that are numbers in every Keras layer that has them (null: the default). */
const numberOptions = new Set(['units', 'filters', 'epsilon', 'momentum', 'rate', 'alpha', 'theta', 'stddev', 'depth_multiplier', 'input_dim', 'output_dim', 'dropout', 'recurrent_dropout', 'negative_slope', 'max_value', 'threshold']);

/** Layer options that are booleans in every Keras layer that has them (null: the default). */
const booleanOptions = new Set(['center', 'use_bias', 'return_sequences', 'return_state', 'go_backwards', 'stateful', 'unroll', 'mask_zero', 'reset_after', 'time_major', 'trainable']);

/**
 * The first layer option in `topology` (nested models included) whose value has the wrong type
 * for its name, e.g. a BatchNormalization `epsilon` that is a string, or undefined. TF.js takes
 * such values without a word and fails much later (computing gradients) in ways that name nothing.
 */
export function optionTypeProblem(topology: unknown): string | undefined {
  if (!isObject(topology)) {
    return undefined;
  }
  const config = isObject(topology['config']) ? topology['config'] : {};
  const layers = Array.isArray(config['layers']) ? config['layers'].filter(isObject) : undefined;
  if (layers) {
    for (const layer of layers) {
      const inner = optionTypeProblem(layer);
      if (inner) {
        return inner;
      }
    }
    return undefined;
  }
  // A wrapper's layer (Bidirectional, TimeDistributed), an RNN's cell and StackedRNNCells' cells are layers too.
  for (const inner of [config['layer'], config['cell'], ...(Array.isArray(config['cells']) ? config['cells'] : [])]) {
    const problem = isObject(inner) ? optionTypeProblem(inner) : undefined;
    if (problem) {
      return problem;
    }
  }
  const name = typeof config['name'] === 'string' ? config['name'] : String(topology['class_name']);
  for (const [key, value] of Object.entries(config)) {
    const wanted = numberOptions.has(key) ? 'number' : booleanOptions.has(key) ? 'boolean' : undefined;
    if (wanted && value !== null && value !== undefined && typeof value !== wanted) {
      return `layer '${name}' has ${key} ${JSON.stringify(value)?.slice(0, 40) ?? String(value)}, where a ${wanted} belongs`;
    }
  }
  return undefined;
}

/**
 * Tuples and shapes as the SavedModel Keras metadata serializes them (`{class_name: '__tuple__' |
 * 'TensorShape', items: [...]}`, keras/saving/saved_model/json_utils.py) turned into plain lists,
 * as the .h5 `model_config` stores them; everything else copied as is.
 */
function untuple(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(untuple);
  }
  if (!isObject(value)) {
    return value;
  }
  if ((value['class_name'] === '__tuple__' || value['class_name'] === 'TensorShape') && Array.isArray(value['items'])) {
    return value['items'].map(untuple);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, untuple(v)]));
}

function convertLayer(layer: Json, isRegistered: (c: string) => boolean, unsupported: Set<string>): Json {
  const className = String(layer['class_name']);
  const config = isObject(layer['config']) ? layer['config'] : {};
  const isContainer = Array.isArray(config['layers']);
  if (!isContainer && !isRegistered(className)) {
    unsupported.add(className);
  }
  const out: Json = { class_name: className, config: convertConfig(config, isRegistered, unsupported) };
  if (className === 'Sequential') {
    addSequentialInputShape(out['config'] as Json, config['build_input_shape']);
  } else if (className === 'BatchNormalization') {
    const c = out['config'] as Json;
    if (Array.isArray(c['axis']) && c['axis'].length === 1 && typeof c['axis'][0] === 'number') {
      c['axis'] = c['axis'][0]; // tf.keras 2.x stores [3]; TF.js takes one axis number
    }
  }
  if ('name' in layer) {
    out['name'] = layer['name'];
  }
  if (Array.isArray(layer['inbound_nodes'])) {
    out['inbound_nodes'] = convertInboundNodes(layer['inbound_nodes']);
  }
  return out;
}

/**
 * A tf.keras Sequential built by calling it (no Input layer) stores its input shape only as the
 * model's `build_input_shape`; TF.js builds a Sequential from its first layer's `batch_input_shape`.
 */
function addSequentialInputShape(config: Json, buildInputShape: unknown): void {
  const first = Array.isArray(config['layers']) ? (config['layers'][0] as unknown) : undefined;
  if (!Array.isArray(buildInputShape) || !isObject(first) || first['class_name'] === 'InputLayer' || !isObject(first['config'])) {
    return;
  }
  const c = first['config'];
  if (c['batch_input_shape'] === undefined || c['batch_input_shape'] === null) {
    c['batch_input_shape'] = buildInputShape;
  }
}

function convertConfig(config: Json, isRegistered: (c: string) => boolean, unsupported: Set<string>): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(config)) {
    if (keras3OnlyKeys.has(key)) {
      continue;
    }
    if (key === 'layers' && Array.isArray(value)) {
      out['layers'] = value.filter(isObject).map((l) => convertLayer(l, isRegistered, unsupported));
    } else if (key === 'batch_shape') {
      out['batch_input_shape'] = value;
    } else if (key === 'dtype') {
      out['dtype'] = dtypeName(value);
    } else if ((key === 'input_layers' || key === 'output_layers') && Array.isArray(value) && typeof value[0] === 'string') {
      out[key] = [value]; // Keras 3 single input/output: ["name", 0, 0]
    } else if (key.endsWith('_regularizer') && isObject(value)) {
      out[key] = convertRegularizer(value);
    } else if (key.endsWith('_initializer') && isObject(value)) {
      out[key] = convertInitializer(value);
    } else if (key.endsWith('_constraint') && isObject(value)) {
      out[key] = stripKeras3(value);
    } else if (isObject(value) && value['class_name'] === '__tensor__' && isObject(value['config'])) {
      const v = value['config']['value'];
      out[key] = Array.isArray(v) && v.length === 1 ? v[0] : v; // e.g. Masking mask_value
    } else {
      out[key] = value;
    }
  }
  return out;
}

function dtypeName(value: unknown): unknown {
  if (isObject(value) && isObject(value['config']) && typeof value['config']['name'] === 'string') {
    const name = value['config']['name'];
    return name.startsWith('mixed_') ? 'float32' : name;
  }
  return value;
}

function stripKeras3(value: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    if (!keras3OnlyKeys.has(k)) {
      out[k] = isObject(v) ? stripKeras3(v) : v;
    }
  }
  return out;
}

function convertRegularizer(value: Json): Json {
  const c = isObject(value['config']) ? value['config'] : {};
  const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
  switch (value['class_name']) {
    case 'L2':
    case 'l2':
      return { class_name: 'L1L2', config: { l1: 0, l2: num(c['l2']) } };
    case 'L1':
    case 'l1':
      return { class_name: 'L1L2', config: { l1: num(c['l1']), l2: 0 } };
    case 'L1L2':
    case 'l1_l2':
      return { class_name: 'L1L2', config: { l1: num(c['l1']), l2: num(c['l2']) } };
    default:
      return stripKeras3(value);
  }
}

function convertInitializer(value: Json): Json {
  const stripped = stripKeras3(value);
  const className = String(stripped['class_name']);
  if (!tfjsInitializers.has(className)) {
    return { class_name: 'Zeros', config: {} };
  }
  return { class_name: className, config: isObject(stripped['config']) ? stripped['config'] : {} };
}

/** Keras 3 node `{args: [...__keras_tensor__...], kwargs}` -> Keras 2 `[[layer, node, tensor, {}], ...]`. */
function convertInboundNodes(nodes: unknown[]): unknown[] {
  return nodes.map((node) => {
    if (!isObject(node)) {
      return node; // already Keras 2 shape
    }
    const refs: unknown[] = [];
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) {
        v.forEach(visit);
      } else if (isObject(v)) {
        if (v['class_name'] === '__keras_tensor__' && isObject(v['config']) && Array.isArray(v['config']['keras_history'])) {
          const [layerName, nodeIndex, tensorIndex] = v['config']['keras_history'] as unknown[];
          refs.push([layerName, nodeIndex, tensorIndex, {}]);
        }
      }
    };
    visit(node['args']);
    return refs;
  });
}

/** One weight variable of the rebuilt model and the file tensor it was loaded from. */
export interface LoadedWeight {
  /** TF.js layer name. */
  layer: string;
  /** Variable name in TF.js, e.g. 'dense/kernel'. */
  variable: string;
  /** Name of the file tensor that supplied the values. */
  tensor: string;
}

/** A rebuilt model ready to run. */
export interface BuiltModel {
  /** The tfjs-layers model (weights loaded). */
  model: LayersModel;
  /** Which file tensor each weight came from. */
  loaded: LoadedWeight[];
  /** Training config from the file (loss, optimizer), when present. */
  trainingConfig?: Readonly<Record<string, unknown>>;
}

/** Regularization overrides applied to the config before rebuilding (training runs). */
export interface RegularizationOverrides {
  /** L1 penalty on every kernel. */
  l1?: number;
  /** L2 penalty on every kernel. */
  l2?: number;
  /** Rate of every Dropout layer; Sequential models without one get Dropout after each hidden Dense. */
  dropout?: number;
}

/** Options for rebuilding. */
export interface BuildOptions {
  /** Cancels loading. */
  signal?: AbortSignal;
  /** Regularization overrides. */
  overrides?: RegularizationOverrides;
}

/** Applies L1/L2/dropout overrides to a converted topology (in place). */
export function applyOverrides(topology: Json, overrides: RegularizationOverrides): void {
  const config = isObject(topology['config']) ? topology['config'] : undefined;
  const layers = config && Array.isArray(config['layers']) ? (config['layers'] as Json[]) : [];
  if (overrides.l1 !== undefined || overrides.l2 !== undefined) {
    for (const layer of layers) {
      const c = layer['config'];
      if (isObject(c) && 'kernel_initializer' in c) {
        c['kernel_regularizer'] = { class_name: 'L1L2', config: { l1: overrides.l1 ?? 0, l2: overrides.l2 ?? 0 } };
      }
      if (isObject(c) && Array.isArray(c['layers'])) {
        applyOverrides(layer, { l1: overrides.l1, l2: overrides.l2 });
      }
    }
  }
  if (overrides.dropout !== undefined) {
    const rate = overrides.dropout;
    const dropouts = layers.filter((l) => l['class_name'] === 'Dropout');
    for (const d of dropouts) {
      (d['config'] as Json)['rate'] = rate;
    }
    if (dropouts.length === 0 && topology['class_name'] === 'Sequential' && rate > 0) {
      const dense = layers.filter((l) => l['class_name'] === 'Dense');
      const hidden = new Set(dense.slice(0, -1));
      const out: Json[] = [];
      for (const l of layers) {
        out.push(l);
        if (hidden.has(l)) {
          out.push({ class_name: 'Dropout', config: { name: `${String((l['config'] as Json)['name'])}_dropout`, rate, trainable: true } });
        }
      }
      config!['layers'] = out;
    }
  }
}

/** What to open instead of a file without a Keras/TF.js layers architecture. */
function noArchitectureHint(format: WeightFile['format']): string {
  switch (format) {
    case 'tflite':
      return 'a TFLite model is a graph of TFLite ops, not of layers, so probe or train the Keras or TF.js model it was converted from';
    case 'tfjs-graph':
      return 'a TF.js graph model holds ops, not layers, so probe or train the Keras or TF.js layers model it was converted from';
    default:
      return 'open the full model file (saved with its architecture, e.g. model.save) instead';
  }
}

/**
 * The loss a Weightscope training run recorded in its checkpoint (userDefinedMetadata.weightscope:
 * `loss` and `fromLogits`), as a training config for chooseLoss, so that a probe or a run of that
 * checkpoint takes the loss its run trained with. The checkpoint's model.json carries no training
 * config of its own: TensorFlow.js's loader would compile a loss object it cannot read.
 */
export function runLossConfig(metadata: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> | undefined {
  const udm = metadata?.['userDefinedMetadata'];
  const ws = typeof udm === 'object' && udm !== null ? (udm as Record<string, unknown>)['weightscope'] : undefined;
  if (typeof ws !== 'object' || ws === null) {
    return undefined;
  }
  const { loss, fromLogits } = ws as Record<string, unknown>;
  return typeof loss === 'string' ? { loss: { class_name: loss, config: { from_logits: fromLogits === true } } } : undefined;
}

/**
 * Rebuilds the model of `file` with tfjs-layers and loads its weights by name from the reader's
 * tensors. A cancel (`options.signal`) stops it with a `cancelled` WeightFileError, the model freed. Throws an `unsupportedFormat` WeightFileError when the file has no architecture or uses
 * layers TF.js lacks (all listed in one message), `corrupt` when a weight is missing or mis-shaped.
 */
export async function buildModel(file: WeightFile, tf: Tf, tfl: Tfl, options: BuildOptions = {}): Promise<BuiltModel> {
  const name = file.path;
  throwIfAborted(options.signal);
  if (!file.modelConfig && file.format === 'tf-savedmodel') {
    throw notKerasSavedModel(file);
  }
  if (!file.modelConfig) {
    throw new WeightFileError('unsupportedFormat', `${name} holds weights without a model architecture (${file.formatName}), so it cannot be run; ${noArchitectureHint(file.format)}.`, { file: name });
  }
  const registry = tf.serialization.SerializationMap.getMap().classNameMap;
  const { topology, unsupported } = convertKerasConfig(file.modelConfig, (c) => c in registry);
  if (unsupported.length > 0) {
    throw new WeightFileError(
      'unsupportedFormat',
      `${name} uses layers TensorFlow.js does not implement, so it cannot be run here: ${unsupported.map((u) => `'${u}'`).join(', ')}.`,
      { file: name },
    );
  }
  if (options.overrides) {
    applyOverrides(topology, options.overrides);
  }
  const damage = wiringProblem(topology) ?? optionTypeProblem(topology);
  if (damage) {
    throw new WeightFileError('corrupt', `${name}: the model config is damaged: ${damage}.`, { file: name });
  }
  let model: LayersModel;
  try {
    model = await tfl.models.modelFromJSON({ modelTopology: topology } as never);
  } catch (ex) {
    throw new WeightFileError('unsupportedFormat', `${name}: TensorFlow.js could not rebuild the model from its config: ${tfjsReason(ex)}`, { file: name }, { cause: ex });
  }
  try {
    if (!(model instanceof tfl.LayersModel)) {
      const what = (model as { getClassName?: () => string }).getClassName?.() ?? typeof model;
      throw new WeightFileError('corrupt', `${name}: the model config describes one '${what}' layer, not a model, so there is nothing to run.`, { file: name });
    }
    // a cancel that came while the model was made (its initial weights included) or loaded stops here
    throwIfAborted(options.signal);
    const loaded = await loadWeightsByName(file, model, tf, options.signal);
    throwIfAborted(options.signal);
    tryForward(name, model, tf);
    const trainingConfig = file.trainingConfig ?? runLossConfig(file.metadata);
    return { model, loaded, ...(trainingConfig ? { trainingConfig } : {}) };
  } catch (ex) {
    // The caller never gets the model: free its weights (the extension host lives on).
    try {
      (model as { dispose?: () => unknown }).dispose?.();
    } catch {
      // a layer that was never built has nothing to free
    }
    throw ex;
  }
}

/**
 * Size given to a dimension a model leaves open besides the batch (a fully convolutional network's
 * height and width, a sequence's length) when it is run on synthetic inputs: 1 would make a
 * sequence a single step and shrink a valid convolution's output below one pixel.
 */
export const openDimSize = 32;

/** A concrete shape for an input or output `shape` of a model: the batch given (else the model's, else 1), open dimensions openDimSize. */
export function concreteShape(shape: readonly (number | null)[], batch?: number): number[] {
  return shape.map((d, i) => (i === 0 ? (batch ?? d ?? 1) : (d ?? openDimSize)));
}

/**
 * Runs the rebuilt model once on inputs of zeros (concreteShape: a batch of one unless the model
 * fixes its batch size, as a stateful RNN does), so that a config TF.js accepts but cannot run (an
 * input shape its layers reject, a damaged layer option) is refused here, in one sentence, before
 * any probe or training starts.
 */
function tryForward(name: string, model: LayersModel, tf: Tf): void {
  try {
    tf.tidy(() => {
      const xs = model.inputs.map((input) => tf.zeros(concreteShape(input.shape), input.dtype));
      model.predict(xs.length === 1 ? xs[0]! : xs);
    });
  } catch (ex) {
    throw new WeightFileError('unsupportedFormat', `${name}: TensorFlow.js cannot run the rebuilt model: ${tfjsReason(ex)}`, { file: name }, { cause: ex });
  } finally {
    if (model.stateful) {
      // The trial leaves no state behind for the probe or training that follows. (TF.js 4.22 cannot
      // rebuild a stateful RNN from a config yet, so no file reaches this today.)
      model.resetStates();
    }
  }
}

/**
 * The first line of a TensorFlow.js error as one sentence: without the numbered list of possible
 * causes some add ("This may be due to one of the following reasons: 1. ... 2. ..."), ending with a period.
 */
export function tfjsReason(ex: unknown): string {
  let line = (ex instanceof Error ? ex.message : String(ex)).split('\n')[0]!;
  const cut = line.indexOf(' This may be due to');
  if (cut >= 0) {
    line = line.slice(0, cut);
  }
  line = line.replace(/[\s:]+$/, '').trim();
  return /[.!?]$/.test(line) ? line : `${line}.`;
}

/** The folder of a SavedModel opened through its saved_model.pb or variables/variables.* file. */
function savedModelFolder(p: string): string {
  return p.replace(/[\\/](saved_model\.pb|variables[\\/]variables\.(index|data-\d{5}-of-\d{5}))$/, '');
}

/** Why a SavedModel without a Keras model config cannot be rebuilt, in one sentence naming its folder. */
function notKerasSavedModel(file: WeightFile): WeightFileError {
  const folder = savedModelFolder(file.path);
  const root = file.metadata['rootObject'];
  let message: string;
  if (file.modelClass !== undefined || (typeof root === 'string' && root.startsWith('_tf_keras'))) {
    const what = file.modelClass !== undefined ? `'${file.modelClass}'` : `root object '${String(root)}'`;
    message = `${folder} is a Keras SavedModel (${what}) whose metadata lists no layers, as for a subclassed model, so it cannot be rebuilt.`;
  } else if (typeof root === 'string') {
    message = `${folder} is a SavedModel of a plain TensorFlow graph (root object '${root}'), not a Keras model, so it cannot be rebuilt.`;
  } else if (file.metadata['savedModel'] === undefined) {
    message = `${folder}: its saved_model.pb could not be read, so the model architecture is unknown and it cannot be rebuilt.`;
  } else {
    message = `${folder} is a SavedModel of a plain TensorFlow graph without an object graph (as TF1 writes), not a Keras model, so it cannot be rebuilt.`;
  }
  return new WeightFileError('unsupportedFormat', message, { file: file.path });
}

/** Every non-container layer of a model, nested models flattened. */
export function flattenLayers(model: LayersModel): LayersModel['layers'] {
  const out: LayersModel['layers'] = [];
  const visit = (layers: LayersModel['layers']): void => {
    for (const layer of layers) {
      const inner = (layer as unknown as { layers?: LayersModel['layers'] }).layers;
      if (Array.isArray(inner)) {
        visit(inner);
      } else {
        out.push(layer);
      }
    }
  };
  visit(model.layers);
  return out;
}

async function loadWeightsByName(file: WeightFile, model: LayersModel, tf: Tf, signal?: AbortSignal): Promise<LoadedWeight[]> {
  const modelTensors = file.tensors.filter((t) => t.group === 'model');
  const byLayer = new Map<string, TensorInfo[]>();
  for (const t of modelTensors) {
    const key = t.layer.split('/').pop() ?? t.layer;
    byLayer.set(key, [...(byLayer.get(key) ?? []), t]);
  }
  const loaded: LoadedWeight[] = [];
  const missing: string[] = [];
  for (const layer of flattenLayers(model)) {
    // A SavedModel lists an RNN's weights under its cell ('lstm_cell'); the variable's full name
    // ('lstm/lstm_cell/kernel') still names the layer.
    const candidates = byLayer.get(layer.name) ?? modelTensors.filter((t) => fullNameLayers(t).includes(layer.name));
    layer.weights.forEach((variable, index) => {
      const short = variable.originalName.split('/').pop() ?? variable.originalName;
      const found = candidates.find((t) => t.weight === short || t.weight.split('/').pop() === short || t.role === short) ?? candidates[index];
      if (!found) {
        missing.push(`${layer.name}/${short}`);
      } else {
        loaded.push({ layer: layer.name, variable: variable.originalName, tensor: found.name });
      }
    });
  }
  if (missing.length > 0) {
    throw new WeightFileError('corrupt', `${file.path} has no stored values for ${missing.map((m) => `'${m}'`).join(', ')}, so the rebuilt model cannot be loaded.`, { file: file.path });
  }
  const tensorByName = new Map(modelTensors.map((t) => [t.name, t]));
  const variables = new Map(flattenLayers(model).flatMap((l) => l.weights.map((w) => [w.originalName, w] as const)));
  for (const entry of loaded) {
    throwIfAborted(signal);
    const info = tensorByName.get(entry.tensor)!;
    const variable = variables.get(entry.variable)!;
    const want = variable.shape.map((d) => d ?? 0);
    if (want.length !== info.shape.length || want.some((d, i) => d !== info.shape[i])) {
      throw new WeightFileError('corrupt', `${file.path}: tensor '${info.name}' has shape [${info.shape.join(', ')}] but layer weight '${entry.variable}' needs [${want.join(', ')}].`, { file: file.path, tensor: info.name });
    }
    const values = await readFloat32(info, signal);
    const t = tf.tensor(values, [...want], 'float32');
    try {
      variable.write(t); // applies the layer's constraint, which a damaged config can make anything
    } catch (ex) {
      throw new WeightFileError('unsupportedFormat', `${file.path}: TensorFlow.js could not load layer weight '${entry.variable}': ${tfjsReason(ex)}`, { file: file.path, tensor: info.name }, { cause: ex });
    } finally {
      t.dispose();
    }
  }
  return loaded;
}

/** The layer path of a tensor's TF variable full name (`extra.fullName`, checkpoints and SavedModels), without the weight. */
function fullNameLayers(t: TensorInfo): string[] {
  const full = t.extra?.['fullName'];
  return typeof full === 'string' ? full.split('/').slice(0, -1) : [];
}

/** All values of a tensor as float32 (chunked reads). */
export async function readFloat32(tensor: TensorInfo, signal?: AbortSignal): Promise<Float32Array> {
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  let at = 0;
  for await (const chunk of tensor.readValues({ signal })) {
    if (at + chunk.length > count) {
      throw new WeightFileError('corrupt', `Tensor '${tensor.name}' yields more values than its shape [${tensor.shape.join(', ')}] holds.`, { tensor: tensor.name });
    }
    for (let i = 0; i < chunk.length; i++) {
      out[at + i] = Number(chunk[i]);
    }
    at += chunk.length;
  }
  if (at !== count) {
    throw new WeightFileError('truncated', `Tensor '${tensor.name}' yields ${at} values but its shape [${tensor.shape.join(', ')}] needs ${count}.`, { tensor: tensor.name });
  }
  return out;
}
