/**
 * Turns the CLI's <file-or-dir> argument into the weight files to open.
 */
import * as path from 'node:path';
import { nameSome, WeightFileError } from '../core/errors';
import { listDir, statPath } from '../core/nodeFileSource';
import { isSidecarName } from '../core/sidecar';
import { describesKerasWeights, isWeightFileName, openLocalPath, resolveLocalEntry } from '../formats/registry';

/** Folders never searched for weight files. */
const skippedDirs = new Set(['node_modules', '.git', '__pycache__']);

/** Deepest folder level searched below the given folder. */
const maxSearchDepth = 4;

/**
 * The entry files for a path: the path itself for a file or a model folder (SavedModel,
 * checkpoint, model.json), else every weight file found below the folder, sorted.
 */
export async function expandInput(p: string): Promise<{ entries: string[]; isCollection: boolean }> {
  try {
    return { entries: [await resolveLocalEntry(p)], isCollection: false };
  } catch (ex) {
    if (!WeightFileError.is(ex, 'unrecognized')) {
      throw ex;
    }
  }
  const found: string[] = [];
  await collect(p, 0, found, { legacy: true });
  if (found.length === 0) {
    throw (await refusedFile(p)) ?? new WeightFileError('unrecognized', `${p}: the folder holds no weight files Weightscope can read.`, { file: p });
  }
  return { entries: found.sort(), isCollection: true };
}

/**
 * The entry file of a path that must be one model (probe, diff): the path itself for a file
 * or a model folder. Another folder is refused as noModelInFolder does, but with the reason of a
 * file in it Weightscope refuses (a legacy V1 checkpoint: `unsupportedFormat`, as inspect says), or
 * naming the models found in its sub-folders (a TF Serving base folder of versions).
 */
export async function resolveModelEntry(p: string): Promise<string> {
  try {
    return await resolveLocalEntry(p);
  } catch (ex) {
    if (!WeightFileError.is(ex, 'unrecognized') || (await statPath(p))?.kind !== 'dir') {
      throw ex;
    }
    const found: string[] = [];
    await collect(p, 0, found);
    if (found.some((f) => path.relative(p, path.dirname(f)) !== '')) {
      const which =
        found.length === 1
          ? `the weight file ${path.relative(p, found[0]!)} is below it, so name that`
          : `${found.length} weight files are below it (${nameSome(found.map((f) => path.relative(p, f)).sort())}), so name one of them`;
      throw new WeightFileError('unrecognized', `${p}: the folder holds no SavedModel, checkpoint or model.json to open; ${which}.`, { file: p });
    }
    throw (found.length === 0 ? await refusedFile(p) : undefined) ?? ex;
  }
}

/** Finds the weight files below `dir`; with `legacy`, also the TF1 checkpoints it cannot read (legacyCheckpoints). */
async function collect(dir: string, depth: number, out: string[], options: { legacy?: boolean } = {}): Promise<void> {
  const entries = await listDir(dir);
  const names = new Set(entries.map((e) => e.name));
  if (names.has('saved_model.pb')) {
    out.push(path.join(dir, 'saved_model.pb'));
    return; // its variables/ folder belongs to it
  }
  if (names.has('checkpoint')) {
    out.push(path.join(dir, 'checkpoint'));
  }
  const fileNames = entries.filter((e) => !e.isDir).map((e) => e.name);
  if (options.legacy) {
    out.push(...legacyCheckpoints(fileNames).map((n) => path.join(dir, n)));
  }
  for (const e of entries) {
    if (e.isDir) {
      if (depth < maxSearchDepth && !skippedDirs.has(e.name) && !e.name.startsWith('.')) {
        await collect(path.join(dir, e.name), depth + 1, out, options);
      }
    } else if (
      isWeightFileName(e.name) &&
      !(names.has('checkpoint') && e.name.endsWith('.index')) &&
      !(await describesKerasWeights(path.join(dir, e.name), fileNames))
    ) {
      out.push(path.join(dir, e.name));
    }
  }
}

/**
 * The files of TF1 checkpoints a folder holds under names no weight-file pattern knows: a MetaGraph
 * `X.meta` names its checkpoint prefix X; without `X.index` (a V2 checkpoint, listed by its index)
 * or a `checkpoint` state file (listed itself) the checkpoint is a legacy V1 one, in `X` or the
 * shards `X-NNNNN-of-NNNNN`. They are listed so that a folder scan says why it cannot read them.
 */
function legacyCheckpoints(fileNames: readonly string[]): string[] {
  const names = new Set(fileNames);
  if (names.has('checkpoint')) {
    return [];
  }
  const out: string[] = [];
  for (const meta of fileNames.filter((n) => n.endsWith('.meta'))) {
    const prefix = meta.slice(0, -'.meta'.length);
    if (names.has(`${prefix}.index`)) {
      continue;
    }
    const shard = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{5}-of-\\d{5}$`);
    const file = names.has(prefix) ? prefix : fileNames.filter((n) => shard.test(n)).sort()[0];
    if (file !== undefined) {
      out.push(file);
    }
  }
  return out;
}

/** Most files opened to find why a folder holds no weight files (see refusedFile). */
const maxFilesTried = 32;

/**
 * The error of a file below `dir` (searched as collect searches) that is a weight file of a kind
 * Weightscope refuses (`unsupportedFormat`, e.g. a legacy V1 checkpoint, whose files have no telling
 * name); undefined when there is none among the first maxFilesTried files.
 */
async function refusedFile(dir: string, depth = 0, budget = { files: maxFilesTried }): Promise<WeightFileError | undefined> {
  const entries = (await listDir(dir)).filter((e) => !e.name.startsWith('.'));
  for (const e of entries.filter((e) => !e.isDir && !isSidecarName(e.name))) {
    if (budget.files-- <= 0) {
      return undefined;
    }
    try {
      await (await openLocalPath(path.join(dir, e.name))).close();
    } catch (ex) {
      if (WeightFileError.is(ex, 'unsupportedFormat')) {
        return ex;
      }
    }
  }
  if (depth < maxSearchDepth) {
    for (const e of entries.filter((e) => e.isDir && !skippedDirs.has(e.name))) {
      const refused = await refusedFile(path.join(dir, e.name), depth + 1, budget);
      if (refused || budget.files <= 0) {
        return refused;
      }
    }
  }
  return undefined;
}
