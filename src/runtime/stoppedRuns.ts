/**
 * What is left to do for the training runs of a job whose TF.js worker was stopped under it (a
 * Cancel not answered within hardCancelMs, another job's such Cancel, another job running out of
 * WebAssembly memory, the extension shutting down; see workerExitOf): once that worker is gone,
 * the hidden temporary checkpoint folders its saves were cut short in are removed, and the
 * run.json of a run that was still going records that it stopped (`"stopped": "cancelled"` when the
 * user cancelled that job, `"interrupted"` otherwise), as a run that stops itself records it.
 * No `vscode` import: the extension feeds a JobRuns the job's events and hands it the job's error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../core/atomicWrite';
import type { BackendInfo } from './backend';
import { WorkerStoppedError, workerExitOf } from './runtimeClient';
import { removeCheckpointLeftovers } from './runSpec';
import { runDefaults, type RunSpec, type TrainEvent } from './training';

/** What run.json's `stopped` says of a run whose worker was stopped: `cancelled` (the user cancelled it) or `interrupted` (stopped with another job, or with the extension). */
export type WorkerStopReason = 'cancelled' | 'interrupted';

/** Largest run.json read back, in bytes. */
const maxRunFileBytes = 16 * 1024 * 1024;

/** One run a job started (a `start` event), as its events describe it. */
interface StartedRun {
  runDir: string;
  backend: BackendInfo;
  /** Checkpoint folder names the run reported (epoch events). */
  checkpoints: string[];
  /** It ended (a `done` event): its run.json is final. */
  done: boolean;
}

/**
 * The names of the temporary checkpoint folders this process writes (checkpointTempName): epoch
 * folders in a run folder, and the precision experiment's float16/uint8 folders beside its variants.
 * Only this process's (its worker threads share its pid): a folder another process is writing stays.
 */
function tempFolderPattern(pid: number): RegExp {
  return new RegExp(`^\\.(epoch-\\d+|float16|uint8)\\.tmp-${pid}$`);
}

/** The temporary file of this process's atomic write of a run's run.json (writeFileAtomic: `run.json.<pid>.<random>.tmp`). */
function runFileTempPattern(pid: number): RegExp {
  return new RegExp(`^run\\.json\\.${pid}\\.[0-9a-z]+\\.tmp$`);
}

/**
 * Removes the temporary checkpoint folders of this process (tempFolderPattern; real folders, not
 * links) in `dir`, with the checkpoint files in them, and the temporary file of a run.json write
 * the stop cut short (runFileTempPattern; a regular file).
 */
async function removeTempFolders(dir: string): Promise<void> {
  await removeCheckpointLeftovers(dir, tempFolderPattern(process.pid));
  const runFileTemp = runFileTempPattern(process.pid);
  for (const name of (await fs.promises.readdir(dir).catch(() => [] as string[])).filter((n) => runFileTemp.test(n))) {
    const file = path.join(dir, name);
    if ((await fs.promises.lstat(file).catch(() => undefined))?.isFile()) {
      await fs.promises.rm(file, { force: true });
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The training runs one train or experiment job started, and what to do for them when its worker is stopped. */
export class JobRuns {
  private readonly runs: StartedRun[] = [];

  /**
   * `spec`: the run spec of a train job, as sent to the worker (its run.json holds it); absent for
   * an experiment, whose variants' run.json name the variant as their `model`.
   */
  constructor(private readonly spec?: RunSpec) {}

  /** The run folders the job started, in order. */
  get runDirs(): string[] {
    return this.runs.map((r) => r.runDir);
  }

  /** Takes one training event of the job (of an experiment: each variant's). */
  onTrainEvent(event: TrainEvent): void {
    if (event.type === 'start') {
      this.runs.push({ runDir: event.runDir, backend: event.backend, checkpoints: [], done: false });
      return;
    }
    const run = this.runs.at(-1);
    if (run && event.type === 'epoch') {
      run.checkpoints.push(path.basename(event.checkpoint));
    } else if (run && event.type === 'done') {
      run.done = true;
    }
  }

  /**
   * After the job failed with `ex`: when it failed because its worker was stopped (workerExitOf),
   * waits for that worker to be gone, then removes the temporary checkpoint folders left in the
   * job's run folders (and, for an experiment, beside them), and marks the run.json of each run
   * that was still going as stopped (markStopped). Resolves once done, at once for any other
   * failure; never rejects: what could not be done is told to `warn`.
   */
  async afterFailure(ex: unknown, warn: (message: string) => void = () => undefined): Promise<void> {
    const exited = workerExitOf(ex);
    if (!exited || this.runs.length === 0) {
      return;
    }
    await exited;
    const reason: WorkerStopReason = ex instanceof WorkerStoppedError ? 'cancelled' : 'interrupted';
    const dirs = new Set(this.runs.map((r) => r.runDir));
    if (this.spec === undefined) {
      // the precision experiment writes its float16 and uint8 folders beside its variants
      for (const r of this.runs) {
        dirs.add(path.dirname(r.runDir));
      }
    }
    for (const dir of dirs) {
      await removeTempFolders(dir).catch((e: unknown) => warn(`could not remove a temporary checkpoint folder in ${dir} after the worker was stopped: ${e instanceof Error ? e.message : String(e)}`));
    }
    for (const run of this.runs.filter((r) => !r.done)) {
      await this.markStopped(run, reason).catch((e: unknown) => warn(`could not record in ${path.join(run.runDir, 'run.json')} that the run stopped: ${e instanceof Error ? e.message : String(e)}`));
    }
  }

  /**
   * Adds `"stopped": reason` to the run's run.json (written atomically) when that file is still
   * this run's record of a run that did not end: a run file (history and checkpoints lists) with no
   * `stopped`, its spec the job's (a train job's spec; an experiment variant's name), its backend
   * the one the run started on, listing every checkpoint the run reported, and fewer complete
   * epochs than its spec asks for. Anything else (no folder, no run.json, another run's) is left alone.
   */
  private async markStopped(run: StartedRun, reason: WorkerStopReason): Promise<void> {
    const file = path.join(run.runDir, 'run.json');
    const st = await fs.promises.lstat(file).catch(() => undefined);
    if (!st?.isFile() || st.size > maxRunFileBytes) {
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(await fs.promises.readFile(file, 'utf8'));
    } catch {
      return;
    }
    if (!isObject(json) || !Array.isArray(json['history']) || !Array.isArray(json['checkpoints']) || json['stopped'] !== undefined || !isObject(json['spec'])) {
      return;
    }
    const spec = json['spec'];
    const sameSpec = this.spec !== undefined ? JSON.stringify(spec) === JSON.stringify(this.spec) : spec['model'] === path.basename(run.runDir);
    // the file the run takes its folder with has no backend yet; every later one has the run's
    const sameBackend = json['backend'] === undefined ? this.spec !== undefined : JSON.stringify(json['backend']) === JSON.stringify(run.backend);
    const listed = json['checkpoints'];
    if (!sameSpec || !sameBackend || !run.checkpoints.every((c) => listed.includes(c))) {
      return;
    }
    const history = json['history'] as unknown[];
    const epochs = typeof spec['epochs'] === 'number' ? spec['epochs'] : runDefaults.epochs;
    const last = history.at(-1);
    if (history.length >= epochs && !(isObject(last) && last['partialSteps'] !== undefined)) {
      return; // it trained every epoch before the worker was stopped: it ended, only its done event was lost
    }
    await writeFileAtomic(file, `${JSON.stringify({ ...json, stopped: reason }, null, 2)}\n`);
  }
}
