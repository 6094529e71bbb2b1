/**
 * `weightscope check <file> [--json] [--fail-on error|warning] [--no-precision] [--workers N]`: the weight-health diagnostics
 * (initializers, signal propagation forecast, regularization, precision) for terminals and CI.
 */
import { checkWeightFile, shouldFail, type CheckReport } from '../../analysis/diagnostics/check';
import type { Diagnostic } from '../../analysis/diagnostics/diagnostic';
import { judgeForecast, unjudgedReason } from '../../analysis/diagnostics/signalForecast';
import { ReadableTally, selectTensors, tensorReport } from '../../analysis/report';
import type { TensorStats } from '../../analysis/statsTypes';
import { isNumericDType } from '../../core/dtypes';
import { openLocalPath } from '../../formats/registry';
import { resolveModelEntry } from '../inputs';
import { choiceOption, parseArgs, UsageError, workersOption } from '../args';
import type { CliIo } from '../io';
import { formatNumber } from '../table';
import { analyzeTensors, statsRunner } from './inspect';

/** Exit code when diagnostics at the --fail-on severity exist. */
export const checkFailedExitCode = 3;

/** Usage text of the command. */
export const checkUsage = `weightscope check <file-or-model-dir> [options]

Weight-health diagnostics from the weights alone: initializer identification, signal propagation
forecast (vanishing/exploding), regularization and precision (float16, bfloat16, int8) risks.
The formulas and thresholds are in docs/diagnostics.md. Tensors that cannot be read are an
unreadable-tensors error; when none of the model's tensors can be read, the report is followed by
an error line and exit 2, as inspect does.

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
    throw new UsageError('check takes exactly one <file-or-model-dir>.');
  }
  const failOn = args.options.has('fail-on') ? choiceOption(args, 'fail-on', ['error', 'warning'] as const, 'error') : undefined;
  const workers = workersOption(args);
  const entry = await resolveModelEntry(args.positionals[0]!);
  const file = await openLocalPath(entry);
  const pool = statsRunner(workers, false);
  let report: CheckReport;
  const tally = new ReadableTally();
  try {
    const results = await analyzeTensors(file, entry, { group: 'model' }, 64, pool, io);
    const stats = new Map<string, TensorStats>();
    for (const [name, r] of results) {
      if (r.ok) {
        stats.set(name, r.stats);
      }
    }
    // A model none of whose numeric tensors can be read is an input that cannot be read, as for inspect.
    for (const t of selectTensors(file, { group: 'model' }).filter((x) => isNumericDType(x.dtype))) {
      tally.add(tensorReport(t, results.get(t.name)));
    }
    const progress = io.progress(`checking ${entry}`);
    report = await checkWeightFile(file, stats, { precision: !args.options.has('no-precision'), onProgress: (d, t) => progress(d, t) });
    progress(1, 1, true);
  } finally {
    await pool.dispose();
    await file.close();
  }
  io.out(args.options.has('json') ? JSON.stringify(report, null, 2) : renderCheck(report));
  const unreadable = tally.unreadableError(entry);
  if (unreadable) {
    throw unreadable; // its error line (exit 2; a bug when every tensor failed inside: exit 1), after the report
  }
  return failOn && shouldFail(report, failOn) ? checkFailedExitCode : 0;
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
