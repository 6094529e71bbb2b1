/**
 * Controller of one training panel: owns the state snapshot (protocol/trainingPanel.ts), turns
 * worker events (training, experiment, probe) into it, posts it throttled, and relays Cancel.
 * TrainingPanelSerializer brings panels back after a window reload (trainingPanelState.ts).
 */
import * as vscode from 'vscode';
import type { BackendInfo } from '../../runtime/backend';
import type { ExperimentResult } from '../../runtime/experiments';
import type { ProbeReport } from '../../runtime/probeReport';
import type { TrainEvent } from '../../runtime/training';
import type { RunDto, TrainingPanelEvent, TrainingPanelNotification, TrainingPanelRequests, TrainingPanelStateDto } from '../../protocol/trainingPanel';
import { Disposable } from '../dispose';
import { log } from '../log';
import { HostMessenger } from '../messenger';
import { webviewHtml, webviewOptions } from '../webviewHtml';
import { diagnosticDto, probeDto, restoreTrainingState } from './trainingPanelState';

/** Minimum time between two snapshots posted to the webview, in milliseconds. */
const postIntervalMs = 200;

/** Most steps kept per run for the charts (older ones are thinned out); the webview saves them all for a reload. */
const maxStepsPerRun = 1000;

/** One panel. */
export class TrainingPanel extends Disposable {
  /** Webview panel type. */
  static readonly viewType = 'weightscope.trainingPanel';
  /** Live panels (for tests). */
  static readonly live = new Set<TrainingPanel>();

  private readonly panel: vscode.WebviewPanel;
  private readonly messenger: HostMessenger<TrainingPanelRequests, TrainingPanelNotification, TrainingPanelEvent>;
  private state: TrainingPanelStateDto;
  private timer: NodeJS.Timeout | undefined;
  private lastPost = 0;
  /** Fires when the user presses Cancel (or closes the panel while running). */
  readonly cancel = new AbortController();

  /**
   * A new panel for a job that starts now, or (`restore`) a panel the workbench brought back after a
   * reload, showing the restored state.
   */
  constructor(extensionUri: vscode.Uri, title: string, mode: TrainingPanelStateDto['mode'], restore?: { panel: vscode.WebviewPanel; state: TrainingPanelStateDto }) {
    super();
    this.state = restore?.state ?? { title, mode, backend: null, fallbacks: [], status: 'running', message: 'Starting TensorFlow.js…', runs: [], warnings: [], probe: null };
    if (restore) {
      this.panel = restore.panel;
      this.panel.webview.options = webviewOptions(extensionUri);
      this.panel.title = title;
    } else {
      this.panel = vscode.window.createWebviewPanel(TrainingPanel.viewType, title, vscode.ViewColumn.Active, { ...webviewOptions(extensionUri), retainContextWhenHidden: true });
    }
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'weightscope.svg');
    this.panel.webview.html = webviewHtml(this.panel.webview, extensionUri, 'trainingPanel', title);
    this.messenger = this.register(
      new HostMessenger<TrainingPanelRequests, TrainingPanelNotification, TrainingPanelEvent>(
        this.panel.webview,
        {},
        (e) => {
          if (e.type === 'cancel') {
            this.cancel.abort();
            this.update({ message: 'Cancelling…' });
          } else {
            this.flush();
          }
        },
        ['ready', 'cancel'],
      ),
    );
    this.register(
      this.panel.onDidDispose(() => {
        this.cancel.abort();
        this.dispose();
      }),
    );
    this.register({ dispose: () => clearTimeout(this.timer) });
    TrainingPanel.live.add(this);
    this.register({ dispose: () => TrainingPanel.live.delete(this) });
  }

  /** The current snapshot (tests read it). */
  get snapshot(): TrainingPanelStateDto {
    return this.state;
  }

  /** Shows the backend in use and the fallback reasons. */
  setBackend(b: BackendInfo): void {
    this.update({ backend: b.label, fallbacks: b.fallbacks, message: `Running on ${b.label}…` });
  }

  /** Says that the job waits for the jobs running on another backend (`runningBackend`: 'auto' or its name) to end. */
  setWaiting(runningBackend: string): void {
    this.update({ message: `Waiting for the jobs ahead of this one on ${runningBackend === 'auto' ? 'the automatically chosen' : `the ${runningBackend}`} backend to end (TensorFlow.js uses one backend at a time)…` });
  }

  /** Applies a training event of run `name`. */
  onTrainEvent(name: string, e: TrainEvent): void {
    let run = this.state.runs.find((r) => r.name === name);
    if (!run) {
      run = { name, layers: [], steps: [], epochs: [], runDir: '' };
      this.state.runs.push(run);
    }
    switch (e.type) {
      case 'start':
        run.layers = e.layers;
        run.runDir = e.runDir;
        this.update({ message: `${name}: ${e.samples} training / ${e.validationSamples} validation samples, ${e.stepsPerEpoch} steps per epoch (${e.loss}${e.fromLogits ? ', from logits' : ''})` });
        break;
      case 'step':
        run.steps.push({ step: e.step, epoch: e.epoch, loss: e.loss, acc: e.acc, layers: e.layers.map((l) => [l.weightNorm, l.gradNorm, l.updateRatio]) });
        if (run.steps.length > maxStepsPerRun) {
          run.steps = run.steps.filter((_, i) => i % 2 === 0);
        }
        this.update({ message: `${name}: epoch ${e.epoch}, step ${e.step + 1}, loss ${e.loss?.toPrecision(4) ?? 'NaN'}` });
        break;
      case 'epoch':
        run.epochs.push({
          epoch: e.epoch,
          loss: e.metrics.loss,
          acc: e.metrics.acc ?? null,
          valLoss: e.metrics.val_loss ?? null,
          valAcc: e.metrics.val_acc ?? null,
          checkpoint: e.checkpoint,
        });
        this.update({ message: `${name}: epoch ${e.epoch} done, checkpoint written` });
        break;
      case 'warning':
        this.state.warnings.push(diagnosticDto(e.diagnostic));
        this.update({});
        break;
      case 'done':
        break;
    }
  }

  /** Shows a probe report. */
  showProbe(r: ProbeReport): void {
    this.setBackend(r.backend);
    this.update({ status: 'done', message: `Probe done in ${r.probeMs} ms`, probe: probeDto(r) });
  }

  /** Adds an experiment's final per-variant numbers. */
  showExperiment(r: ExperimentResult): void {
    this.state.data = r.data;
    for (const v of r.variants) {
      let run: RunDto | undefined = this.state.runs.find((x) => x.name === v.name);
      if (!run) {
        run = { name: v.name, layers: [], steps: [], epochs: [], runDir: v.checkpoints[0] ?? '' };
        this.state.runs.push(run);
      }
      if (v.outputDrift !== undefined) {
        run.outputDrift = v.outputDrift;
        run.accuracy = v.accuracy ?? null;
      }
      if (r.experiment === 'initialization') {
        run.diagnostics = v.diagnostics.map(diagnosticDto); // only this experiment probes its variants
      }
    }
    this.update({});
  }

  /** Marks the end. */
  finish(status: TrainingPanelStateDto['status'], message: string): void {
    this.update({ status, message });
    this.flush();
  }

  private update(patch: Partial<TrainingPanelStateDto>): void {
    this.state = { ...this.state, ...patch };
    const wait = postIntervalMs - (Date.now() - this.lastPost);
    if (wait <= 0) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), wait);
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lastPost = Date.now();
    void this.messenger.notify({ type: 'state', state: this.state });
  }
}

/** Brings training panels back after a window reload, from the state their webview saved. */
export class TrainingPanelSerializer implements vscode.WebviewPanelSerializer<unknown> {
  constructor(private readonly extensionUri: vscode.Uri) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, saved: unknown): Promise<void> {
    const state = await restoreTrainingState(saved);
    if (!state) {
      log().warn('a training panel could not be restored: it saved no state');
      panel.dispose();
      return;
    }
    log().info(`restoring the training panel '${state.title}' (${state.status})`);
    new TrainingPanel(this.extensionUri, state.title, state.mode, { panel, state });
  }
}
