/**
 * `weightscope check <file-or-dir> [--json] [--fail-on error|warning] [--no-precision] [--workers N]`: the weight-health diagnostics
 * (initializers, signal propagation forecast, regularization, precision) for terminals and CI.
 */
import { checkWeightFile, shouldFail, type CheckReport } from '../../analysis/diagnostics/check';
import type { Diagnostic } from '../../analysis/diagnostics/diagnostic';
import { judgeForecast, unjudgedReason } from '../../analysis/diagnostics/signalForecast';
import { ReadableTally, selectTensors, tensorReport } from '../../analysis/report';
import { summarizeError } from '../../core/errors';
import type { TensorStats } from '../../analysis/statsTypes';
import { isNumericDType } from '../../core/dtypes';
import { openLocalPath } from '../../formats/registry';
import { expandInput } from '../inputs';
import { choiceOption, parseArgs, UsageError, workersOption } from '../args';
import { outJsonStreamed, StreamedArray, writeError, type CliIo } from '../io';
import { formatNumber } from '../table';
import { analyzeTensors, statsRunner, type StatsRunner } from './inspect';

/** Exit code when diagnostics at the --fail-on severity exist. */
export const checkFailedExitCode = 3;

/** Usage text of the command. */
export const checkUsage = `weightscope check <file-or-dir> [options]

Weight-health diagnostics from the weights alone: initializer identification, signal propagation
forecast (vanishing/exploding), regularization and precision (float16, bfloat16, int8) risks.
The formulas and thresholds are in docs/diagnostics.md. Tensors that cannot be read are an
unreadable-tensors error; when none of the model's tensors can be read, the report is followed by
an error line and exit 2, as inspect does. A folder that is not one model (SavedModel, checkpoint,
model.json) is searched for weight files, as inspect does, and each is checked in turn (JSON: an
array of reports); a file that cannot be read gets its error line and the others are still
checked. Exit 2 when any file or model could not be read, else 3 when --fail-on found a
diagnostic in any of them.

Options:
  --json                 print the JSON check report instead of text
  --fail-on SEVERITY     error | warning: exit ${checkFailedExitCode} when a diagnostic of that severity (or worse) exists
  --no-precision         skip the precision analysis (two extra passes over every float tensor)
  --workers N            worker threads for the statistics (default: CPU count - 1, at most 4;
                         0 = none, the main thread alone)`;

const spec = { json: false, 'fail-on': true, 'no-precision': false, workers: true, help: false } as const;

/** Runs the command; returns the exit code. */
export async function runCheck(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.has('help')) {
    io.out(checkUsage);
    return 0;
  }
  if (args.positionals.length !== 1) {
    throw new UsageError('check takes exactly one <file-or-dir>.');
  }
  const failOn = args.options.has('fail-on') ? choiceOption(args, 'fail-on', ['error', 'warning'] as const, 'error') : undefined;
  const workers = workersOption(args);
  const json = args.options.has('json');
  const precision = !args.options.has('no-precision');
  const { entries, isCollection } = await expandInput(args.positionals[0]!);
  const pool = statsRunner(workers, false);
  try {
    if (!isCollection) {
      const checked = await checkEntry(entries[0]!, pool, io, precision);
      io.out(json ? JSON.stringify(checked.report, null, 2) : renderCheck(checked.report));
      if (checked.unreadable) {
        throw checked.unreadable; // its error line (exit 2; a bug when every tensor failed inside: exit 1), after the report
      }
      return failOn && shouldFail(checked.report, failOn) ? checkFailedExitCode : 0;
    }
    // A folder of weight files: each checked and written in turn; one that cannot be read gets its error line.
    let unreadable = 0;
    let failed = 0;
    async function* reports(): AsyncGenerator<CheckReport> {
      for (const entry of entries) {
        let checked: Awaited<ReturnType<typeof checkEntry>>;
        try {
          checked = await checkEntry(entry, pool, io, precision);
        } catch (ex) {
          writeError(io, summarizeError(ex));
          unreadable++;
          continue;
        }
        if (failOn && shouldFail(checked.report, failOn)) {
          failed++;
        }
        yield checked.report;
        if (checked.unreadable) {
          writeError(io, summarizeError(checked.unreadable));
          unreadable++;
        }
      }
    }
    if (json) {
      await outJsonStreamed(io, new StreamedArray(reports()), 1);
    } else {
      for await (const report of reports()) {
        io.out(renderCheck(report)); // it ends in an empty line, which parts it from the next
      }
    }
    return unreadable > 0 ? 2 : failed > 0 ? checkFailedExitCode : 0;
  } finally {
    await pool.dispose();
  }
}

/**
 * The check report of one model file, and the error to report after it when none of the model's
 * numeric tensors could be read (an input that cannot be read, as for inspect).
 */
async function checkEntry(entry: string, pool: StatsRunner, io: CliIo, precision: boolean): Promise<{ report: CheckReport; unreadable?: Error }> {
  const file = await openLocalPath(entry);
  try {
    const results = await analyzeTensors(file, entry, { group: 'model' }, 64, pool, io);
    const stats = new Map<string, TensorStats>();
    for (const [name, r] of results) {
      if (r.ok) {
        stats.set(name, r.stats);
      }
    }
    const tally = new ReadableTally();
    for (const t of selectTensors(file, { group: 'model' }).filter((x) => isNumericDType(x.dtype))) {
      tally.add(tensorReport(t, results.get(t.name)));
    }
    const progress = io.progress(`checking ${entry}`);
    const report = await checkWeightFile(file, stats, { precision, onProgress: (d, t) => progress(d, t) });
    progress(1, 1, true);
    const unreadable = tally.unreadableError(entry);
    return { report, ...(unreadable ? { unreadable } : {}) };
  } finally {
    await file.close();
  }
}

/** The human-readable check report. */
export function renderCheck(r: CheckReport): string {
  const lines = [
    r.file,
    `  format: ${r.formatName}  errors: ${r.summary.errors}  warnings: ${r.summary.warnings}  info: ${r.summary.infos}`,
    '',
  ];
  const order: Diagnostic['severity'][] = ['error', 'warning', 'info'];
  for (const sev of order) {
    for (const d of r.diagnostics.filter((x) => x.severity === sev)) {
      // The message names the tensor; the prefix names the layer for scanning.
      lines.push(`${sev}[${d.code}]${d.layer ? ` ${d.layer}` : ''}: ${d.message}`);
    }
  }
  if (r.diagnostics.length === 0) {
    lines.push('No findings.');
  }
  if (r.forecast.layers.length > 0) {
    lines.push(
      '',
      r.forecast.architecture
        ? 'Signal forecast (cumulative gain per layer; healthy within [1e-2, 1e2]):'
        : 'Signal forecast (the file has no architecture: layers in file order, activations unknown; not judged):',
    );
    const width = r.forecast.layers.reduce((w, l) => Math.max(w, l.name.length), 28);
    // A value outside the band that no finding covers says why on its row, so the table never
    // contradicts its header silently.
    const j = judgeForecast(r.forecast);
    r.forecast.layers.forEach((l, i) => {
      const why = (['forward', 'backward'] as const).map((d) => [d, unjudgedReason(r.forecast, j, i, d)] as const).filter(([, x]) => x !== undefined);
      const note = why.length ? `  (${why.map(([d, x]) => `${d} not judged: ${x}`).join('; ')})` : '';
      lines.push(`  ${l.name.padEnd(width)} forward ${formatNumber(l.cumulativeForward).padStart(10)}  backward ${formatNumber(l.cumulativeBackward).padStart(10)}${note}`);
    });
    if (r.forecast.architecture && !j.judged) {
      lines.push(`  Not judged: ${j.reason}`);
    }
  }
  for (const f of r.failures) {
    lines.push(`  ${f.tensor}: error[${f.reason}]: ${f.message}`);
  }
  return `${lines.join('\n')}\n`;
}
