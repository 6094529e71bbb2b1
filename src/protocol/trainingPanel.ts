/**
 * Messages and DTOs of the training panel (Train Model..., Run Experiment, Probe Gradients). The
 * host keeps the whole state and posts it as one snapshot (throttled); the webview saves the last
 * one with setState, and after a window reload the host restores the panel from it and the run
 * folders (src/extension/runtime/trainingPanelState.ts). JSON-safe: missing numbers are null.
 */

/** A finding (same shape as the analysis Diagnostic). */
export interface DiagnosticDto {
  /** error | warning | info. */
  severity: 'error' | 'warning' | 'info';
  /** Stable code. */
  code: string;
  /** Layer, when about one. */
  layer?: string;
  /** Message. */
  message: string;
}

/** One logged training step. */
export interface StepDto {
  /** Global step. */
  step: number;
  /** Epoch (1-based). */
  epoch: number;
  /** Batch loss. */
  loss: number | null;
  /** Batch accuracy. */
  acc: number | null;
  /** Per layer: [weight norm after the step, gradient norm, update ratio |Δw|/|w| against the weight norm before the step], in `layers` order. */
  layers: [number | null, number | null, number | null][];
}

/** Metrics of one epoch. */
export interface EpochDto {
  /** Epoch (1-based). */
  epoch: number;
  /** Training loss. */
  loss: number | null;
  /** Training accuracy. */
  acc: number | null;
  /** Validation loss. */
  valLoss: number | null;
  /** Validation accuracy. */
  valAcc: number | null;
  /** Checkpoint folder written for it. */
  checkpoint: string;
}

/** One run (a training run, or one variant of an experiment). */
export interface RunDto {
  /** Variant or model name. */
  name: string;
  /** Layer names (with weights). */
  layers: string[];
  /** Logged steps. */
  steps: StepDto[];
  /** Completed epochs. */
  epochs: EpochDto[];
  /** Run folder. */
  runDir: string;
  /** Precision experiment: max output drift against float32. */
  outputDrift?: number | null;
  /** Precision experiment: validation accuracy. */
  accuracy?: number | null;
  /** Probe verdicts of this variant (initialization experiment). */
  diagnostics?: DiagnosticDto[];
}

/** One probed layer. */
export interface ProbeLayerDto {
  /** Layer. */
  layer: string;
  /** Class. */
  className: string;
  /** Activation. */
  activation: string | null;
  /** Gradient L2 norm (null: no weights or not finite). */
  gradNorm: number | null;
  /** Gradient/weight norm ratio. */
  gradWeightRatio: number | null;
  /** Activation std. */
  activationStd: number | null;
  /** Dead ReLU fraction. */
  deadReluFraction: number | null;
  /** Saturated fraction. */
  saturatedFraction: number | null;
}

/** A probe's results. */
export interface ProbeDto {
  /** Loss name and value. */
  loss: string;
  /** Batch description. */
  batch: string;
  /** Layers input to output. */
  layers: ProbeLayerDto[];
  /** Measured verdicts. */
  diagnostics: DiagnosticDto[];
  /** Forecast verdicts (weights alone). */
  forecastDiagnostics: DiagnosticDto[];
  /** First layer with NaN/Inf. */
  firstNonFiniteLayer: string | null;
}

/** The whole panel state. */
export interface TrainingPanelStateDto {
  /** Title, e.g. 'Training: model.json'. */
  title: string;
  /** What the panel shows. */
  mode: 'train' | 'experiment' | 'probe';
  /** Backend label, once known. */
  backend: string | null;
  /** Why faster backends were not used. */
  fallbacks: string[];
  /** running | done | cancelled | stopped | failed, or interrupted: it was running when the window reloaded. */
  status: 'running' | 'done' | 'cancelled' | 'stopped' | 'failed' | 'interrupted';
  /** One line for the status bar of the panel. */
  message: string;
  /** Runs side by side. */
  runs: RunDto[];
  /** Warnings as they happened. */
  warnings: DiagnosticDto[];
  /** Probe results (probe mode). */
  probe: ProbeDto | null;
  /** What the runs trained on (experiments), e.g. 'iris.csv: 150 samples, 4 features, 3 classes'; absent: not known. */
  data?: string;
  /** True when the panel was restored after a window reload (from the state the webview saved and the run folders). */
  restored?: boolean;
}

/** Host -> webview. */
export type TrainingPanelNotification = { type: 'state'; state: TrainingPanelStateDto };

/** Webview -> host. */
export type TrainingPanelEvent = { type: 'ready' } | { type: 'cancel' };

/** No requests: the panel only receives snapshots and sends events. */
export type TrainingPanelRequests = Record<never, never>;
