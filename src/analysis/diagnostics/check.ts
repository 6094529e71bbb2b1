/**
 * `checkWeightFile`: the whole weight-health check in one JSON-safe report, for the
 * `weightscope check` command and the panel. Reads value samples of the kernels and streams every
 * float model tensor once more for the precision analysis, then runs all diagnostics and the
 * signal forecast. A tensor that cannot be read is listed in `failures`; the rest still runs.
 */
import { isFloatDType } from '../../core/dtypes';
import { summarizeError, throwIfAborted, WeightFileError } from '../../core/errors';
import type { FormatId, WeightFile } from '../../core/model';
import { analyzePrecision, type PrecisionReport } from '../precision';
import { analyzeRegularization, type RegularizationReport } from '../regularization';
import { forecastSignal, type SignalForecast } from '../signalPropagation';
import type { TensorStats } from '../statsTypes';
import { runDiagnostics, type Diagnostic, type Severity } from './diagnostic';
import { kernelRoles } from './ruleContext';
import { defaultSampleValues, sampleTensor } from './sampleTensor';

/** Options of checkWeightFile. */
export interface CheckOptions {
  /** Values per kernel sample (default 65536). */
  sampleValues?: number;
  /** Run the precision analysis (two extra passes over every float model tensor); default true. */
  precision?: boolean;
  /** Cancels the check (throws a `cancelled` WeightFileError). */
  signal?: AbortSignal;
  /** Called after each tensor read with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** The JSON report of `weightscope check`. */
export interface CheckReport {
  /** Report schema version. */
  schemaVersion: 1;
  /** File path as opened. */
  file: string;
  /** Format id. */
  format: FormatId;
  /** Format display name. */
  formatName: string;
  /** Counts per severity and of the work done. */
  summary: {
    /** Error diagnostics. */
    errors: number;
    /** Warning diagnostics. */
    warnings: number;
    /** Info diagnostics. */
    infos: number;
    /** Kernel tensors sampled for the initializer tests. */
    sampledTensors: number;
    /** Tensors with a precision report. */
    precisionTensors: number;
    /** Tensors that could not be read. */
    failedTensors: number;
  };
  /** All findings, errors first. */
  diagnostics: Diagnostic[];
  /** The data-free signal propagation forecast. */
  forecast: SignalForecast;
  /** Precision per float model tensor (empty when disabled). */
  precision: PrecisionReport[];
  /** Regularization as configured and observed. */
  regularization: RegularizationReport;
  /** Tensors that could not be read, with the reason. */
  failures: { tensor: string; reason: string; message: string }[];
}

/** Runs samples, precision, all diagnostics and the forecast on an opened file. */
export async function checkWeightFile(file: WeightFile, stats: ReadonlyMap<string, TensorStats>, options: CheckOptions = {}): Promise<CheckReport> {
  const signal = options.signal;
  const maxValues = options.sampleValues ?? defaultSampleValues;
  const samples = new Map<string, Float64Array>();
  const precision = new Map<string, PrecisionReport>();
  const failures: CheckReport['failures'] = [];
  const failed = new Set<string>();
  const layerClass = new Map<string, string | undefined>();
  for (const l of file.layers) {
    for (const t of l.tensors) {
      layerClass.set(t, l.className);
    }
  }
  const readable = file.tensors.filter((t) => t.group === 'model' && isFloatDType(t.dtype) && !t.unavailable && t.shape.every((d) => d >= 0));
  for (const t of file.tensors) {
    if (t.unavailable) {
      failures.push({ tensor: t.name, reason: t.unavailable.reason, message: t.unavailable.message });
    }
  }
  const kernels = readable.filter((t) => kernelRoles.includes(t.role) && t.shape.length >= 2);
  const total = kernels.length + (options.precision === false ? 0 : readable.length);
  let done = 0;
  const fail = (name: string, ex: unknown): void => {
    if (WeightFileError.is(ex, 'cancelled')) {
      throw ex;
    }
    if (!failed.has(name)) {
      failed.add(name);
      const s = summarizeError(ex);
      failures.push({ tensor: name, reason: s.reason, message: s.message });
    }
  };
  for (const t of kernels) {
    throwIfAborted(signal);
    try {
      samples.set(t.name, await sampleTensor(t, maxValues, signal));
    } catch (ex) {
      fail(t.name, ex);
    }
    options.onProgress?.(++done, total);
  }
  if (options.precision !== false) {
    for (const t of readable) {
      throwIfAborted(signal);
      if (!failed.has(t.name)) {
        try {
          precision.set(t.name, await analyzePrecision(t, signal, { format: file.format, className: layerClass.get(t.name) }));
        } catch (ex) {
          fail(t.name, ex);
        }
      }
      options.onProgress?.(++done, total);
    }
  }
  const diagnostics = runDiagnostics({ file, stats, samples, precision });
  if (failures.length > 0) {
    diagnostics.unshift(unreadableTensors(failures, file.tensors.length));
  }
  const count = (s: Severity): number => diagnostics.filter((d) => d.severity === s).length;
  return jsonSafe({
    schemaVersion: 1 as const,
    file: file.path,
    format: file.format,
    formatName: file.formatName,
    summary: {
      errors: count('error'),
      warnings: count('warning'),
      infos: count('info'),
      sampledTensors: samples.size,
      precisionTensors: precision.size,
      failedTensors: failures.length,
    },
    diagnostics,
    forecast: forecastSignal(file, stats),
    precision: [...precision.values()],
    regularization: analyzeRegularization(file, stats),
    failures,
  });
}

/** The `unreadable-tensors` error: a file whose weights are partly (or wholly) unreadable is not healthy, whatever the rest shows. */
function unreadableTensors(failures: CheckReport['failures'], tensors: number): Diagnostic {
  const first = failures[0]!;
  const what = failures.length === tensors ? `None of the ${tensors} tensors could be read` : `${failures.length} of ${tensors} tensors could not be read`;
  return {
    severity: 'error',
    code: 'unreadable-tensors',
    message: `${what} (the first, '${first.tensor}': ${first.reason}); the other checks ran without ${failures.length === 1 ? 'it' : 'them'}.`,
    evidence: { failedTensors: failures.length, tensors, firstTensor: first.tensor, firstReason: first.reason },
  };
}

/** True when the report holds a diagnostic at `failOn` severity or worse (`--fail-on`). */
export function shouldFail(report: Pick<CheckReport, 'diagnostics'>, failOn: 'error' | 'warning'): boolean {
  return report.diagnostics.some((d) => d.severity === 'error' || (failOn === 'warning' && d.severity === 'warning'));
}

/** Deep copy with every non-finite number replaced by null (JSON and postMessage safe). */
export function jsonSafe<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as T;
}
