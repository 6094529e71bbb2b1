/**
 * TensorFlow tensor-bundle checkpoints (TF2 object-based, TF1 Saver V2) and SavedModels
 * (notes/weight-formats.md section 1). Entry points: `PREFIX.index`, any `PREFIX.data-*`, the
 * `checkpoint` state file, `saved_model.pb` (a SavedModel folder resolves to it); a legacy V1
 * table is recognised and refused with `unsupportedFormat`.
 *
 * Names: object-based variables are listed under their full name from the object graph
 * (`_CHECKPOINTABLE_OBJECT_GRAPH`, e.g. 'sequential/dense/kernel'), laid out in layers by that
 * name or, for Keras SavedModels, by the `_tf_keras_*` metadata of the SavedObjectGraph; TF1 names
 * are shown as stored and split on '/'. Optimizer slots (`.OPTIMIZER_SLOT`, TF1 `var/Adam`) are
 * in the optimizer group with `slotOf` naming their variable. A Keras SavedModel's root metadata
 * gives `modelConfig` and `trainingConfig` (so the model can be rebuilt with TF.js); each model
 * variable's layer is the Keras layer node owning it in the object graph.
 *
 * TensorInfo.extra: `tfDtype` (DataType name), `checkpointKey` (the stored key when it differs
 * from the name), `fullName`, `layerNode` (object-graph id of the layer), `shard`, `offset`,
 * `crc32c` (stored masked CRC, hex), `checksum` ('unverified' until the first full read, then
 * 'ok' / 'mismatch'; 'absent' without a stored CRC), and for partitioned tensors `slices` and
 * `assembled`.
 */
import type { ByteSource, FileSet } from '../core/byteSource';
import { elementCount, type DType } from '../core/dtypes';
import { summarizeError, textExcerpt, throwIfAborted, WeightFileError, type ErrorSummary } from '../core/errors';
import { shapeText, type FileWarning, type LayerInfo, type TensorGroup, type TensorInfo, type TensorRole, type WeightFile } from '../core/model';
import type { FormatReader, OpenOptions, SniffInput } from './formatReader';
import { parseKerasModelConfig, roleFromWeightName, splitWeightName } from './kerasConfig';
import { describeSlice, isSliceKey, legacyV1Error, openTensorBundle, readStringTensor, resolveParts, streamTensor, checkPartRange, type BundleItem, type CrcState, type TensorBundle, type TensorData } from './tf/tensorBundle';
import { tfDataTypeName, tfDataTypeToDType } from './tf/bundleProto';
import { decodeTrackableObjectGraph, walkObjectGraph, type CheckpointKeyInfo, type GraphWalk } from './tf/objectGraph';
import { decodeKerasMetadata, readSavedModel, type SavedModelInfo } from './tf/savedModel';
import { hasTableMagic, hex32 } from './tf/sstable';
import { parseFileJson } from '../core/json';

/** Key of the serialized TrackableObjectGraph in TF2 checkpoints. */
export const objectGraphKey = '_CHECKPOINTABLE_OBJECT_GRAPH';

/** Largest object graph read at open, in bytes. */
const maxObjectGraphBytes = 64 * 1024 * 1024;

/** Largest `checkpoint` state file read, in bytes. */
const maxStateFileBytes = 1024 * 1024;

/** Largest `keras_metadata.pb` read, in bytes. */
const maxKerasMetadataBytes = 64 * 1024 * 1024;

const dataFilePattern = /^(.*)\.data-(\d{5})-of-(\d{5})$/;

/** TF1 optimizer slot suffixes (`var/Adam`, `var/Adam_1`) and the Keras slot names they correspond to. */
const tf1SlotNames: ReadonlyMap<string, string> = new Map([
  ['Adam', 'm'],
  ['Adam_1', 'v'],
  ['Momentum', 'momentum'],
  ['RMSProp', 'rms'],
  ['RMSProp_1', 'momentum'],
  ['Adagrad', 'accumulator'],
  ['AdagradDA', 'gradient_accumulator'],
  ['AdagradDA_1', 'gradient_squared_accumulator'],
  ['Adadelta', 'accum'],
  ['Adadelta_1', 'accum_update'],
  ['Ftrl', 'accum'],
  ['Ftrl_1', 'linear'],
  ['ProximalAdagrad', 'accumulator'],
]);

/** TF1 optimizer bookkeeping variables that are not slots. */
const tf1OptimizerVariables = new Set(['beta1_power', 'beta2_power']);

/** Parsed `checkpoint` state file (CheckpointState in protobuf text format). */
export interface CheckpointState {
  /** model_checkpoint_path: the latest checkpoint prefix. */
  latest: string;
  /** all_model_checkpoint_paths, oldest first. */
  all: string[];
}

/** The checkpoint paths a `checkpoint` state file names (its model_checkpoint_path lines, the last of them; its all_model_checkpoint_paths lines). */
export function checkpointStateLines(text: string): { latest?: string; all: string[] } {
  let latest: string | undefined;
  const all: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(model_checkpoint_path|all_model_checkpoint_paths)\s*:\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(line);
    if (!m) {
      continue;
    }
    const value = unescapeTextFormat(m[2]!);
    if (m[1] === 'model_checkpoint_path') {
      latest = value;
    } else {
      all.push(value);
    }
  }
  return latest === undefined ? { all } : { latest, all };
}

/** Parses a `checkpoint` state file; throws `corrupt` when it names no checkpoint. */
export function parseCheckpointState(text: string, context: string): CheckpointState {
  const { latest, all } = checkpointStateLines(text);
  if (latest === undefined) {
    const start = textExcerpt(text, 40);
    throw new WeightFileError('corrupt', `${context}: the checkpoint state file has no model_checkpoint_path line (${start !== undefined ? `it starts '${start}'` : 'it is not text'}).`, {
      file: context,
    });
  }
  return { latest, all };
}

/** Undoes protobuf text-format string escapes (\n, \t, \", \\, octal \ooo, hex \xHH). */
function unescapeTextFormat(s: string): string {
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      bytes.push(...enc.encode(c));
      continue;
    }
    const n = s[++i]!;
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, "'": 39, '\\': 92, a: 7, b: 8, f: 12, v: 11 };
    if (simple[n] !== undefined) {
      bytes.push(simple[n]);
    } else if (/[0-7]/.test(n)) {
      const oct = /^[0-7]{1,3}/.exec(s.slice(i))![0];
      bytes.push(parseInt(oct, 8) & 0xff);
      i += oct.length - 1;
    } else if (n === 'x') {
      const hx = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 1))?.[0] ?? '';
      bytes.push(parseInt(hx || '0', 16));
      i += hx.length;
    } else {
      bytes.push(...enc.encode(n));
    }
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

function baseName(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] ?? p;
}

/** Maps a checkpoint path from a state file to a path relative to its folder. */
function relativePrefix(p: string): string {
  // Absolute paths (older TF wrote them) are taken relative to the folder: checkpoints are often moved.
  return /^([a-zA-Z]:)?[\\/]/.test(p) ? baseName(p) : p;
}

/** The reader of TensorFlow tensor bundles and SavedModels. */
export const tfCheckpointReader: FormatReader = {
  id: 'tf-checkpoint',
  displayName: 'TensorFlow checkpoint / SavedModel',

  sniff(input: SniffInput): number | undefined {
    const name = input.fileName;
    const magic = hasTableMagic(input.tail);
    if (name.endsWith('.index') && magic) {
      return 100;
    }
    if (name === 'checkpoint' && /^\s*(model_checkpoint_path|all_model_checkpoint_paths)\s*:/.test(new TextDecoder().decode(input.head.subarray(0, 256)))) {
      return 100;
    }
    if (name === 'checkpoint' && input.size <= maxStateFileBytes && textExcerpt(input.head) !== undefined) {
      return 30; // a damaged state file: open() says what it lacks
    }
    if (magic) {
      return 80; // a table without the .index suffix: a legacy V1 checkpoint, or a renamed index
    }
    if (name.endsWith('.index') && input.size > 0) {
      return 40; // named like an index but without the footer magic: open() explains (truncated)
    }
    if (dataFilePattern.test(name)) {
      return 90;
    }
    if (name === 'saved_model.pb') {
      return 90;
    }
    return undefined;
  },

  async open(source: ByteSource, files: FileSet, options?: OpenOptions): Promise<WeightFile> {
    return openTfEntry(source, files, options);
  },
};

/** Everything found while resolving the entry point. */
interface Entry {
  format: 'tf-checkpoint' | 'tf-savedmodel';
  index?: ByteSource;
  prefix: string;
  savedModel?: SavedModelInfo;
  savedModelSource?: ByteSource;
  kerasMetadata?: Map<number, { identifier: string; metadata: string; nodePath: string }>;
  checkpointState?: CheckpointState;
  owned: ByteSource[];
  warnings: FileWarning[];
}

async function openTfEntry(source: ByteSource, files: FileSet, options?: OpenOptions): Promise<WeightFile> {
  const entry: Entry = { format: 'tf-checkpoint', prefix: '', owned: [], warnings: [] };
  try {
    await resolveEntry(source, files, entry);
    throwIfAborted(options?.signal);
    return await buildWeightFile(source, files, entry, options);
  } catch (ex) {
    await Promise.all(entry.owned.map((s) => s.close()));
    throw ex;
  }
}

async function resolveEntry(source: ByteSource, files: FileSet, entry: Entry): Promise<void> {
  const name = baseName(source.name);
  const openIndex = async (prefix: string, why: string): Promise<void> => {
    const idx = await files.open(`${prefix}.index`);
    if (!idx) {
      const bare = await files.open(prefix);
      if (bare) {
        // The prefix itself is a file: a V1 checkpoint (no .index), as written by write_version=V1.
        await bare.close();
        throw legacyV1Error(`${source.name} -> ${prefix}`);
      }
      throw new WeightFileError('missingCompanionFile', `${source.name}: ${why} '${prefix}.index' is missing.`, { file: source.name });
    }
    entry.owned.push(idx);
    entry.index = idx;
    entry.prefix = prefix;
  };
  if (name === 'checkpoint') {
    if (source.size > maxStateFileBytes) {
      throw new WeightFileError('tooLarge', `${source.name}: ${source.size} bytes is too large for a checkpoint state file.`, { file: source.name });
    }
    const state = parseCheckpointState(new TextDecoder().decode(await source.read(0, source.size)), source.name);
    entry.checkpointState = state;
    await openIndex(relativePrefix(state.latest), `the latest checkpoint named in it,`);
    return;
  }
  if (name === 'saved_model.pb') {
    const idx = await files.open('variables/variables.index');
    if (idx) {
      entry.owned.push(idx);
      entry.index = idx;
      entry.prefix = 'variables/variables';
    }
    try {
      await attachSavedModel(source, files, entry, '');
    } catch (ex) {
      // A damaged saved_model.pb costs the names and signatures, not the variables.
      if (!idx || !WeightFileError.is(ex) || ex.reason === 'cancelled') {
        throw ex;
      }
      entry.format = 'tf-savedmodel';
      entry.warnings.push(summarizeError(ex));
    }
    if (!idx) {
      entry.warnings.push({ reason: 'missingCompanionFile', message: `${source.name}: the SavedModel has no variables/variables.index, so it holds no variables to list.` });
    }
    return;
  }
  const data = dataFilePattern.exec(name);
  if (data) {
    await openIndex(data[1]!, 'the index of this data shard,');
  } else if (name.endsWith('.index')) {
    entry.index = source;
    entry.prefix = name.slice(0, -'.index'.length);
  } else {
    // A table under another name: a legacy V1 checkpoint, or an index that was renamed.
    entry.index = source;
    entry.prefix = name;
  }
  if (entry.prefix === 'variables') {
    const pb = await files.open('../saved_model.pb');
    if (pb) {
      entry.owned.push(pb);
      entry.format = 'tf-savedmodel';
      try {
        await attachSavedModel(pb, files, entry, '../');
      } catch (ex) {
        if (!WeightFileError.is(ex) || ex.reason === 'cancelled') {
          throw ex;
        }
        entry.warnings.push(summarizeError(ex));
      }
    }
  }
}

async function attachSavedModel(pb: ByteSource, files: FileSet, entry: Entry, dir: string): Promise<void> {
  entry.format = 'tf-savedmodel';
  entry.savedModelSource = pb;
  entry.savedModel = await readSavedModel(pb);
  const km = await files.open(`${dir}keras_metadata.pb`);
  if (km) {
    entry.owned.push(km);
    try {
      if (km.size > maxKerasMetadataBytes) {
        throw new WeightFileError('tooLarge', `${km.name}: ${km.size} bytes is more than the ${maxKerasMetadataBytes}-byte limit.`, { file: km.name });
      }
      entry.kerasMetadata = decodeKerasMetadata(await km.read(0, km.size), km.name);
    } catch (ex) {
      entry.warnings.push(summarizeError(ex));
    }
  }
}

/** How one tensor is named and grouped. */
interface Naming {
  layer: string;
  weight: string;
  group: TensorGroup;
  role: TensorRole;
  fullName?: string;
  slotOf?: { variable: string; slot: string };
  trainable?: boolean;
  layerNodeId?: number;
  displayName?: string;
  /** Position of the variable among its layer's children in the object graph (weight order). */
  order?: number;
}

/**
 * The name each tensor is listed under: for object-based checkpoints the variable's full name from
 * the object graph ('sequential/dense/kernel', tf.Module 'a'), when it is unique among the tensors
 * and no stored key; else the stored key itself ('layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE').
 */
function chooseDisplayNames(items: readonly BundleItem[], namings: Map<string, Naming>): Map<string, string> {
  const keys = new Set(items.map((i) => i.name));
  const counts = new Map<string, number>();
  for (const n of namings.values()) {
    if (n.fullName) {
      counts.set(n.fullName, (counts.get(n.fullName) ?? 0) + 1);
    }
  }
  const out = new Map<string, string>();
  for (const item of items) {
    const full = namings.get(item.name)?.fullName;
    const usable = full !== undefined && full !== '' && counts.get(full) === 1 && (full === item.name || !keys.has(full));
    out.set(item.name, usable ? full : item.name);
  }
  return out;
}

async function buildWeightFile(source: ByteSource, files: FileSet, entry: Entry, options?: OpenOptions): Promise<WeightFile> {
  const warnings = entry.warnings;
  const metadata: Record<string, unknown> = {};
  let bundle: TensorBundle | undefined;
  if (entry.index) {
    bundle = await openTensorBundle(entry.index, files, entry.prefix, options?.signal);
    for (const problem of bundle.shardProblems.values()) {
      warnings.push(problem);
    }
    metadata.bundle = {
      indexFile: entry.index.name,
      numShards: bundle.header.numShards,
      shards: bundle.shardNames,
      endianness: bundle.header.endianness,
      producer: bundle.header.producer,
      dataBlocks: bundle.dataBlockCount,
      entries: bundle.items.length,
    };
  }
  if (entry.checkpointState) {
    // Which of the named checkpoints are present next to the state file (each can be opened by its .index).
    const available: string[] = [];
    for (const p of new Set([...entry.checkpointState.all, entry.checkpointState.latest])) {
      const idx = await files.open(`${relativePrefix(p)}.index`);
      if (idx) {
        available.push(p);
        await idx.close();
      }
    }
    metadata.checkpointState = {
      latest: entry.checkpointState.latest,
      all: entry.checkpointState.all,
      available,
      opened: `${entry.prefix}.index`,
    };
  }
  const sm = entry.savedModel;
  if (sm) {
    metadata.savedModel = {
      schemaVersion: sm.schemaVersion,
      metaGraphs: sm.metaGraphCount,
      tags: sm.tags,
      tensorflowVersion: sm.tensorflowVersion,
      tensorflowGitVersion: sm.tensorflowGitVersion,
      objectGraphNodes: sm.objects.length,
    };
    metadata.signatures = sm.signatures;
  }

  // Object graph (TF2 object-based checkpoints).
  let walk: GraphWalk | undefined;
  const verified = new Set<string>();
  const graphItem = bundle?.items.find((i) => i.name === objectGraphKey);
  // An unusable graph entry is already reported on its tensor.
  if (bundle && graphItem && !graphItem.problem) {
    try {
      const [bytes] = await readStringTensor(bundle, graphItem, maxObjectGraphBytes);
      verified.add(graphItem.name);
      if (bytes) {
        const nodes = decodeTrackableObjectGraph(bytes, `${bundle.index.name}: ${objectGraphKey}`);
        walk = walkObjectGraph(nodes);
        metadata.objectGraphNodes = nodes.length;
      }
    } catch (ex) {
      warnings.push({ ...summarizeError(ex), tensor: objectGraphKey });
    }
  }

  // Keras metadata per node id: SavedModel user objects, else keras_metadata.pb.
  const kerasNodes = new Map<number, { identifier: string; json: Record<string, unknown> }>();
  const addKeras = (id: number, identifier: string | undefined, text: string | undefined): void => {
    if (!identifier?.startsWith('_tf_keras') || !text) {
      return;
    }
    try {
      const json = parseFileJson(text) as unknown;
      if (json && typeof json === 'object' && !Array.isArray(json)) {
        kerasNodes.set(id, { identifier, json: json as Record<string, unknown> });
      }
    } catch {
      // Keras may write NaN/Infinity tokens; such metadata is skipped (names fall back to variables).
    }
  };
  sm?.objects.forEach((o, id) => addKeras(id, o.identifier, o.metadata));
  entry.kerasMetadata?.forEach((m, id) => {
    if (!kerasNodes.has(id)) {
      addKeras(id, m.identifier, m.metadata);
    }
  });

  const tensors: TensorInfo[] = [];
  const weightOrder = new Map<string, number>();
  if (bundle) {
    const items = bundle.items.filter((i) => !isSliceKey(i.rawKey));
    const namings = nameTensors(items, walk, kerasNodes, sm);
    const displayNames = chooseDisplayNames(items, namings);
    for (const [key, n] of namings) {
      if (n.order !== undefined) {
        weightOrder.set(displayNames.get(key)!, n.order);
      }
    }
    for (const n of namings.values()) {
      if (n.slotOf) {
        n.slotOf = { variable: displayNames.get(n.slotOf.variable) ?? n.slotOf.variable, slot: n.slotOf.slot };
      }
    }
    for (const item of items) {
      const naming = namings.get(item.name)!;
      naming.displayName = displayNames.get(item.name)!;
      if (naming.group === 'model' && naming.layer === '') {
        naming.layer = naming.weight; // a standalone variable ('Variable_1', tf.Module 'a') is its own layer
      }
      tensors.push(makeTensor(bundle, item, naming, warnings, verified.has(item.name)));
    }
  }

  // Order: model weights, optimizer state, other; within a group in natural order of the stored
  // keys, which is layer order for Keras (layer_with_weights-2 before -10) and TF1 (Variable_2 before _10).
  const groupRank = { model: 0, optimizer: 1, other: 2 } as const;
  const sortKeys = new Map(tensors.map((t) => [t, { parent: naturalKey(parentKey(storedKey(t))), own: naturalKey(storedKey(t)), order: weightOrder.get(t.name) ?? 0 }]));
  tensors.sort((a, b) => {
    const ka = sortKeys.get(a)!;
    const kb = sortKeys.get(b)!;
    return groupRank[a.group] - groupRank[b.group] || compareNaturalKeys(ka.parent, kb.parent) || ka.order - kb.order || compareNaturalKeys(ka.own, kb.own);
  });

  // Layers: the Keras architecture when the SavedModel carries one, else derived from names.
  const root = kerasNodes.get(0)?.json;
  let modelClass: string | undefined;
  let layers: LayerInfo[] = [];
  if (root && root.config !== undefined) {
    const arch = parseKerasModelConfig({ class_name: root.class_name, config: root.config });
    modelClass = arch.modelClass;
    layers = arch.layers;
    if (arch.modelName !== undefined) {
      metadata.modelName = arch.modelName;
    }
  }
  if (!modelClass && sm && sm.objects[0]?.identifier) {
    metadata.rootObject = sm.objects[0].identifier;
  }
  const keras = kerasModelOf(kerasNodes.get(0));
  const byName = new Map(layers.map((l) => [l.name, l]));
  for (const t of tensors) {
    if (t.group !== 'model' || t.layer === '') {
      continue;
    }
    let layer = byName.get(t.layer);
    if (!layer) {
      layer = { ...kerasLayerOf(t, kerasNodes), name: t.layer, tensors: [] };
      layers.push(layer);
      byName.set(t.layer, layer);
    }
    layer.tensors.push(t.name);
  }

  const owned = entry.owned;
  return {
    format: entry.format,
    formatName: entry.format === 'tf-savedmodel' ? 'TensorFlow SavedModel' : walk ? 'TensorFlow checkpoint (TF2 object-based)' : 'TensorFlow checkpoint (V2 tensor bundle)',
    path: source.name,
    tensors,
    layers,
    ...(modelClass !== undefined ? { modelClass } : {}),
    ...(keras.modelConfig ? { modelConfig: keras.modelConfig } : {}),
    ...(keras.trainingConfig ? { trainingConfig: keras.trainingConfig } : {}),
    metadata,
    warnings,
    async close(): Promise<void> {
      await Promise.all([...owned, ...(bundle?.shards ?? [])].map((s) => s?.close()));
      await source.close();
    },
  };
}

/** Root object identifiers of Keras models in the SavedObjectGraph (keras/saving/saved_model/constants.py). */
const kerasModelIdentifiers = new Set(['_tf_keras_network', '_tf_keras_sequential', '_tf_keras_model']);

function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The model config and training config of a Keras SavedModel, from the root object's metadata
 * (SavedUserObject.metadata of node 0 in TF 2.2-2.4, keras_metadata.pb from 2.5): `model_config`
 * ({class_name, config}, tuples as `__tuple__` objects), else the metadata's own class_name and
 * config; none when the config lists no layers (a subclassed model).
 */
function kerasModelOf(root: { identifier: string; json: Record<string, unknown> } | undefined): { modelConfig?: Record<string, unknown>; trainingConfig?: Record<string, unknown> } {
  if (!root || !kerasModelIdentifiers.has(root.identifier)) {
    return {};
  }
  const json = root.json;
  const hasLayers = (c: unknown): boolean => isJsonObject(c) && typeof c.class_name === 'string' && isJsonObject(c.config) && Array.isArray(c.config.layers);
  const fromRoot = { class_name: json.class_name, config: json.config };
  const modelConfig = hasLayers(json.model_config) ? (json.model_config as Record<string, unknown>) : hasLayers(fromRoot) ? fromRoot : undefined;
  const trainingConfig = isJsonObject(json.training_config) ? json.training_config : undefined;
  return { ...(modelConfig ? { modelConfig } : {}), ...(trainingConfig ? { trainingConfig } : {}) };
}

/**
 * The layer's architecture from its own `_tf_keras_*` metadata ({class_name, name, config}),
 * normalized by the Keras config parser; empty when the SavedModel has none for that node.
 */
function kerasLayerOf(t: TensorInfo, kerasNodes: Map<number, { identifier: string; json: Record<string, unknown> }>): Partial<LayerInfo> {
  const id = t.extra?.layerNode;
  const json = typeof id === 'number' ? kerasNodes.get(id)?.json : undefined;
  if (!json || typeof json.class_name !== 'string') {
    return {};
  }
  const config = json.config && typeof json.config === 'object' ? json.config : { name: json.name };
  const [info] = parseKerasModelConfig({ class_name: 'Sequential', config: { layers: [{ class_name: json.class_name, config }] } }).layers;
  if (!info) {
    return { className: json.class_name };
  }
  const { name: _name, tensors: _tensors, parent: _parent, ...rest } = info;
  return { ...rest, className: json.class_name };
}

/** The `.index` key a tensor was read from. */
function storedKey(t: TensorInfo): string {
  const k = t.extra?.checkpointKey;
  return typeof k === 'string' ? k : t.name;
}

/** The key of the object (or TF1 scope) holding a stored key: its path without the last segment. */
function parentKey(key: string): string {
  const at = key.lastIndexOf(attributesMarker);
  const path = at >= 0 ? key.slice(0, at) : key;
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** A string split into text and number runs, for natural ordering ('a_2' before 'a_10'). */
function naturalKey(s: string): (string | number)[] {
  return (s.match(/\d+|\D+/g) ?? []).map((part) => (/^\d/.test(part) && part.length < 16 ? Number(part) : part));
}

/** Compares two natural keys: numbers by value, text bytewise, numbers before text. */
function compareNaturalKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) {
      continue;
    }
    if (typeof x === 'number' && typeof y === 'number') {
      return x - y;
    }
    if (typeof x === 'number') {
      return -1;
    }
    if (typeof y === 'number') {
      return 1;
    }
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

const attributesMarker = '/.ATTRIBUTES/';
const slotMarker = '/.OPTIMIZER_SLOT/';

/** Undoes the object-graph key escaping of one path segment ('..' -> '.', '.S' -> '/'). */
function unescapeSegment(s: string): string {
  return s.replace(/\.(\.|S)/g, (_m, c: string) => (c === '.' ? '.' : '/'));
}

/** Splits an object-based key into its node path and attribute (undefined for TF1 names). */
function splitObjectKey(key: string): { path: string[]; attribute: string } | undefined {
  const at = key.lastIndexOf(attributesMarker);
  if (at < 0) {
    return undefined;
  }
  return { path: key.slice(0, at).split('/').map(unescapeSegment), attribute: key.slice(at + attributesMarker.length) };
}

/** Names every (non-slice) entry: layer, weight, group, role, slot. */
function nameTensors(
  items: readonly BundleItem[],
  walk: GraphWalk | undefined,
  kerasNodes: Map<number, { identifier: string; json: Record<string, unknown> }>,
  sm: SavedModelInfo | undefined,
): Map<string, Naming> {
  const out = new Map<string, Naming>();
  const names = new Set(items.map((i) => i.name));
  const objectBased = walk !== undefined || items.some((i) => i.name.includes(attributesMarker));
  if (!objectBased) {
    for (const item of items) {
      out.set(item.name, nameTf1(item.name, names));
    }
    return out;
  }
  // Model-prefix heuristic: TF 2.2 full names carry the model name ('sequential/dense/kernel'):
  // when every model variable's layer path is nested under the same first component, drop it.
  const layerPaths: string[] = [];
  for (const item of items) {
    const info = walk?.keys.get(item.name);
    const split = splitObjectKey(item.name);
    if (info?.fullName && split && split.attribute === 'VARIABLE_VALUE' && !item.name.includes(slotMarker) && !isOptimizerPath(split.path) && !isOtherPath(split.path)) {
      layerPaths.push(layerOfFullName(stripOutputSuffix(info.fullName), split.path[split.path.length - 1] ?? ''));
    }
  }
  const first = layerPaths[0]?.split('/')[0];
  const stripModel = first !== undefined && layerPaths.every((p) => p.startsWith(`${first}/`)) ? first : undefined;

  for (const item of items) {
    out.set(item.name, nameObjectBased(item.name, walk?.keys.get(item.name), names, stripModel, walk, kerasNodes, sm));
  }
  // Slots name their variable by the variable's own naming.
  for (const n of out.values()) {
    if (n.slotOf) {
      const v = out.get(n.slotOf.variable);
      const varLabel = v?.fullName ?? (v ? `${v.layer}/${v.weight}` : n.slotOf.variable);
      n.weight = `${varLabel}/${n.slotOf.slot}`;
    }
  }
  return out;
}

/** The layer part of a variable's full name: everything before '/<weight>' ('' when there is none). */
function layerOfFullName(fullName: string, weight: string): string {
  if (weight && fullName.endsWith(`/${weight}`)) {
    return fullName.slice(0, -weight.length - 1);
  }
  const slash = fullName.lastIndexOf('/');
  return slash < 0 ? '' : fullName.slice(0, slash);
}

function stripOutputSuffix(n: string): string {
  return n.replace(/:\d+$/, '');
}

function isOptimizerPath(path: readonly string[]): boolean {
  return path[0] === 'optimizer' || path[0] === 'optimizer_1';
}

function isOtherPath(path: readonly string[]): boolean {
  return path[0] === 'save_counter' || path[0] === 'keras_api' || path[0] === objectGraphKey;
}

function nameObjectBased(
  key: string,
  info: CheckpointKeyInfo | undefined,
  names: Set<string>,
  stripModel: string | undefined,
  walk: GraphWalk | undefined,
  kerasNodes: Map<number, { identifier: string; json: Record<string, unknown> }>,
  sm: SavedModelInfo | undefined,
): Naming {
  if (key === objectGraphKey) {
    return { layer: '', weight: key, group: 'other', role: 'other' };
  }
  const slotAt = key.indexOf(slotMarker);
  if (slotAt >= 0) {
    // <variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot name>/.ATTRIBUTES/VARIABLE_VALUE
    const variableKey = `${key.slice(0, slotAt)}${attributesMarker}VARIABLE_VALUE`;
    const rest = splitObjectKey(key.slice(slotAt + slotMarker.length));
    const slot = info?.slot?.slotName ?? rest?.path[rest.path.length - 1] ?? 'slot';
    return {
      layer: 'optimizer',
      weight: slot,
      group: 'optimizer',
      role: 'optimizer_state',
      slotOf: { variable: names.has(variableKey) ? variableKey : key.slice(0, slotAt), slot },
      ...(info?.fullName ? { fullName: stripOutputSuffix(info.fullName) } : {}),
    };
  }
  const split = splitObjectKey(key);
  if (!split) {
    return { ...splitName(key), group: 'other', role: 'other' };
  }
  const path = split.path;
  const last = path[path.length - 1] ?? key;
  if (isOptimizerPath(path)) {
    const weight = path.slice(1).join('/') || last;
    return { layer: 'optimizer', weight, group: 'optimizer', role: roleFromWeightName(`optimizer/${last}`), ...(info?.fullName ? { fullName: stripOutputSuffix(info.fullName) } : {}) };
  }
  if (isOtherPath(path) || split.attribute !== 'VARIABLE_VALUE') {
    return {
      layer: path.slice(0, -1).join('/'),
      weight: split.attribute === 'VARIABLE_VALUE' ? last : `${last}/${split.attribute}`,
      group: 'other',
      role: roleFromWeightName(last) === 'step' ? 'step' : 'other',
      ...(info?.fullName && split.attribute === 'VARIABLE_VALUE' ? { fullName: stripOutputSuffix(info.fullName) } : {}),
    };
  }
  // A model variable: the layer is its parent node; names from Keras metadata, the full name, or the path.
  const naming: Naming = { layer: '', weight: last, group: 'model', role: 'other' };
  let fullName = info?.fullName ? stripOutputSuffix(info.fullName) : undefined;
  const savedVar = info ? sm?.objects[info.nodeId] : undefined;
  if (!fullName && savedVar?.variableName) {
    fullName = stripOutputSuffix(savedVar.variableName);
  }
  if (savedVar?.trainable !== undefined) {
    naming.trainable = savedVar.trainable;
  }
  if (fullName) {
    naming.fullName = fullName;
    // The variable's local name in the graph is exact (it may hold '/'); the full name gives the layer.
    naming.weight = fullName === last || fullName.endsWith(`/${last}`) ? last : fullName.slice(fullName.lastIndexOf('/') + 1);
    const layerPath = layerOfFullName(fullName, naming.weight);
    naming.layer = stripModel !== undefined && layerPath.startsWith(`${stripModel}/`) ? layerPath.slice(stripModel.length + 1) : layerPath;
  } else {
    naming.layer = path.slice(0, -1).join('/');
  }
  const parent = info?.parentNodeId;
  const order = info ? walk?.childOrder.get(info.nodeId) : undefined;
  if (order !== undefined) {
    naming.order = order;
  }
  if (parent !== undefined && parent !== 0) {
    naming.layerNodeId = parent;
    const meta = kerasNodes.get(parent);
    const metaName = meta?.json.name;
    if (typeof metaName === 'string' && metaName !== '') {
      naming.layer = metaName;
    }
  }
  naming.role = roleFromWeightName(naming.weight);
  return naming;
}

function splitName(name: string): { layer: string; weight: string } {
  const s = splitWeightName(name);
  return { layer: s.layer, weight: s.weight };
}

/** TF1 names: shown as they are, split on '/'; `var/Adam`-style slots attach to `var`. */
function nameTf1(name: string, names: Set<string>): Naming {
  const slash = name.lastIndexOf('/');
  if (slash > 0) {
    const variable = name.slice(0, slash);
    const suffix = name.slice(slash + 1);
    const slot = tf1SlotNames.get(suffix);
    if (slot && names.has(variable)) {
      return { layer: 'optimizer', weight: `${variable}/${slot}`, group: 'optimizer', role: 'optimizer_state', slotOf: { variable, slot } };
    }
  }
  if (tf1OptimizerVariables.has(name)) {
    return { layer: 'optimizer', weight: name, group: 'optimizer', role: 'optimizer_state' };
  }
  const { layer, weight } = splitName(name);
  const role = roleFromWeightName(name);
  if (role === 'step') {
    return { layer, weight, group: 'other', role };
  }
  return { layer, weight, group: role === 'optimizer_state' ? 'optimizer' : 'model', role };
}

/** Builds the TensorInfo of one entry; problems confined to it become `unavailable` + a warning. */
function makeTensor(bundle: TensorBundle, item: BundleItem, naming: Naming, warnings: FileWarning[], preVerified: boolean): TensorInfo {
  const e = item.entry;
  const name = naming.displayName ?? item.name;
  const tfDtype = tfDataTypeName(e.dtypeCode);
  let dtype: DType | undefined = tfDataTypeToDType(e.dtypeCode);
  let unavailable: ErrorSummary | undefined = item.problem ? summarizeError(item.problem) : undefined;
  // TensorShapeProto: unknown_rank, or dim.size -1 for an unknown dimension. Kept as unknown
  // (never clamped to a scalar or to 0) so that no total counts elements the file does not give.
  const shapeUnknown = e.unknownRank || e.shape.some((d) => d < 0);
  const shape = e.unknownRank ? [] : e.shape.map((d) => Math.max(-1, d));
  const count = shapeUnknown ? 0 : elementCount(shape);
  if (unavailable) {
    dtype ??= 'variant';
  } else if (dtype === undefined) {
    unavailable = summarizeError(new WeightFileError('unsupportedDtype', `${bundle.index.name}: tensor '${name}' has dtype ${tfDtype}, which Weightscope cannot decode.`));
    dtype = 'variant';
  } else if ((dtype === 'int4' || dtype === 'uint4') && e.size === count) {
    // Unpacked 4-bit storage (one value per byte).
    dtype = dtype === 'int4' ? 'int8' : 'uint8';
  }
  if (!unavailable && shapeUnknown) {
    unavailable = summarizeError(new WeightFileError('corrupt', `${bundle.index.name}: tensor '${name}' has ${e.unknownRank ? 'an unknown rank' : `an unknown shape ${shapeText({ shape, shapeUnknown }, ', ')}`}.`));
  }
  const extra: Record<string, unknown> = { tfDtype };
  const checkpointKey = naming.fullName !== undefined || item.name.includes(attributesMarker) ? item.name : undefined;
  if (checkpointKey) {
    extra.checkpointKey = checkpointKey;
  }
  if (naming.fullName) {
    extra.fullName = naming.fullName;
  }
  if (naming.layerNodeId !== undefined) {
    extra.layerNode = naming.layerNodeId;
  }
  let data: TensorData | undefined;
  const crc: CrcState[] = [];
  if (!unavailable) {
    try {
      const { parts, rowBlocks } = resolveParts(bundle, item);
      if (e.slices.length > 0) {
        extra.slices = e.slices.map(describeSlice);
        extra.assembled = rowBlocks ? 'row blocks, streamed' : 'assembled in memory on read';
      } else {
        extra.shard = e.shardId;
        extra.offset = e.offset;
        extra.crc32c = e.crc32c === undefined ? null : hex32(e.crc32c);
      }
      for (const p of parts) {
        crc.push(p.crc === undefined ? 'absent' : preVerified ? 'ok' : 'unverified');
        const src = bundle.shards[p.shard];
        if (!src) {
          const problem = bundle.shardProblems.get(p.shard);
          throw new WeightFileError('missingCompanionFile', problem?.message ?? `${bundle.index.name}: shard ${p.shard} is missing.`);
        }
        checkPartRange({ bundle, name: name, dtype }, p, src);
      }
      data = {
        bundle,
        name: name,
        dtype,
        shape,
        parts,
        rowBlocks,
        crc,
        onMismatch: (err) => warnings.push({ ...summarizeError(err), tensor: name }),
      };
    } catch (ex) {
      unavailable = summarizeError(ex);
    }
  }
  if (unavailable && !(unavailable.reason === 'missingCompanionFile')) {
    warnings.push({ ...unavailable, tensor: name });
  }
  Object.defineProperty(extra, 'checksum', {
    enumerable: true,
    get: (): string => summarizeCrc(crc),
  });
  const size = e.slices.length > 0 ? (data?.parts.reduce((a, p) => a + p.size, 0) ?? 0) : e.size;
  const finalDtype = dtype;
  const tensor: TensorInfo = {
    name: name,
    layer: naming.layer,
    weight: naming.weight,
    role: naming.role,
    group: naming.group,
    dtype: finalDtype,
    storageDtype: finalDtype,
    shape,
    ...(shapeUnknown ? { shapeUnknown } : {}),
    byteLength: size,
    ...(naming.trainable !== undefined ? { trainable: naming.trainable } : {}),
    ...(naming.slotOf ? { slotOf: naming.slotOf } : {}),
    ...(unavailable ? { unavailable } : {}),
    extra,
    readValues(options) {
      if (!data) {
        const u = unavailable!;
        return (async function* () {
          throw new WeightFileError(u.reason === 'internal' ? 'corrupt' : u.reason, u.message, { tensor: name });
        })();
      }
      return streamTensor(data, options);
    },
  };
  return tensor;
}

/** One word for the checksum state of a tensor's parts. */
function summarizeCrc(states: readonly CrcState[]): string {
  if (states.length === 0) {
    return 'unverified';
  }
  if (states.includes('mismatch')) {
    return 'mismatch';
  }
  if (states.includes('unverified')) {
    return 'unverified';
  }
  return states.every((s) => s === 'absent') ? 'absent' : 'ok';
}
