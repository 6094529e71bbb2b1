/**
 * TensorFlow.js `model.json` + binary weight shards (layers-model, graph-model, and the pre-1.0
 * converter output without `format`). Byte layout: notes/weight-formats.md section 3; field names
 * follow tfjs-core `src/io/types.ts` (ModelJSON, WeightsManifestEntry) and decoding follows
 * `src/io/io_utils.ts` (getWeightBytelength, decodeWeight).
 */
import { readAll, type ByteSource, type FileSet } from '../core/byteSource';
import { itemSizeBytes, type DType, type NumericArray } from '../core/dtypes';
import { nameSome, summarizeError, throwIfAborted, WeightFileError, type WeightFileErrorReason } from '../core/errors';
import type { FileWarning, FormatId, LayerInfo, QuantizationInfo, ReadValuesOptions, TensorGroup, TensorInfo, TensorRole, WeightFile } from '../core/model';
import { readSpanValues, type ByteSpan } from '../core/tensorData';
import type { FormatReader, OpenOptions, SniffInput } from './formatReader';
import { knownLayerSubPath, parseKerasModelConfig, roleFromWeightName, splitWeightName } from './kerasConfig';
import { parseFileJson } from '../core/json';

/** Largest model.json accepted, in bytes (the JSON is parsed in memory). */
export const maxModelJsonBytes = 64 * 1024 * 1024;

/** Largest number of string elements walked to find a string weight's byte length. */
const maxStringElementsWalked = 10_000_000;

/** Bytes read at a time while walking uint32-length-prefixed string elements. */
const stringWalkWindowBytes = 64 * 1024;

/** Largest rank accepted for a weight shape. */
const maxRank = 64;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Manifest dtypes and their analysis dtype (tfjs-core DTYPE_VALUE_SIZE_MAP plus string). */
const manifestDtypes: ReadonlyMap<string, DType> = new Map<string, DType>([
  ['float32', 'float32'],
  ['int32', 'int32'],
  ['bool', 'bool'],
  ['complex64', 'complex64'],
  ['string', 'string'],
  ['float16', 'float16'],
  ['uint8', 'uint8'],
  ['uint16', 'uint16'],
]);

/** The TF.js model.json reader. */
export const tfjsReader: FormatReader = {
  id: 'tfjs-layers',
  displayName: 'TensorFlow.js model (model.json + shards)',
  sniff: sniffTfjs,
  open: openTfjs,
};

/** Sniffs JSON with a `weightsManifest` key (or a bare legacy weights manifest array). Never throws. */
function sniffTfjs(input: SniffInput): number | undefined {
  try {
    let i = 0;
    const head = input.head;
    // Skip a UTF-8 BOM and whitespace.
    if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
      i = 3;
    }
    while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) {
      i++;
    }
    const first = head[i];
    const text = new TextDecoder('utf-8', { fatal: false }).decode(head.subarray(i));
    const isJsonName = /\.json$/i.test(input.fileName);
    if (first === 0x7b) {
      if (text.includes('"weightsManifest"')) {
        return 100;
      }
      if (text.includes('"modelTopology"') || /"format"\s*:\s*"(layers|graph)-model"/.test(text)) {
        return 90;
      }
      if (input.fileName === 'model.json' || /(^|[-_.])model\.json$/i.test(input.fileName)) {
        return 40;
      }
      return undefined;
    }
    // Legacy converter 0.x: a bare `weights_manifest.json` array of {paths, weights}.
    if (first === 0x5b && isJsonName && /^\[\s*\{\s*"(paths|weights)"/.test(text)) {
      return 80;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** One parsed manifest entry, placed in its group's byte stream. */
interface PlacedWeight {
  name: string;
  group: number;
  /** Byte offset in the group's concatenated shards; undefined when it cannot be located. */
  offset?: number;
  byteLength: number;
  shape: number[];
  /** True when the manifest's shape is not a list of sizes (TensorInfo.shapeUnknown). */
  shapeUnknown?: boolean;
  dtype: DType;
  storageDtype: DType;
  quantization?: QuantizationInfo & { originalInt: boolean };
  manifestGroup?: string;
  /** True once the stored byte size is known (later weights can be placed even if this one is unreadable). */
  sized?: boolean;
  error?: WeightFileError;
}

/** A manifest group's shards, concatenated into one stream (notes section 3, "Layout"). */
interface ShardStream {
  /** `refused`: why the shard was not opened although it may exist (its path leaves the model's folder or names no file), as a phrase. */
  shards: { path: string; source?: ByteSource; refused?: string; start: number; size: number }[];
  /** Total bytes available (sum of shard sizes, a missing shard counted by its inferred size). */
  length: number;
}

async function openTfjs(source: ByteSource, files: FileSet, options: OpenOptions = {}): Promise<WeightFile> {
  throwIfAborted(options.signal);
  const json = await parseModelJson(source);
  const opened: ByteSource[] = [];
  try {
    return await buildWeightFile(source, files, json, opened, options);
  } catch (ex) {
    await Promise.all(opened.map((s) => s.close()));
    throw ex;
  }
}

/** Reads and parses model.json; `tooLarge` above 64 MiB, `corrupt` with the position when not JSON. */
async function parseModelJson(source: ByteSource): Promise<unknown> {
  if (source.size === 0) {
    throw new WeightFileError('empty', `${source.name}: the file is empty (0 bytes).`, { file: source.name });
  }
  const bytes = await readAll(source, maxModelJsonBytes);
  let text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (text.charCodeAt(0) === 0xfeff) {
    text = text.slice(1);
  }
  try {
    return parseFileJson(text) as unknown;
  } catch (ex) {
    const detail = ex instanceof Error ? ex.message : String(ex);
    const m = /position (\d+)/.exec(detail);
    const position = m ? Number(m[1]) : undefined;
    const where = position !== undefined ? ` at position ${position} near '${text.slice(Math.max(0, position - 10), position + 10).replace(/\s+/g, ' ')}'` : '';
    throw new WeightFileError('corrupt', `${source.name}: the model.json is not valid JSON${where} (${detail}).`, {
      file: source.name,
      ...(position !== undefined ? { offset: position } : {}),
    });
  }
}

/**
 * The `unrecognized` error of a Keras model config (`model.to_json()`, a Keras 3 `config.json`) opened
 * as a weight file: it holds no weights, so it names the Keras weight files beside it, if any.
 */
async function kerasConfigError(source: ByteSource, files: FileSet, className: string): Promise<WeightFileError> {
  const beside = (await files.list().catch(() => [])).filter((n) => /\.(h5|hdf5|keras)$/i.test(n)).sort();
  const hint = beside.length > 0 ? `open the weights beside it (${nameSome(beside)})` : 'open the Keras file that holds its weights';
  return new WeightFileError('unrecognized', `${source.name}: a Keras model config ('${className}') holds no weights; ${hint}.`, { file: source.name });
}

async function buildWeightFile(source: ByteSource, files: FileSet, json: unknown, opened: ByteSource[], options: OpenOptions): Promise<WeightFile> {
  const legacyManifest = Array.isArray(json);
  const model: Json = legacyManifest ? { weightsManifest: json } : isObject(json) ? json : {};
  if (!legacyManifest && !isObject(json)) {
    throw new WeightFileError('unrecognized', `${source.name}: the JSON holds ${describeJson(json)}, not a TensorFlow.js model object.`, {
      file: source.name,
    });
  }
  const manifest = model.weightsManifest;
  if (manifest === undefined) {
    if (typeof model.class_name === 'string' && isObject(model.config)) {
      throw await kerasConfigError(source, files, model.class_name);
    }
    const hasTopology = model.modelTopology !== undefined;
    throw new WeightFileError(
      hasTopology ? 'corrupt' : 'unrecognized',
      hasTopology
        ? `${source.name}: the model.json has a modelTopology but no 'weightsManifest', so it lists no weights.`
        : `${source.name}: JSON without a 'weightsManifest' key (top-level keys: ${Object.keys(model).slice(0, 6).join(', ') || 'none'}); not a TensorFlow.js model.`,
      { file: source.name },
    );
  }
  if (!Array.isArray(manifest)) {
    throw new WeightFileError('corrupt', `${source.name}: 'weightsManifest' is ${describeJson(manifest)}, expected a list of weight groups.`, {
      file: source.name,
    });
  }
  const topology = model.modelTopology;
  const formatId = detectFormatId(model, legacyManifest);
  const warnings: FileWarning[] = [];
  const placed: PlacedWeight[] = [];
  const streams: ShardStream[] = [];

  for (let g = 0; g < manifest.length; g++) {
    throwIfAborted(options.signal);
    const group = manifest[g];
    if (!isObject(group)) {
      throw new WeightFileError('corrupt', `${source.name}: weightsManifest[${g}] is ${describeJson(group)}, expected {paths: [...], weights: [...]}.`, {
        file: source.name,
      });
    }
    const { paths, weights } = group;
    if (!Array.isArray(paths) || !Array.isArray(weights)) {
      const [key, value] = Array.isArray(paths) ? ['weights', weights] : ['paths', paths];
      const what = value === undefined ? 'missing' : describeJson(value);
      throw new WeightFileError('corrupt', `${source.name}: the '${key}' of weightsManifest[${g}] is ${what}, expected a list.`, { file: source.name });
    }
    const entries = weights.map((w, i) => parseEntry(source.name, g, i, w));
    placeInGroup(source.name, entries);
    const stream = await openShards(source.name, files, g, paths, entries, opened, warnings);
    streams.push(stream);
    await resolveStrings(source.name, entries, stream, options);
    for (const e of entries) {
      if (!e.error && e.offset !== undefined) {
        checkAvailability(source.name, e, stream);
      }
      placed.push(e);
    }
  }

  // Architecture: Keras config for layers-models, derived from node names for graph-models.
  const isLayers = formatId === 'tfjs-layers';
  const arch = isLayers ? parseKerasModelConfig(topology) : { layers: [] as LayerInfo[] };
  const layerIndex = new Map<string, LayerInfo>(arch.layers.map((l) => [l.name, l]));
  const derivedLayers: LayerInfo[] = [];
  const graphLayers = isLayers ? [] : graphLayerPrefixes(placed);
  const modelWeightNames = new Set(placed.filter((q) => !isOptimizerWeight(q)).map((q) => q.name));
  const seen = new Set<string>();
  const tensors: TensorInfo[] = [];
  for (const p of placed) {
    if (seen.has(p.name)) {
      warnings.push({ reason: 'corrupt', message: `${source.name}: the weight name '${p.name}' appears more than once; later entries are listed with a suffix.`, tensor: p.name });
    }
    let name = p.name;
    for (let k = 2; seen.has(name); k++) {
      name = `${p.name}#${k}`;
    }
    seen.add(name);
    const { layer, weight, role, group } = isLayers ? describeLayersWeight(p, layerIndex) : describeGraphWeight(p, graphLayers);
    let layerInfo = layerIndex.get(layer);
    if (!layerInfo && layer !== '') {
      layerInfo = { name: layer, tensors: [] };
      layerIndex.set(layer, layerInfo);
      derivedLayers.push(layerInfo);
    }
    layerInfo?.tensors.push(name);
    if (p.error) {
      warnings.push({ ...summarizeError(p.error), tensor: name });
    }
    const slotOf = group === 'optimizer' ? optimizerSlot(p.name, modelWeightNames) : undefined;
    // Trainable when its layer is (Keras `trainable`), except BatchNorm statistics, which never are.
    const trainable =
      group === 'model' && layerInfo?.trainable !== undefined ? layerInfo.trainable && role !== 'moving_mean' && role !== 'moving_variance' : undefined;
    tensors.push(makeTensor(source.name, p, name, layer, weight, role, group, streams[p.group], slotOf, trainable));
  }

  const trainingConfig = findTrainingConfig(model, topology);
  const modelConfig = isLayers ? findModelConfig(topology) : undefined;
  const weightFile: WeightFile = {
    format: formatId,
    formatName: formatName(formatId, model, legacyManifest),
    path: source.name,
    tensors,
    layers: [...arch.layers, ...derivedLayers],
    ...(isLayers && arch.modelClass !== undefined ? { modelClass: arch.modelClass } : {}),
    ...(isLayers && modelConfig ? { modelConfig } : {}),
    ...(trainingConfig ? { trainingConfig } : {}),
    metadata: buildMetadata(model, topology, streams, arch.modelName, arch.inputShapes),
    warnings,
    close: async () => {
      await Promise.all([source, ...opened].map((s) => s.close()));
    },
  };
  return weightFile;
}

/** `format` when present; otherwise the topology shape tells (GraphDef `node` vs Keras config). */
function detectFormatId(model: Json, legacyManifest: boolean): FormatId {
  if (model.format === 'graph-model') {
    return 'tfjs-graph';
  }
  if (model.format === 'layers-model') {
    return 'tfjs-layers';
  }
  const topology = model.modelTopology;
  if (legacyManifest || (isObject(topology) && (Array.isArray(topology.node) || isObject(topology.versions)))) {
    return 'tfjs-graph';
  }
  return 'tfjs-layers';
}

function formatName(id: FormatId, model: Json, legacyManifest: boolean): string {
  if (legacyManifest) {
    return 'TensorFlow.js weights manifest (converter 0.x)';
  }
  const kind = id === 'tfjs-graph' ? 'graph model' : 'layers model';
  return model.format === undefined ? `TensorFlow.js ${kind} (pre-1.0 converter)` : `TensorFlow.js ${kind}`;
}

function describeJson(v: unknown): string {
  if (v === null) {
    return 'null';
  }
  if (Array.isArray(v)) {
    return `a list of ${v.length} items`;
  }
  if (typeof v === 'object') {
    return 'an object';
  }
  return `the ${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`;
}

function quote(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A value quoted for a message, or 'missing' when the key is absent (never the word 'undefined'). */
function quoteOrMissing(v: unknown): string {
  return v === undefined ? 'missing' : quote(v);
}

/** 'has no WHAT' when the key is absent, else 'has WHAT <value quoted>'. */
function has(what: string, v: unknown): string {
  return v === undefined ? `has no ${what}` : `has ${what} ${quote(v)}`;
}

/** Parses one WeightsManifestEntry {name, shape, dtype, quantization?, group?}; problems go on the entry. */
function parseEntry(file: string, g: number, i: number, raw: unknown): PlacedWeight {
  const entry = isObject(raw) ? raw : {};
  const name = typeof entry.name === 'string' ? entry.name : `weightsManifest[${g}].weights[${i}]`;
  const out: PlacedWeight = { name, group: g, byteLength: 0, shape: [], dtype: 'float32', storageDtype: 'float32' };
  if (typeof entry.group === 'string') {
    out.manifestGroup = entry.group;
  }
  const fail = (reason: WeightFileErrorReason, message: string): PlacedWeight => {
    out.error = new WeightFileError(reason, `${file}: weight '${name}' ${message}`, { file, tensor: name });
    return out;
  };
  if (!isObject(raw)) {
    return fail('corrupt', `is ${describeJson(raw)}, expected {name, shape, dtype}.`);
  }
  // shape: non-negative integers; the element count must stay a safe integer.
  // A shape that is not that is unknown (such as [-1, 3] or [null, 3]), never a scalar.
  const shape = entry.shape;
  if (!Array.isArray(shape) || shape.length > maxRank) {
    out.shapeUnknown = true;
    return fail('corrupt', `${has('shape', shape)}, expected a list of at most ${maxRank} dimensions.`);
  }
  let count = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      out.shape = shape.map((x) => (typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : -1));
      out.shapeUnknown = true;
      return fail('corrupt', `has shape ${quote(shape)} with the invalid dimension ${quote(d)}.`);
    }
    count *= d;
  }
  out.shape = shape as number[];
  const dtypeName = entry.dtype;
  const dtype = typeof dtypeName === 'string' ? manifestDtypes.get(dtypeName) : undefined;
  const q = entry.quantization;
  if (q !== undefined && q !== null) {
    // Quantized: stored as quantization.dtype, analysed as original_dtype ?? dtype (io_utils decodeWeight).
    if (!isObject(q)) {
      return fail('corrupt', `has quantization ${quote(q)}, expected an object.`);
    }
    const original = typeof q.original_dtype === 'string' ? q.original_dtype : dtypeName;
    if (original !== 'float32' && original !== 'int32') {
      return fail('unsupportedDtype', `${has('quantized original dtype', original)}; only float32 and int32 weights are quantized.`);
    }
    const storage = q.dtype;
    if (storage !== 'uint8' && storage !== 'uint16' && storage !== 'float16') {
      return fail('unsupportedDtype', `${has('quantization dtype', storage)}; expected uint8, uint16 or float16.`);
    }
    out.dtype = original;
    out.storageDtype = storage;
    if (!setByteLength(out, count, storage)) {
      return fail('corrupt', `has shape ${quote(shape)} whose byte size is not representable.`);
    }
    if (storage === 'float16') {
      if (original !== 'float32') {
        return fail('unsupportedDtype', `is float16-quantized but its original dtype is ${quote(original)}; float16 only stores float32 weights.`);
      }
      out.quantization = { storageDtype: 'float16', scheme: 'float16', originalInt: false };
      return out;
    }
    const min = q.min;
    const scale = q.scale;
    if (typeof min !== 'number' || typeof scale !== 'number' || !Number.isFinite(min) || !Number.isFinite(scale)) {
      return fail('corrupt', `is ${storage}-quantized but its min is ${quoteOrMissing(min)} and its scale ${quoteOrMissing(scale)}; both must be finite numbers.`);
    }
    out.quantization = { storageDtype: storage, scheme: 'tfjs-affine', scale: [scale], min, originalInt: original === 'int32' };
    return out;
  }
  if (dtype === undefined) {
    return fail('unsupportedDtype', dtypeName === undefined ? 'has no dtype.' : `has dtype ${quote(dtypeName)}, which TensorFlow.js weights do not use.`);
  }
  out.dtype = dtype;
  out.storageDtype = dtype;
  if (dtype === 'string') {
    out.byteLength = Number.NaN; // found by walking the elements (resolveStrings)
    out.shape = shape as number[];
    return out;
  }
  if (!setByteLength(out, count, dtype)) {
    return fail('corrupt', `has shape ${quote(shape)} whose byte size is not representable.`);
  }
  return out;
}

function setByteLength(out: PlacedWeight, count: number, storage: DType): boolean {
  const bytes = count * (itemSizeBytes(storage) ?? 0);
  if (!Number.isSafeInteger(bytes)) {
    return false;
  }
  out.byteLength = bytes;
  out.sized = true;
  return true;
}

/** Assigns stream offsets in manifest order (unreadable entries of known size included); after an entry of unknown size, later entries cannot be located. */
function placeInGroup(file: string, entries: PlacedWeight[]): void {
  let offset = 0;
  let blocker: PlacedWeight | undefined;
  for (const e of entries) {
    if (blocker) {
      if (!e.error) {
        e.error = new WeightFileError(
          blocker.error?.reason === 'unsupportedDtype' ? 'unsupportedDtype' : 'corrupt',
          `${file}: weight '${e.name}' cannot be located because the earlier weight '${blocker.name}' in its group has an unknown byte size.`,
          { file, tensor: e.name },
        );
      }
      continue;
    }
    if (e.error && !e.sized) {
      blocker = e;
      continue;
    }
    e.offset = offset;
    if (Number.isNaN(e.byteLength)) {
      // A string weight: its size is found later; offsets after it are filled in by resolveStrings.
      blocker = undefined;
      return;
    }
    offset += e.byteLength;
  }
}

/** Opens a group's shards in `paths` order. A missing shard becomes a warning; exactly one missing shard's size is inferred. */
async function openShards(
  file: string,
  files: FileSet,
  g: number,
  paths: unknown[],
  entries: PlacedWeight[],
  opened: ByteSource[],
  warnings: FileWarning[],
): Promise<ShardStream> {
  const shards: ShardStream['shards'] = [];
  for (const p of paths) {
    const rel = typeof p === 'string' ? p : '';
    let src: ByteSource | undefined;
    let refused: string | undefined;
    if (rel === '') {
      refused = 'does not name a file';
      warnings.push({ reason: 'corrupt', message: `${file}: weightsManifest[${g}] shard path ${quote(p)} does not name a file next to model.json.` });
    } else if (leavesFolder(rel) || (rel.includes('%') && leavesFolder(safeDecodeUri(rel)))) {
      // Never opened: a manifest must not make Weightscope read files elsewhere on the machine.
      refused = "points outside the model's folder";
      warnings.push({ reason: 'corrupt', message: `${file}: the shard path '${rel}' of weightsManifest[${g}] points outside the model's folder, so it is not read.` });
    } else {
      src = (await files.open(rel)) ?? (rel.includes('%') ? await files.open(safeDecodeUri(rel)) : undefined);
      if (src) {
        opened.push(src);
      } else {
        warnings.push({ reason: 'missingCompanionFile', message: `${file}: the weight shard '${rel}' (group ${g + 1}) is missing next to model.json.` });
      }
    }
    shards.push({ path: typeof p === 'string' ? p : quote(p), ...(src ? { source: src } : {}), ...(refused ? { refused } : {}), start: 0, size: src ? src.size : -1 });
  }
  // Expected stream length when every entry is located and sized.
  let expected: number | undefined = 0;
  for (const e of entries) {
    if (e.offset === undefined || Number.isNaN(e.byteLength)) {
      expected = undefined;
      break;
    }
    expected = e.offset + e.byteLength;
  }
  const missing = shards.filter((s) => !s.source);
  if (missing.length === 1 && expected !== undefined) {
    const known = shards.reduce((sum, s) => sum + (s.source ? s.size : 0), 0);
    missing[0]!.size = Math.max(0, expected - known);
  }
  let start = 0;
  for (const s of shards) {
    s.start = start;
    if (s.size < 0) {
      // Unknown size: everything after this point cannot be placed.
      return { shards, length: start };
    }
    start += s.size;
  }
  return { shards, length: start };
}

/** True when a manifest path names a file outside the model's folder: absolute, a drive or URL scheme, or through '..'. */
function leavesFolder(rel: string): boolean {
  return /^[\\/]/.test(rel) || /^[a-z][a-z0-9+.-]*:/i.test(rel) || rel.split(/[\\/]/).includes('..');
}

function safeDecodeUri(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Byte spans of [offset, offset+length) in a group stream; undefined when it touches a missing shard or the end. */
function spansFor(stream: ShardStream, offset: number, length: number): { spans: ByteSpan[] } | { missing: string; refused?: string } | { pastEnd: true } {
  const spans: ByteSpan[] = [];
  let pos = offset;
  const end = offset + length;
  for (const s of stream.shards) {
    if (s.size < 0) {
      break;
    }
    const sEnd = s.start + s.size;
    if (pos >= sEnd || pos >= end) {
      continue;
    }
    if (!s.source) {
      return { missing: s.path, ...(s.refused ? { refused: s.refused } : {}) };
    }
    const n = Math.min(end, sEnd) - pos;
    spans.push({ source: s.source, offset: pos - s.start, length: n });
    pos += n;
  }
  if (pos < end) {
    const unknown = stream.shards.find((s) => s.size < 0);
    return unknown ? { missing: unknown.path, ...(unknown.refused ? { refused: unknown.refused } : {}) } : { pastEnd: true };
  }
  return { spans };
}

/** The error of a weight (`what`: "weight 'x'") stored in a shard that was not opened: missing, or refused for its path. */
function unopenedShardError(file: string, what: string, tensor: string, r: { missing: string; refused?: string }): WeightFileError {
  return r.refused
    ? new WeightFileError('corrupt', `${file}: ${what} cannot be read: its shard path '${r.missing}' ${r.refused}.`, { file, tensor })
    : new WeightFileError('missingCompanionFile', `${file}: ${what} is stored in the missing shard '${r.missing}'.`, { file, tensor });
}

/** Marks an entry unavailable when its bytes are in a missing shard or past the end of the shards. */
function checkAvailability(file: string, e: PlacedWeight, stream: ShardStream): void {
  const r = spansFor(stream, e.offset!, e.byteLength);
  if ('missing' in r) {
    e.error = unopenedShardError(file, `weight '${e.name}'`, e.name, r);
  } else if ('pastEnd' in r) {
    e.error = new WeightFileError(
      'truncated',
      `${file}: weight '${e.name}' needs bytes ${e.offset}..${e.offset! + e.byteLength} of its shards but they hold only ${stream.length} bytes; the shards might be truncated.`,
      { file, tensor: e.name, offset: e.offset! },
    );
  }
}

/** Finds string weights' byte lengths by walking their uint32-length-prefixed elements, then places later entries. */
async function resolveStrings(file: string, entries: PlacedWeight[], stream: ShardStream, options: OpenOptions): Promise<void> {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!Number.isNaN(e.byteLength)) {
      continue;
    }
    if (e.offset === undefined || e.error) {
      e.byteLength = 0;
      continue;
    }
    const count = e.shape.reduce((a, d) => a * d, 1);
    try {
      if (count > maxStringElementsWalked) {
        throw new WeightFileError('tooLarge', `${file}: string weight '${e.name}' has ${count} elements, more than the ${maxStringElementsWalked} walked to find its size.`, {
          file,
          tensor: e.name,
        });
      }
      e.byteLength = await walkStrings(file, e, stream, count, options);
    } catch (ex) {
      if (!WeightFileError.is(ex) || ex.reason === 'cancelled') {
        throw ex;
      }
      e.byteLength = 0;
      e.error = ex;
    }
    // Place the entries after this one (placeInGroup stopped at the string weight).
    const rest = entries.slice(i + 1);
    if (e.error) {
      for (const r of rest) {
        r.error ??= new WeightFileError('corrupt', `${file}: weight '${r.name}' cannot be located because the size of the earlier string weight '${e.name}' is unknown.`, {
          file,
          tensor: r.name,
        });
      }
      return;
    }
    const shifted = rest.map((r) => ({ ...r }));
    placeInGroup(file, shifted);
    for (let k = 0; k < rest.length; k++) {
      const r = rest[k]!;
      const s = shifted[k]!;
      if (s.offset !== undefined) {
        r.offset = s.offset + e.offset + e.byteLength;
      }
      if (s.error) {
        r.error = s.error;
      }
    }
  }
}

async function walkStrings(file: string, e: PlacedWeight, stream: ShardStream, count: number, options: OpenOptions): Promise<number> {
  const start = e.offset!;
  let pos = start;
  let window: Uint8Array = new Uint8Array(0);
  let windowStart = 0;
  const readAt = async (at: number, n: number): Promise<DataView> => {
    if (at < windowStart || at + n > windowStart + window.byteLength) {
      const len = Math.min(Math.max(n, stringWalkWindowBytes), stream.length - at);
      const r = len >= n ? spansFor(stream, at, len) : { pastEnd: true as const };
      if ('missing' in r) {
        throw unopenedShardError(file, `string weight '${e.name}'`, e.name, r);
      }
      if ('pastEnd' in r) {
        throw new WeightFileError('truncated', `${file}: string weight '${e.name}' runs past the end of its shards at byte ${at} (they hold ${stream.length} bytes).`, {
          file,
          tensor: e.name,
          offset: at,
        });
      }
      const parts = await Promise.all(r.spans.map((s) => s.source.read(s.offset, s.length)));
      window = parts.length === 1 ? parts[0]! : concat(parts);
      windowStart = at;
    }
    return new DataView(window.buffer, window.byteOffset + (at - windowStart), n);
  };
  for (let k = 0; k < count; k++) {
    if (k % 4096 === 0) {
      throwIfAborted(options.signal);
    }
    const len = (await readAt(pos, 4)).getUint32(0, true);
    pos += 4 + len;
    if (pos > stream.length) {
      throw new WeightFileError('truncated', `${file}: string element ${k} of weight '${e.name}' claims ${len} bytes, past the end of its shards (${stream.length} bytes).`, {
        file,
        tensor: e.name,
        offset: pos - len,
      });
    }
  }
  return pos - start;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** First path segments of optimizer weights saved with a TF.js layers model. */
function isOptimizerWeight(p: PlacedWeight): boolean {
  return p.manifestGroup === 'optimizer' || p.name.startsWith('optimizer/');
}

/** Layer, short name, role and group of a layers-model weight (`<layer>/<weight>`, converted Keras names). */
function describeLayersWeight(p: PlacedWeight, layers: ReadonlyMap<string, LayerInfo>): { layer: string; weight: string; role: TensorRole; group: TensorGroup } {
  const { layer: path, weight } = splitWeightName(p.name);
  if (isOptimizerWeight(p)) {
    const role = roleFromWeightName(p.name);
    return { layer: '', weight, role: role === 'step' ? 'step' : 'optimizer_state', group: 'optimizer' };
  }
  return { layer: matchLayer(path, layers), weight, role: roleFromWeightName(weight), group: 'model' };
}

/**
 * The architecture layer a weight path belongs to: the whole path, else the most specific known
 * sub-path (latest ending segment first: 'sequential_1/Conv1' → 'Conv1', 'lstm/lstm_cell' → 'lstm'),
 * else the path itself.
 */
function matchLayer(path: string, layers: ReadonlyMap<string, LayerInfo>): string {
  return path === '' ? path : (knownLayerSubPath(path, layers) ?? path);
}

/** A graph weight's node name split into path prefix and op name, minus a trailing '/ReadVariableOp'. */
function splitGraphName(name: string): { layer: string; weight: string } {
  const stripped = name.replace(/\/ReadVariableOp$/, '');
  const slash = stripped.lastIndexOf('/');
  return slash >= 0 ? { layer: stripped.slice(0, slash), weight: stripped.slice(slash + 1) } : { layer: '', weight: stripped };
}

/** Path prefixes of the floating-point graph weights, longest first: the layers other constants are grouped under. */
function graphLayerPrefixes(placed: readonly PlacedWeight[]): string[] {
  const prefixes = new Set<string>();
  for (const p of placed) {
    const { layer } = splitGraphName(p.name);
    if (layer !== '' && (p.dtype === 'float32' || p.dtype === 'complex64')) {
      prefixes.add(layer);
    }
  }
  return [...prefixes].sort((a, b) => b.length - a.length);
}

/**
 * Graph-model weights: node name minus '/ReadVariableOp', grouped by its path prefix (shape and
 * axis constants join the float weight prefix they sit under); role from the op name.
 */
function describeGraphWeight(p: PlacedWeight, prefixes: readonly string[]): { layer: string; weight: string; role: TensorRole; group: TensorGroup } {
  const split = splitGraphName(p.name);
  const weight = split.weight;
  const owner = prefixes.find((prefix) => split.layer === prefix || split.layer.startsWith(`${prefix}/`));
  const layer = owner ?? split.layer;
  if (isOptimizerWeight(p)) {
    return { layer, weight, role: 'optimizer_state', group: 'optimizer' };
  }
  const floating = p.dtype === 'float32' || p.dtype === 'complex64';
  let role: TensorRole = roleFromWeightName(weight);
  if (role === 'other' && floating) {
    if (/^BiasAdd(_\d+)?$/.test(weight)) {
      role = 'bias';
    } else if (/^(MatMul|Tensordot|Conv2D|Conv1D|Conv3D|Conv2DBackpropInput)(_\d+)?$/.test(weight)) {
      role = 'kernel';
    } else if (/^depthwise(_\d+)?$/.test(weight)) {
      role = 'depthwise_kernel';
    }
  }
  // Non-float graph constants are shapes, axes and loop counters, not learned weights.
  return { layer, weight, role, group: floating ? 'model' : 'other' };
}

/** TF.js optimizer slots are saved as '<variable>/<slot>' (tfjs-core Adam: 'dense/kernel/m'); the variable must be a model weight. */
function optimizerSlot(name: string, modelWeights: ReadonlySet<string>): { variable: string; slot: string } | undefined {
  const slash = name.lastIndexOf('/');
  if (slash <= 0) {
    return undefined;
  }
  const variable = name.slice(0, slash).replace(/^optimizer\//, '');
  return modelWeights.has(variable) ? { variable, slot: name.slice(slash + 1) } : undefined;
}

function makeTensor(
  file: string,
  p: PlacedWeight,
  name: string,
  layer: string,
  weight: string,
  role: TensorRole,
  group: TensorGroup,
  stream: ShardStream | undefined,
  slotOf: { variable: string; slot: string } | undefined,
  trainable: boolean | undefined,
): TensorInfo {
  const error = p.error;
  const quantization = p.quantization ? publicQuantization(p.quantization) : undefined;
  const extra: Record<string, unknown> = { manifestGroup: p.group };
  if (p.offset !== undefined) {
    extra.streamOffset = p.offset;
  }
  if (p.manifestGroup !== undefined) {
    extra.weightGroup = p.manifestGroup;
  }
  const info: TensorInfo = {
    name,
    layer,
    weight,
    role,
    group,
    dtype: p.dtype,
    storageDtype: p.storageDtype,
    shape: p.shape,
    ...(p.shapeUnknown ? { shapeUnknown: true } : {}),
    byteLength: p.byteLength,
    ...(quantization ? { quantization } : {}),
    ...(slotOf ? { slotOf } : {}),
    ...(trainable !== undefined ? { trainable } : {}),
    ...(error ? { unavailable: summarizeError(error) } : {}),
    extra,
    readValues: (options?: ReadValuesOptions) => readTensorValues(file, p, stream, options),
  };
  return info;
}

function publicQuantization(q: QuantizationInfo & { originalInt: boolean }): QuantizationInfo {
  const { originalInt: _originalInt, ...rest } = q;
  return rest;
}

/** Streams a weight's values, dequantized as tfjs-core io_utils decodeWeight does. */
async function* readTensorValues(file: string, p: PlacedWeight, stream: ShardStream | undefined, options: ReadValuesOptions = {}): AsyncGenerator<NumericArray> {
  if (p.error) {
    throw p.error;
  }
  if (p.dtype === 'string') {
    throw new WeightFileError('unsupportedDtype', `${file}: weight '${p.name}' holds strings, which are listed but not analysed.`, { file, tensor: p.name });
  }
  if (!stream || p.offset === undefined) {
    throw new WeightFileError('corrupt', `${file}: weight '${p.name}' has no located bytes.`, { file, tensor: p.name });
  }
  const r = spansFor(stream, p.offset, p.byteLength);
  if (!('spans' in r)) {
    throw new WeightFileError('truncated', `${file}: weight '${p.name}' lies outside its shards.`, { file, tensor: p.name });
  }
  const q = p.quantization;
  if (!q || q.scheme === 'float16') {
    // float16 → IEEE half decoded exactly to float32 (io_utils getFloat16Decoder).
    yield* readSpanValues(r.spans, p.storageDtype, options);
    return;
  }
  const scale = q.scale?.[0] ?? 1;
  const min = q.min ?? 0;
  // uint8/uint16: value = q * scale + min in float64, stored in a Float32Array; int32 originals are rounded.
  const transform = q.originalInt
    ? (values: NumericArray): NumericArray => {
        const out = new Int32Array(values.length);
        for (let i = 0; i < values.length; i++) {
          out[i] = Math.round(values[i]! * scale + min);
        }
        return out;
      }
    : (values: NumericArray): NumericArray => {
        const out = new Float32Array(values.length);
        for (let i = 0; i < values.length; i++) {
          out[i] = values[i]! * scale + min;
        }
        return out;
      };
  yield* readSpanValues(r.spans, q.storageDtype, { ...options, transform });
}

/** The Keras model config {class_name, config}: the topology itself (tfjs-saved) or its `model_config` (converted). */
function findModelConfig(topology: unknown): Record<string, unknown> | undefined {
  if (!isObject(topology)) {
    return undefined;
  }
  let mc: unknown = topology.class_name !== undefined ? topology : topology.model_config;
  if (typeof mc === 'string') {
    try {
      mc = parseFileJson(mc) as unknown;
    } catch {
      return undefined;
    }
  }
  return isObject(mc) && typeof mc.class_name === 'string' ? mc : undefined;
}

/** Training config: top-level `trainingConfig` (layers-model) or the topology's `training_config` (old converter). */
function findTrainingConfig(model: Json, topology: unknown): Record<string, unknown> | undefined {
  let tc: unknown = model.trainingConfig;
  if (tc === undefined && isObject(topology)) {
    tc = topology.training_config;
  }
  if (typeof tc === 'string') {
    try {
      tc = parseFileJson(tc) as unknown;
    } catch {
      return undefined;
    }
  }
  return isObject(tc) ? tc : undefined;
}

/** JSON-safe file-level facts: producer, format, versions, signature, user metadata, shard layout. */
function buildMetadata(model: Json, topology: unknown, streams: ShardStream[], modelName: string | undefined, inputShapes: unknown): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  const copy = (key: string, value: unknown): void => {
    if (value !== undefined && value !== null) {
      meta[key] = value;
    }
  };
  copy('format', model.format);
  copy('generatedBy', model.generatedBy);
  copy('convertedBy', model.convertedBy);
  if (isObject(topology)) {
    copy('kerasVersion', topology.keras_version);
    copy('backend', topology.backend);
    if (Array.isArray(topology.node)) {
      meta.graphNodeCount = topology.node.length;
    }
    if (isObject(topology.versions)) {
      copy('graphVersions', topology.versions);
    }
    if (isObject(topology.library) && Array.isArray(topology.library.function)) {
      meta.graphFunctionCount = topology.library.function.length;
    }
  }
  copy('modelName', modelName);
  copy('inputShapes', inputShapes);
  const udm = isObject(model.userDefinedMetadata) ? model.userDefinedMetadata : undefined;
  const signature = isObject(model.signature) ? model.signature : isObject(udm?.signature) ? udm.signature : undefined;
  if (signature) {
    copy('signatureInputs', signatureTensors(signature.inputs));
    copy('signatureOutputs', signatureTensors(signature.outputs));
  }
  copy('userDefinedMetadata', udm);
  if (model.modelInitializer !== undefined) {
    meta.hasModelInitializer = true;
  }
  meta.shards = streams.map((s) => s.shards.map((sh) => ({ path: sh.path, size: sh.source ? sh.size : null, present: sh.source !== undefined })));
  return meta;
}

/** Signature entries {name, dtype, shape} from TensorInfo-like JSON (`tensorShape.dim[].size` as strings). */
function signatureTensors(v: unknown): { key: string; name?: string; dtype?: string; shape?: (number | null)[] }[] | undefined {
  if (!isObject(v)) {
    return undefined;
  }
  return Object.entries(v).map(([key, t]) => {
    const out: { key: string; name?: string; dtype?: string; shape?: (number | null)[] } = { key };
    if (isObject(t)) {
      if (typeof t.name === 'string') {
        out.name = t.name;
      }
      if (typeof t.dtype === 'string') {
        out.dtype = t.dtype;
      }
      const dims = isObject(t.tensorShape) && Array.isArray(t.tensorShape.dim) ? t.tensorShape.dim : undefined;
      if (dims) {
        out.shape = dims.map((d) => {
          const size = isObject(d) ? Number(d.size) : NaN;
          return Number.isFinite(size) && size >= 0 ? size : null;
        });
      }
    }
    return out;
  });
}
