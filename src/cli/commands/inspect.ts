/**
 * `weightscope inspect <file-or-dir> [--json] [--tensor NAME] [--group model|optimizer|all] [--cache DIR]`
 */
import * as path from 'node:path';
import { buildFileReport, selectTensors, type FileReport, type ReportFilter } from '../../analysis/report';
import { analyzeFileCached, StatsCache } from '../../analysis/statsCache';
import { StatsPool, type TensorResult } from '../../analysis/statsPool';
import { analyzeOpenTensor, analyzeTensor } from '../../analysis/statsRunner';
import { summarizeError, throwIfAborted, WeightFileError } from '../../core/errors';
import type { WeightFile } from '../../core/model';
import { openLocalPath } from '../../formats/registry';
import { choiceOption, intOption, parseArgs, UsageError, workersOption } from '../args';
import { expandInput } from '../inputs';
import { formatBytes, formatCount, formatNumber, renderTable } from '../table';
import { outJson, type CliIo } from '../io';

/** Usage text of the command. */
export const inspectUsage = `weightscope inspect <file-or-dir> [options]

Per-layer and per-tensor statistics of a weight file (or of every weight file in a folder).

Options:
  --json                 print the JSON report (schema in the README) instead of a table
  --tensor NAME          only the tensor named exactly NAME, or else every tensor whose name
                         contains NAME (case-sensitive); an error when none does (in a
                         folder: only the files holding a match are listed)
  --group GROUP          model | optimizer | all (default: all)
  --bins N               linear histogram bins (default: 64)
  --workers N            worker threads besides the main thread, which analyses too
                         (default: CPU count - 1, at most 4; 0 = none, the main thread alone)
  --no-stats             list tensors from the headers only, without reading their data
  --cache DIR            keep statistics in DIR (one JSON file per file version; an unchanged
                         file is not read again, a file whose size or mtime changed is)`;

const spec = { json: false, tensor: true, group: true, bins: true, workers: true, 'no-stats': false, cache: true, help: false } as const;

/** Runs the command; returns the exit code. */
export async function runInspect(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.has('help')) {
    io.out(inspectUsage);
    return 0;
  }
  if (args.positionals.length !== 1) {
    throw new UsageError('inspect takes exactly one <file-or-dir>.');
  }
  const group = choiceOption(args, 'group', ['model', 'optimizer', 'all'] as const, 'all');
  const bins = intOption(args, 'bins', 64, 1, 4096);
  const workers = workersOption(args);
  const filter = { group, tensor: args.options.get('tensor') };
  const { entries, isCollection } = await expandInput(args.positionals[0]!);
  const cacheDir = args.options.get('cache');
  if (cacheDir !== undefined && cacheDir.trim() === '') {
    throw new UsageError('--cache needs a folder.');
  }
  const cache = cacheDir !== undefined ? new StatsCache({ cacheDir: path.resolve(cacheDir) }) : undefined;

  const pool = args.options.has('no-stats') ? undefined : statsRunner(workers, true);
  const reports: FileReport[] = [];
  // In a folder, --tensor picks the files holding a match; the others are left out without a word.
  let unmatched = 0;
  try {
    for (const entry of entries) {
      let report: FileReport | null;
      try {
        report = await inspectOne(entry, filter, bins, pool, io, cache, isCollection);
      } catch (ex) {
        if (!isCollection) {
          throw ex;
        }
        const e = summarizeError(ex);
        io.err(`error[${e.reason}]: ${e.message}`);
        continue;
      }
      if (!report) {
        unmatched++;
        continue;
      }
      reports.push(report);
      if (!args.options.has('json')) {
        io.out(renderReport(report));
      }
    }
  } finally {
    await pool?.dispose();
  }
  if (unmatched > 0 && unmatched === entries.length) {
    throw noMatch(args.positionals[0]!, filter);
  }
  if (args.options.has('json')) {
    // Written tensor by tensor (each tensor's JSON one string), also for a collection of reports.
    outJson(io, isCollection ? reports : reports[0], isCollection ? 3 : 2);
  }
  return reports.length + unmatched === entries.length ? 0 : 2;
}

async function inspectOne(
  entry: string,
  filter: ReportFilter,
  bins: number,
  pool: StatsRunner | undefined,
  io: CliIo,
  cache: StatsCache | undefined,
  skipUnmatched: boolean,
): Promise<FileReport | null> {
  if (!cache) {
    // The workers load and open the file while this thread opens it; when every tensor is wanted,
    // datasets stored as plain bytes are analysed from the start.
    pool?.prepare(entry, { early: filter.group === 'all' && filter.tensor === undefined, histogramBins: bins });
  }
  const file = await openLocalPath(entry);
  try {
    if (filter.tensor !== undefined && selectTensors(file, filter).length === 0) {
      if (skipUnmatched) {
        return null;
      }
      throw noMatch(entry, filter);
    }
    const results = await analyzeTensors(file, entry, filter, bins, pool, io, cache);
    return buildFileReport(file, results, filter);
  } finally {
    await file.close();
  }
}

/** The error for a --tensor that matches nothing in `where` (a file, or every file of a folder). */
function noMatch(where: string, filter: ReportFilter): WeightFileError {
  const group = filter.group && filter.group !== 'all' ? `${filter.group} ` : '';
  return new WeightFileError('notFound', `No ${group}tensor of ${where} matches '${filter.tensor}'.`, { file: where });
}

/** What computes the statistics: a StatsPool, or this thread alone. */
export type StatsRunner = Pick<StatsPool, 'prepare' | 'analyzeFile' | 'dispose'>;

/**
 * The statistics runner for `--workers N` (undefined: the default count): a StatsPool, or for 0 no
 * worker threads at all, this thread computing one tensor after another.
 */
export function statsRunner(workers: number | undefined, callerIdle: boolean): StatsRunner {
  if (workers !== 0) {
    return new StatsPool({ ...(workers ? { workers } : {}), callerIdle });
  }
  return {
    prepare: () => undefined,
    dispose: () => Promise.resolve(),
    analyzeFile: async (filePath, tensorNames, options = {}) => {
      const signal = options.signal ?? new AbortController().signal;
      const bins = options.histogramBins ?? 64;
      const results = new Map<string, TensorResult>();
      for (const name of new Set(tensorNames)) {
        const result = options.openFile ? await analyzeOpenTensor(options.openFile, name, bins, signal) : await analyzeTensor(filePath, name, bins, signal);
        throwIfAborted(signal);
        results.set(name, result);
        options.onResult?.(name, result);
      }
      return results;
    },
  };
}

/**
 * Statistics of the selected numeric tensors of an opened local file, by `pool` (none when it is
 * undefined), with a progress bar on a TTY; answered from `cache` when given.
 */
export async function analyzeTensors(
  file: WeightFile,
  entry: string,
  filter: ReportFilter,
  bins: number,
  pool: StatsRunner | undefined,
  io: CliIo,
  cache?: StatsCache,
): Promise<Map<string, TensorResult>> {
  const names = selectTensors(file, filter)
    .filter((t) => !t.unavailable && t.dtype !== 'string')
    .map((t) => t.name);
  if (!pool || names.length === 0) {
    return new Map();
  }
  let done = 0;
  const progress = io.progress(`analysing ${entry}`);
  const options = { histogramBins: bins, onResult: () => progress(++done, names.length), openFile: file };
  const results = cache ? await analyzeFileCached(pool, cache, entry, names, options) : await pool.analyzeFile(entry, names, options);
  progress(names.length, names.length, true);
  return results;
}

/** The human-readable table of one report. */
export function renderReport(r: FileReport): string {
  const lines: string[] = [];
  lines.push(`${r.path}`);
  lines.push(
    `  format: ${r.formatName}${r.modelClass ? `  model: ${r.modelClass}` : ''}  tensors: ${r.tensors.length}  params: ${formatCount(r.params)}  size: ${formatBytes(r.bytes)}`,
  );
  for (const w of r.warnings) {
    lines.push(`  warning[${w.reason}]: ${w.message}`);
  }
  const byName = new Map(r.tensors.map((t) => [t.name, t]));
  const rows: string[][] = [];
  const listed = new Set<string>();
  const tensorRow = (name: string, indent: string): string[] | undefined => {
    const t = byName.get(name);
    if (!t || listed.has(name)) {
      return undefined;
    }
    listed.add(name);
    const s = t.stats;
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const nonFinite = s ? s.nanCount + s.posInfCount + s.negInfCount : 0;
    return [
      `${indent}${t.layer && name.startsWith(`${t.layer}/`) ? name.slice(t.layer.length + 1) : name}`,
      `[${t.shape.join(',')}]`,
      t.storageDtype ? `${t.dtype}<${t.storageDtype}` : t.dtype,
      formatCount(elements),
      formatNumber(s?.mean),
      formatNumber(s?.std),
      formatNumber(s?.min),
      formatNumber(s?.max),
      s && s.count > 0 ? `${((100 * s.zeroCount) / s.count).toFixed(1)}%` : '-',
      t.error ? `error[${t.error.reason}]` : s ? (nonFinite > 0 ? `NaN ${s.nanCount} +Inf ${s.posInfCount} -Inf ${s.negInfCount}` : 'ok') : '-',
    ];
  };
  for (const layer of r.layers) {
    const head = [`${layer.name}${layer.className ? ` (${layer.className}${layer.activation ? `, ${layer.activation}` : ''})` : ''}`, '', '', formatCount(layer.params), '', '', '', '', '', ''];
    const children = layer.tensors.map((n) => tensorRow(n, '  ')).filter((x): x is string[] => x !== undefined);
    if (children.length > 0) {
      rows.push(head, ...children);
    }
  }
  for (const t of r.tensors) {
    const row = tensorRow(t.name, '');
    if (row) {
      rows.push(row);
    }
  }
  lines.push('');
  lines.push(renderTable(['name', 'shape', 'dtype', '>params', '>mean', '>std', '>min', '>max', '>zeros', 'status'], rows));
  for (const t of r.tensors.filter((x) => x.error)) {
    lines.push(`  ${t.name}: error[${t.error!.reason}]: ${t.error!.message}`);
  }
  lines.push('');
  return lines.join('\n');
}
