/**
 * Restoring a training panel after a window reload: the webview saved its last snapshot
 * (TrainingPanelStateDto) with setState; `restoreTrainingState` checks that untrusted JSON field by
 * field, re-reads each run folder's run.json (written by training.ts after every epoch, so it may
 * hold epochs the saved snapshot missed), and marks a job that was still running as interrupted:
 * the reload stopped the worker, the checkpoints written so far stay. No `vscode` import, so it is
 * unit-tested in plain Node.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DiagnosticDto, EpochDto, ProbeDto, ProbeLayerDto, RunDto, StepDto, TrainingPanelStateDto } from '../../protocol/trainingPanel';
import type { Diagnostic } from '../../analysis/diagnostics/diagnostic';
import type { ProbeReport } from '../../runtime/probeReport';
import type { EpochMetrics } from '../../runtime/training';

/** Largest run.json read back, in bytes (one is about 200 bytes per epoch). */
export const maxRunFileBytes = 16 * 1024 * 1024;

/** Most steps per run kept in a restored state. */
export const maxRestoredSteps = 2000;

const modes: readonly TrainingPanelStateDto['mode'][] = ['train', 'experiment', 'probe'];
const statuses: readonly TrainingPanelStateDto['status'][] = ['running', 'done', 'cancelled', 'stopped', 'failed', 'interrupted'];
const severities: readonly DiagnosticDto['severity'][] = ['error', 'warning', 'info'];

/** What run.json (training.ts) holds that a restore uses. */
export interface RunFile {
  /** Metrics of every completed epoch (and of a partial one, cancelled or stopped before its last step, marked `partialSteps`). */
  history: EpochMetrics[];
  /** Checkpoint folder names, epoch-000 (before training) first. */
  checkpoints: string[];
  /** Why the run stopped early, when it did: 'cancelled', 'nonFinite' or 'exploding' (training.ts), or 'interrupted' (its worker was stopped with another job or the window; stoppedRuns.ts). */
  stopped?: string;
  /** Epochs the spec asked for. */
  epochs?: number;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function list<T>(v: unknown, item: (x: unknown) => T | undefined): T[] {
  if (!Array.isArray(v)) {
    return [];
  }
  const out: T[] = [];
  for (const x of v) {
    const t = item(x);
    if (t !== undefined) {
      out.push(t);
    }
  }
  return out;
}

function diagnostic(v: unknown): DiagnosticDto | undefined {
  if (!isObject(v) || typeof v['code'] !== 'string' || typeof v['message'] !== 'string') {
    return undefined;
  }
  const severity = severities.includes(v['severity'] as DiagnosticDto['severity']) ? (v['severity'] as DiagnosticDto['severity']) : 'info';
  return { severity, code: v['code'], ...(typeof v['layer'] === 'string' ? { layer: v['layer'] } : {}), message: v['message'] };
}

function step(v: unknown): StepDto | undefined {
  if (!isObject(v) || num(v['step']) === null || num(v['epoch']) === null) {
    return undefined;
  }
  const layers = list(v['layers'], (l) => (Array.isArray(l) ? ([num(l[0]), num(l[1]), num(l[2])] as [number | null, number | null, number | null]) : undefined));
  return { step: num(v['step'])!, epoch: num(v['epoch'])!, loss: num(v['loss']), acc: num(v['acc']), layers };
}

function epoch(v: unknown): EpochDto | undefined {
  if (!isObject(v) || num(v['epoch']) === null) {
    return undefined;
  }
  return { epoch: num(v['epoch'])!, loss: num(v['loss']), acc: num(v['acc']), valLoss: num(v['valLoss']), valAcc: num(v['valAcc']), checkpoint: str(v['checkpoint']) };
}

function run(v: unknown): RunDto | undefined {
  if (!isObject(v) || typeof v['name'] !== 'string') {
    return undefined;
  }
  const steps = list(v['steps'], step);
  const out: RunDto = {
    name: v['name'],
    layers: list(v['layers'], (l) => (typeof l === 'string' ? l : undefined)),
    steps: steps.length > maxRestoredSteps ? steps.filter((_, i) => i % Math.ceil(steps.length / maxRestoredSteps) === 0) : steps,
    epochs: list(v['epochs'], epoch),
    runDir: str(v['runDir']),
  };
  if ('outputDrift' in v) {
    out.outputDrift = num(v['outputDrift']);
    out.accuracy = num(v['accuracy']);
  }
  if (Array.isArray(v['diagnostics'])) {
    out.diagnostics = list(v['diagnostics'], diagnostic);
  }
  return out;
}

function probeLayer(v: unknown): ProbeLayerDto | undefined {
  if (!isObject(v) || typeof v['layer'] !== 'string') {
    return undefined;
  }
  return {
    layer: v['layer'],
    className: str(v['className']),
    activation: typeof v['activation'] === 'string' ? v['activation'] : null,
    gradNorm: num(v['gradNorm']),
    gradWeightRatio: num(v['gradWeightRatio']),
    activationStd: num(v['activationStd']),
    deadReluFraction: num(v['deadReluFraction']),
    saturatedFraction: num(v['saturatedFraction']),
  };
}

function probe(v: unknown): ProbeDto | null {
  if (!isObject(v)) {
    return null;
  }
  return {
    loss: str(v['loss']),
    batch: str(v['batch']),
    layers: list(v['layers'], probeLayer),
    diagnostics: list(v['diagnostics'], diagnostic),
    forecastDiagnostics: list(v['forecastDiagnostics'], diagnostic),
    firstNonFiniteLayer: typeof v['firstNonFiniteLayer'] === 'string' ? v['firstNonFiniteLayer'] : null,
  };
}

/**
 * The saved webview state as a panel state, every field checked (unknown or malformed parts are
 * dropped); undefined when it is not a training panel's state at all.
 */
export function parseSavedState(saved: unknown): TrainingPanelStateDto | undefined {
  if (!isObject(saved) || typeof saved['title'] !== 'string' || !modes.includes(saved['mode'] as TrainingPanelStateDto['mode'])) {
    return undefined;
  }
  const status = statuses.includes(saved['status'] as TrainingPanelStateDto['status']) ? (saved['status'] as TrainingPanelStateDto['status']) : 'interrupted';
  return {
    title: saved['title'],
    mode: saved['mode'] as TrainingPanelStateDto['mode'],
    backend: typeof saved['backend'] === 'string' ? saved['backend'] : null,
    fallbacks: list(saved['fallbacks'], (f) => (typeof f === 'string' ? f : undefined)),
    status,
    message: str(saved['message']),
    runs: list(saved['runs'], run),
    warnings: list(saved['warnings'], diagnostic),
    probe: probe(saved['probe']),
    ...(typeof saved['data'] === 'string' ? { data: saved['data'] } : {}),
  };
}

/** Reads `<runDir>/run.json`; undefined when absent, too big or not a run file. */
export async function readRunFile(runDir: string): Promise<RunFile | undefined> {
  if (!path.isAbsolute(runDir)) {
    return undefined;
  }
  const file = path.join(runDir, 'run.json');
  try {
    const st = await fs.promises.stat(file);
    if (!st.isFile() || st.size > maxRunFileBytes) {
      return undefined;
    }
    const json: unknown = JSON.parse(await fs.promises.readFile(file, 'utf8'));
    if (!isObject(json) || !Array.isArray(json['history']) || !Array.isArray(json['checkpoints'])) {
      return undefined;
    }
    const spec = isObject(json['spec']) ? json['spec'] : {};
    return {
      history: list(json['history'], (h) => (isObject(h) ? { loss: num(h['loss']), acc: num(h['acc']), val_loss: num(h['val_loss']), val_acc: num(h['val_acc']) } : undefined)),
      checkpoints: list(json['checkpoints'], (c) => (typeof c === 'string' ? c : undefined)),
      ...(typeof json['stopped'] === 'string' ? { stopped: json['stopped'] } : {}),
      ...(num(spec['epochs']) !== null ? { epochs: num(spec['epochs'])! } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * The epochs a run file records: history[i] is epoch i + 1 with checkpoint `epoch-<i+1>` (a
 * partial epoch (cancelled or stopped) has metrics but no checkpoint and is left out, as the live panel does).
 */
export function epochsFromRunFile(runDir: string, file: RunFile): EpochDto[] {
  const out: EpochDto[] = [];
  file.history.forEach((h, i) => {
    const name = `epoch-${String(i + 1).padStart(3, '0')}`;
    if (file.checkpoints.includes(name)) {
      out.push({ epoch: i + 1, loss: h.loss, acc: h.acc ?? null, valLoss: h.val_loss ?? null, valAcc: h.val_acc ?? null, checkpoint: path.join(runDir, name) });
    }
  });
  return out;
}

/**
 * A run file's run is over when it stopped early or trained every epoch its spec asked for; one
 * whose worker was stopped with the window (`stopped: 'interrupted'`, see stoppedRuns.ts) did not
 * finish before the reload, the reload stopped it.
 */
function finished(file: RunFile): boolean {
  return (file.stopped !== undefined && file.stopped !== 'interrupted') || (file.stopped === undefined && file.epochs !== undefined && file.history.length >= file.epochs);
}

/**
 * The state to show after a reload: the saved snapshot checked, each run's epochs completed from
 * its run.json when that holds more, and a job that was running marked 'interrupted' (or 'done'
 * when its run files show it finished before the reload). Undefined: nothing to restore.
 */
export async function restoreTrainingState(saved: unknown, read: (runDir: string) => Promise<RunFile | undefined> = readRunFile): Promise<TrainingPanelStateDto | undefined> {
  const state = parseSavedState(saved);
  if (!state) {
    return undefined;
  }
  const files: (RunFile | undefined)[] = [];
  for (const r of state.runs) {
    const file = r.runDir ? await read(r.runDir) : undefined;
    files.push(file);
    if (file) {
      const epochs = epochsFromRunFile(r.runDir, file);
      if (epochs.length > r.epochs.length) {
        r.epochs = epochs;
      }
    }
  }
  state.restored = true;
  if (state.status !== 'running') {
    return state;
  }
  const trained = files.filter((f): f is RunFile => f !== undefined);
  if (state.mode === 'train' && trained.length > 0 && trained.every(finished)) {
    const last = state.runs[0]?.epochs.at(-1);
    state.status = trained.some((f) => f.stopped) ? 'stopped' : 'done';
    state.message = `Finished before the window reloaded${last ? `: ${state.runs[0]!.epochs.length} epochs, last checkpoint ${path.basename(last.checkpoint)}` : ''}.`;
    return state;
  }
  state.status = 'interrupted';
  const kept = state.runs
    .filter((r) => r.epochs.length > 0)
    .map((r) => `${state.runs.length > 1 ? `${r.name} ` : ''}up to ${path.basename(r.epochs.at(-1)!.checkpoint) || `epoch ${r.epochs.at(-1)!.epoch}`}`);
  state.message =
    state.mode === 'probe'
      ? 'Interrupted: the window reloaded while the probe ran; run Probe Gradients again.'
      : `Interrupted: the window reloaded while this ran, which stopped it. ${kept.length > 0 ? `Checkpoints were kept (${kept.join('; ')}).` : 'No epoch had finished.'}`;
  return state;
}

/** What the end of a training run (its `done` event) tells the panel. */
export interface TrainingEnd {
  stopped?: string;
  checkpoints: string[];
  history: EpochMetrics[];
}

/**
 * The panel's status and last line for a run that ended (the CLI's `train` prints the same facts):
 * the checkpoints kept, and for a run that stopped early in an epoch, that epoch's steps, which
 * were not saved (no checkpoint of a partial epoch is written).
 */
export function trainingEndMessage(done: TrainingEnd, fallbackDir: string): { status: TrainingPanelStateDto['status']; message: string } {
  const first = done.checkpoints[0];
  const kept = `${done.checkpoints.length} checkpoints in ${first !== undefined ? path.dirname(first) : fallbackDir}`;
  if (!done.stopped) {
    return { status: 'done', message: `Done: ${kept}.` };
  }
  const last = done.history[done.history.length - 1];
  const partial = last?.partialSteps !== undefined ? ` in epoch ${done.history.length} after ${last.partialSteps} step${last.partialSteps === 1 ? '' : 's'}, which was not saved` : '';
  return { status: done.stopped === 'cancelled' ? 'cancelled' : 'stopped', message: `Stopped (${done.stopped})${partial}; ${kept} kept.` };
}

/** A diagnostic as the panel shows it. */
export function diagnosticDto(d: Diagnostic): DiagnosticDto {
  return { severity: d.severity, code: d.code, ...(d.layer ? { layer: d.layer } : {}), message: d.message };
}

/** What the panel shows of a probe report; the loss to 4 significant digits, as the training steps' losses. */
export function probeDto(r: ProbeReport): ProbeDto {
  const p = r.probe;
  return {
    loss: `${p.lossName} (${p.lossSource}) = ${p.loss === null ? 'not finite' : Number(p.loss.toPrecision(4)).toString()}`,
    batch: `${p.batchSize} samples, ${p.inputSource === 'data' ? `from data${p.targetSource === 'synthetic' ? ', synthetic targets (the data has none)' : ''}` : `synthetic ${p.inputSource}`}, lr ${p.learningRate}${r.batchReduced ? ` (batch ${r.batchReduced})` : ''}`,
    layers: p.layers.map(
      (l): ProbeLayerDto => ({
        layer: l.layer,
        className: l.className,
        activation: l.activation ?? null,
        gradNorm: l.gradNorm,
        gradWeightRatio: l.gradWeightRatio,
        activationStd: l.activationStd,
        deadReluFraction: l.deadReluFraction ?? null,
        saturatedFraction: l.saturatedFraction ?? null,
      }),
    ),
    diagnostics: r.diagnostics.map(diagnosticDto),
    forecastDiagnostics: r.forecastDiagnostics.map(diagnosticDto),
    firstNonFiniteLayer: p.firstNonFiniteLayer ?? null,
  };
}
