/**
 * Worker threads started before the code that uses them has loaded. A command-line entry starts
 * them first thing (startWorkersEarly), so that their start-up (a Node.js thread and its bundle)
 * overlaps the loading of the entry's own code; StatsPool then takes them (takeEarlyWorker)
 * instead of starting new ones. Keep this module free of heavy imports: it runs before them.
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';

/** Default number of StatsPool workers: one less than the CPUs (one is left to the calling thread), between 1 and 4. */
export function defaultWorkerCount(): number {
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.min(4, Math.max(1, cpus - 1));
}

interface EarlyWorker {
  worker: Worker;
  /** Listeners that drop the worker if it fails before it is taken. */
  onError: () => void;
  onExit: () => void;
}

const started = new Map<string, EarlyWorker[]>();

/** Starts `count` workers of `script` (absolute path) for a later takeEarlyWorker; they never keep the process alive. */
export function startWorkersEarly(script: string, count: number): void {
  for (let i = 0; i < count; i++) {
    let worker: Worker;
    try {
      worker = new Worker(script);
    } catch {
      return; // the pool starts its own and reports what fails
    }
    worker.unref();
    const list = started.get(script) ?? [];
    const drop = (): void => {
      const at = list.indexOf(early);
      if (at >= 0) {
        list.splice(at, 1);
      }
    };
    const early: EarlyWorker = { worker, onError: drop, onExit: drop };
    worker.once('error', early.onError);
    worker.once('exit', early.onExit);
    list.push(early);
    started.set(script, list);
  }
}

/** A worker of `script` started by startWorkersEarly and still alive, or undefined. */
export function takeEarlyWorker(script: string): Worker | undefined {
  const early = started.get(script)?.shift();
  if (!early) {
    return undefined;
  }
  early.worker.off('error', early.onError);
  early.worker.off('exit', early.onExit);
  return early.worker;
}
