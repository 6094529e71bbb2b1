/**
 * The ordered list of format readers and the entry points that pick one for a file.
 * Adding a format: one file in src/formats/ and one line in `readers`.
 */
import * as path from 'node:path';
import { RecordingFileSet, type ByteSource, type FileSet } from '../core/byteSource';
import { nameSome, textExcerpt, WeightFileError } from '../core/errors';
import type { WeightFile } from '../core/model';
import { missingPathError, NodeFileSet, NodeFileSource, readFolder, readRegularTextFile, statPath } from '../core/nodeFileSource';
import type { FormatReader, OpenOptions, SniffInput } from './formatReader';
import { kerasH5Reader } from './kerasH5';
import { kerasV3Reader } from './kerasV3';
import { npyReader, npzReader } from './numpy';
import { safetensorsReader } from './safetensors';
import { tfCheckpointReader } from './tfCheckpoint';
import { maxModelJsonBytes, tfjsReader } from './tfjs';
import { tfliteReader } from './tflite';
import { parseFileJson } from '../core/json';

/** Every reader, in sniffing priority order. */
export const readers: readonly FormatReader[] = [
  kerasH5Reader,
  kerasV3Reader,
  npyReader,
  npzReader,
  safetensorsReader,
  tfCheckpointReader,
  tfjsReader,
  tfliteReader,
];

const headBytes = 4096;
const tailBytes = 64;
const gitLfsPrefix = 'version https://git-lfs.github.com/spec/';

/** Reads the sniffing window of a source. */
export async function readSniffInput(source: ByteSource, fileName: string): Promise<SniffInput> {
  const head = await source.read(0, Math.min(headBytes, source.size));
  const tailLength = Math.min(tailBytes, source.size);
  const tail = await source.read(source.size - tailLength, tailLength);
  return { fileName, size: source.size, head, tail };
}

/** Picks the reader for a source, or throws `empty`, `gitLfsPointer` or `unrecognized`. */
export async function detectFormat(source: ByteSource, fileName: string): Promise<FormatReader> {
  if (source.size === 0) {
    throw new WeightFileError('empty', `${source.name}: the file is empty (0 bytes).`, { file: source.name });
  }
  const input = await readSniffInput(source, fileName);
  const text = new TextDecoder().decode(input.head.subarray(0, 64));
  if (text.startsWith(gitLfsPrefix)) {
    throw new WeightFileError(
      'gitLfsPointer',
      `${source.name}: this is a Git LFS pointer, not the weights; run 'git lfs pull' to fetch the real file.`,
      { file: source.name },
    );
  }
  let best: { reader: FormatReader; score: number } | undefined;
  for (const reader of readers) {
    const score = reader.sniff(input);
    if (score !== undefined && (!best || score > best.score)) {
      best = { reader, score };
    }
  }
  for (const reader of best ? [] : readers) {
    const score = reader.sniffFurther ? await reader.sniffFurther(source, input) : undefined;
    if (score !== undefined && (!best || score > best.score)) {
      best = { reader, score };
    }
  }
  if (!best) {
    throw new WeightFileError('unrecognized', `${source.name}: not a weight file Weightscope can read (${describeBytes(input.head)}).`, {
      file: source.name,
    });
  }
  return best.reader;
}

/** Opens a source with companion files: detects the format, lets its reader parse headers, and records the companions it asked for (companionFiles). */
export async function openWeightSource(source: ByteSource, fileName: string, files: FileSet, options?: OpenOptions): Promise<WeightFile> {
  const reader = await detectFormat(source, fileName);
  const companions = new RecordingFileSet(files);
  const file = await reader.open(source, companions, options);
  return Object.assign(file, { companionFiles: companions.requested });
}

/**
 * Opens a local file or folder. A folder is opened through the weight file it is built around
 * (SavedModel `saved_model.pb`, a `checkpoint` state file, a single `model.json` or `.index`).
 */
export async function openLocalPath(p: string, options?: OpenOptions): Promise<WeightFile> {
  const target = await resolveLocalEntry(p);
  const source = await NodeFileSource.open(target, target === p ? p : target);
  try {
    return await openWeightSource(source, path.basename(target), new NodeFileSet(path.dirname(target)), options);
  } catch (ex) {
    await source.close();
    throw ex;
  }
}

/** File names that make a folder a single model. */
const folderEntryNames = ['saved_model.pb', 'checkpoint', 'model.json', 'config.json'];

/** Keras 3 weights saved without their archive (`model.save_weights('x.weights.h5')`). */
const kerasWeightsPattern = /\.weights\.h5$/i;

/**
 * Maps a folder to the file that opens it; files map to themselves. A `model.json` or
 * `config.json` that is a Keras config beside a `.weights.h5` (see describesKerasWeights) leaves the
 * folder to that weights file. Throws `notFound`, `permissionDenied` (an unreadable folder) or
 * `unrecognized`.
 */
export async function resolveLocalEntry(p: string): Promise<string> {
  const st = await statPath(p);
  if (!st) {
    throw await missingPathError(p);
  }
  if (st.kind === 'file') {
    return p;
  }
  const names = (await readFolder(p)).filter((e) => !e.isDir).map((e) => e.name);
  const entry = await folderEntryName(names, (name) => readRegularTextFile(path.join(p, name), maxModelJsonBytes));
  if (entry === undefined) {
    throw noModelInFolder(p, names);
  }
  return path.join(p, entry);
}

/**
 * The file that opens a folder as one model, among `names` (the folder's files), or undefined when
 * none does. `readText` reads one of them as text (at most maxModelJsonBytes), for the check of a
 * Keras config beside a `.weights.h5` (describesKerasWeights) and of a `config.json`; a `model.json`
 * whose read fails is left to be opened, which then says what is wrong with it. A `config.json`
 * claims the folder only when it is a TF.js model (it has a `weightsManifest`): other configs (a
 * Hugging Face `config.json` beside `.safetensors` files, a Keras config beside a legacy `.h5`)
 * leave the folder to be searched. Shared by local folders and the extension's folders of other
 * file systems.
 */
export async function folderEntryName(names: readonly string[], readText: (name: string) => Promise<string>): Promise<string | undefined> {
  let configSkipped = false;
  for (const name of folderEntryNames) {
    if (!names.includes(name)) {
      continue;
    }
    if (name === 'config.json') {
      const json = await readJsonObject(name, readText);
      if (json && 'weightsManifest' in json) {
        return name;
      }
      configSkipped ||= json !== undefined && names.some((n) => kerasWeightsPattern.test(n));
    } else if (await isKerasConfigBesideWeights(name, names, readText)) {
      configSkipped = true;
    } else {
      return name;
    }
  }
  const kerasWeights = names.filter((n) => kerasWeightsPattern.test(n));
  if (configSkipped && kerasWeights.length === 1) {
    return kerasWeights[0]!;
  }
  const indexes = names.filter((n) => n.endsWith('.index'));
  return indexes.length === 1 ? indexes[0]! : undefined;
}

/**
 * The `unrecognized` error of a folder (`folder`, as shown; `fileNames`, the files in it) that is not
 * one model: it names the weight files the folder holds, if any, so that the user can pick one.
 */
export function noModelInFolder(folder: string, fileNames: readonly string[]): WeightFileError {
  const weights = fileNames.filter(isWeightFileName).sort();
  let which = '';
  if (weights.length > 0) {
    which = weights.length === 1 ? `; it holds the weight file ${weights[0]}, so name that file` : `; it holds ${weights.length} weight files (${nameSome(weights)}), so name one of them`;
  }
  return new WeightFileError('unrecognized', `${folder}: the folder holds no SavedModel, checkpoint or model.json to open${which}.`, { file: folder });
}

/**
 * True when `jsonFile` (one of the file names `siblings` of its folder) is a Keras model config
 * (`model.to_json()`, no TF.js `weightsManifest`) next to a `.weights.h5`, whose reader takes the
 * config from it: then the JSON is not a weight file of its own. False when it cannot be read.
 */
export async function describesKerasWeights(jsonFile: string, siblings: readonly string[]): Promise<boolean> {
  return isKerasConfigBesideWeights(jsonFile, siblings, (name) => readRegularTextFile(name, maxModelJsonBytes));
}

/** describesKerasWeights for `name`, read by `readText`. */
async function isKerasConfigBesideWeights(name: string, siblings: readonly string[], readText: (name: string) => Promise<string>): Promise<boolean> {
  if (!name.endsWith('.json') || !siblings.some((n) => kerasWeightsPattern.test(n))) {
    return false;
  }
  const json = await readJsonObject(name, readText);
  return json !== undefined && !('weightsManifest' in json); // one that cannot be read is opened, which explains what is wrong with it
}

/** The JSON object in file `name`, or undefined when it cannot be read or holds no object. */
async function readJsonObject(name: string, readText: (name: string) => Promise<string>): Promise<object | undefined> {
  try {
    const json = parseFileJson(await readText(name)) as unknown;
    return typeof json === 'object' && json !== null && !Array.isArray(json) ? json : undefined;
  } catch {
    return undefined;
  }
}

/** Name patterns of the files Weightscope lists as weight files when scanning a folder. */
export const weightFilePatterns: readonly RegExp[] = [
  /\.(h5|hdf5|keras|safetensors|npz|npy|tflite)$/i,
  /\.index$/,
  /^model\.json$/,
  /^saved_model\.pb$/,
];

/** True when a file name looks like a weight file entry point. */
export function isWeightFileName(name: string): boolean {
  return weightFilePatterns.some((re) => re.test(name));
}

/** True for a file whose coming or going can change what a folder opens as (folderEntryName, or the weight files it names). */
export function changesFolderModel(name: string): boolean {
  return folderEntryNames.includes(name) || isWeightFileName(name);
}

/** A short description of unknown leading bytes for "unrecognized" messages. */
function describeBytes(head: Uint8Array): string {
  if (head.length === 0) {
    return 'no bytes';
  }
  const first = head[0]!;
  const ascii = new TextDecoder().decode(head.subarray(0, 16)).replace(/[^\x20-\x7e]/g, '.');
  if (first === 0x3c && /^<(!doctype|html)/i.test(ascii)) {
    return 'it is an HTML page';
  }
  if (first === 0x7b || first === 0x5b) {
    return 'JSON without a weightsManifest';
  }
  const text = textExcerpt(head);
  if (text === '') {
    return 'it holds only whitespace';
  }
  if (text !== undefined) {
    return `it is text starting '${text}'`;
  }
  const hex = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `starts with bytes ${hex}`;
}
