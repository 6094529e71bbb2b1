/**
 * Run spec files: the JSON a training run is described by (remembered per workspace, editable,
 * re-runnable), and `trainFromSpec`, which opens the model and data it names and runs it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeFolder } from '../core/atomicWrite';
import { throwIfAborted, WeightFileError } from '../core/errors';
import { parseFileJson } from '../core/json';
import { fileSystemError, readRegularTextFile } from '../core/nodeFileSource';
import { openLocalPath } from '../formats/registry';
import { explainWasmMemoryFailure, initLayers, type BackendName } from './backend';
import type { BackendHold } from './backendHolds';
import { checkDataForModel } from './dataCheck';
import { inputShapeFor, loadDataSet, requireTargets } from './dataLoader';
import { buildModel } from './modelBuilder';
import { chooseLoss, ensureGradientBackend, requireOneInput } from './probe';
import { checkpointTempPattern, removeCheckpointFolder, runDefaults, runTraining, syntheticDataFor, type RunSpec, type TrainEvent } from './training';

const optimizers = ['sgd', 'adam', 'rmsprop'];
const losses = ['categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError'];

/** Most samples of synthetic data a run spec may ask for. */
export const maxSyntheticSamples = 1 << 20;

/** The fields of a run spec (RunSpec), in the order the help lists them. */
export const runSpecFields = ['model', 'data', 'synthetic', 'loss', 'optimizer', 'learningRate', 'epochs', 'batchSize', 'validationSplit', 'l1', 'l2', 'dropout', 'outDir', 'seed', 'stopOnNonFinite'] as const satisfies readonly (keyof RunSpec)[];

/** Compile-time check that runSpecFields names every RunSpec field, so a spec the product writes (a typed RunSpec) is never refused. */
const everyFieldListed: [Exclude<keyof RunSpec, (typeof runSpecFields)[number]>] extends [never] ? true : never = true;
void everyFieldListed;

/** The fields of a run spec's `synthetic` object. */
const syntheticFields = ['samples', 'seed', 'spread'] as const satisfies readonly (keyof NonNullable<RunSpec['synthetic']>)[];

/** Names other tools give run spec fields that no spelling distance leads to. */
const fieldAliases: Readonly<Record<string, string>> = { lr: 'learningRate', batch: 'batchSize' };

/** Edit distance between `a` and `b`: insertions, deletions, substitutions and swaps of two neighbours (optimal string alignment). */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, before[j - 2]! + 1);
      }
    }
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The known field `name` most resembles: compared without case, '_' and '-' (learning_rate is
 * learningRate), by edit distance up to a third of the name (at least 1); undefined when none is that close.
 */
export function closestField(name: string, known: readonly string[]): string | undefined {
  const norm = (t: string): string => t.toLowerCase().replace(/[_\-\s]/g, '');
  const n = norm(name);
  const alias = fieldAliases[n];
  if (alias && known.includes(alias)) {
    return alias;
  }
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(n.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(n, norm(k));
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** "unknown field "x" (did you mean "y"?)" for every key of `o` not in `known`, joined; undefined when all are known. */
function unknownFields(o: Record<string, unknown>, known: readonly string[]): string | undefined {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length === 0) {
    return undefined;
  }
  const described = unknown.map((k) => {
    const near = closestField(k, known);
    return `${JSON.stringify(k)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`;
  });
  return `${unknown.length === 1 ? 'unknown field' : 'unknown fields'} ${described.join(', ')}`;
}

/** True when `v` is absent, or a finite number in [min, max] (a whole one when `integer`; above `min` when `openMin`). */
function isNumberIn(v: unknown, min: number, max: number, integer: boolean, openMin = false): boolean {
  return v === undefined || (typeof v === 'number' && Number.isFinite(v) && (openMin ? v > min : v >= min) && v <= max && (!integer || Number.isInteger(v)));
}

/** The run spec's numeric fields: [min, max, whole number, min excluded]; a learning rate of 0 would train nothing (probe --lr refuses it too). */
const numberRanges = {
  learningRate: [0, 1e6, false, true],
  epochs: [1, 100000, true, false],
  batchSize: [1, 1 << 20, true, false],
  validationSplit: [0, 0.95, false, false],
  l1: [0, 10, false, false],
  l2: [0, 10, false, false],
  dropout: [0, 0.95, false, false],
  seed: [0, 2 ** 32, false, false],
} as const;

/** A numeric run spec field. */
export type NumberField = keyof typeof numberRanges;

/** What `field` takes, e.g. "a number in [0, 0.95]" (train --help lists it, a refusal names it). */
export function numberRange(field: NumberField): string {
  const [min, max, integer, openMin] = numberRanges[field];
  return `${integer ? 'a whole number' : 'a number'} in ${openMin ? '(' : '['}${min}, ${max}]`;
}

/** What `field` expects (e.g. "a number in [0, 0.95]") when `value` is not a valid value for it, else undefined (absent is valid). */
export function numberProblem(field: NumberField, value: unknown): string | undefined {
  const [min, max, integer, openMin] = numberRanges[field];
  return isNumberIn(value, min, max, integer, openMin) ? undefined : numberRange(field);
}

/**
 * Validates a parsed run spec; throws a `corrupt` WeightFileError naming the bad field. A field
 * that is not a run spec field (RunSpec, runSpecFields) is refused too, with the known field it
 * most resembles, so that a typo never trains with a default in silence.
 */
export function validateRunSpec(json: unknown, name: string): RunSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new WeightFileError('corrupt', `${name} is not a run spec (a JSON object with at least "model").`, { file: name });
  }
  const s = json as Record<string, unknown>;
  const bad = (field: string, want: string): never => {
    throw new WeightFileError('corrupt', `${name}: "${field}" is ${JSON.stringify(s[field])}; expected ${want}.`, { file: name });
  };
  const unknown = unknownFields(s, runSpecFields);
  if (unknown) {
    throw new WeightFileError('corrupt', `${name}: ${unknown}; a run spec's fields are ${runSpecFields.join(', ')}.`, { file: name });
  }
  if (typeof s['model'] !== 'string' || s['model'] === '') {
    bad('model', 'the path of a model file');
  }
  for (const field of Object.keys(numberRanges) as NumberField[]) {
    const want = numberProblem(field, s[field]);
    if (want) {
      bad(field, want);
    }
  }
  if (s['optimizer'] !== undefined && !optimizers.includes(String(s['optimizer']))) {
    bad('optimizer', optimizers.join(' | '));
  }
  if (s['loss'] !== undefined && !losses.includes(String(s['loss']))) {
    bad('loss', losses.join(' | '));
  }
  for (const field of ['data', 'outDir']) {
    if (s[field] !== undefined && (typeof s[field] !== 'string' || s[field] === '')) {
      bad(field, 'a path');
    }
  }
  if (s['stopOnNonFinite'] !== undefined && typeof s['stopOnNonFinite'] !== 'boolean') {
    bad('stopOnNonFinite', 'true or false');
  }
  const synthetic = s['synthetic'];
  if (synthetic !== undefined) {
    const o = typeof synthetic === 'object' && synthetic !== null && !Array.isArray(synthetic) ? (synthetic as Record<string, unknown>) : undefined;
    const unknownInner = o ? unknownFields(o, syntheticFields) : undefined;
    if (unknownInner) {
      throw new WeightFileError('corrupt', `${name}: in "synthetic", ${unknownInner}; its fields are ${syntheticFields.join(', ')}.`, { file: name });
    }
    if (!o || !isNumberIn(o['samples'], 1, maxSyntheticSamples, true) || !isNumberIn(o['seed'], 0, 2 ** 32, false) || !isNumberIn(o['spread'], 0, 1e6, false)) {
      bad('synthetic', `an object of optional samples (a whole number in [1, ${maxSyntheticSamples}]), seed (in [0, ${2 ** 32}]) and spread (in [0, 1000000])`);
    }
  }
  return s as unknown as RunSpec;
}

/** Largest run spec file read, in bytes. */
const maxSpecBytes = 16 * 1024 * 1024;

/** Reads and validates a run spec file. */
export async function readRunSpec(file: string): Promise<RunSpec> {
  let json: unknown;
  try {
    json = parseFileJson(await readRegularTextFile(file, maxSpecBytes));
  } catch (ex) {
    if (ex instanceof SyntaxError) {
      throw new WeightFileError('corrupt', `${file} is not valid JSON (${ex.message}).`, { file });
    }
    throw ex; // a WeightFileError naming the file (notFound, permissionDenied, notRegularFile, tooLarge)
  }
  return validateRunSpec(json, file);
}

/** Options of trainFromSpec. */
export interface TrainFromSpecOptions {
  /** Backend to use. */
  backend?: BackendName | 'auto';
  /** Progress events. */
  onEvent?: (e: TrainEvent) => void;
  /** Cancels the run (checkpoints written so far stay). */
  signal?: AbortSignal;
  /** The job's hold on TF.js's backend, when jobs run side by side in this thread (backendHolds.ts). */
  hold?: BackendHold;
  /** Current time for the default run folder name (tests). */
  now?: Date;
  /** Write into a run folder that already holds a run, removing that run's own files first (its run.json and the checkpoints it lists; see removeEarlierRun); default false: such a folder is refused. */
  overwrite?: boolean;
}

/** Thrown when a run's folder already holds a run and overwriting was not asked for. */
export class RunFolderTakenError extends Error {
  constructor(readonly runDir: string, found: readonly string[], message?: string) {
    super(message ?? `${runDir} already holds a training run (${found.join(', ')}); give the run spec another outDir, or allow overwriting it (train --overwrite).`);
    this.name = 'RunFolderTakenError';
  }
}

/** The entries of `dir` that belong to a run (run.json, epoch-NNN); none when the folder does not exist. */
async function runEntries(dir: string): Promise<string[]> {
  const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n === 'run.json' || /^epoch-\d+$/.test(n)).sort();
}

/** The files a training run writes into each epoch-NNN folder (see writeTfjsModel). */
const checkpointFiles = ['model.json', 'weights.bin'];

/** Removes `file` when it is a regular file (not a link or folder); errors as fileSystemError. */
async function removeRegularFile(file: string): Promise<void> {
  const st = await fs.promises.lstat(file).catch(() => undefined);
  if (st?.isFile()) {
    await fs.promises.rm(file).catch((ex: unknown) => {
      throw fileSystemError(ex, file, 'remove the file');
    });
  }
}

/**
 * Why `dir` cannot be overwritten, else undefined: the new run writes model.json and weights.bin
 * into epoch-NNN folders, so every epoch-NNN entry there must be a real folder (not a link, which
 * would take the new checkpoint out of the run folder) that either is listed by a run.json that is
 * a training run's or holds no such file, or the new run would write over files the earlier run
 * did not make. Checked before anything is removed.
 */
async function overwriteRefusal(dir: string): Promise<string | undefined> {
  const found = await runEntries(dir);
  if (found.length === 0) {
    return undefined;
  }
  const runFile = path.join(dir, 'run.json');
  let listed: unknown[] = [];
  if (found.includes('run.json')) {
    let json: unknown;
    try {
      const st = await fs.promises.lstat(runFile);
      json = st.isFile() && st.size <= maxSpecBytes ? JSON.parse(await fs.promises.readFile(runFile, 'utf8')) : undefined;
    } catch {
      json = undefined;
    }
    const run = typeof json === 'object' && json !== null ? (json as { history?: unknown; checkpoints?: unknown }) : undefined;
    if (!run || !Array.isArray(run.history) || !Array.isArray(run.checkpoints)) {
      return 'its run.json is not the record of a training run';
    }
    listed = run.checkpoints;
  }
  for (const name of found.filter((n) => n !== 'run.json')) {
    const st = await fs.promises.lstat(path.join(dir, name)).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      return `${name} is a link, and a new checkpoint would be written wherever it points`;
    }
    if (!st?.isDirectory()) {
      return `${name} is not a folder`;
    }
    // an unlisted folder is written into only when that overwrites nothing (no model.json or weights.bin)
    const held = listed.includes(name) ? [] : await Promise.all(checkpointFiles.map((f) => fs.promises.lstat(path.join(dir, name, f)).then(() => f, () => undefined)));
    const clash = held.find((f) => f !== undefined);
    if (clash) {
      return `${name} holds a ${clash} but is not one of the checkpoints ${found.includes('run.json') ? 'its run.json lists' : 'of a run (there is no run.json)'}`;
    }
  }
  return undefined;
}

/** Throws RunFolderTakenError when `dir` holds run entries an overwriting run must not write over (overwriteRefusal). */
async function checkOverwritable(dir: string): Promise<void> {
  const why = await overwriteRefusal(dir);
  if (why) {
    throw new RunFolderTakenError(dir, [], `${dir} cannot be overwritten: ${why}; move it out of the folder, or give the run spec another outDir.`);
  }
}

/**
 * Removes the earlier run in `dir` before an overwriting run: the checkpoints its run.json lists
 * (in each epoch-NNN folder, a real folder and not a link, only the model.json and weights.bin a
 * run writes; the folder itself only once empty), then run.json itself. Nothing else is touched:
 * not a file the user put into the folder or into a checkpoint folder, not an epoch-NNN folder the
 * run file does not list, and nothing at all when run.json is not a run file.
 */
async function removeEarlierRun(dir: string): Promise<void> {
  const runFile = path.join(dir, 'run.json');
  let listed: unknown;
  try {
    const st = await fs.promises.lstat(runFile);
    const json: unknown = st.isFile() && st.size <= maxSpecBytes ? JSON.parse(await fs.promises.readFile(runFile, 'utf8')) : undefined;
    listed = typeof json === 'object' && json !== null && Array.isArray((json as { history?: unknown }).history) ? (json as { checkpoints?: unknown }).checkpoints : undefined;
  } catch {
    return; // no run file, or not one: nothing is known to be the earlier run's
  }
  if (!Array.isArray(listed)) {
    return;
  }
  for (const name of listed) {
    if (typeof name !== 'string' || !/^epoch-\d+$/.test(name)) {
      continue; // only names a run gives its checkpoints, inside this folder
    }
    const folder = path.join(dir, name);
    const st = await fs.promises.lstat(folder).catch(() => undefined);
    if (!st?.isDirectory()) {
      continue;
    }
    for (const file of checkpointFiles) {
      await removeRegularFile(path.join(folder, file));
    }
    await fs.promises.rmdir(folder).catch(() => undefined); // kept when it holds anything else
  }
  await removeRegularFile(runFile);
}

/**
 * Removes what saves that were cut short (the process killed, the worker stopped) left in `dir`:
 * the temporary checkpoint folders (checkpointTempPattern; real folders, not links) with the
 * checkpoint files in them, each folder only once that left it empty. No run lists them, so they
 * are never read as checkpoints; this only frees their space, when the folder is taken again (the
 * extension removes its own, once the worker stopped during a save is gone: stoppedRuns.ts).
 * Nothing may be writing into `dir` then. `pattern` narrows the folders taken (stoppedRuns: this
 * process's only).
 */
export async function removeCheckpointLeftovers(dir: string, pattern: RegExp = checkpointTempPattern): Promise<void> {
  const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => pattern.test(n))) {
    const folder = path.join(dir, name);
    if ((await fs.promises.lstat(folder).catch(() => undefined))?.isDirectory()) {
      await removeCheckpointFolder(folder);
    }
  }
}

/**
 * Takes `dir` for a new run: refuses a folder that already holds one, then creates the folder and
 * its run.json exclusively, so that of two runs started on one folder only the first goes on. A
 * default-named folder (`fresh`) that is taken gives way to `<dir>-2`, `<dir>-3` ... instead. With
 * `overwrite` the folder is used, after the earlier run's own files are removed (removeEarlierRun).
 * Either way the temporary folders of saves that were cut short go (removeCheckpointLeftovers).
 * Returns the folder, whether run.json was created here (`claimed`) and whether the folder itself was (`created`).
 */
async function takeRunDir(dir: string, spec: RunSpec, fresh: boolean, overwrite: boolean): Promise<{ runDir: string; claimed: boolean; created: boolean }> {
  if (overwrite) {
    await checkOverwritable(dir);
    await makeFolder(dir);
    await removeEarlierRun(dir);
    await removeCheckpointLeftovers(dir).catch(() => undefined); // hidden and never listed: a leftover that stays harms nothing
    return { runDir: dir, claimed: false, created: false };
  }
  for (let i = 1, retries = 0; ; i++) {
    const runDir = i === 1 ? dir : `${dir}-${i}`;
    let found = await runEntries(runDir);
    if (found.length === 0) {
      const created = !(await fs.promises.lstat(runDir).then(() => true, () => false));
      await makeFolder(runDir);
      try {
        await fs.promises.writeFile(path.join(runDir, 'run.json'), `${JSON.stringify({ spec, history: [], checkpoints: [] }, null, 2)}\n`, { flag: 'wx' });
        await removeCheckpointLeftovers(runDir).catch(() => undefined);
        return { runDir, claimed: true, created };
      } catch (ex) {
        const code = (ex as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && retries++ < 10) {
          // another run that had made this folder gave it back (removed it) in between: try it again
          i--;
          continue;
        }
        if (code !== 'EEXIST') {
          throw fileSystemError(ex, path.join(runDir, 'run.json'), 'write the file');
        }
        found = ['run.json'];
      }
    }
    if (!fresh || i >= 100) {
      throw new RunFolderTakenError(runDir, found);
    }
  }
}

/** Throws RunFolderTakenError when the spec's run folder already holds a run (and overwriting was not asked for). */
async function checkRunDir(dir: string, fresh: boolean, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await checkOverwritable(dir);
  }
  const found = overwrite || fresh ? [] : await runEntries(dir);
  if (found.length > 0) {
    throw new RunFolderTakenError(dir, found);
  }
}

/**
 * The name a model's run spec and run folders take: the folder's name for a TF.js `model.json` or a
 * SavedModel's `saved_model.pb` (and for a SavedModel folder itself), else the file name without
 * its model extension (.h5, .hdf5, .keras, .json, .pb).
 */
export function modelBaseName(model: string): string {
  const base = path.basename(model);
  if (base === 'model.json' || base === 'saved_model.pb') {
    return path.basename(path.dirname(path.resolve(model)));
  }
  return base.replace(/\.(json|h5|hdf5|keras|pb)$/i, '');
}

/** The run folder of a spec: `outDir` (relative to the spec) or runs/<model name>-<time> (see modelBaseName). */
export function runDirFor(spec: RunSpec, specDir: string, now = new Date()): string {
  if (spec.outDir) {
    return path.resolve(specDir, spec.outDir);
  }
  const base = modelBaseName(path.resolve(specDir, spec.model));
  return path.join(specDir, 'runs', `${base}-${now.toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
}

/**
 * Runs the training a spec describes; paths resolve against `specDir`. A run folder that already
 * holds a run is refused (RunFolderTakenError) unless `options.overwrite`; see takeRunDir.
 */
export async function trainFromSpec(spec: RunSpec, specDir: string, options: TrainFromSpecOptions = {}): Promise<Extract<TrainEvent, { type: 'done' }>> {
  const wantedDir = runDirFor(spec, specDir, options.now);
  const fresh = !spec.outDir;
  await checkRunDir(wantedDir, fresh, options.overwrite === true); // before the slow part; takeRunDir decides
  const { tf, tfl, info } = await initLayers({ preferred: options.backend ?? 'auto' });
  const wf = await openLocalPath(path.resolve(specDir, spec.model));
  try {
    const overrides = spec.l1 !== undefined || spec.l2 !== undefined || spec.dropout !== undefined ? { l1: spec.l1, l2: spec.l2, dropout: spec.dropout } : undefined;
    const built = await buildModel(wf, tf, tfl, { signal: options.signal, ...(overrides ? { overrides } : {}) });
    try {
      requireOneInput(built.model, wf.path, 'trained');
      throwIfAborted(options.signal);
      const backend = await ensureGradientBackend(tf, info, built.model, options.hold, options.signal);
      const dataFile = spec.data ? path.resolve(specDir, spec.data) : undefined;
      const loaded = dataFile ? await loadDataSet(dataFile, options.signal) : undefined;
      if (loaded && dataFile) {
        requireTargets(loaded, dataFile);
      }
      const loss = chooseLoss(built.model, { loss: spec.loss, trainingConfig: built.trainingConfig }).name;
      // the data is checked, or the synthetic data made (which refuses some models and sizes), before the run folder is taken
      const data = loaded && dataFile ? { ...loaded, xShape: inputShapeFor(loaded, built.model.inputs[0]?.shape ?? [], dataFile) } : syntheticDataFor(built.model, spec, loss);
      if (loaded && dataFile) {
        checkDataForModel(data, built.model, loss, dataFile);
      }
      // a cancel that came while the model was built or the data read stops the run before it takes a folder
      throwIfAborted(options.signal);
      const { runDir, claimed, created } = await takeRunDir(wantedDir, spec, fresh, options.overwrite === true);
      try {
        return await runTraining(spec, {
          tf,
          tfl,
          backend,
          model: built.model,
          data,
          ...(built.trainingConfig ? { trainingConfig: built.trainingConfig } : {}),
          runDir,
          onEvent: options.onEvent,
          signal: options.signal,
          metadata: { model: path.resolve(specDir, spec.model) },
        });
      } catch (ex) {
        // a run that failed (or was cancelled) before its first checkpoint gives its folder back, and
        // removes it when it made it and nothing else is in it now
        if (claimed && (await runEntries(runDir)).every((n) => n === 'run.json')) {
          await fs.promises.rm(path.join(runDir, 'run.json'), { force: true });
          if (created) {
            await fs.promises.rmdir(runDir).catch(() => undefined);
          }
        }
        throw explainWasmMemoryFailure(ex, wf.path, 'training on', spec.batchSize ?? runDefaults.batchSize, 'give the run spec a smaller batchSize, or train on the cpu backend');
      }
    } finally {
      built.model.dispose();
    }
  } finally {
    await wf.close();
  }
}
