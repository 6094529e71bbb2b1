/**
 * The probe of a model file, end to end: open, rebuild, probe on synthetic or user data, and the
 * measured verdicts next to the data-free signal forecast of the static diagnostics, so the two
 * can be compared. Used by `weightscope probe` and the extension's worker.
 */
import type { Diagnostic } from '../analysis/diagnostics/diagnostic';
import { forecastSignal, type SignalForecast } from '../analysis/signalPropagation';
import type { TensorStats } from '../analysis/statsTypes';
import { computeTensorStats } from '../analysis/tensorStats';
import { runDiagnostics } from '../analysis/diagnostics/diagnostic';
import { isNumericDType } from '../core/dtypes';
import { throwIfAborted } from '../core/errors';
import { openLocalPath } from '../formats/registry';
import { explainWasmMemoryFailure, initLayers, type BackendName, type Tf, type Tfl } from './backend';
import type { BackendInfo } from './backend';
import type { BackendHold } from './backendHolds';
import { checkDataForModel } from './dataCheck';
import { inputShapeFor, loadDataSet, type DataSet } from './dataLoader';
import { gradientDiagnostics } from './gradientRules';
import { buildModel, type BuiltModel } from './modelBuilder';
import { chooseLoss, defaultProbeBatch, ensureGradientBackend, probeModel, requireOneInput, syntheticBatch, type LossName, type ProbeData, type ProbeResult } from './probe';
import type { SyntheticDistribution } from './syntheticData';

/** What to probe and how. */
export interface ProbeFileOptions {
  /** Data file (.npy/.npz/.csv/.json) instead of synthetic inputs. */
  data?: string;
  /** Distribution of synthetic inputs (default normal). */
  distribution?: SyntheticDistribution;
  /** Batch size: synthetic samples, or the first rows of the data (default: syntheticBatch, 32 or fewer on the CPU backend). */
  batchSize?: number;
  /** Loss override. */
  loss?: LossName;
  /** Learning rate for update ratios. */
  learningRate?: number;
  /** Backend to use ('auto' = best available). */
  backend?: BackendName | 'auto';
  /** Cancels the probe. */
  signal?: AbortSignal;
  /** The job's hold on TF.js's backend, when jobs run side by side in this thread (backendHolds.ts). */
  hold?: BackendHold;
}

/** The probe report (JSON-safe). */
export interface ProbeReport {
  /** Model file. */
  file: string;
  /** Format display name. */
  formatName: string;
  /** Backend in use and fallback reasons. */
  backend: BackendInfo;
  /** Measurements per layer. */
  probe: ProbeResult;
  /** Verdicts on the measured gradients (gradientRules.ts). */
  diagnostics: Diagnostic[];
  /** Data-free forecast verdicts (codes signal-vanishing / signal-exploding) from the weights alone. */
  forecastDiagnostics: Diagnostic[];
  /** Data-free forecast per layer (cumulative gains). */
  forecast: SignalForecast | null;
  /** Wall time of the probe pass, in milliseconds. */
  probeMs: number;
  /** Why the batch is smaller than 32 when it was not asked for (the CPU backend's budget of work, the WebAssembly backend's memory; see syntheticBatch). */
  batchReduced?: string;
  /** Samples in the data file when the probe took only its first rows (the batch); absent when it took them all or had no data. */
  dataRows?: number;
}

/** Opens, rebuilds and probes a model file. */
export async function probeFile(file: string, options: ProbeFileOptions = {}): Promise<ProbeReport> {
  const { tf, tfl, info } = await initLayers({ preferred: options.backend ?? 'auto' });
  const wf = await openLocalPath(file);
  try {
    const built = await buildModel(wf, tf, tfl, { signal: options.signal });
    let measured: Measured;
    try {
      measured = await probeBuilt(file, built, tf, tfl, info, options);
    } finally {
      // the model's weights are freed however the probe ends: bad data, a cancel, a failed pass
      built.model.dispose();
    }
    const { backend, probe, probeMs, batch, rows, size, data } = measured;
    // The forecast from the weights alone, as `check` makes it: from every model tensor (a
    // normalization's gamma resets the scale; with kernels alone it was left out of the forecast).
    const stats = new Map<string, TensorStats>();
    for (const t of wf.tensors) {
      if (t.group === 'model' && !t.unavailable && isNumericDType(t.dtype)) {
        try {
          stats.set(t.name, await computeTensorStats(t, { signal: options.signal }));
        } catch {
          // a damaged tensor only leaves the forecast without that layer
        }
      }
    }
    let forecast: SignalForecast | null = null;
    let forecastDiagnostics: Diagnostic[] = [];
    try {
      forecast = forecastSignal(wf, stats);
      forecastDiagnostics = runDiagnostics({ file: wf, stats }).filter((d) => d.code.startsWith('signal-'));
    } catch {
      forecast = null;
    }
    return {
      file,
      formatName: wf.formatName,
      backend,
      probe,
      diagnostics: gradientDiagnostics(probe),
      forecastDiagnostics,
      forecast,
      probeMs,
      ...(batch?.reduced ? { batchReduced: batch.reduced } : {}),
      ...(data && rows > size ? { dataRows: rows } : {}),
    };
  } finally {
    await wf.close();
  }
}

/** What probeBuilt measured, for the report. */
interface Measured {
  backend: BackendInfo;
  probe: ProbeResult;
  probeMs: number;
  batch: { size: number; reduced?: string } | undefined;
  rows: number;
  size: number;
  data: DataSet | undefined;
}

/** Loads and checks the data, then probes the rebuilt model (which the caller disposes). */
async function probeBuilt(file: string, built: BuiltModel, tf: Tf, tfl: Tfl, info: BackendInfo, options: ProbeFileOptions): Promise<Measured> {
  requireOneInput(built.model, file, 'probed');
  throwIfAborted(options.signal);
  const backend = await ensureGradientBackend(tf, info, built.model, options.hold, options.signal);
  const data = options.data ? await loadDataSet(options.data, options.signal) : undefined;
  const xShape = data && options.data ? inputShapeFor(data, built.model.inputs[0]?.shape ?? [], options.data) : undefined;
  if (data && xShape && options.data) {
    checkDataForModel({ ...data, xShape }, built.model, chooseLoss(built.model, { loss: options.loss, trainingConfig: built.trainingConfig }).name, options.data);
  }
  // a batch of data is its first rows, as many as a synthetic batch would hold (or --batch)
  const auto = options.batchSize !== undefined ? undefined : syntheticBatch(built.model, backend.name);
  const size = options.batchSize ?? auto?.size ?? defaultProbeBatch;
  const rows = xShape?.[0] ?? 0;
  const batch = data && rows <= size ? undefined : auto;
  const t0 = Date.now();
  const probe = await probeModel(built.model, tf, tfl, {
    ...(data && xShape ? { data: firstRows({ x: data.x, xShape, ...(data.y && data.yShape ? { y: data.y, yShape: data.yShape } : {}) }, size) } : {}),
    distribution: options.distribution,
    batchSize: size,
    loss: options.loss,
    trainingConfig: built.trainingConfig,
    learningRate: options.learningRate,
    signal: options.signal,
  }).catch((ex: unknown) => {
    throw explainWasmMemoryFailure(ex, file, 'probing', size, 'probe with a smaller batch (--batch), or on the cpu backend');
  });
  const probeMs = Date.now() - t0;
  return { backend, probe, probeMs, batch, rows, size, data };
}

/** The first `count` samples of `data` (copied), or `data` itself when it has no more. */
export function firstRows(data: ProbeData, count: number): ProbeData {
  const rows = data.xShape[0] ?? 0;
  if (rows <= count) {
    return data;
  }
  const take = (values: Float32Array): Float32Array => values.slice(0, (values.length / rows) * count);
  return {
    x: take(data.x),
    xShape: [count, ...data.xShape.slice(1)],
    ...(data.y && data.yShape ? { y: take(data.y), yShape: [count, ...data.yShape.slice(1)] } : {}),
  };
}
