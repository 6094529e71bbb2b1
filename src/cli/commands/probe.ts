/**
 * `weightscope probe <model> [--data F] [--json]`: one forward/backward pass of the rebuilt model
 * (TensorFlow.js) with per-layer gradient norms, activation health and the vanishing/exploding
 * verdicts next to the data-free forecast.
 */
import type { Diagnostic } from '../../analysis/diagnostics/diagnostic';
import { jsonSafe } from '../../analysis/diagnostics/check';
import { backendNames, substitutedBackend } from '../../runtime/backend';
import { defaultProbeBatch } from '../../runtime/probe';
import { probeFile, type ProbeReport } from '../../runtime/probeReport';
import { openDimSize } from '../../runtime/modelBuilder';
import { choiceOption, intOption, parseArgs, UsageError } from '../args';
import { resolveModelEntry } from '../inputs';
import type { CliIo } from '../io';
import { formatNumber, renderTable } from '../table';

/** Usage text of the command. */
export const probeUsage = `weightscope probe <model> [options]

Runs the model once forward and backward with TensorFlow.js and measures, per layer, the gradient
L2 norm, the gradient/weight norm ratio, activation mean/std, dead-ReLU and saturated sigmoid/tanh
fractions and where NaN/Inf values start; then flags vanishing or exploding gradients (thresholds
in docs/diagnostics.md) next to the forecast made from the weights alone. A nested model (e.g.
Sequential([base_model, Dense(...)])) is measured as one layer. The model must have one input;
with several outputs the loss is taken on the first. A damaged model config (a layer wired to a
missing layer or in a cycle, an option of the wrong type, one TensorFlow.js builds but cannot
run) is refused before anything runs (exit 2).

Options:
  --data FILE            inputs (and targets) from .npy/.npz/.csv/.json instead of synthetic batches;
                         checked first: finite values, targets that fit the loss (class ids 0..k-1
                         or one-hot rows of k 0/1 columns; 0..1 for a sigmoid; one value per output
                         for MSE), indices below input_dim for an Embedding input; data
                         without targets is scored against synthetic ones (the report says so)
  --distribution D       normal | uniform: synthetic inputs (default normal); a model whose input
                         feeds an Embedding gets integer indices uniform in [0, input_dim) instead
  --batch N              batch size (default 32; fewer, down to 1, for a large model on the CPU
                         backend, so that it is probed in seconds, not many minutes, and on the
                         WebAssembly backend, whose memory ends at 4 GiB; a batch that overruns it
                         is error[tooLarge], exit 2); with --data
                         the probe takes the data's first N samples (all of them when fewer)
  --lr X                 learning rate for the update/weight ratios (default 0.01)
  --backend B            auto | tensorflow | wasm | cpu (default auto)
  --json                 print the JSON report`;

const spec = { data: true, distribution: true, batch: true, lr: true, backend: true, json: false, help: false } as const;

/** Runs the command; returns the exit code (1 when errors were found is not used: findings are data). */
export async function runProbe(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.has('help')) {
    io.out(probeUsage);
    return 0;
  }
  if (args.positionals.length !== 1) {
    throw new UsageError('probe takes exactly one <model>.');
  }
  const lr = args.options.has('lr') ? Number(args.options.get('lr')) : undefined;
  if (lr !== undefined && !(lr > 0 && Number.isFinite(lr))) {
    throw new UsageError(`Option '--lr' must be a positive number; got '${args.options.get('lr')}'.`);
  }
  const entry = await resolveModelEntry(args.positionals[0]!);
  const report = await probeFile(entry, {
    data: args.options.get('data'),
    distribution: choiceOption(args, 'distribution', ['normal', 'uniform'] as const, 'normal'),
    batchSize: args.options.has('batch') ? intOption(args, 'batch', defaultProbeBatch, 1, 65536) : undefined,
    learningRate: lr,
    backend: choiceOption(args, 'backend', ['auto', ...backendNames] as const, 'auto'),
  });
  const substituted = substitutedBackend(report.backend);
  if (substituted) {
    io.err(`warning[backend]: ${substituted}`);
  }
  io.out(args.options.has('json') ? JSON.stringify(jsonSafe(report), null, 2) : renderProbe(report));
  return 0;
}

function diagLine(d: Diagnostic): string {
  return `${d.severity}[${d.code}]${d.layer ? ` ${d.layer}` : ''}: ${d.message}`;
}

/** The human-readable probe report. */
export function renderProbe(r: ProbeReport): string {
  const p = r.probe;
  const lines = [
    r.file,
    `  format: ${r.formatName}`,
    `  backend: ${r.backend.label}${r.backend.fallbacks.length ? ` (${r.backend.fallbacks.join(' ')})` : ''}`,
    `  loss: ${p.lossName} (${p.lossSource}) = ${formatNumber(p.loss)}  batch: ${p.batchSize} ${p.inputSource === 'data' ? `from data${r.dataRows !== undefined ? ` (its first ${p.batchSize} of ${r.dataRows} samples)` : ''}${p.targetSource === 'synthetic' ? ', synthetic targets (the data has none)' : ''}` : `synthetic ${p.inputSource}${p.openInputShape ? `, each ${p.openInputShape.join('x')} (open dimensions ${openDimSize})` : ''}`}  lr: ${p.learningRate}  time: ${r.probeMs} ms`,
    ...(r.batchReduced ? [`  batch ${r.batchReduced} (--batch N to choose)`] : []),
    ...offPath(p.layers),
    '',
    renderTable(
      ['layer', 'class', 'activation', '>grad norm', '>grad/weight', '>act mean', '>act std', '>dead relu', '>saturated', 'non-finite'],
      p.layers.map((l) => [
        l.layer,
        l.className,
        l.activation ?? '',
        l.hasWeights ? formatNumber(l.gradNorm) : '',
        l.hasWeights ? formatNumber(l.gradWeightRatio) : '',
        formatNumber(l.activationMean),
        formatNumber(l.activationStd),
        l.deadReluFraction !== undefined ? formatNumber(l.deadReluFraction, 2) : '',
        l.saturatedFraction !== undefined ? formatNumber(l.saturatedFraction, 2) : '',
        [l.nonFiniteWeight ? 'weights' : '', l.nonFiniteActivation ? 'output' : '', l.nonFiniteGradient ? 'gradient' : ''].filter(Boolean).join(','),
      ]),
    ),
    '',
    'Measured (gradient probe):',
    ...(r.diagnostics.length ? r.diagnostics.map(diagLine) : ['  no vanishing or exploding gradients measured']),
    '',
    'Forecast (weights alone):',
    ...(r.forecastDiagnostics.length ? r.forecastDiagnostics.map(diagLine) : [r.forecast ? '  no vanishing or exploding signal forecast' : '  no forecast (no architecture)']),
  ];
  return `${lines.join('\n')}\n`;
}

/** The note on layers that do not feed the first output, on which the loss is taken (no gradient reaches them). */
function offPath(layers: readonly { layer: string; offLossPath?: boolean }[]): string[] {
  const off = layers.filter((l) => l.offLossPath).map((l) => l.layer);
  return off.length > 0 ? [`  the loss is taken on the first output; not on its path, so without gradient: ${off.join(', ')}`] : [];
}
