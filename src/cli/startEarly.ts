/**
 * First module of the `weightscope` bundle: when the process runs `inspect` or `check`, starts the
 * statistics workers before the rest of the command-line code loads (see earlyWorkers.ts).
 * Does nothing when imported by anything but the running bundle (tests, other entries).
 */
import * as path from 'node:path';
import { defaultWorkerCount, startWorkersEarly } from '../analysis/earlyWorkers';
import { decimalInteger, maxWorkers, wantsHelp } from './args';

/** Worker count of `--workers N` / `--workers=N`, the default without it, undefined when it does not parse. */
function workersOf(args: readonly string[]): number | undefined {
  const at = args.findIndex((a) => a === '--workers' || a.startsWith('--workers='));
  if (at < 0) {
    return defaultWorkerCount();
  }
  const text = args[at] === '--workers' ? args[at + 1] : args[at]!.slice('--workers='.length);
  const n = decimalInteger(text);
  return n !== undefined && n <= maxWorkers ? n : undefined;
}

/** Starts the statistics workers (statsWorker.js in `dir`) that the command line `argv` will use; returns how many. */
export function startStatsWorkersFor(argv: readonly string[], dir: string): number {
  const [command, ...args] = argv;
  const stats = (command === 'inspect' || command === 'check') && !args.some((a) => a === '--no-stats' || a === '--') && !wantsHelp(args);
  const count = stats ? workersOf(args) : undefined;
  if (count === undefined) {
    return 0;
  }
  startWorkersEarly(path.join(dir, 'statsWorker.js'), count);
  return count;
}

// The bundle that runs as the process's main module (this file's code lives inside it).
if (require.main !== undefined && require.main.filename === __filename) {
  startStatsWorkersFor(process.argv.slice(2), __dirname);
}
