/**
 * Keras HDF5 files: the legacy full model (`model.save("x.h5")`, FormatId 'keras-h5'), legacy
 * weights only (`save_weights("x.h5")`, 'keras-weights-h5'), and Keras 3 `.weights.h5`
 * ('keras-v3-weights', handed to kerasV3.ts). The layout is decided at open from the root
 * attributes and groups. Layout: notes/weight-formats.md sections 2.1 and 2.2, following Keras
 * `legacy/saving/legacy_h5_format.py` (save_weights_to_hdf5_group, load_attributes_from_hdf5_group).
 */
import * as path from 'node:path';
import type { ByteSource, FileSet } from '../core/byteSource';
import { WeightFileError } from '../core/errors';
import type { FileWarning, LayerInfo, TensorInfo, TensorRole, WeightFile } from '../core/model';
import type { FormatReader, OpenOptions, SniffInput } from './formatReader';
import { findHdf5Signature, Hdf5File, hasHdf5Signature } from './hdf5';
import { knownLayerSubPath, parseKerasModelConfig, roleFromWeightName, splitWeightName } from './kerasConfig';
import { attachTensors, datasetTensor, describeDataset, isKerasV3Layout, openKerasV3Weights, readSiblingConfig } from './kerasV3';
import { parseFileJson } from '../core/json';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The Keras HDF5 reader (legacy full model, legacy weights, Keras 3 `.weights.h5`). */
export const kerasH5Reader: FormatReader = {
  id: 'keras-h5',
  displayName: 'Keras HDF5 (.h5)',
  sniff: sniffKerasH5,
  sniffFurther: sniffKerasH5Further,
  open: openKerasH5,
};

/** Confidence for an HDF5 file: HDF5 file names score higher. */
function hdf5Score(fileName: string): number {
  return /\.(h5|hdf5|he5|hdf)$/i.test(fileName) ? 100 : 90;
}

/** HDF5 signature at 0 or a user-block offset inside the head. Never throws. */
function sniffKerasH5(input: SniffInput): number | undefined {
  return hasHdf5Signature(input.head) ? hdf5Score(input.fileName) : undefined;
}

/** HDF5 signature after a user block larger than the head (one 8-byte read per candidate offset). Never throws. */
async function sniffKerasH5Further(source: ByteSource, input: SniffInput): Promise<number | undefined> {
  try {
    return (await findHdf5Signature(source, input.head)) !== undefined ? hdf5Score(input.fileName) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens a Keras HDF5 file and dispatches on its layout. h5wasm reads host files: a local file is
 * read in place, any other source (a remote or virtual file system) through a temporary copy.
 */
async function openKerasH5(source: ByteSource, files: FileSet, options?: OpenOptions): Promise<WeightFile> {
  const h5 = await Hdf5File.openSource(source, { allowTempCopy: true, ...(options?.signal ? { signal: options.signal } : {}) });
  try {
    const rootAttrs = h5.attributeNames('/');
    const rootKeys = h5.keys('/');
    if (rootAttrs.includes('model_config') || rootKeys.includes('model_weights')) {
      return openLegacy(h5, source, 'full');
    }
    if (rootAttrs.includes('layer_names') || rootAttrs.includes('layer_names0')) {
      return openLegacy(h5, source, 'weights');
    }
    if (isKerasV3Layout(h5)) {
      const fileName = path.basename(source.name);
      const sibling = await readSiblingConfig(fileName, files);
      const metadata: Record<string, unknown> = {};
      if (sibling) {
        metadata.configFile = sibling.file;
      }
      return openKerasV3Weights(h5, { path: source.name, format: 'keras-v3-weights', config: sibling?.config, metadata, warnings: [], source });
    }
    const shown = rootKeys.slice(0, 5).map((k) => `'${k}'`).join(', ');
    throw new WeightFileError(
      'unrecognized',
      `${source.name}: an HDF5 file without Keras weights (no 'model_weights' group, 'layer_names' attribute or Keras 3 'layers'/'vars' groups; top level: ${shown || 'empty'}).`,
      { file: source.name },
    );
  } catch (ex) {
    await h5.close();
    throw ex;
  }
}

/**
 * Legacy layouts (notes 2.1/2.2). Weight order = `layer_names`, then each layer's `weight_names`
 * (not HDF5 link order). Full models carry `model_config` / `training_config` JSON and optionally
 * `optimizer_weights`.
 */
function openLegacy(h5: Hdf5File, source: ByteSource, kind: 'full' | 'weights'): WeightFile {
  const warnings: FileWarning[] = [...h5.fileWarnings()];
  const weightsRoot = kind === 'full' ? '/model_weights' : '/';
  const metadata: Record<string, unknown> = {};
  for (const [attr, key] of [
    ['keras_version', 'kerasVersion'],
    ['backend', 'backend'],
  ] as const) {
    const v = h5.stringAttribute('/', attr) ?? (h5.kind(weightsRoot) === 'group' ? h5.stringAttribute(weightsRoot, attr) : undefined);
    if (v !== undefined) {
      metadata[key] = v;
    }
  }
  let modelConfig: Json | undefined;
  let trainingConfig: Json | undefined;
  if (kind === 'full') {
    modelConfig = parseJsonAttribute(h5, 'model_config', warnings);
    trainingConfig = parseJsonAttribute(h5, 'training_config', warnings);
  }
  const arch = modelConfig ? parseKerasModelConfig(modelConfig) : { layers: [] as LayerInfo[] };
  const configNames = new Map(arch.layers.map((l) => [l.name, l]));

  const tensors: TensorInfo[] = [];
  if (h5.kind(weightsRoot) === 'group') {
    let layerNames = h5.stringListAttribute(weightsRoot, 'layer_names');
    if (layerNames === undefined) {
      layerNames = h5.keys(weightsRoot).filter((k) => h5.kind(`${prefix(weightsRoot)}${k}`) === 'group');
      warnings.push({ reason: 'corrupt', message: `${source.name}: '${weightsRoot}' has no 'layer_names' attribute; layers are listed in HDF5 name order.` });
    }
    // Newer Keras keeps the model's own weights in 'top_level_model_weights' (often empty).
    const groups = [...layerNames];
    if (!groups.includes('top_level_model_weights') && h5.kind(`${prefix(weightsRoot)}top_level_model_weights`) === 'group') {
      groups.push('top_level_model_weights');
    }
    for (const groupLayer of groups) {
      const groupPath = `${prefix(weightsRoot)}${groupLayer}`;
      if (h5.kind(groupPath) !== 'group') {
        warnings.push({ reason: 'corrupt', message: `${source.name}: layer '${groupLayer}' is listed in 'layer_names' but has no group.` });
        continue;
      }
      const weightNames = h5.stringListAttribute(groupPath, 'weight_names') ?? [];
      for (const weightName of weightNames) {
        const split = splitWeightName(weightName);
        const layer = groupLayer === 'top_level_model_weights' && split.layer === '' ? '' : matchLayer(split.layer || groupLayer, groupLayer, configNames);
        const role = roleFromWeightName(weightName);
        const layerInfo = configNames.get(layer);
        const trainable = role === 'moving_mean' || role === 'moving_variance' ? false : layerInfo?.trainable;
        const name = `${groupLayer}/${weightName}`;
        const t = datasetTensor(h5, describeDataset(h5, `${groupPath}/${weightName}`), {
          name,
          layer,
          weight: split.weight,
          role,
          group: 'model',
          ...(trainable !== undefined ? { trainable } : {}),
        });
        if (t.unavailable) {
          warnings.push({ ...t.unavailable, tensor: name });
        }
        tensors.push(t);
      }
    }
  } else {
    warnings.push({ reason: 'corrupt', message: `${source.name}: the file has a model config but no 'model_weights' group.` });
  }
  const optimizerCount = kind === 'full' && h5.kind('/optimizer_weights') === 'group' ? addOptimizerTensors(h5, tensors, warnings) : 0;
  metadata.hasOptimizerWeights = optimizerCount > 0;
  const layers = attachTensors(arch.layers, [], tensors);
  const format = kind === 'full' ? 'keras-h5' : 'keras-weights-h5';
  return {
    format,
    formatName: kind === 'full' ? 'Keras HDF5 (full model)' : 'Keras HDF5 (weights only)',
    path: source.name,
    tensors,
    layers,
    ...(arch.modelClass !== undefined ? { modelClass: arch.modelClass } : {}),
    ...(modelConfig ? { modelConfig } : {}),
    ...(trainingConfig ? { trainingConfig } : {}),
    metadata,
    warnings,
    close: async () => {
      await h5.close();
      await source.close();
    },
  };
}

function prefix(groupPath: string): string {
  return groupPath === '/' ? '/' : `${groupPath}/`;
}

/** A root JSON attribute (`model_config`, `training_config`) as an object; bad JSON becomes a warning. */
function parseJsonAttribute(h5: Hdf5File, attr: string, warnings: FileWarning[]): Json | undefined {
  const text = h5.stringAttribute('/', attr);
  if (text === undefined) {
    return undefined;
  }
  try {
    const parsed = parseFileJson(text) as unknown;
    return isObject(parsed) ? parsed : undefined;
  } catch {
    warnings.push({ reason: 'corrupt', message: `${h5.name}: the '${attr}' attribute is not valid JSON (starts '${text.slice(0, 40)}').` });
    return undefined;
  }
}

/**
 * The config layer a stored weight path belongs to: 'group/path' when names are made unique that
 * way, the path, its most specific known sub-path ('lstm/lstm_cell' → 'lstm'), the group's layer,
 * else the path as written.
 */
function matchLayer(weightLayer: string, groupLayer: string, layers: ReadonlyMap<string, LayerInfo>): string {
  const qualified = `${groupLayer}/${weightLayer}`;
  if (groupLayer !== weightLayer && layers.has(qualified)) {
    return qualified;
  }
  return knownLayerSubPath(weightLayer, layers) ?? weightLayer;
}

/** Slot names that appear as a path segment of legacy optimizer weight names. */
const slotSegments = new Set(['m', 'v', 'vhat', 'momentum', 'velocity', 'velocity_hat', 'accumulator', 'rms', 'mg', 'ms', 'linear', 'delta_accumulator', 'u']);

/**
 * `optimizer_weights` (notes 2.1): datasets named by `weight_names`, e.g. 'Adam/m/dense/kernel:0'
 * (Keras >= 2.11 optimizers: slot after the optimizer name), 'Adam/dense/kernel/m:0' (older:
 * slot last), 'iteration:0' / 'Adam/iter:0' (step counters).
 */
function addOptimizerTensors(h5: Hdf5File, tensors: TensorInfo[], warnings: FileWarning[]): number {
  const names = h5.stringListAttribute('/optimizer_weights', 'weight_names') ?? [];
  const variables = new Set(tensors.filter((t) => t.group === 'model').map((t) => `${t.layer}/${t.weight}`));
  // Nested models name slots by the full path ('sequential_1/Conv1/kernel'); match the model variable by suffix.
  const knownVariable = (v: string): string => {
    const parts = v.split('/');
    for (let i = 0; i < parts.length - 1; i++) {
      const candidate = parts.slice(i).join('/');
      if (variables.has(candidate)) {
        return candidate;
      }
    }
    return v;
  };
  for (const weightName of names) {
    const clean = weightName.replace(/:\d+$/, '');
    const segments = clean.split('/');
    let role: TensorRole = roleFromWeightName(weightName);
    if (role !== 'step') {
      role = 'optimizer_state';
    }
    let slotOf: { variable: string; slot: string } | undefined;
    if (segments.length >= 4 && slotSegments.has(segments[1]!)) {
      slotOf = { variable: knownVariable(segments.slice(2).join('/')), slot: segments[1]! };
    } else if (segments.length >= 4 && slotSegments.has(segments[segments.length - 1]!)) {
      slotOf = { variable: knownVariable(segments.slice(1, -1).join('/')), slot: segments[segments.length - 1]! };
    }
    const name = `optimizer_weights/${weightName}`;
    const t = datasetTensor(h5, describeDataset(h5, `/optimizer_weights/${weightName}`), {
      name,
      layer: 'optimizer',
      weight: slotOf ? `${slotOf.variable}/${slotOf.slot}` : clean,
      role,
      group: 'optimizer',
      ...(slotOf ? { slotOf } : {}),
    });
    if (t.unavailable) {
      warnings.push({ ...t.unavailable, tensor: name });
    }
    tensors.push(t);
  }
  return names.length;
}
