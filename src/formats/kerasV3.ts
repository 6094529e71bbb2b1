/**
 * Keras 3 weights: the `.keras` ZIP archive (config.json, metadata.json, model.weights.h5) and the
 * plain `.weights.h5` file written by `save_weights`. Layout: notes/weight-formats.md sections 2.3
 * (object tree `layers/<key>/.../vars/<i>`, `optimizer/vars/<i>`, root `vars`) and 2.4 (archive),
 * following Keras `saving/saving_lib.py` (`_save_state`, `_save_container_state`, `H5IOStore`).
 */
import { readAll, type ByteSource, type FileSet } from '../core/byteSource';
import { elementCount } from '../core/dtypes';
import { summarizeError, WeightFileError } from '../core/errors';
import type { FileWarning, FormatId, LayerInfo, TensorGroup, TensorInfo, TensorRole, WeightFile } from '../core/model';
import { looksLikeZip, openZipEntry, readZipDirectory, zipEntryDataOffset, zipMethodStored, type ZipEntry } from '../core/zip';
import type { FormatReader, OpenOptions, SniffInput } from './formatReader';
import { Hdf5File, type Hdf5DatasetInfo } from './hdf5';
import { parseKerasModelConfig, roleFromWeightName } from './kerasConfig';
import { parseFileJson } from '../core/json';

/** Largest config.json / metadata.json / model.json read into memory, in bytes. */
export const maxKerasJsonBytes = 64 * 1024 * 1024;

/** Deepest object nesting read in a Keras 3 weights tree (guards against hostile files). */
const maxTreeDepth = 64;

/** Most links listed in a Keras 3 weights tree. */
const maxLinks = 1_000_000;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `.keras` archive reader (`.weights.h5` files are opened through the Keras HDF5 reader). */
export const kerasV3Reader: FormatReader = {
  id: 'keras-v3',
  displayName: 'Keras 3 archive (.keras)',
  sniff: sniffKerasV3,
  open: openKerasV3Archive,
};

/** ZIP magic with a `.keras` name, or a ZIP whose first member is a Keras archive member. Never throws. */
function sniffKerasV3(input: SniffInput): number | undefined {
  if (!looksLikeZip(input.head)) {
    return undefined;
  }
  if (/\.keras$/i.test(input.fileName)) {
    return 100;
  }
  // Local header of the first member: name at offset 30 (APPNOTE 4.3.7); Keras writes metadata.json first.
  const nameLength = (input.head[26] ?? 0) | ((input.head[27] ?? 0) << 8);
  const first = new TextDecoder('latin1').decode(input.head.subarray(30, 30 + nameLength));
  return first === 'metadata.json' || first === 'config.json' || first === 'model.weights.h5' ? 70 : undefined;
}

/** Names of the archive members Keras writes (saving_lib.py: _CONFIG_FILENAME, _METADATA_FILENAME, _VARS_FNAME). */
const configMember = 'config.json';
const metadataMember = 'metadata.json';
const weightsH5Member = 'model.weights.h5';
const weightsNpzMember = 'model.weights.npz';

/** Opens a `.keras` archive: the central directory, the JSON members, and model.weights.h5 through h5wasm. */
async function openKerasV3Archive(source: ByteSource, _files: FileSet, options?: OpenOptions): Promise<WeightFile> {
  let entries: ZipEntry[];
  try {
    entries = await readZipDirectory(source);
  } catch (ex) {
    // A file that starts like a ZIP but has no end record lost its tail: say truncated.
    if (WeightFileError.is(ex, 'unrecognized') && looksLikeZip(await source.read(0, Math.min(4, source.size)))) {
      throw new WeightFileError('truncated', `${source.name}: the ZIP archive has no end-of-central-directory record (size ${source.size} bytes); it is probably truncated.`, {
        file: source.name,
      }, { cause: ex });
    }
    throw ex;
  }
  const byName = new Map<string, ZipEntry>(entries.map((e) => [e.name, e]));
  const weightsEntry = byName.get(weightsH5Member);
  const configEntry = byName.get(configMember);
  if (!weightsEntry) {
    if (byName.has(weightsNpzMember)) {
      throw new WeightFileError('unsupportedFormat', `${source.name}: the archive stores its weights as '${weightsNpzMember}', which Weightscope does not read (only '${weightsH5Member}').`, {
        file: source.name,
      });
    }
    const listed = entries.slice(0, 5).map((e) => `'${e.name}'`).join(', ');
    throw new WeightFileError(
      configEntry ? 'corrupt' : 'unrecognized',
      `${source.name}: a ZIP archive without '${weightsH5Member}' (members: ${listed || 'none'}${entries.length > 5 ? ', ...' : ''}).`,
      { file: source.name },
    );
  }
  const warnings: FileWarning[] = [];
  const config = configEntry ? await readJsonMember(source, configEntry, warnings) : undefined;
  const metadataEntry = byName.get(metadataMember);
  const meta = metadataEntry ? await readJsonMember(source, metadataEntry, warnings) : undefined;
  const metadata: Record<string, unknown> = { container: 'zip', members: entries.filter((e) => !e.isDirectory).map((e) => e.name) };
  if (isObject(meta)) {
    for (const key of ['keras_version', 'date_saved']) {
      if (typeof meta[key] === 'string') {
        metadata[key === 'keras_version' ? 'kerasVersion' : 'dateSaved'] = meta[key];
      }
    }
  }
  const h5 = await openWeightsMember(source, weightsEntry, options);
  try {
    return openKerasV3Weights(h5, { path: source.name, format: 'keras-v3', config, metadata, warnings, source });
  } catch (ex) {
    await h5.close();
    throw ex;
  }
}

/** Largest user block looked past in a weights member (Keras writes none; the HDF5 library's smallest sizes are kept). */
const memberUserBlockLimit = 8192;

/**
 * Opens model.weights.h5 with h5wasm, which can only open host files. Keras writes the member
 * STORED, so in a local archive it is read in place (Hdf5File.openLocalRange). Otherwise (DEFLATED,
 * or an archive without a local path), or if the in-place open fails, the member is streamed into
 * a private temporary file that the WeightFile deletes on close (Hdf5File.openSource).
 */
async function openWeightsMember(source: ByteSource, entry: ZipEntry, options?: OpenOptions): Promise<Hdf5File> {
  if (source.localPath !== undefined && entry.method === zipMethodStored) {
    const start = await zipEntryDataOffset(source, entry);
    try {
      return await Hdf5File.openLocalRange(source.localPath, start, entry.compressedSize, `${source.name}/${entry.name}`);
    } catch {
      // fall through to the temporary copy, which reports the error if the bytes themselves are bad
    }
  }
  const member = await openZipEntry(source, entry);
  // Keras writes the member without a user block; looking far into an inflated member would inflate all before it.
  return Hdf5File.openSource(member, { allowTempCopy: true, userBlockLimit: memberUserBlockLimit, ...(options?.signal ? { signal: options.signal } : {}) });
}

async function readJsonMember(source: ByteSource, entry: ZipEntry, warnings: FileWarning[]): Promise<unknown> {
  try {
    const member = await openZipEntry(source, entry);
    const text = new TextDecoder('utf-8').decode(await readAll(member, maxKerasJsonBytes));
    return parseFileJson(text) as unknown;
  } catch (ex) {
    const summary = WeightFileError.is(ex) ? summarizeError(ex) : { reason: 'corrupt' as const, message: `${source.name}: member '${entry.name}' is not valid JSON (${ex instanceof Error ? ex.message : String(ex)}).` };
    warnings.push(summary);
    return undefined;
  }
}

/** Where a Keras 3 weights tree came from and what goes around it. */
export interface KerasV3Context {
  /** Path or name of the main file for WeightFile.path. */
  path: string;
  /** 'keras-v3' (archive) or 'keras-v3-weights' (.weights.h5). */
  format: FormatId;
  /** The model config (config.json / to_json()), when known. */
  config: unknown;
  /** File-level facts gathered so far. */
  metadata: Record<string, unknown>;
  /** Warnings gathered so far. */
  warnings: FileWarning[];
  /** The main file's source, closed with the WeightFile. */
  source: ByteSource;
}

/** True when the root of an HDF5 file has the Keras 3 object-tree layout (notes 2.3). */
export function isKerasV3Layout(h5: Hdf5File): boolean {
  const keys = h5.keys('/');
  return keys.includes('layers') || keys.includes('vars') || keys.includes('_layer_checkpoint_dependencies') || (keys.includes('optimizer') && h5.kind('/optimizer/vars') === 'group');
}

/** Sibling files that may hold the model config of a `.weights.h5` file, in order of preference. */
export function configCandidates(fileName: string): string[] {
  const stem = fileName.replace(/\.weights\.h5$/i, '').replace(/\.(h5|hdf5)$/i, '');
  return [...new Set([`${stem}.json`, `${stem}.config.json`, 'config.json', 'model.json'])];
}

/** Reads the first sibling config that is a Keras model config ({class_name, config}). */
export async function readSiblingConfig(fileName: string, files: FileSet): Promise<{ file: string; config: Json } | undefined> {
  for (const candidate of configCandidates(fileName)) {
    let src: ByteSource | undefined;
    try {
      src = await files.open(candidate);
      if (!src) {
        continue;
      }
      const parsed = parseFileJson(new TextDecoder('utf-8').decode(await readAll(src, maxKerasJsonBytes))) as unknown;
      if (isObject(parsed) && typeof parsed.class_name === 'string') {
        return { file: candidate, config: parsed };
      }
    } catch {
      // not JSON or not readable: try the next candidate
    } finally {
      await src?.close();
    }
  }
  return undefined;
}

/** One object of the saved tree that has a `vars` group. */
interface VarsNode {
  /** Object path without the leading '/', e.g. 'layers/lstm/cell' ('' for the model itself). */
  objPath: string;
  /** The `name` attribute of its `vars` group (recent Keras 3), when present. */
  nameAttr?: string;
  /** Dataset names inside `vars`, in numeric order. */
  vars: string[];
}

/** Snake-case of a class name the way Keras 3 makes container keys (keras/src/utils/naming.py to_snake_case). */
export function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** A variable slot of a class: short weight name and role. */
type VarSpec = readonly [weight: string, role: TensorRole];

const kernelBias: readonly VarSpec[] = [
  ['kernel', 'kernel'],
  ['bias', 'bias'],
];
const rnnCell: readonly VarSpec[] = [
  ['kernel', 'kernel'],
  ['recurrent_kernel', 'recurrent_kernel'],
  ['bias', 'bias'],
];

/** Variable order per layer class (snake-case key), as each class creates its weights in build(). */
const variableOrder: ReadonlyMap<string, readonly VarSpec[]> = new Map<string, readonly VarSpec[]>([
  ['dense', kernelBias],
  ['einsum_dense', kernelBias],
  ['conv1d', kernelBias],
  ['conv2d', kernelBias],
  ['conv3d', kernelBias],
  ['conv1d_transpose', kernelBias],
  ['conv2d_transpose', kernelBias],
  ['conv3d_transpose', kernelBias],
  [
    'depthwise_conv1d',
    [
      ['kernel', 'depthwise_kernel'],
      ['bias', 'bias'],
    ],
  ],
  [
    'depthwise_conv2d',
    [
      ['kernel', 'depthwise_kernel'],
      ['bias', 'bias'],
    ],
  ],
  [
    'separable_conv1d',
    [
      ['depthwise_kernel', 'depthwise_kernel'],
      ['pointwise_kernel', 'pointwise_kernel'],
      ['bias', 'bias'],
    ],
  ],
  [
    'separable_conv2d',
    [
      ['depthwise_kernel', 'depthwise_kernel'],
      ['pointwise_kernel', 'pointwise_kernel'],
      ['bias', 'bias'],
    ],
  ],
  ['embedding', [['embeddings', 'embeddings']]],
  ['lstm_cell', rnnCell],
  ['gru_cell', rnnCell],
  ['simple_rnn_cell', rnnCell],
  ['conv_lstm_cell', rnnCell],
  [
    'batch_normalization',
    [
      ['gamma', 'gamma'],
      ['beta', 'beta'],
      ['moving_mean', 'moving_mean'],
      ['moving_variance', 'moving_variance'],
    ],
  ],
  [
    'layer_normalization',
    [
      ['gamma', 'gamma'],
      ['beta', 'beta'],
    ],
  ],
  [
    'group_normalization',
    [
      ['gamma', 'gamma'],
      ['beta', 'beta'],
    ],
  ],
  ['p_re_lu', [['alpha', 'alpha']]],
]);

/** RNN layer classes and the cell class whose variables live under `<layer>/cell/vars`. */
const cellOfRnn: ReadonlyMap<string, string> = new Map([
  ['lstm', 'lstm_cell'],
  ['gru', 'gru_cell'],
  ['simple_rnn', 'simple_rnn_cell'],
  ['conv_lstm1d', 'conv_lstm_cell'],
  ['conv_lstm2d', 'conv_lstm_cell'],
  ['conv_lstm3d', 'conv_lstm_cell'],
]);

/** The variable specs of a class given its layer config (drops gamma/beta/bias switched off in the config). */
function specsFor(classKey: string | undefined, config: Json | undefined, count: number): readonly VarSpec[] | undefined {
  const base = classKey === undefined ? undefined : variableOrder.get(classKey);
  if (!base) {
    return undefined;
  }
  let specs = base;
  if (config) {
    specs = specs.filter(([w]) => !((w === 'bias' && config.use_bias === false) || (w === 'gamma' && config.scale === false) || (w === 'beta' && config.center === false)));
  }
  if (specs.length === count) {
    return specs;
  }
  // A bias-less variant when the config is unknown (use_bias=False).
  if (specs[specs.length - 1]?.[0] === 'bias' && specs.length - 1 === count) {
    return specs.slice(0, -1);
  }
  return undefined;
}

/** Strips Keras' uniqueness suffix: 'dense_3' → 'dense'. */
function baseKey(key: string): string {
  return key.replace(/_\d+$/, '');
}

/**
 * Builds the WeightFile of a Keras 3 weights tree (notes 2.3). Layer names come from the `name`
 * attribute of each `vars` group when present, else from the config layer at the same container
 * position (keys are snake_case(class) made unique in order), else from the key itself. Roles come
 * from the per-class variable order. Optimizer slots are mapped to trainable variables when the
 * counts and shapes allow it.
 */
export function openKerasV3Weights(h5: Hdf5File, ctx: KerasV3Context): WeightFile {
  const warnings = ctx.warnings;
  warnings.push(...h5.fileWarnings());
  const config = isObject(ctx.config) ? ctx.config : undefined;
  const arch = config ? parseKerasModelConfig(config) : { layers: [] as LayerInfo[] };
  const configLayers = configLayerList(config);
  const nodes: VarsNode[] = [];
  collectVarsNodes(h5, nodes);
  const containerKey = nodes.some((n) => n.objPath.startsWith('_layer_checkpoint_dependencies/')) ? '_layer_checkpoint_dependencies' : 'layers';
  // Top-level container keys → config layers: by exact name (Keras 2.13-2.15), else by class-key position.
  const keyToConfig = new Map<string, Json>();
  const counters = new Map<string, number>();
  for (const layer of configLayers) {
    const className = typeof layer.class_name === 'string' ? layer.class_name : 'layer';
    const lc = isObject(layer.config) ? layer.config : {};
    const snake = toSnakeCase(className);
    const used = counters.get(snake);
    const key = used === undefined ? snake : `${snake}_${used + 1}`;
    counters.set(snake, used === undefined ? 0 : used + 1);
    if (typeof lc.name === 'string') {
      keyToConfig.set(`name:${lc.name}`, layer);
    }
    keyToConfig.set(key, layer);
  }
  const configOrder = new Map<Json, number>(configLayers.map((l, i) => [l, i]));
  const layerConfigOf = (key: string): Json | undefined => keyToConfig.get(`name:${key}`) ?? keyToConfig.get(key);

  interface Placed {
    node: VarsNode;
    layerName: string;
    parent?: string;
    classKey?: string;
    layerConfig?: Json;
    order: number[];
  }
  const placed: Placed[] = [];
  let optimizerNode: VarsNode | undefined;
  const nameOfObject = new Map<string, string>();
  const sortedNodes = [...nodes].sort((a, b) => a.objPath.split('/').length - b.objPath.split('/').length);
  for (const node of sortedNodes) {
    const segments = node.objPath === '' ? [] : node.objPath.split('/');
    if (segments[0] === 'optimizer' && segments.length === 1) {
      optimizerNode = node;
      continue;
    }
    if (segments.length === 0) {
      const name = node.nameAttr ?? arch.modelName ?? 'model';
      nameOfObject.set('', name);
      placed.push({ node, layerName: name, order: [Number.MAX_SAFE_INTEGER] });
      continue;
    }
    const topKey = segments[0] === containerKey && segments.length >= 2 ? segments[1]! : undefined;
    const topConfig = topKey !== undefined ? layerConfigOf(topKey) : undefined;
    const topConfigInner = topConfig && isObject(topConfig.config) ? topConfig.config : undefined;
    const topClass = typeof topConfig?.class_name === 'string' ? toSnakeCase(topConfig.class_name) : undefined;
    const last = segments[segments.length - 1]!;
    let layerName: string;
    let parent: string | undefined;
    let classKey: string | undefined;
    let layerConfig: Json | undefined;
    const parentPath = segments.slice(0, -1).join('/');
    const parentName = nameOfObject.get(parentPath) ?? nameOfObject.get(segments.slice(0, -2).join('/'));
    if (topKey !== undefined && segments.length === 2) {
      layerName = node.nameAttr ?? (typeof topConfigInner?.name === 'string' ? topConfigInner.name : topKey);
      classKey = topClass ?? baseKey(topKey);
      layerConfig = topConfigInner;
    } else if (last === 'cell' && parentName !== undefined) {
      // RNN cells: the cell's variables belong to the RNN layer (config names the RNN, not the cell).
      layerName = parentName;
      const rnnClass = parentPath === segments.slice(0, 2).join('/') ? topClass : undefined;
      classKey = (rnnClass && cellOfRnn.get(rnnClass)) ?? (node.nameAttr ? baseKey(node.nameAttr) : undefined);
      layerConfig = parentPath === segments.slice(0, 2).join('/') ? topConfigInner : undefined;
    } else {
      layerName = node.nameAttr ?? (parentName !== undefined ? `${parentName}/${last}` : segments.join('/'));
      if (parentName !== undefined && parentName !== layerName) {
        parent = parentName;
      }
      classKey = baseKey(last);
      if (!variableOrder.has(classKey) && node.nameAttr) {
        classKey = baseKey(node.nameAttr);
      }
    }
    nameOfObject.set(node.objPath, layerName);
    const topOrder = topConfig ? (configOrder.get(topConfig) ?? 0) : Number.MAX_SAFE_INTEGER - 1;
    const entry: Placed = { node, layerName, order: [topOrder, segments.length] };
    if (parent !== undefined) {
      entry.parent = parent;
    }
    if (classKey !== undefined) {
      entry.classKey = classKey;
    }
    if (layerConfig !== undefined) {
      entry.layerConfig = layerConfig;
    }
    placed.push(entry);
  }
  // Model order: config order of the top-level layer, then nesting depth, then natural path order.
  placed.sort((a, b) => compareOrder(a.order, b.order) || naturalCompare(a.node.objPath, b.node.objPath));

  const tensors: TensorInfo[] = [];
  const extraLayers = new Map<string, LayerInfo>();
  const trainableFlag = new Map<string, boolean | undefined>();
  for (const layer of arch.layers) {
    trainableFlag.set(layer.name, layer.trainable);
  }
  for (const p of placed) {
    if (p.node.vars.length === 0) {
      continue;
    }
    const infos = p.node.vars.map((v) => describeDataset(h5, `/${joinPath(p.node.objPath, 'vars', v)}`));
    const specs = specsFor(p.classKey, p.layerConfig, p.node.vars.length) ?? guessSpecs(infos);
    p.node.vars.forEach((v, i) => {
      const spec = specs?.[i];
      const weight = spec ? spec[0] : v;
      const role: TensorRole = spec ? spec[1] : 'other';
      const layerTrainable = trainableFlag.get(p.layerName);
      const trainable = role === 'moving_mean' || role === 'moving_variance' ? false : layerTrainable;
      const t = datasetTensor(h5, infos[i]!, {
        name: joinPath(p.node.objPath, 'vars', v),
        layer: p.layerName,
        weight,
        role,
        group: 'model',
        ...(trainable !== undefined ? { trainable } : {}),
      });
      tensors.push(t);
      if (t.unavailable) {
        warnings.push({ ...t.unavailable, tensor: t.name });
      }
    });
    if (!arch.layers.some((l) => l.name === p.layerName) && !extraLayers.has(p.layerName)) {
      extraLayers.set(p.layerName, { name: p.layerName, tensors: [], ...(p.parent !== undefined ? { parent: p.parent } : {}) });
    }
  }
  if (optimizerNode) {
    tensors.push(...optimizerTensors(h5, optimizerNode, tensors, config, warnings));
  }
  const layers = attachTensors(arch.layers, [...extraLayers.values()], tensors);
  const metadata: Record<string, unknown> = { ...ctx.metadata, hasOptimizerWeights: optimizerNode !== undefined && optimizerNode.vars.length > 0 };
  if (config && typeof config.class_name === 'string') {
    metadata.modelClass = config.class_name;
  }
  const trainingConfig = config && isObject(config.compile_config) && Object.keys(config.compile_config).length > 0 ? config.compile_config : undefined;
  const file: WeightFile = {
    format: ctx.format,
    formatName: ctx.format === 'keras-v3' ? 'Keras 3 archive (.keras)' : 'Keras 3 weights (.weights.h5)',
    path: ctx.path,
    tensors,
    layers,
    ...(arch.modelClass !== undefined ? { modelClass: arch.modelClass } : {}),
    ...(config ? { modelConfig: config } : {}),
    ...(trainingConfig ? { trainingConfig } : {}),
    metadata,
    warnings,
    close: async () => {
      await h5.close();
      await ctx.source.close();
    },
  };
  return file;
}

/** The top-level layer configs of a Keras 3 config (Sequential/Functional `config.layers`). */
function configLayerList(config: Json | undefined): Json[] {
  const inner = config && isObject(config.config) ? config.config : undefined;
  const list = inner && Array.isArray(inner.layers) ? inner.layers : [];
  return list.filter(isObject);
}

/** Finds every group that has a `vars` sub-group (HDF5's recursive link walk, which is cycle-safe). */
function collectVarsNodes(h5: Hdf5File, out: VarsNode[]): void {
  const links = h5.linksBelow('/');
  if (links.length > maxLinks) {
    throw new WeightFileError('tooLarge', `${h5.name}: the weights tree has ${links.length} links, more than the ${maxLinks} read.`, { file: h5.name });
  }
  for (const link of links) {
    const segments = link.split('/');
    if (segments[segments.length - 1] !== 'vars' || segments.length > maxTreeDepth || h5.kind(`/${link}`) !== 'group') {
      continue;
    }
    const names = h5.keys(`/${link}`).filter((k) => h5.kind(`/${link}/${k}`) === 'dataset');
    names.sort(naturalCompare);
    const node: VarsNode = { objPath: segments.slice(0, -1).join('/'), vars: names };
    const nameAttr = h5.stringAttribute(`/${link}`, 'name');
    if (nameAttr !== undefined) {
      node.nameAttr = nameAttr;
    }
    out.push(node);
  }
}

/**
 * kernel/bias for an unknown class when exactly two variables look like a kernel and its bias:
 * the second's shape equals the trailing dimensions of the first (Dense, Conv, EinsumDense).
 */
function guessSpecs(infos: readonly (Hdf5DatasetInfo | WeightFileError)[]): readonly VarSpec[] | undefined {
  const [a, b] = infos;
  if (infos.length !== 2 || !a || !b || a instanceof WeightFileError || b instanceof WeightFileError) {
    return undefined;
  }
  const trailing = a.shape.slice(a.shape.length - b.shape.length);
  if (a.shape.length >= 2 && b.shape.length >= 1 && b.shape.length < a.shape.length && trailing.every((d, i) => d === b.shape[i])) {
    return kernelBias;
  }
  return undefined;
}

/** Optimizer slot names per optimizer class (Keras 3 `build()` variable names). */
const slotNames: ReadonlyMap<string, readonly string[]> = new Map([
  ['adam', ['momentum', 'velocity', 'velocity_hat']],
  ['adamw', ['momentum', 'velocity', 'velocity_hat']],
  ['sgd', ['momentum']],
  ['rmsprop', ['velocity', 'momentum']],
  ['adagrad', ['accumulator']],
]);

/**
 * `optimizer/vars/<i>`: 0 = iterations, 1 = learning_rate, then per-variable slots, interleaved per
 * trainable variable (Adam: m, v, m, v, ...) or in blocks per slot (RMSprop: all velocities, then
 * momentums). slotOf is set when the slot count divides evenly and every slot's shape matches.
 */
function optimizerTensors(h5: Hdf5File, node: VarsNode, modelTensors: readonly TensorInfo[], config: Json | undefined, warnings: FileWarning[]): TensorInfo[] {
  const optimizerConfig = config && isObject(config.compile_config) && isObject(config.compile_config.optimizer) ? config.compile_config.optimizer : undefined;
  const optimizerClass = typeof optimizerConfig?.class_name === 'string' ? optimizerConfig.class_name.toLowerCase() : node.nameAttr?.replace(/_\d+$/, '').toLowerCase();
  const infos = node.vars.map((v) => describeDataset(h5, `/${joinPath(node.objPath, 'vars', v)}`));
  const trainable = modelTensors.filter((t) => t.trainable !== false && !t.unavailable);
  const slots = infos.slice(2);
  const perVar = trainable.length > 0 && slots.length % trainable.length === 0 ? slots.length / trainable.length : 0;
  const shapeOf = (i: number): readonly number[] | undefined => {
    const info = slots[i];
    return info instanceof WeightFileError || info === undefined ? undefined : info.shape;
  };
  const sameShape = (a: readonly number[] | undefined, b: readonly number[]): boolean => a !== undefined && a.length === b.length && a.every((d, i) => d === b[i]);
  let layout: 'interleaved' | 'blocks' | undefined;
  if (perVar > 0) {
    const interleaved = trainable.every((t, v) => Array.from({ length: perVar }, (_, j) => sameShape(shapeOf(v * perVar + j), t.shape)).every(Boolean));
    const blocks = trainable.every((t, v) => Array.from({ length: perVar }, (_, j) => sameShape(shapeOf(j * trainable.length + v), t.shape)).every(Boolean));
    if (interleaved && blocks) {
      layout = optimizerClass === 'rmsprop' ? 'blocks' : 'interleaved';
    } else {
      layout = interleaved ? 'interleaved' : blocks ? 'blocks' : undefined;
    }
  }
  const names = (optimizerClass !== undefined ? slotNames.get(optimizerClass) : undefined) ?? [];
  const out: TensorInfo[] = [];
  node.vars.forEach((v, i) => {
    let weight = v;
    let role: TensorRole = 'optimizer_state';
    let slotOf: { variable: string; slot: string } | undefined;
    if (i === 0) {
      weight = 'iterations';
      role = 'step';
    } else if (i === 1) {
      weight = 'learning_rate';
      role = roleFromWeightName('optimizer/learning_rate');
    } else if (layout) {
      const s = i - 2;
      const varIndex = layout === 'interleaved' ? Math.floor(s / perVar) : s % trainable.length;
      const slotIndex = layout === 'interleaved' ? s % perVar : Math.floor(s / trainable.length);
      const target = trainable[varIndex]!;
      const slot = names.length >= perVar ? names[slotIndex]! : `slot_${slotIndex}`;
      slotOf = { variable: `${target.layer}/${target.weight}`, slot };
      weight = `${target.layer}/${target.weight}/${slot}`;
    }
    const info = infos[i]!;
    const t = datasetTensor(h5, info, {
      name: joinPath(node.objPath, 'vars', v),
      layer: 'optimizer',
      weight,
      role,
      group: 'optimizer',
      ...(slotOf ? { slotOf } : {}),
    });
    if (t.unavailable) {
      warnings.push({ ...t.unavailable, tensor: t.name });
    }
    out.push(t);
  });
  return out;
}

/** Fields of a tensor that come from the format's naming, not from the dataset header. */
export interface TensorNaming {
  /** Unique tensor name. */
  name: string;
  /** Layer name. */
  layer: string;
  /** Short weight name. */
  weight: string;
  /** Role inside the layer. */
  role: TensorRole;
  /** Model weights or optimizer state. */
  group: TensorGroup;
  /** Trainable flag, when known. */
  trainable?: boolean;
  /** Optimizer slot target, when known. */
  slotOf?: { variable: string; slot: string };
}

/** Reads a dataset header, returning the error instead of throwing (damage stays on one tensor). */
export function describeDataset(h5: Hdf5File, datasetPath: string): Hdf5DatasetInfo | WeightFileError {
  try {
    if (h5.kind(datasetPath) !== 'dataset') {
      return new WeightFileError('corrupt', `${h5.name}: the dataset '${datasetPath}' named by the file is missing.`, { file: h5.name, tensor: datasetPath });
    }
    return h5.dataset(datasetPath);
  } catch (ex) {
    return WeightFileError.is(ex)
      ? ex
      : new WeightFileError('corrupt', `${h5.name}: dataset '${datasetPath}' cannot be described (${ex instanceof Error ? ex.message : String(ex)}).`, { file: h5.name, tensor: datasetPath });
  }
}

/** A TensorInfo over one HDF5 dataset (or an unavailable tensor carrying the header error). */
export function datasetTensor(h5: Hdf5File, info: Hdf5DatasetInfo | WeightFileError, naming: TensorNaming): TensorInfo {
  if (info instanceof WeightFileError) {
    const error = info;
    return {
      ...naming,
      dtype: 'float32',
      storageDtype: 'float32',
      shape: [],
      byteLength: 0,
      unavailable: summarizeError(error),
      readValues: () => failingValues(error),
    };
  }
  const dtype = info.dtype ?? (info.typeDescription === 'string' ? 'string' : 'variant');
  const t: TensorInfo = {
    ...naming,
    dtype,
    storageDtype: dtype,
    shape: info.shape,
    byteLength: elementCount(info.shape) * info.itemBytes,
    extra: { hdf5Path: info.path, hdf5Type: info.typeDescription, ...(info.chunks ? { chunks: info.chunks } : {}) },
    readValues: (options) => h5.readValues(info, options),
    rawSource: () => h5.rawSource(info),
  };
  if (info.dtype === undefined) {
    return {
      ...t,
      unavailable: {
        reason: 'unsupportedDtype',
        message: `${h5.name}: dataset '${info.path}' has HDF5 type '${info.typeDescription}', which is not numeric.`,
      },
    };
  }
  if (info.cut) {
    // Stored past the end of a truncated file: shape and type are known, the values are not.
    const error = h5.cutError(info);
    return { ...t, unavailable: summarizeError(error), readValues: () => failingValues(error), rawSource: () => undefined };
  }
  const stored = info.storage;
  if (stored && t.byteLength > stored.fileBytes * stored.expansion) {
    // Chunks or storage never written: streaming terabytes of fill values would take hours.
    const error = new WeightFileError(
      'corrupt',
      `${h5.name}: dataset '${info.path}' declares ${t.byteLength} bytes of values, more than the file's ${stored.fileBytes} bytes can hold${stored.expansion > 1 ? ` even decompressed (${stored.expansion} times)` : ''}, so most of them were never written.`,
      { file: h5.name, tensor: info.path },
    );
    return { ...t, unavailable: summarizeError(error), readValues: () => failingValues(error), rawSource: () => undefined };
  }
  return t;
}

async function* failingValues(error: WeightFileError): AsyncGenerator<never> {
  throw error;
}

/**
 * Fills `tensors` of the config layers (and extra layers for weights absent from the config) with
 * the names of their tensors in file order; model-group tensors only.
 */
export function attachTensors(configLayers: readonly LayerInfo[], extra: readonly LayerInfo[], tensors: readonly TensorInfo[]): LayerInfo[] {
  const layers = [...configLayers.map((l) => ({ ...l, tensors: [] as string[] })), ...extra.map((l) => ({ ...l, tensors: [] as string[] }))];
  const byName = new Map(layers.map((l) => [l.name, l]));
  for (const t of tensors) {
    if (t.group !== 'model') {
      continue;
    }
    let layer = byName.get(t.layer);
    if (!layer) {
      layer = { name: t.layer, tensors: [] };
      layers.push(layer);
      byName.set(t.layer, layer);
    }
    layer.tensors.push(t.name);
  }
  return layers;
}

function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

function compareOrder(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) {
      return d;
    }
  }
  return 0;
}

/** Compares names with embedded numbers by value: 'vars/2' < 'vars/10', 'dense_2' < 'dense_10'. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
