/**
 * Run spec files: the JSON a training run is described by (remembered per workspace, editable,
 * re-runnable), and `trainFromSpec`, which opens the model and data it names and runs it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WeightFileError } from '../core/errors';
import { openLocalPath } from '../formats/registry';
import { initLayers, type BackendName } from './backend';
import { loadDataSet } from './dataLoader';
import { buildModel } from './modelBuilder';
import { ensureGradientBackend } from './probe';
import { runTraining, type RunSpec, type TrainEvent } from './training';

const optimizers = ['sgd', 'adam', 'rmsprop'];
const losses = ['categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError'];

/** Validates a parsed run spec; throws a `corrupt` WeightFileError naming the bad field. */
export function validateRunSpec(json: unknown, name: string): RunSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new WeightFileError('corrupt', `${name} is not a run spec (a JSON object with at least "model").`, { file: name });
  }
  const s = json as Record<string, unknown>;
  const bad = (field: string, want: string): never => {
    throw new WeightFileError('corrupt', `${name}: "${field}" is ${JSON.stringify(s[field])}; expected ${want}.`, { file: name });
  };
  if (typeof s['model'] !== 'string' || s['model'] === '') {
    bad('model', 'the path of a model file');
  }
  for (const [field, min, max] of [['learningRate', 0, 1e6], ['epochs', 1, 100000], ['batchSize', 1, 1 << 20], ['validationSplit', 0, 0.95], ['l1', 0, 10], ['l2', 0, 10], ['dropout', 0, 0.95], ['seed', 0, 2 ** 32]] as const) {
    const v = s[field];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)) {
      bad(field, `a number in [${min}, ${max}]`);
    }
  }
  if (s['optimizer'] !== undefined && !optimizers.includes(String(s['optimizer']))) {
    bad('optimizer', optimizers.join(' | '));
  }
  if (s['loss'] !== undefined && !losses.includes(String(s['loss']))) {
    bad('loss', losses.join(' | '));
  }
  return s as unknown as RunSpec;
}

/** Reads and validates a run spec file. */
export async function readRunSpec(file: string): Promise<RunSpec> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.promises.readFile(file, 'utf8'));
  } catch (ex) {
    if (ex instanceof SyntaxError) {
      throw new WeightFileError('corrupt', `${file} is not valid JSON (${ex.message}).`, { file });
    }
    throw new WeightFileError('notFound', `${file} cannot be read (${ex instanceof Error ? ex.message : String(ex)}).`, { file });
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
  /** Current time for the default run folder name (tests). */
  now?: Date;
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

/** Runs the training a spec describes; paths resolve against `specDir`. */
export async function trainFromSpec(spec: RunSpec, specDir: string, options: TrainFromSpecOptions = {}): Promise<Extract<TrainEvent, { type: 'done' }>> {
  const { tf, tfl, info } = await initLayers({ preferred: options.backend ?? 'auto' });
  const wf = await openLocalPath(path.resolve(specDir, spec.model));
  try {
    const overrides = spec.l1 !== undefined || spec.l2 !== undefined || spec.dropout !== undefined ? { l1: spec.l1, l2: spec.l2, dropout: spec.dropout } : undefined;
    const built = await buildModel(wf, tf, tfl, { signal: options.signal, ...(overrides ? { overrides } : {}) });
    const backend = await ensureGradientBackend(tf, info, built.model);
    const data = spec.data ? await loadDataSet(path.resolve(specDir, spec.data), options.signal) : undefined;
    const runDir = runDirFor(spec, specDir, options.now);
    try {
      return await runTraining(spec, {
        tf,
        tfl,
        backend,
        model: built.model,
        ...(data ? { data } : {}),
        ...(built.trainingConfig ? { trainingConfig: built.trainingConfig } : {}),
        runDir,
        onEvent: options.onEvent,
        signal: options.signal,
        metadata: { model: path.resolve(specDir, spec.model) },
      });
    } finally {
      built.model.dispose();
    }
  } finally {
    await wf.close();
  }
}
