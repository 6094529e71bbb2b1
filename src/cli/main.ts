/**
 * The `weightscope` command: parse argv, run a command, map errors to exit codes
 * (0 success, 2 unreadable input or bad usage with `error[<reason>]: <sentence>` on stderr, 1 a bug;
 * the commands' own codes and 141 for closed output are listed in mainUsage).
 */
import './startEarly'; // first: starts the statistics workers while the rest loads
import { WeightFileError } from '../core/errors';
import { UsageError, wantsHelp } from './args';
import { checkUsage, runCheck } from './commands/check';
import { diffUsage, runDiff } from './commands/diff';
import { fingerprintUsage, runFingerprint } from './commands/fingerprint';
import { historyUsage, runHistory } from './commands/history';
import { inspectUsage, runInspect } from './commands/inspect';
import { probeUsage, runProbe } from './commands/probe';
import { runTrain, trainUsage } from './commands/train';
import { processIo, writeError, type CliIo } from './io';

/** package.json's version, put in by the build (scripts/build.mjs). */
declare const WEIGHTSCOPE_VERSION: string;

/** Version printed by --version: package.json's. */
export const cliVersion = WEIGHTSCOPE_VERSION;

/** A CLI command. */
interface Command {
  /** One-line summary for the help. */
  summary: string;
  /** Full usage text. */
  usage: string;
  /** Runs it; returns the exit code. */
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

/** Every command, in help order. */
const commands: Record<string, Command> = {
  inspect: { summary: 'per-layer and per-tensor statistics of a weight file', usage: inspectUsage, run: runInspect },
  check: { summary: 'weight-health diagnostics (initializers, vanishing/exploding forecast, regularization, precision)', usage: checkUsage, run: runCheck },
  diff: { summary: 'compare two weight files layer by layer (also across formats)', usage: diffUsage, run: runDiff },
  history: { summary: 'how the weights of a folder of checkpoints moved over training', usage: historyUsage, run: runHistory },
  fingerprint: { summary: 'SHA-256 fingerprints of tensors and models; duplicates grouped', usage: fingerprintUsage, run: runFingerprint },
  probe: { summary: 'gradient probe with TensorFlow.js: per-layer gradient norms, vanishing/exploding verdicts', usage: probeUsage, run: runProbe },
  train: { summary: 'run the training a run spec describes, a checkpoint per epoch', usage: trainUsage, run: runTrain },
};

/** Top-level help. */
export function mainUsage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'weightscope: look inside neural-network weight files (Keras, TensorFlow, TensorFlow.js, TFLite)',
    '',
    'Usage: weightscope <command> [options]',
    '       weightscope help [<command>] | --help | --version (-v)',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'weightscope <command> --help' (or 'weightscope help <command>') for a command's options;",
    "'weightscope --version' (or -v) prints the version.",
    '',
    'Exit codes: 0 success; 1 internal error (a bug); 2 unreadable input or invalid usage, with one',
    "'error[<reason>]: <sentence>' line on stderr; 3 check --fail-on found diagnostics; 4 train stopped",
    'itself (NaN/Inf loss or an exploding update); 130 train interrupted (Ctrl-C); 141 the output was',
    "closed early (e.g. '| head').",
  ].join('\n');
}

/** Prints a usage error: one `error[usage]` line and one line pointing to the help. */
function usageError(io: CliIo, message: string, hint: string): number {
  io.err(`error[usage]: ${message}`);
  io.err(hint);
  return 2;
}

/** The command of that name, or undefined. */
function commandNamed(name: string): Command | undefined {
  return Object.hasOwn(commands, name) ? commands[name] : undefined;
}

/** Runs the CLI with the given arguments; returns the exit code (never throws). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  const listHint = "Run 'weightscope --help' for the commands.";
  if (name === undefined) {
    const names = Object.keys(commands);
    return usageError(io, `No command given; the commands are ${names.slice(0, -1).join(', ')} and ${names.at(-1)}.`, listHint);
  }
  if (name === '--help' || name === '-h') {
    io.out(mainUsage());
    return 0;
  }
  if (name === 'help') {
    // `weightscope help [<command>]`
    const topic = rest[0] === undefined ? undefined : commandNamed(rest[0]);
    if (rest.length > 1) {
      return usageError(io, `'help' takes at most one command name; got '${rest.join(' ')}'.`, listHint);
    }
    if (rest[0] !== undefined && !topic) {
      return usageError(io, `Unknown command '${rest[0]}'.`, listHint);
    }
    io.out(topic ? topic.usage : mainUsage());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    io.out(cliVersion);
    return 0;
  }
  const command = commandNamed(name);
  if (!command) {
    return usageError(io, `Unknown command '${name}'.`, listHint);
  }
  if (wantsHelp(rest)) {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (ex) {
    if (ex instanceof UsageError) {
      return usageError(io, ex.message, `Run 'weightscope ${name} --help' for its options.`);
    }
    if (WeightFileError.is(ex)) {
      writeError(io, ex);
      return 2;
    }
    const verbose = Boolean(process.env['WEIGHTSCOPE_VERBOSE']);
    io.err(`internal error: ${ex instanceof Error ? (verbose ? ex.stack : ex.message) : String(ex)}`);
    io.err(verbose ? 'This is a bug in Weightscope.' : 'This is a bug in Weightscope; set WEIGHTSCOPE_VERBOSE=1 for the stack trace.');
    return 1;
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2), processIo()).then((code) => {
    process.exitCode = code;
  });
}
