/**
 * `weightscope history <dir> [--json] [--naming PATTERN] [--bins N] [--workers N]`
 */
import { computeHistory, type HistoryResult } from '../../analysis/history';
import { compileNamingConvention, type NamingConvention } from '../../analysis/namingConvention';
import { statPath } from '../../core/nodeFileSource';
import { intOption, parseArgs, UsageError } from '../args';
import { writeError, type CliIo } from '../io';
import { formatNumber, renderTable } from '../table';

/** Usage text of the command. */
export const historyUsage = `weightscope history <dir> [options]

How the weights of a training run moved: the checkpoints of <dir> (a TF 'checkpoint' file's list,
per-epoch files or folders) ordered by epoch/step, per layer the L2 norm, mean, std, distance from
the first checkpoint and change since the previous one, with warnings when a layer stops moving,
blows up or is missing from some checkpoints, and when a checkpoint holds exactly the weights of
the one before. The layers are those of the first checkpoint; a
checkpoint lacking a layer shows it as absent, one holding only some of its tensors gets a
'values' column ('6 of 390 (partial)') and a warning naming the missing tensors. Tensors a
checkpoint cannot read (a missing shard, data cut short) are left out of its numbers with an
'unreadable' warning naming them (a layer with none readable shows as unreadable); the other
checkpoints keep their own numbers. Distances and changes (per layer and for the model) compare
the tensors both checkpoints hold and can read, relative to their norm in the earlier one, and
are '-' (null in JSON) when there is none: the first checkpoint stays the reference of 'dist
from first' even where it cannot read a layer. A checkpoint that cannot be opened (empty, cut
short, not a weight file) is left out: the others are shown, then its error line, and the exit
code is 2.

Options:
  --json                 print the JSON result (includes per-layer histograms over time)
  --naming PATTERN       naming convention, e.g. '{model}-e{epoch:03d}-{val_loss:.3f}': epoch/step
                         are read from it and names that do not follow it are reported
  --bins N               histogram bins per layer, 1 to 1024 (default: 32)
  --workers N            worker threads (default: none when the files hold under 32 MiB, else
                         one per CPU, at most 4; 0 = none)`;

const spec = { json: false, naming: true, bins: true, workers: true, help: false } as const;

/** Runs the command; returns the exit code. */
export async function runHistory(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.has('help')) {
    io.out(historyUsage);
    return 0;
  }
  if (args.positionals.length !== 1) {
    throw new UsageError('history takes exactly one <dir>.');
  }
  const dir = args.positionals[0]!;
  if ((await statPath(dir))?.kind === 'file') {
    throw new UsageError(`history takes a folder of checkpoints, and ${dir} is a file.`);
  }
  let naming: NamingConvention | undefined;
  const pattern = args.options.get('naming');
  if (pattern !== undefined) {
    try {
      naming = compileNamingConvention(pattern);
    } catch (ex) {
      throw new UsageError((ex as Error).message);
    }
  }
  const bins = intOption(args, 'bins', 32, 1, 1024);
  const workers = args.options.has('workers') ? intOption(args, 'workers', 1, 0, 64) : undefined;
  const progress = io.progress('reading checkpoints');
  const h = await computeHistory(dir, { naming, histogramBins: bins, workers, callerIdle: true, onProgress: progress });
  progress(1, 1, true);
  io.out(args.options.has('json') ? JSON.stringify(h, null, 2) : renderHistory(h));
  // Checkpoints that could not be opened were left out: their error lines, exit 2.
  for (const s of h.skipped ?? []) {
    writeError(io, s);
  }
  return h.skipped ? 2 : 0;
}

/** The human-readable report of a history. */
export function renderHistory(h: HistoryResult): string {
  const lines: string[] = [];
  lines.push(`${h.dir}: ${h.checkpoints.length} checkpoint${h.checkpoints.length === 1 ? '' : 's'} ordered by ${h.orderedBy}`);
  for (const w of h.namingWarnings) {
    lines.push(`naming[${w.kind}]: ${w.message}`);
  }
  for (const w of h.warnings) {
    lines.push(`warning[${w.kind}]: ${w.message}`);
  }
  lines.push('');
  lines.push(
    renderTable(
      ['checkpoint', '>epoch/step', '>dist from first', '>step change'],
      h.checkpoints.map((c, k) => [c.label, String(c.epoch ?? c.step ?? '-'), formatNumber(h.relDistanceFromFirst[k]), formatNumber(h.relStepChange[k])]),
    ),
  );
  for (const l of h.layers) {
    lines.push('');
    lines.push(`${l.layer || '(no layer)'} (${l.count} values)`);
    // A checkpoint holding only some of the layer's tensors: a column says what each row covers.
    // (Tensors that could not be read are left out of a checkpoint's numbers too.)
    const unreadable = new Set(l.unreadable ?? []);
    const isPartial = (p: NonNullable<(typeof l.points)[number]>, k: number): boolean => p.missingTensors.length > 0 || unreadable.has(k);
    const partial = l.points.some((p, k) => p !== null && isPartial(p, k));
    const all = l.count;
    const values = (p: NonNullable<(typeof l.points)[number]>, k: number): string[] => (partial ? [isPartial(p, k) ? `${p.count} of ${all} (partial)` : String(p.count)] : []);
    lines.push(
      renderTable(
        ['checkpoint', ...(partial ? ['>values'] : []), '>norm', '>mean', '>std', '>dist from first', '>step change'],
        l.points.map((p, k) =>
          p
            ? [h.checkpoints[k]!.label, ...values(p, k), formatNumber(p.norm), formatNumber(p.mean), formatNumber(p.std), formatNumber(p.relDistanceFromFirst), formatNumber(p.relStepChange)]
            : [h.checkpoints[k]!.label, ...(partial ? ['-'] : []), unreadable.has(k) ? 'unreadable' : 'absent', '-', '-', '-', '-'],
        ),
      ),
    );
  }
  lines.push('');
  return lines.join('\n');
}
