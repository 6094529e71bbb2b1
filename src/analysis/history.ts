/**
 * Weight history of a training run: the checkpoints of a folder (a TF `checkpoint` state file's
 * list, per-epoch files or folders), ordered by epoch/step from names, naming conventions or
 * sidecars (else by modification time), and per layer over time: L2 norm, mean, std, distance
 * from the first checkpoint, change since the previous one, and histograms on a shared range.
 * Warns when a layer stops moving, blows up or is missing from some checkpoints.
 *
 * The layers are those of the first checkpoint. A layer none of whose tensors a checkpoint holds
 * (e.g. BatchNorm folded into a TFLite conversion) is absent there: its point is null, never 0.
 * A checkpoint holding only some of a layer's tensors has a point over those alone, which names
 * the missing ones, and a `partial` warning.
 * Every distance and change compares the tensors present in both checkpoints compared, and is
 * relative to the norm of those same tensors in the earlier one (per layer and for the model).
 * A tensor a checkpoint can read counts in its own numbers (norm, mean, std, min, max, histogram)
 * even when the first or the previous checkpoint cannot read its partner: it is then read alone,
 * and left out of the comparisons with that checkpoint only (none left: the distance or change is
 * null, never 0). The first checkpoint stays the reference of the distances from the first.
 */
import * as path from 'node:path';
import { elementCount, isNumericDType } from '../core/dtypes';
import { summarizeError, throwIfAborted, WeightFileError, type ErrorSummary } from '../core/errors';
import type { TensorInfo } from '../core/model';
import { listDir, readRegularTextFile, statPath } from '../core/nodeFileSource';
import { isSidecarName, readSidecar, sidecarPath } from '../core/sidecar';
import { isWeightFileName, openLocalPath, resolveLocalEntry } from '../formats/registry';
import { checkpointStateLines } from '../formats/tfCheckpoint';
import { FiniteMoments, type TensorDiff } from './diff';
import { checkpointStamp } from './checkpointFiles';
import { autoWorkerMinBytes, diffLocalFiles, DiffPool } from './diffPool';
import { checkNames, parseCheckpointName, type NamingConvention, type NamingWarning } from './namingConvention';

/** One checkpoint of a run. */
export interface CheckpointRef {
  /** Path of the entry file (or model folder) that opens it. */
  path: string;
  /** Short label: the file or folder name. */
  label: string;
  /** Epoch, when found. */
  epoch?: number;
  /** Step, when found. */
  step?: number;
  /** Modification time of the entry, in ms. */
  mtimeMs: number;
}

/** How the checkpoints were ordered. */
export type HistoryOrder = 'epoch' | 'step' | 'number' | 'time';

/** A layer's values at one checkpoint. */
export interface LayerPoint {
  /** Elements of the layer's tensors this checkpoint holds (what the numbers below are over). */
  count: number;
  /** Tensors of the layer (names in the first checkpoint) this checkpoint lacks; empty when it holds them all. */
  missingTensors: string[];
  /** L2 norm over the layer's model tensors. */
  norm: number;
  /** Mean over all the layer's values. */
  mean: number | null;
  /** Population std over all the layer's values. */
  std: number | null;
  /** ||W_k - W_0|| (absolute) over the tensors both can read; null when there is none (the first checkpoint cannot read the layer). */
  distanceFromFirst: number | null;
  /** ||W_k - W_0|| / ||W_0|| over the tensors both can read; null when there is none, or when ||W_0|| is 0 and W_k differs. */
  relDistanceFromFirst: number | null;
  /** ||W_k - W_{k-1}|| / ||W_{k-1}|| over the tensors both hold and can read (null at the first checkpoint, when the previous one lacks or cannot read the layer, or when the previous norm is 0). */
  relStepChange: number | null;
  /** Smallest finite value. */
  min: number | null;
  /** Largest finite value. */
  max: number | null;
  /** NaN/Inf positions. */
  nonFiniteCount: number;
  /** Histogram counts on the layer's shared edges. */
  histogram: number[];
}

/** One layer over time. */
export interface LayerHistory {
  /** Layer name (as in the first checkpoint). */
  layer: string;
  /** Element count of the layer's model tensors in the first checkpoint (from their shapes: readable or not). */
  count: number;
  /** One point per checkpoint, in checkpoint order; null where the checkpoint lacks the layer or can read none of its tensors. */
  points: (LayerPoint | null)[];
  /**
   * Indexes of the checkpoints where some of the layer's tensors could not be read (a missing shard,
   * data cut short): they are left out of that checkpoint's numbers and of the comparisons with it
   * (the distances from the first checkpoint when it is one, the changes at and after it; see the
   * `unreadable` warning); absent when every tensor could be read.
   */
  unreadable?: number[];
  /** Histogram bin edges shared by every checkpoint (NumPy np.histogram semantics). */
  histogramEdges: number[];
}

/** A warning about a layer's trajectory. */
export interface HistoryWarning {
  /** Layer concerned. */
  layer: string;
  /**
   * `stalled`: stopped moving; `blowup`: norm exploded or NaN/Inf appeared; `missing`: absent from
   * some checkpoints; `partial`: some checkpoints hold only some of its tensors; `unreadable`: some
   * checkpoints hold tensors of it that could not be read (left out there); `unchanged` (layer '',
   * the whole model): a checkpoint holds exactly the weights of the one before it.
   */
  kind: 'stalled' | 'blowup' | 'missing' | 'partial' | 'unreadable' | 'unchanged';
  /** Checkpoint label from which it holds (`missing`/`partial`/`unreadable`: the first checkpoint lacking the layer, some of its tensors or their values). */
  checkpoint: string;
  /** One sentence with the numbers. */
  message: string;
}

/** The history of a run. JSON-safe. */
export interface HistoryResult {
  /** The folder. */
  dir: string;
  /** Checkpoints in order (those that could be opened). */
  checkpoints: CheckpointRef[];
  /**
   * Checkpoints of the folder that could not be opened (empty, cut short, not a weight file ...),
   * left out of the history, in checkpoint order with why; absent when every one opened.
   */
  skipped?: (CheckpointRef & ErrorSummary)[];
  /** How they were ordered. */
  orderedBy: HistoryOrder;
  /** Per layer, in the first checkpoint's order. */
  layers: LayerHistory[];
  /** Whole model: ||W_k - W_0|| / ||W_0|| per checkpoint, over the tensors both hold and can read (null when none is). */
  relDistanceFromFirst: (number | null)[];
  /** Whole model: ||W_k - W_{k-1}|| / ||W_{k-1}|| over the tensors both hold and can read (null first or when none is). */
  relStepChange: (number | null)[];
  /** Stalled, exploding, missing, partial and unreadable layers. */
  warnings: HistoryWarning[];
  /** Naming-convention findings, when a convention was given. */
  namingWarnings: NamingWarning[];
}

/** Options of the history. */
export interface HistoryOptions {
  /** Naming convention to read epoch/step from names (and to check names against). */
  naming?: NamingConvention;
  /** Histogram bins per layer (default 32). */
  histogramBins?: number;
  /** Worker threads for the comparisons (0 = this thread). */
  workers?: number;
  /** The caller only waits for the result (see DiffPoolOptions.callerIdle). */
  callerIdle?: boolean;
  /** Cancels. */
  signal?: AbortSignal;
  /** Progress: checkpoints done of total. */
  onProgress?: (done: number, total: number) => void;
  /** Results of an earlier run of the same history to reuse (an open history that follows a training run). */
  cache?: HistoryCache;
}

/** What one checkpoint's comparisons (against the first and the previous checkpoint) yield. */
interface StepResult {
  /** Its tensor names paired with the first checkpoint's -> their layer. */
  names: Map<string, string>;
  /** Layers of its model tensors paired with the first's, in order (the first checkpoint's give the history's layer order). */
  layers: string[];
  acc: Map<string, LayerAcc>;
}

/**
 * The reading steps of a history, kept from one run to the next of an open history, so that a
 * checkpoint added to a training run costs its own reads, not those of every checkpoint again.
 * Each result is keyed by the paths and stamps (total size, latest modification time of all their
 * files) of the checkpoints it read; a checkpoint rewritten has another stamp and is read again.
 * A finished run keeps only the results it used, so the cache holds one history's worth.
 */
export class HistoryCache {
  private current = new Map<string, CachedStep>();
  /** Results the last finished run took from the cache, and results it computed. */
  reused = 0;
  computed = 0;

  /** Results kept. */
  get size(): number {
    return this.current.size;
  }

  /** Starts a run (runs may overlap: one cancelled while the next starts). */
  begin(): HistoryCacheRun {
    const used = new Map<string, CachedStep>();
    let reused = 0;
    let computed = 0;
    return {
      get: async <T extends CachedStep>(key: string, compute: () => Promise<T>): Promise<T> => {
        const hit = used.get(key) ?? this.current.get(key);
        if (hit !== undefined) {
          reused++;
          used.set(key, hit);
          return hit as T;
        }
        const value = await compute();
        computed++;
        used.set(key, value);
        return value;
      },
      end: (finished: boolean): void => {
        if (finished) {
          // What this run used is what the next run of this history can use.
          this.current = used;
          this.reused = reused;
          this.computed = computed;
        } else {
          for (const [k, v] of used) {
            this.current.delete(k);
            this.current.set(k, v);
          }
          // Runs that keep failing add what they computed; the oldest entries go beyond a bound.
          for (const k of this.current.keys()) {
            if (this.current.size <= maxHistoryCacheEntries) {
              break;
            }
            this.current.delete(k);
          }
        }
      },
    };
  }
}

/** A step's or a histogram pass's result. */
type CachedStep = StepResult | Map<string, number[]>;

/** One run's use of a HistoryCache. */
interface HistoryCacheRun {
  /** The result under `key`, else `compute`'s; either is kept for the next run. */
  get<T extends CachedStep>(key: string, compute: () => Promise<T>): Promise<T>;
  /** Ends the run: a finished one keeps what it used, a failed or cancelled one adds what it computed. */
  end(finished: boolean): void;
}

/** Most checkpoints analysed in one history. */
export const maxHistoryCheckpoints = 500;

/** Most results a HistoryCache keeps after failed or cancelled runs (a step and a histogram pass per checkpoint, twice over). */
const maxHistoryCacheEntries = 4 * maxHistoryCheckpoints;

/** Norm growth from the first checkpoint that counts as a blow-up. */
export const blowupFactor = 10;

/** A layer whose relative change is below this fraction of the model's is "not moving". */
export const stallRatio = 1e-3;

/**
 * True for a file whose change can change a folder's history: a weight file or a companion of one
 * (a TF.js shard, a tensor bundle's data file, the TF 'checkpoint' state file, a folder's
 * config.json); not a sidecar, nor the logs (TensorBoard events, CSV) training writes beside its
 * checkpoints all the time.
 */
export function affectsHistory(name: string): boolean {
  return !isSidecarName(name) && (isWeightFileName(name) || /\.bin$/i.test(name) || /\.data-\d{5}-of-\d{5}$/.test(name) || name === 'checkpoint' || name === 'config.json');
}

/** Lists the checkpoints of a folder, ordered. */
export async function findCheckpoints(dir: string, options: Pick<HistoryOptions, 'naming'> = {}): Promise<{ checkpoints: CheckpointRef[]; orderedBy: HistoryOrder }> {
  const st = await statPath(dir);
  if (!st) {
    throw new WeightFileError('notFound', `${dir}: no such folder.`, { file: dir });
  }
  if (st.kind !== 'dir') {
    throw new WeightFileError('unrecognized', `${dir}: a file, where a history reads a folder of checkpoints.`, { file: dir });
  }
  const entries = await listDir(dir);
  const found: string[] = [];
  const state = entries.find((e) => !e.isDir && e.name === 'checkpoint');
  if (state) {
    found.push(...(await checkpointStateEntries(dir, path.join(dir, 'checkpoint'))));
  }
  if (found.length === 0) {
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDir) {
        if (e.name.startsWith('.') || e.name === 'node_modules') {
          continue;
        }
        const entry = await resolveLocalEntry(p).catch(() => undefined);
        if (entry) {
          found.push(entry);
        }
      } else if (isWeightFileName(e.name) && !isSidecarName(e.name)) {
        found.push(p);
      }
    }
  }
  if (found.length === 0) {
    throw new WeightFileError('unrecognized', `${dir}: the folder holds no checkpoints Weightscope can read.`, { file: dir });
  }
  if (found.length > maxHistoryCheckpoints) {
    throw new WeightFileError('tooLarge', `${dir}: ${found.length} checkpoints found, more than the ${maxHistoryCheckpoints} a history shows.`, { file: dir });
  }
  const refs: CheckpointRef[] = [];
  for (const p of found) {
    const rel = path.relative(dir, p);
    const label = rel.includes(path.sep) ? rel.split(path.sep)[0]! : rel;
    const ref: CheckpointRef = { path: p, label, mtimeMs: (await statPath(p))?.mtimeMs ?? 0 };
    Object.assign(ref, orderKeys(label, options.naming));
    if (ref.epoch === undefined && ref.step === undefined) {
      const side = await readSidecar(p).catch(() => undefined);
      if (side?.epoch !== undefined) {
        ref.epoch = side.epoch;
      } else if (side?.step !== undefined) {
        ref.step = side.step;
      }
    }
    refs.push(ref);
  }
  return orderCheckpoints(refs);
}

/**
 * The sidecars whose epoch/step orders these checkpoints (findCheckpoints reads them for a checkpoint
 * whose name gives neither), existing or not: an edit or a new sidecar there can re-order a history.
 */
export function orderingSidecars(checkpoints: readonly CheckpointRef[], naming?: NamingConvention): string[] {
  return checkpoints
    .filter((c) => {
      const keys = orderKeys(c.label, naming);
      return keys.epoch === undefined && keys.step === undefined;
    })
    .map((c) => sidecarPath(c.path));
}

/** Epoch/step from a checkpoint label: the naming convention first, then common spellings as whole tokens. */
export function orderKeys(label: string, naming?: NamingConvention): { epoch?: number; step?: number } {
  if (naming) {
    const v = parseCheckpointName(naming, label);
    if (v) {
      const out: { epoch?: number; step?: number } = {};
      if (typeof v['epoch'] === 'number' && Number.isFinite(v['epoch'])) {
        out.epoch = v['epoch'];
      }
      if (typeof v['step'] === 'number' && Number.isFinite(v['step'])) {
        out.step = v['step'];
      }
      if (out.epoch !== undefined || out.step !== undefined) {
        return out;
      }
    }
  }
  // A whole token: the keyword starts the label or follows a non-alphanumeric character, and the
  // number ends it or is followed by one ('epoch-003', 'weights.e05-0.12', 'ckpt-1200.index', not 'e2e').
  const epoch = /(?:^|[^a-z0-9])(?:epoch|ep|e)[-_.]?(\d+)(?![a-z0-9])/i.exec(label);
  if (epoch) {
    return { epoch: Number(epoch[1]) };
  }
  const step = /(?:^|[^a-z0-9])(?:step|iter|iteration|ckpt|checkpoint|it)[-_.]?(\d+)(?![a-z0-9])/i.exec(label);
  if (step) {
    return { step: Number(step[1]) };
  }
  return {};
}

/** The trailing number of a label, if any; a file extension's digits (the 5 of `.h5`) are not one. */
function trailingNumber(label: string): number | undefined {
  const m = /(\d+)(?!.*\d)/.exec(label.replace(/\.[a-z][a-z0-9]*$/i, ''));
  return m ? Number(m[1]) : undefined;
}

/** Sorts by epoch when all have one, else step, else a trailing number, else time. */
export function orderCheckpoints(refs: CheckpointRef[]): { checkpoints: CheckpointRef[]; orderedBy: HistoryOrder } {
  const by = (key: (r: CheckpointRef) => number | undefined, orderedBy: HistoryOrder) => {
    if (!refs.every((r) => key(r) !== undefined)) {
      return undefined;
    }
    const sorted = [...refs].sort((a, b) => key(a)! - key(b)! || a.label.localeCompare(b.label));
    return { checkpoints: sorted, orderedBy };
  };
  return (
    by((r) => r.epoch, 'epoch') ??
    by((r) => r.step, 'step') ??
    by((r) => trailingNumber(r.label), 'number') ?? { checkpoints: [...refs].sort((a, b) => a.mtimeMs - b.mtimeMs || a.label.localeCompare(b.label)), orderedBy: 'time' }
  );
}

/** Largest `checkpoint` state file read, in bytes. */
const maxStateFileBytes = 1024 * 1024;

/** Entries listed by a TF `checkpoint` state file (all_model_checkpoint_paths, else model_checkpoint_path). */
async function checkpointStateEntries(dir: string, stateFile: string): Promise<string[]> {
  const text = await readRegularTextFile(stateFile, maxStateFileBytes).catch(() => undefined);
  if (text === undefined) {
    return []; // absent, unreadable, too large or not a regular file
  }
  const { all, latest } = checkpointStateLines(text);
  const prefixes = all.length > 0 ? all : latest ? [latest] : [];
  const out: string[] = [];
  for (const prefix of prefixes) {
    const index = path.resolve(dir, `${prefix}.index`);
    if (await statPath(index)) {
      out.push(index);
    }
  }
  return out;
}

/** Per-layer running sums for one checkpoint (only for layers it holds). */
interface LayerAcc {
  /** Tensors paired with the first checkpoint's that this checkpoint can read (what its own numbers are over). */
  tensors: number;
  /** Elements of those tensors in this checkpoint. */
  elements: number;
  /** Elements (from the shapes) of all its tensors paired with the first checkpoint's, readable or not. */
  declared: number;
  /** Tensors of the layer in the first checkpoint without a partner here. */
  missing: string[];
  /** Tensors of the layer paired here whose values this checkpoint cannot read, with why. */
  unreadable: { name: string; error: ErrorSummary }[];
  /** Tensors compared with the first checkpoint's (both readable). */
  firstTensors: number;
  /** Tensors compared with the previous checkpoint's (both readable). */
  stepTensors: number;
  count: number;
  sum: number;
  sumSq: number;
  norm2: number;
  dist2: number;
  /** Squared norm of the paired tensors in the first checkpoint. */
  firstNorm2: number;
  step2: number;
  prevNorm2: number;
  min: number;
  max: number;
  nonFinite: number;
}

/** Computes the history of a folder of checkpoints. */
export async function computeHistory(dir: string, options: HistoryOptions = {}): Promise<HistoryResult> {
  const found = await findCheckpoints(dir, options);
  const { orderedBy } = found;
  // A checkpoint that cannot be opened (one still being written, a damaged file) is left out with
  // its error; the others still make a history. None that opens: the first one's error.
  const checkpoints: CheckpointRef[] = [];
  const skipped: (CheckpointRef & ErrorSummary)[] = [];
  let firstError: unknown;
  for (const c of found.checkpoints) {
    throwIfAborted(options.signal);
    try {
      await (await openLocalPath(c.path)).close();
      checkpoints.push(c);
    } catch (ex) {
      if (WeightFileError.is(ex, 'cancelled') || options.signal?.aborted || !WeightFileError.is(ex)) {
        throw ex;
      }
      firstError ??= ex;
      skipped.push({ ...c, ...summarizeError(ex) });
    }
  }
  if (checkpoints.length === 0) {
    throw firstError;
  }
  const namingWarnings = options.naming ? checkNames(options.naming, checkpoints.map((c) => c.label)) : [];
  let pool: DiffPool | undefined;
  if (options.workers !== 0) {
    // Workers pay off for big checkpoints only (see autoWorkerMinBytes).
    const probe = await openLocalPath(checkpoints[0]!.path);
    const bytes = probe.tensors.reduce((s, t) => s + t.byteLength, 0);
    await probe.close();
    if (options.workers !== undefined || 2 * bytes >= autoWorkerMinBytes) {
      pool = new DiffPool({ ...(options.workers ? { workers: options.workers } : {}), callerIdle: options.callerIdle });
    }
  }
  const bins = options.histogramBins ?? 32;
  const first = checkpoints[0]!;
  const layerOrder: string[] = [];
  const perCheckpoint: Map<string, LayerAcc>[] = [];
  /** For each checkpoint: tensor name in that checkpoint -> layer of the first checkpoint. */
  const layerOfName: Map<string, string>[] = [];
  const total = checkpoints.length;
  const cache = options.cache;
  /** Cache keys of the checkpoints: path and stamp. */
  const keys: string[] = [];
  if (cache) {
    for (const c of checkpoints) {
      const st = await checkpointStamp(c.path);
      keys.push(`${c.path}\u0000${st.size}\u0000${st.mtimeMs}`);
    }
  }
  const run = cache?.begin();
  const cached = <T extends CachedStep>(key: () => string, compute: () => Promise<T>): Promise<T> => (run ? run.get(key(), compute) : compute());
  let finished = false;
  try {
    for (let k = 0; k < total; k++) {
      throwIfAborted(options.signal);
      const cur = checkpoints[k]!;
      const step = await cached(
        () => `step\u0000${keys[0]}\u0000${k === 0 ? '' : keys[k - 1]}\u0000${keys[k]}`,
        async (): Promise<StepResult> => {
          const dFirst = await diffLocalFiles(first.path, cur.path, { pool, workers: 0, signal: options.signal });
          // A pair the comparison could not read: this checkpoint's side is read alone, so that
          // its own numbers do not depend on the first checkpoint being readable.
          const failed = dFirst.tensors.flatMap((t) => (t.a !== null && t.b !== null && t.group === 'model' && t.error ? [t.b] : []));
          const own = failed.length > 0 ? await ownValues(cur.path, failed, options.signal) : new Map<string, OwnValues>();
          const names = new Map<string, string>();
          const layers: string[] = [];
          for (const t of dFirst.tensors) {
            if (t.a !== null && t.b !== null && t.group === 'model') {
              // A tensor this checkpoint cannot read has no values to compare or to count in the histograms.
              if (!t.error || own.get(t.b)?.ok) {
                names.set(t.b, t.layer);
              }
              if (!layers.includes(t.layer)) {
                layers.push(t.layer);
              }
            }
          }
          const dPrev = k === 0 ? undefined : k === 1 ? dFirst : await diffLocalFiles(checkpoints[k - 1]!.path, cur.path, { pool, workers: 0, signal: options.signal });
          return { names, layers, acc: accumulate(dFirst.tensors, dPrev?.tensors, names, own) };
        },
      );
      if (k === 0) {
        layerOrder.push(...step.layers);
      }
      layerOfName.push(step.names);
      perCheckpoint.push(step.acc);
      options.onProgress?.(k + 1, total * 2);
    }

    // Shared histogram ranges per layer, then one more pass per checkpoint for the counts.
    const ranges = new Map<string, [number, number]>();
    for (const layer of layerOrder) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const acc of perCheckpoint) {
        const a = acc.get(layer);
        if (a && a.count > 0 && a.min <= a.max) {
          lo = Math.min(lo, a.min);
          hi = Math.max(hi, a.max);
        }
      }
      ranges.set(layer, lo <= hi ? (lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi]) : [0, 1]);
    }
    const histograms: Map<string, number[]>[] = [];
    for (let k = 0; k < total; k++) {
      // Its layers' shared ranges are part of the key: a checkpoint that widens them counts all again.
      const own = [...new Set(layerOfName[k]!.values())].map((layer) => [layer, ranges.get(layer)]);
      histograms.push(
        await cached(
          () => `histograms\u0000${keys[0]}\u0000${keys[k]}\u0000${bins}\u0000${JSON.stringify(own)}`,
          () => layerHistograms(checkpoints[k]!.path, layerOfName[k]!, ranges, bins, options.signal),
        ),
      );
      options.onProgress?.(total + k + 1, total * 2);
    }

    const layers: LayerHistory[] = layerOrder.map((layer) => {
      const [lo, hi] = ranges.get(layer)!;
      const unreadable = perCheckpoint.flatMap((accs, k) => ((accs.get(layer)?.unreadable.length ?? 0) > 0 ? [k] : []));
      return {
        layer,
        ...(unreadable.length > 0 ? { unreadable } : {}),
        count: perCheckpoint[0]!.get(layer)?.declared ?? 0,
        histogramEdges: Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins),
        points: perCheckpoint.map((accs, k): LayerPoint | null => {
          const a = accs.get(layer);
          if (!a || a.tensors === 0) {
            return null;
          }
          const mean = a.count > 0 ? a.sum / a.count : null;
          return {
            count: a.elements,
            missingTensors: a.missing,
            norm: Math.sqrt(a.norm2),
            mean,
            std: mean !== null ? Math.sqrt(Math.max(0, a.sumSq / a.count - mean * mean)) : null,
            distanceFromFirst: a.firstTensors === 0 ? null : Math.sqrt(a.dist2),
            relDistanceFromFirst: a.firstTensors === 0 ? null : ratio(Math.sqrt(a.dist2), Math.sqrt(a.firstNorm2)),
            relStepChange: k === 0 || a.stepTensors === 0 ? null : ratio(Math.sqrt(a.step2), Math.sqrt(a.prevNorm2)),
            min: a.count > 0 && a.min <= a.max ? a.min : null,
            max: a.count > 0 && a.min <= a.max ? a.max : null,
            nonFiniteCount: a.nonFinite,
            histogram: histograms[k]!.get(layer) ?? new Array<number>(bins).fill(0),
          };
        }),
      };
    });
    // Nothing in common with the first (or previous) checkpoint: nothing compared, null.
    const model = perCheckpoint.map((accs) => {
      let firstTensors = 0;
      let stepTensors = 0;
      let first2 = 0;
      let dist2 = 0;
      let step2 = 0;
      let prev2 = 0;
      for (const a of accs.values()) {
        firstTensors += a.firstTensors;
        stepTensors += a.stepTensors;
        first2 += a.firstNorm2;
        dist2 += a.dist2;
        step2 += a.step2;
        prev2 += a.prevNorm2;
      }
      return { firstTensors, stepTensors, first2, dist2, step2, prev2 };
    });
    const relStepChange = model.map((m, k) => (k === 0 || m.stepTensors === 0 ? null : ratio(Math.sqrt(m.step2), Math.sqrt(m.prev2))));
    const result: HistoryResult = {
      dir,
      checkpoints,
      ...(skipped.length > 0 ? { skipped } : {}),
      orderedBy,
      layers,
      relDistanceFromFirst: model.map((m) => (m.firstTensors === 0 ? null : ratio(Math.sqrt(m.dist2), Math.sqrt(m.first2)))),
      relStepChange,
      warnings: historyWarnings(layers, relStepChange, checkpoints, perCheckpoint),
      namingWarnings,
    };
    finished = true;
    return result;
  } finally {
    run?.end(finished);
    await pool?.dispose();
  }
}

function emptyAcc(): LayerAcc {
  return { tensors: 0, elements: 0, declared: 0, missing: [], unreadable: [], firstTensors: 0, stepTensors: 0, count: 0, sum: 0, sumSq: 0, norm2: 0, dist2: 0, firstNorm2: 0, step2: 0, prevNorm2: 0, min: Infinity, max: -Infinity, nonFinite: 0 };
}

function ratio(x: number, y: number): number | null {
  if (y > 0) {
    return x / y;
  }
  return x === 0 ? 0 : null;
}

/** One tensor's numbers over its own values (finite ones for the sums), or why it cannot be read. */
type OwnValues = { ok: true; finite: number; nonFinite: number; mean: number | null; std: number | null; norm: number; min: number | null; max: number | null } | { ok: false; error: ErrorSummary };

/** Reads the named tensors of one checkpoint alone: their own numbers, or why they cannot be read. */
async function ownValues(file: string, names: readonly string[], signal?: AbortSignal): Promise<Map<string, OwnValues>> {
  const out = new Map<string, OwnValues>();
  const wanted = new Set(names);
  const wf = await openLocalPath(file);
  try {
    for (const t of wf.tensors) {
      if (wanted.has(t.name)) {
        out.set(t.name, await tensorOwnValues(t, signal));
      }
    }
  } finally {
    await wf.close();
  }
  return out;
}

/** One tensor's count, moments, norm and range over its own values (FiniteMoments). */
async function tensorOwnValues(t: TensorInfo, signal?: AbortSignal): Promise<OwnValues> {
  if (t.unavailable) {
    return { ok: false, error: t.unavailable };
  }
  if (!isNumericDType(t.dtype)) {
    return { ok: false, error: { reason: 'unsupportedDtype', message: `Tensor '${t.name}' holds '${t.dtype}' values, which have no numeric statistics.` } };
  }
  const moments = new FiniteMoments();
  try {
    for await (const chunk of t.readValues({ signal })) {
      moments.add(chunk);
    }
  } catch (ex) {
    if (WeightFileError.is(ex, 'cancelled') || signal?.aborted) {
      throw ex;
    }
    return { ok: false, error: summarizeError(ex) };
  }
  return { ok: true, ...moments.result() };
}

/**
 * Layer sums of one checkpoint from its diff against the first and against the previous one; a
 * pair the first diff could not read takes this checkpoint's numbers from `own` (its values read
 * alone) and is left out of the distance from the first.
 */
function accumulate(fromFirst: readonly TensorDiff[], fromPrev: readonly TensorDiff[] | undefined, layerOf: Map<string, string>, own: ReadonlyMap<string, OwnValues>): Map<string, LayerAcc> {
  const out = new Map<string, LayerAcc>();
  const get = (layer: string): LayerAcc => {
    let a = out.get(layer);
    if (!a) {
      a = emptyAcc();
      out.set(layer, a);
    }
    return a;
  };
  for (const t of fromFirst) {
    if (t.a !== null && t.b === null && t.group === 'model') {
      get(t.layer).missing.push(t.a);
      continue;
    }
    if (t.b === null || t.a === null || t.group !== 'model') {
      continue;
    }
    const a = get(t.layer);
    a.declared += t.shapeB ? elementCount(t.shapeB) : 0;
    let side: { finite: number; nonFinite: number; mean: number | null; std: number | null; norm: number; min: number | null; max: number | null };
    if (t.error) {
      const o = own.get(t.b);
      if (!o?.ok) {
        // Not readable here: no numbers (0 would read as a norm of 0).
        a.unreadable.push({ name: t.b, error: o?.error ?? t.error });
        continue;
      }
      // Readable here but not in the first checkpoint: its own numbers, no distance.
      side = o;
    } else {
      side = { finite: t.count - t.nonFiniteCount, nonFinite: t.nonFiniteCount, mean: t.meanB, std: t.stdB, norm: t.normB ?? 0, min: t.minB, max: t.maxB };
      a.firstTensors++;
      a.dist2 += (t.diffNorm ?? 0) ** 2;
      a.firstNorm2 += (t.normA ?? 0) ** 2;
    }
    a.tensors++;
    a.elements += t.shapeB ? elementCount(t.shapeB) : 0;
    const n = side.finite;
    if (side.mean !== null && side.std !== null && n > 0) {
      a.count += n;
      a.sum += side.mean * n;
      a.sumSq += (side.std * side.std + side.mean * side.mean) * n;
    }
    a.norm2 += side.norm ** 2;
    a.min = Math.min(a.min, side.min ?? Infinity);
    a.max = Math.max(a.max, side.max ?? -Infinity);
    a.nonFinite += side.nonFinite;
  }
  for (const t of fromPrev ?? []) {
    const layer = t.b !== null ? layerOf.get(t.b) : undefined;
    if (layer === undefined || t.a === null || t.error) {
      continue;
    }
    const a = get(layer);
    a.stepTensors++;
    a.step2 += (t.diffNorm ?? 0) ** 2;
    a.prevNorm2 += (t.normA ?? 0) ** 2;
  }
  return out;
}

/** Histograms of each layer's values in one checkpoint on the shared ranges. */
async function layerHistograms(file: string, layerOf: Map<string, string>, ranges: Map<string, [number, number]>, bins: number, signal?: AbortSignal): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  const wf = await openLocalPath(file);
  try {
    for (const t of wf.tensors) {
      const layer = layerOf.get(t.name);
      const range = layer !== undefined ? ranges.get(layer) : undefined;
      if (layer === undefined || !range || t.unavailable || !isNumericDType(t.dtype)) {
        continue;
      }
      let counts = out.get(layer);
      if (!counts) {
        counts = new Array<number>(bins).fill(0);
        out.set(layer, counts);
      }
      const [lo, hi] = range;
      const scale = bins / (hi - lo);
      try {
        for await (const chunk of t.readValues({ signal })) {
          for (let i = 0; i < chunk.length; i++) {
            const x = chunk[i]!;
            if (x - x !== 0 || x < lo || x > hi) {
              continue;
            }
            const b = x === hi ? bins - 1 : Math.floor((x - lo) * scale);
            counts[b < bins ? b : bins - 1]!++;
          }
        }
      } catch (ex) {
        if (signal?.aborted) {
          throw ex;
        }
        // A damaged tensor is already reported by the comparisons; its histogram stays partial.
      }
    }
  } finally {
    await wf.close();
  }
  return out;
}

/**
 * Stalled, exploding, missing, partial and unreadable layers (a checkpoint lacking a layer says
 * nothing about its movement), after one `unchanged` warning for checkpoints that hold exactly the
 * weights of the one before (a run that did not train, or saved one state twice; the layers'
 * stall test, relative to the model's movement, cannot tell this).
 */
function historyWarnings(layers: readonly LayerHistory[], modelStep: readonly (number | null)[], checkpoints: readonly CheckpointRef[], perCheckpoint: readonly Map<string, LayerAcc>[]): HistoryWarning[] {
  const out: HistoryWarning[] = [];
  const n = checkpoints.length;
  const same = checkpoints.flatMap((c, k) => (k > 0 && modelStep[k] === 0 ? [`${c.label} = ${checkpoints[k - 1]!.label}`] : []));
  if (same.length > 0) {
    const first = checkpoints.findIndex((_, k) => k > 0 && modelStep[k] === 0);
    out.push({
      layer: '',
      kind: 'unchanged',
      checkpoint: checkpoints[first]!.label,
      message:
        same.length === 1
          ? `Checkpoint ${checkpoints[first]!.label} holds exactly the weights of ${checkpoints[first - 1]!.label}: every tensor both hold is identical.`
          : `${same.length} checkpoints hold exactly the weights of the one before (${same.slice(0, 3).join(', ')}${same.length > 3 ? ', ...' : ''}): every tensor both hold is identical.`,
    });
  }
  for (const l of layers) {
    // Null when the first checkpoint cannot read any of the layer's tensors.
    const p0 = l.points[0] ?? null;
    const unreadableAt = l.unreadable ?? [];
    if (unreadableAt.length > 0) {
      const k = unreadableAt[0]!;
      const bad = perCheckpoint[k]!.get(l.layer)!.unreadable;
      const namesOf = (list: readonly { name: string }[]): string => list.slice(0, 3).map((b) => `'${b.name}'`).join(', ') + (list.length > 3 ? ` and ${list.length - 3} more` : '');
      const names = namesOf(bad);
      // The others by name (up to 3), so that the warning says exactly which checkpoints are concerned,
      // each with its own tensors where they are not the first one's.
      const more = unreadableAt.slice(1).map((i) => {
        const own = namesOf(perCheckpoint[i]!.get(l.layer)!.unreadable);
        return own === names ? checkpoints[i]!.label : `${checkpoints[i]!.label}: ${own}`;
      });
      const others = more.length > 0 ? ` (and ${more.length} more checkpoint${more.length > 1 ? 's' : ''}: ${more.slice(0, 3).join('; ')}${more.length > 3 ? '; ...' : ''})` : '';
      const first = bad[0]!.error;
      // The first checkpoint is the reference of every distance from the first, readable or not.
      const fromFirst = k === 0 && n > 1 ? (p0 === null ? ', so its distance from the first checkpoint is unavailable in every checkpoint' : ', as do its distances from the first checkpoint') : '';
      out.push({
        layer: l.layer,
        kind: 'unreadable',
        checkpoint: checkpoints[k]!.label,
        message: `Checkpoint ${checkpoints[k]!.label}${others}: ${names} could not be read (${first.reason}: ${first.message.replace(/\.$/, '')}); ${l.points[k] === null ? `layer '${layerName(l.layer)}' is left out of the comparisons there` : `layer '${layerName(l.layer)}''s numbers there cover its other tensors`}${fromFirst}.`,
      });
    }
    // A layer whose tensors are there but unreadable is reported above, not as missing.
    const missing = checkpoints.filter((_, k) => l.points[k] === null && !unreadableAt.includes(k)).map((c) => c.label);
    if (missing.length > 0) {
      out.push({
        layer: l.layer,
        kind: 'missing',
        checkpoint: missing[0]!,
        message: `Layer '${layerName(l.layer)}' is missing from ${missing.length} of ${n} checkpoints (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}); it is left out of the comparisons there.`,
      });
    }
    const partial = checkpoints.flatMap((c, k) => {
      const p = l.points[k];
      return p && p.missingTensors.length > 0 ? [{ label: c.label, p }] : [];
    });
    if (partial.length > 0) {
      const { label, p } = partial[0]!;
      const others = partial.length > 1 ? ` (and ${partial.length - 1} more checkpoint${partial.length > 2 ? 's' : ''})` : '';
      out.push({
        layer: l.layer,
        kind: 'partial',
        checkpoint: label,
        message: `Checkpoint ${label}${others} holds only part of layer '${layerName(l.layer)}': ${p.missingTensors.map((m) => `'${m}'`).join(', ')} ${p.missingTensors.length === 1 ? 'has' : 'have'} no counterpart there, so its numbers cover ${p.count} of the layer's ${l.count} values.`,
      });
    }
    // The rule compares a checkpoint with the first: not where the first could not read all of the
    // layer, whose norm and NaN/Inf count then cover fewer tensors than a later checkpoint's.
    for (let k = 1; k < n && p0 && !unreadableAt.includes(0); k++) {
      const p = l.points[k];
      if (!p) {
        continue;
      }
      if ((p.nonFiniteCount > 0 && p0.nonFiniteCount === 0) || (p0.norm > 0 && p.norm > blowupFactor * p0.norm)) {
        out.push({
          layer: l.layer,
          kind: 'blowup',
          checkpoint: checkpoints[k]!.label,
          message:
            p.nonFiniteCount > 0 && p0.nonFiniteCount === 0
              ? `Layer '${layerName(l.layer)}' holds ${p.nonFiniteCount} NaN/Inf values at ${checkpoints[k]!.label}, none at ${checkpoints[0]!.label}.`
              : `Layer '${layerName(l.layer)}' grew from norm ${fmt(p0.norm)} to ${fmt(p.norm)} (x${fmt(p.norm / p0.norm)}) by ${checkpoints[k]!.label}.`,
        });
        break;
      }
    }
    // Stalled: in the last transitions (up to 2) it moved less than stallRatio of the model.
    const window = Math.min(2, n - 1);
    if (window >= 1) {
      let stalled = true;
      for (let k = n - window; k < n; k++) {
        const ms = modelStep[k];
        const ls = l.points[k]?.relStepChange ?? null;
        if (ms === null || ms === undefined || ms <= 0 || ls === null || ls >= stallRatio * ms) {
          stalled = false;
        }
      }
      if (stalled) {
        const k = n - window;
        out.push({
          layer: l.layer,
          kind: 'stalled',
          checkpoint: checkpoints[k]!.label,
          message: `Layer '${layerName(l.layer)}' stopped moving after ${checkpoints[k - 1]!.label}: relative change ${fmt(l.points[n - 1]?.relStepChange ?? 0)} per checkpoint while the model moved ${fmt(modelStep[n - 1] ?? 0)}.`,
        });
      }
    }
  }
  return out;
}

/** A layer's name in a message; the tensors outside any layer are '(no layer)', as the history table calls them. */
function layerName(layer: string): string {
  return layer || '(no layer)';
}

function fmt(x: number): string {
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(3) : x.toExponential(2);
}
