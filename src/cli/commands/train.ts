/**
 * `weightscope train <spec.json>`: runs the training a run spec describes (model, data, loss,
 * optimizer, epochs ...) with TensorFlow.js, writing a TF.js checkpoint per epoch into the run
 * folder; a progress bar on a TTY, one line per epoch.
 */
import * as path from 'node:path';
import { WeightFileError } from '../../core/errors';
import { backendNames, substitutedBackend } from '../../runtime/backend';
import { maxSyntheticSamples, numberRange, readRunSpec, RunFolderTakenError, trainFromSpec } from '../../runtime/runSpec';
import { runDefaults, type TrainEvent } from '../../runtime/training';
import { choiceOption, intOption, parseArgs, UsageError } from '../args';
import { brokenPipeExitCode, type CliIo } from '../io';
import { formatNumber } from '../table';

/** Usage text of the command. */
export const trainUsage = `weightscope train <spec.json> [options]

Trains the model a run spec names and writes a checkpoint per epoch (TF.js model.json +
weights.bin, metadata: epoch, metrics, parent, backend, time, and the loss with fromLogits, which
a probe or run of the checkpoint takes) into its run folder, each whole or not at all (written as .epoch-NNN.tmp-<pid>, then renamed; a run that is killed while saving can
leave such a hidden folder, which the next run in that folder removes).

Run spec fields (a JSON object; paths are relative to the spec):
  model            the model file (required)
  data             .npy/.npz/.csv/.json inputs and targets; without it, synthetic clusters
                   for a model whose output is [batch, units]
  synthetic        {samples, seed, spread} of those clusters: samples a whole number in
                   [1, ${maxSyntheticSamples}] (default 512), seed (default: the spec's seed), spread a number in
                   [0, 1000000] (default 1)
  loss             categoricalCrossentropy | sparseCategoricalCrossentropy |
                   binaryCrossentropy | meanSquaredError (default: the training config's,
                   else the one the output activation calls for); a cross-entropy takes the
                   outputs as logits when the training config's cross-entropy says
                   from_logits (another cross-entropy too, unless the output activation is
                   softmax or sigmoid), or when the config names no cross-entropy and the
                   output activation is linear
  optimizer        sgd | adam | rmsprop (default ${runDefaults.optimizer})
  learningRate     ${numberRange('learningRate')} (default ${runDefaults.learningRate})
  epochs           ${numberRange('epochs')} (default ${runDefaults.epochs})
  batchSize        ${numberRange('batchSize')} (default ${runDefaults.batchSize})
  validationSplit  ${numberRange('validationSplit')}: the last samples held out (default ${runDefaults.validationSplit})
  l1, l2           ${numberRange('l1')}: penalty on every kernel (default: the model's own)
  dropout          ${numberRange('dropout')}: rate of every Dropout layer, and after hidden Dense
                   layers of a Sequential model that has none (default: the model's own)
  outDir           the run folder (default: a new runs/<model>-<time>)
  seed             ${numberRange('seed')}: shuffling and synthetic data (default ${runDefaults.seed})
  stopOnNonFinite  true | false: stop when the loss or a gradient becomes NaN/Inf or an
                   update explodes (default true)
Any other field is refused, naming the field it resembles (learning_rate: did you mean
learningRate?). The data is checked before the run folder is made: finite values, as many
samples in x as in y, targets that fit the loss (class ids 0..k-1 or one-hot rows of k 0/1
columns; 0..1 for binaryCrossentropy; one value per output for meanSquaredError), Embedding
indices in range.
A run folder that already holds a run (run.json, epoch-NNN) is left alone and the command stops,
unless --overwrite is given; without outDir every run gets a new folder runs/<model>-<time>.
The model must have one input; with several outputs the loss is taken on the first. A damaged
model config (a layer wired to a missing layer or in a cycle, an option of the wrong type, one
TensorFlow.js builds but cannot run) is refused before anything runs (exit 2).

Options:
  --epochs N             override the spec's epochs
  --backend B            auto | tensorflow | wasm | cpu (default auto)
  --overwrite            write into an outDir that already holds a run: that run's own files
                         (run.json, and model.json + weights.bin of the epoch-NNN folders its
                         run.json lists) are removed first; anything else there is left alone.
                         Refused, touching nothing, when run.json is not a run's, an epoch-NNN
                         entry is a link or not a folder, or an epoch-NNN folder run.json does
                         not list holds a model.json or weights.bin
  --json                 print the events as JSON lines

Exit codes: 0 done; 4 the run stopped itself (stopOnNonFinite: the loss or a gradient became
NaN/Inf, or an update exploded); 130 interrupted with Ctrl-C (at any point); 141 the output
was closed early (| head), which stops the run as Ctrl-C does. A step whose loss or gradients
are NaN/Inf is caught before its update, which is skipped (with stopOnNonFinite false the run
goes on), so no checkpoint holds NaN/Inf weights. The checkpoints of finished
epochs are kept; the epoch a run stops in (before or at its last step) is partial: it gets no
checkpoint, is printed as 'epoch N (partial, S of T steps, not saved)' and is kept in run.json's
history with partialSteps.`;

const spec = { epochs: true, backend: true, overwrite: false, json: false, help: false } as const;

/** Runs the command; returns the exit code (4 when the run stopped itself on NaN/explosion). */
export async function runTrain(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.has('help')) {
    io.out(trainUsage);
    return 0;
  }
  if (args.positionals.length !== 1) {
    throw new UsageError('train takes exactly one <spec.json>.');
  }
  const file = path.resolve(args.positionals[0]!);
  const runSpec = await readRunSpec(file);
  if (args.options.has('epochs')) {
    runSpec.epochs = intOption(args, 'epochs', 1, 1, 100000);
  }
  const json = args.options.has('json');
  let progress: ReturnType<CliIo['progress']> = () => undefined;
  let total = 0;
  let stepsPerEpoch = 0;
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  // A closed output (`| head`) stops the run as Ctrl-C does, so that run.json records it and no file
  // is left half written, and the exit is then the broken pipe's.
  let outputClosed = false;
  const releaseOutput = io.onOutputClosed?.(() => {
    outputClosed = true;
    controller.abort();
  });
  const onEvent = (e: TrainEvent): void => {
    const substituted = e.type === 'start' ? substitutedBackend(e.backend) : undefined;
    if (substituted) {
      io.err(`warning[backend]: ${substituted}`);
    }
    if (json) {
      io.out(JSON.stringify(e));
      return;
    }
    if (e.type === 'start') {
      stepsPerEpoch = e.stepsPerEpoch;
      total = e.stepsPerEpoch * (runSpec.epochs ?? 5);
      io.out(`backend: ${e.backend.label}${e.backend.fallbacks.length ? ` (${e.backend.fallbacks.join(' ')})` : ''}`);
      io.out(`run folder: ${e.runDir}`);
      io.out(`${e.samples} training / ${e.validationSamples} validation samples, ${e.stepsPerEpoch} steps per epoch, loss ${e.loss}${e.fromLogits ? ' (from logits)' : ''}`);
      progress = io.progress('training');
    } else if (e.type === 'step') {
      progress(e.step + 1, total);
    } else if (e.type === 'epoch') {
      const m = e.metrics;
      io.out(
        `epoch ${e.epoch}: loss ${formatNumber(m.loss)}${m.acc !== undefined ? ` acc ${formatNumber(m.acc)}` : ''}${m.val_loss !== undefined ? ` val_loss ${formatNumber(m.val_loss)}` : ''}${m.val_acc !== undefined ? ` val_acc ${formatNumber(m.val_acc)}` : ''} -> ${path.basename(e.checkpoint)}`,
      );
    } else if (e.type === 'warning') {
      io.err(`${e.diagnostic.severity}[${e.diagnostic.code}]${e.diagnostic.layer ? ` ${e.diagnostic.layer}` : ''}: ${e.diagnostic.message}`);
    } else if (e.type === 'done') {
      progress(total, total, true);
      const last = e.history.at(-1);
      if (last?.partialSteps !== undefined) {
        // the epoch the run stopped in: its metrics cover only the steps run, and it was not saved
        io.out(`epoch ${e.history.length} (partial, ${last.partialSteps} of ${stepsPerEpoch} steps, not saved): loss ${formatNumber(last.loss)}${last.acc !== undefined ? ` acc ${formatNumber(last.acc)}` : ''}`);
      }
      io.out(e.stopped ? `stopped (${e.stopped}); ${e.checkpoints.length} checkpoints kept` : `done: ${e.checkpoints.length} checkpoints`);
    }
  };
  try {
    const done = await trainFromSpec(runSpec, path.dirname(file), {
      backend: choiceOption(args, 'backend', ['auto', ...backendNames] as const, 'auto'),
      onEvent,
      signal: controller.signal,
      overwrite: args.options.has('overwrite'),
    });
    if (outputClosed) {
      return brokenPipeExitCode;
    }
    // Ctrl-C exits 130 wherever it lands, in the last epoch's validation or save too
    return controller.signal.aborted || done.stopped === 'cancelled' ? 130 : done.stopped === 'nonFinite' || done.stopped === 'exploding' ? 4 : 0;
  } catch (ex) {
    // Stopped (Ctrl-C or a closed output) before the training loop started: loading or rebuilding
    // the model, checking the data. Any other failure, also one after a stop, is reported as such.
    if (controller.signal.aborted && WeightFileError.is(ex, 'cancelled')) {
      if (outputClosed) {
        return brokenPipeExitCode;
      }
      io.err('interrupted before training started; no checkpoint was written');
      return 130;
    }
    throw ex instanceof RunFolderTakenError ? new UsageError(ex.message) : ex;
  } finally {
    process.off('SIGINT', onSigint);
    releaseOutput?.();
  }
}
