/**
 * First module of the `weightscope` bundle: when the process runs `inspect` or `check`, starts the
 * statistics workers before the rest of the command-line code loads (see earlyWorkers.ts).
 * Does nothing when imported by anything but the running bundle (tests, other entries).
 */
import * as path from 'node:path';
import { defaultWorkerCount, startWorkersEarly } from '../analysis/earlyWorkers';

/** Worker count of `--workers N` / `--workers=N`, the default without it, undefined when it does not parse. */
function workersOf(args: readonly string[]): number | undefined {
  const at = args.findIndex((a) => a === '--workers' || a.startsWith('--workers='));
  if (at < 0) {
    return defaultWorkerCount();
  }
  const text = args[at] === '--workers' ? args[at + 1] : args[at]!.slice('--workers='.length);
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 64 ? n : undefined;
}

if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  const stats = (command === 'inspect' || command === 'check') && !args.some((a) => a === '--no-stats' || a === '--help' || a === '--');
  const count = stats ? workersOf(args) : undefined;
  if (count !== undefined) {
    startWorkersEarly(path.join(__dirname, 'statsWorker.js'), count);
  }
}
