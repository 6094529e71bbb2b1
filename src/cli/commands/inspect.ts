/**
 * `weightscope inspect <file-or-dir> [--json] [--tensor NAME] [--group model|optimizer|all] [--bins N] [--workers N] [--no-stats] [--cache DIR]`
 */
import * as path from 'node:path';
import { buildFileReport, ReadableTally, selectTensors, tensorReport, type FileReport, type ReportFilter, type TensorReport } from '../../analysis/report';
import { analyzeFileCached, StatsCache } from '../../analysis/statsCache';
import { StatsPool, type TensorResult } from '../../analysis/statsPool';
import type { StatsResult, TensorStats } from '../../analysis/statsTypes';
import { analyzeOpenTensor, analyzeTensor } from '../../analysis/statsRunner';
import { summarizeError, throwIfAborted, WeightFileError } from '../../core/errors';
import { knownElementCount, shapeText, unknownShapeNote, type WeightFile } from '../../core/model';
import { openLocalPath } from '../../formats/registry';
import { choiceOption, intOption, parseArgs, UsageError, workersOption } from '../args';
import { expandInput } from '../inputs';
import { formatBytes, formatCount, formatNumber, renderTable, shortenedNote, shortName } from '../table';
import { outJsonStreamed, StreamedArray, writeError, type CliIo } from '../io';

/** Usage text of the command. */
export const inspectUsage = `weightscope inspect <file-or-dir> [options]

Per-layer and per-tensor statistics of a weight file (or of every weight file in a folder). A
file none of whose tensors can be read (e.g. its only shard is missing) is still reported, then
gets an error line, and the exit code is 2. A tensor whose shape the file does not give is shown
with '?' (an unknown rank, or '[?,3]') and left out of the parameter counts, which say so.

Options:
  --json                 print the JSON report (schema in the README) instead of a table
  --tensor NAME          only the tensor named exactly NAME, or else every tensor whose name
                         contains NAME (case-sensitive); an error when none does (in a
                         folder: only the files holding a match are listed)
  --group GROUP          model | optimizer | all (default: all)
  --bins N               bins of the linear and the log10 histogram, 1 to 4096 (default: 64)
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
  // A folder that cannot be used is an error also when nothing would be cached (--no-stats, no numeric tensors).
  await cache?.ready();

  const pool = args.options.has('no-stats') ? undefined : statsRunner(workers, true);
  const run: InspectRun = { filter, bins, pool, io, cache };
  try {
    if (args.options.has('json')) {
      // Each tensor is written as its statistics come, none held, also in a collection of reports.
      if (!isCollection) {
        const opened = (await openReport(entries[0]!, run, false))!;
        try {
          await outJsonStreamed(io, opened.report, 2);
        } finally {
          await opened.finish();
        }
        throwIfUnreadable(opened.tally, opened.path);
        return 0;
      }
      const counts = { reports: 0, unmatched: 0, unreadable: 0 };
      await outJsonStreamed(io, new StreamedArray(streamReports(entries, args.positionals[0]!, run, counts)), 3);
      return counts.reports + counts.unmatched === entries.length && counts.unreadable === 0 ? 0 : 2;
    }
    // In a folder, --tensor picks the files holding a match; the others are left out without a word.
    let reports = 0;
    let unmatched = 0;
    let unreadable = 0;
    for (const entry of entries) {
      let shown: Awaited<ReturnType<typeof inspectForTable>>;
      try {
        shown = await inspectForTable(entry, run, isCollection);
      } catch (ex) {
        if (!isCollection) {
          throw ex;
        }
        const e = summarizeError(ex);
        writeError(io, e);
        continue;
      }
      if (!shown) {
        unmatched++;
        continue;
      }
      const report = shown.report;
      reports++;
      io.out(renderReport(report, shown.fileTensors));
      const tally = new ReadableTally();
      report.tensors.forEach((t) => tally.add(t));
      if (isCollection) {
        unreadable += reportUnreadable(io, tally, report.path);
      } else {
        throwIfUnreadable(tally, report.path);
      }
    }
    if (unmatched > 0 && unmatched === entries.length) {
      throw noMatch(args.positionals[0]!, filter);
    }
    return reports + unmatched === entries.length && unreadable === 0 ? 0 : 2;
  } finally {
    await pool?.dispose();
  }
}

/** What one inspect run applies to each file. */
interface InspectRun {
  filter: ReportFilter;
  bins: number;
  pool: StatsRunner | undefined;
  io: CliIo;
  cache: StatsCache | undefined;
}

/** The statistics the table shows: all a table report keeps of each tensor's. */
type TableStats = Pick<TensorStats, 'count' | 'nanCount' | 'posInfCount' | 'negInfCount' | 'zeroCount' | 'mean' | 'std' | 'min' | 'max'>;

/** A report for the table. */
type TableReport = FileReport<TableStats>;

/** The table's part of a result (the rest, histograms above all, is let go at once). */
function tableResult(r: TensorResult): StatsResult<TableStats> {
  if (!r.ok) {
    return r;
  }
  const { count, nanCount, posInfCount, negInfCount, zeroCount, mean, std, min, max } = r.stats;
  return { ok: true, stats: { count, nanCount, posInfCount, negInfCount, zeroCount, mean, std, min, max } };
}

/** Opens `entry` for a run, the pool's workers opening it alongside; null when --tensor matches nothing and `skipUnmatched`. */
async function openEntry(entry: string, run: InspectRun, skipUnmatched: boolean): Promise<WeightFile | null> {
  if (!run.cache) {
    // The workers load and open the file while this thread opens it; when every tensor is wanted,
    // datasets stored as plain bytes are analysed from the start.
    run.pool?.prepare(entry, { early: run.filter.group === 'all' && run.filter.tensor === undefined, histogramBins: run.bins });
  }
  const file = await openLocalPath(entry);
  if (run.filter.tensor !== undefined && selectTensors(file, run.filter).length === 0) {
    await file.close();
    if (skipUnmatched) {
      return null;
    }
    throw noMatch(entry, run.filter);
  }
  return file;
}

/** The table report of one file (null: --tensor matches nothing and `skipUnmatched`). */
async function inspectForTable(entry: string, run: InspectRun, skipUnmatched: boolean): Promise<{ report: TableReport; fileTensors: number } | null> {
  const file = await openEntry(entry, run, skipUnmatched);
  if (!file) {
    return null;
  }
  try {
    const results = new Map<string, StatsResult<TableStats>>();
    await analyzeTensors(file, entry, run.filter, run.bins, run.pool, run.io, run.cache, (name, r) => results.set(name, tableResult(r)));
    return { report: buildFileReport(file, results, run.filter), fileTensors: file.tensors.length };
  } finally {
    await file.close();
  }
}

/**
 * The JSON report of one file with its tensors as a StreamedArray: each tensor comes when its
 * statistics do (in file order), while the analysis runs. `finish` waits for the analysis and closes
 * the file. Null when --tensor matches nothing and `skipUnmatched`.
 */
async function openReport(entry: string, run: InspectRun, skipUnmatched: boolean): Promise<{ report: unknown; path: string; tally: ReadableTally; finish: () => Promise<void> } | null> {
  const file = await openEntry(entry, run, skipUnmatched);
  if (!file) {
    return null;
  }
  const results = new ResultQueue();
  const analysing = analyzeTensors(file, entry, run.filter, run.bins, run.pool, run.io, run.cache, (name, r) => results.put(name, r));
  analysing.then(
    () => results.end(),
    (ex: unknown) => results.fail(ex),
  );
  const analysed = new Set(run.pool ? analysedTensors(file, run.filter).map((t) => t.name) : []);
  const selected = selectTensors(file, run.filter);
  const tally = new ReadableTally();
  async function* tensors(): AsyncGenerator<TensorReport> {
    for (const t of selected) {
      const report = tensorReport(t, analysed.has(t.name) ? await results.take(t.name) : undefined);
      tally.add(report);
      yield report;
    }
  }
  return {
    report: { ...buildFileReport(file, new Map(), run.filter), tensors: new StreamedArray(tensors()) },
    path: file.path,
    tally,
    finish: async () => {
      try {
        await analysing;
      } finally {
        await file.close();
      }
    },
  };
}

/** The JSON reports of the files of a folder, one at a time (each file is closed before the next opens); errors go to stderr. */
async function* streamReports(entries: readonly string[], input: string, run: InspectRun, counts: { reports: number; unmatched: number; unreadable: number }): AsyncGenerator<unknown> {
  for (const entry of entries) {
    let opened: Awaited<ReturnType<typeof openReport>>;
    try {
      opened = await openReport(entry, run, true);
    } catch (ex) {
      const e = summarizeError(ex);
      writeError(run.io, e);
      continue;
    }
    if (!opened) {
      counts.unmatched++;
      continue;
    }
    try {
      yield opened.report;
    } finally {
      await opened.finish();
    }
    counts.reports++;
    counts.unreadable += reportUnreadable(run.io, opened.tally, opened.path);
  }
  // Thrown before anything is printed: no file holds a match.
  if (counts.unmatched > 0 && counts.unmatched === entries.length) {
    throw noMatch(input, run.filter);
  }
}

/** Throws the error of a file none of whose tensors could be read (its report is out already). */
function throwIfUnreadable(tally: ReadableTally, filePath: string): void {
  const ex = tally.unreadableError(filePath);
  if (ex) {
    throw ex;
  }
}

/** In a folder: writes the error line of a file none of whose tensors could be read; returns 1 for such a file, else 0. */
function reportUnreadable(io: CliIo, tally: ReadableTally, filePath: string): number {
  const ex = tally.unreadableError(filePath);
  if (!ex) {
    return 0;
  }
  const e = summarizeError(ex);
  writeError(io, e);
  return 1;
}

/** Results that arrive in any order, taken by name in another (each once). */
class ResultQueue {
  private readonly arrived = new Map<string, TensorResult>();
  private readonly waiting = new Map<string, { resolve: (r: TensorResult | undefined) => void; reject: (ex: unknown) => void }>();
  private ended: { ex?: unknown } | undefined;

  put(name: string, r: TensorResult): void {
    const w = this.waiting.get(name);
    if (w) {
      this.waiting.delete(name);
      w.resolve(r);
    } else {
      this.arrived.set(name, r);
    }
  }

  /** No more results come: a wait, now or later, for one not arrived ends with undefined. */
  end(): void {
    this.ended = {};
    for (const w of this.waiting.values()) {
      w.resolve(undefined);
    }
    this.waiting.clear();
  }

  /** No more results come because of `ex`: a wait, now or later, for one not arrived ends with it. */
  fail(ex: unknown): void {
    this.ended = { ex };
    for (const w of this.waiting.values()) {
      w.reject(ex);
    }
    this.waiting.clear();
  }

  /** The result of `name` when it comes (undefined: it never will). */
  take(name: string): Promise<TensorResult | undefined> {
    const r = this.arrived.get(name);
    if (r) {
      this.arrived.delete(name);
      return Promise.resolve(r);
    }
    if (this.ended) {
      return 'ex' in this.ended ? Promise.reject(this.ended.ex) : Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => this.waiting.set(name, { resolve, reject }));
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
        if (options.retain !== false) {
          results.set(name, result);
        }
        options.onResult?.(name, result);
      }
      return results;
    },
  };
}

/** The selected tensors of a file that have statistics to compute (numeric and readable). */
function analysedTensors(file: WeightFile, filter: ReportFilter): WeightFile['tensors'] {
  return selectTensors(file, filter).filter((t) => !t.unavailable && t.dtype !== 'string');
}

/**
 * Statistics of the selected numeric tensors of an opened local file, by `pool` (none when it is
 * undefined), with a progress bar on a TTY; answered from `cache` when given. With `onResult`, each
 * result goes there as it comes and, without a cache, none is kept: the map returned is empty.
 */
export async function analyzeTensors(
  file: WeightFile,
  entry: string,
  filter: ReportFilter,
  bins: number,
  pool: StatsRunner | undefined,
  io: CliIo,
  cache?: StatsCache,
  onResult?: (name: string, result: TensorResult) => void,
): Promise<Map<string, TensorResult>> {
  const names = analysedTensors(file, filter).map((t) => t.name);
  if (!pool || names.length === 0) {
    return new Map();
  }
  let done = 0;
  const progress = io.progress(`analysing ${entry}`);
  const options = {
    histogramBins: bins,
    onResult: (name: string, result: TensorResult) => {
      onResult?.(name, result);
      progress(++done, names.length);
    },
    openFile: file,
    retain: onResult === undefined,
  };
  const results = cache ? await analyzeFileCached(pool, cache, entry, names, options) : await pool.analyzeFile(entry, names, options);
  progress(names.length, names.length, true);
  return results;
}

/** The human-readable table of one report. */
export function renderReport(r: FileReport<TableStats>, fileTensors = r.tensors.length): string {
  const lines: string[] = [];
  lines.push(`${r.path}`);
  // Params and size are the file's; with --tensor or --group the header says so.
  const filtered = r.tensors.length < fileTensors;
  const params = `${formatCount(r.params)}${unknownShapeNote(r.unknownShapeTensors)}`;
  const counts = filtered
    ? `tensors: ${r.tensors.length} of ${fileTensors}  file params: ${params}  file size: ${formatBytes(r.bytes)}`
    : `tensors: ${r.tensors.length}  params: ${params}  size: ${formatBytes(r.bytes)}`;
  lines.push(`  format: ${r.formatName}${r.modelClass ? `  model: ${r.modelClass}` : ''}  ${counts}`);
  for (const w of r.warnings) {
    lines.push(`  warning[${w.reason}]: ${w.message}`);
  }
  const byName = new Map(r.tensors.map((t) => [t.name, t]));
  const rows: string[][] = [];
  const listed = new Set<string>();
  let shortened = false;
  const tensorRow = (name: string, indent: string): string[] | undefined => {
    const t = byName.get(name);
    if (!t || listed.has(name)) {
      return undefined;
    }
    listed.add(name);
    const s = t.stats;
    const elements = knownElementCount(t);
    const nonFinite = s ? s.nanCount + s.posInfCount + s.negInfCount : 0;
    // Under its layer's heading a tensor drops the layer's name; a row without a heading keeps it.
    const full = indent && t.layer && name.startsWith(`${t.layer}/`) ? name.slice(t.layer.length + 1) : name;
    const shown = shortName(full);
    shortened ||= shown !== full;
    return [
      `${indent}${shown}`,
      shapeText(t),
      t.storageDtype ? `${t.dtype}<${t.storageDtype}` : t.dtype,
      elements === undefined ? '?' : formatCount(elements),
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
  if (shortened) {
    lines.push(`  (${shortenedNote})`);
  }
  for (const t of r.tensors.filter((x) => x.error)) {
    lines.push(`  ${t.name}: error[${t.error!.reason}]: ${t.error!.message}`);
  }
  lines.push('');
  return lines.join('\n');
}
