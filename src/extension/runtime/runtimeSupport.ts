/**
 * Train Model..., Run Experiment and Probe Gradients: the commands, the run spec remembered per
 * workspace (weightscope-runs/<model>.run.json, editable and re-runnable), and the TF.js worker
 * client. All TF.js work runs in the worker (dist/tfWorker.js); this file only asks questions,
 * writes the spec, and feeds the training panel. The backend in use is shown in the panel and
 * logged with the reason for every fallback. Training panels come back after a window reload
 * (TrainingPanelSerializer).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { makeFolder, writeFileAtomic } from '../../core/atomicWrite';
import { WeightFileError } from '../../core/errors';
import type { BackendInfo, BackendName } from '../../runtime/backend';
import { experimentNames, type ExperimentName, type ExperimentResult } from '../../runtime/experiments';
import type { ProbeReport } from '../../runtime/probeReport';
import { modelBaseName, readRunSpec, type NumberField } from '../../runtime/runSpec';
import { hardCancelMs, RuntimeClient, WorkerStoppedError } from '../../runtime/runtimeClient';
import { JobRuns } from '../../runtime/stoppedRuns';
import { runDefaults, type RunSpec, type TrainEvent } from '../../runtime/training';
import { localPathOf } from '../fileAccess';
import { log, logFailure } from '../log';
import { chooseRunsRoot, type RunsPlace, type RunsRoot } from './runsRoot';
import { checkedFormSpec, formNumberMessage, parseOverrides } from './trainForm';
import { trainingEndMessage } from './trainingPanelState';
import { TrainingPanel, TrainingPanelSerializer } from './trainingPanel';

/** Command ids of this feature. */
export const runtimeCommandIds = {
  trainModel: 'weightscope.trainModel',
  runExperiment: 'weightscope.runExperiment',
  probeGradients: 'weightscope.probeGradients',
} as const;

/** What the runtime support needs from the rest of the extension. */
export interface RuntimeSupportDeps {
  /** Refreshes the Weights tree once checkpoints were written (optional; the tree also watches files). */
  refreshTree?: () => void;
}

/** Context key: workspace folders holding a saved_model.pb (explorer folders offering Probe Gradients and Train Model). */
export const savedModelFoldersContextKey = 'weightscope.savedModelFolders';

/** Options of Probe Gradients when it is run with arguments (tests, keybindings): nothing is asked. */
export interface ProbeGradientsArgs {
  /** Absolute path of a data file (.npy/.npz/.csv/.json) whose samples are the inputs. */
  data?: string;
  /** Distribution of synthetic inputs when there is no data file (default 'normal'). */
  distribution?: 'normal' | 'uniform';
}

/** Options of Run Experiment when it is run with arguments (tests, keybindings). */
export interface RunExperimentArgs {
  /** Absolute path of a data file (.npy/.npz/.csv/.json) to use instead of the synthetic clusters. */
  data?: string;
  /** Epochs per variant, a positive integer (default: the setting weightscope.experimentEpochs, else the experiment's own). */
  epochs?: number;
}

function settings(): { backend: BackendName | 'auto'; stopOnNonFinite: boolean; experimentEpochs: number } {
  const c = vscode.workspace.getConfiguration('weightscope');
  return {
    backend: c.get<BackendName | 'auto'>('tfBackend', 'auto'),
    stopOnNonFinite: c.get<boolean>('stopTrainingOnNonFinite', true),
    experimentEpochs: c.get<number>('experimentEpochs', 0),
  };
}

/** How a model is named in a panel title: a SavedModel by its folder, any other model by its file name. */
function modelLabel(model: string): string {
  return path.basename(model) === 'saved_model.pb' ? modelBaseName(model) : path.basename(model);
}

/** Sets the SavedModel-folder context key from the workspace's saved_model.pb files. */
async function updateSavedModelFolders(): Promise<void> {
  const found = vscode.workspace.workspaceFolders?.length ? await vscode.workspace.findFiles('**/saved_model.pb', '**/{node_modules,.git}/**', 1000) : [];
  await vscode.commands.executeCommand('setContext', savedModelFoldersContextKey, found.map((u) => vscode.Uri.joinPath(u, '..').fsPath));
}

function logBackend(b: BackendInfo): void {
  log().info(`TensorFlow.js backend: ${b.label}`);
  for (const f of b.fallbacks) {
    log().info(`  fallback: ${f}`);
  }
}

/**
 * The runs folder for a model (or, without one, for an experiment): see chooseRunsRoot. Runs are
 * written with Node's fs, so folders of other file systems do not count; with no local folder the
 * runs go to the extension's global storage, which is created here.
 */
async function runsRoot(context: vscode.ExtensionContext, target: vscode.Uri | undefined): Promise<RunsRoot> {
  const place = (u: vscode.Uri): RunsPlace => ({ scheme: u.scheme, fsPath: u.fsPath });
  const targetFolder = target && vscode.workspace.getWorkspaceFolder(target);
  const root = chooseRunsRoot({
    ...(target ? { target: place(target) } : {}),
    ...(targetFolder ? { targetFolder: place(targetFolder.uri) } : {}),
    folders: (vscode.workspace.workspaceFolders ?? []).map((f) => place(f.uri)),
    globalStorage: context.globalStorageUri.fsPath,
  });
  if (root.inGlobalStorage) {
    await makeFolder(root.dir);
    log().info(`no local workspace folder is open: runs go to ${root.dir}`);
  }
  return root;
}

async function pickModel(uri: vscode.Uri | undefined, title: string): Promise<vscode.Uri | undefined> {
  if (uri instanceof vscode.Uri) {
    return uri;
  }
  // The workspace's model files (and saved run specs) first; a file dialog for anything else.
  const found = await vscode.workspace.findFiles('**/{*.h5,*.hdf5,*.keras,model.json,saved_model.pb,*.run.json}', '**/node_modules/**', 500);
  if (found.length > 0) {
    const items = found
      .map((u) => ({ label: path.basename(u.fsPath), description: vscode.workspace.asRelativePath(path.dirname(u.fsPath)), uri: u as vscode.Uri | undefined }))
      .sort((a, b) => a.description.localeCompare(b.description) || a.label.localeCompare(b.label));
    const pick = await vscode.window.showQuickPick([...items, { label: 'Browse...', description: '', uri: undefined }], { title, matchOnDescription: true });
    if (!pick) {
      return undefined;
    }
    if (pick.uri) {
      return pick.uri;
    }
  }
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectMany: false,
    filters: { 'Keras / TF.js / SavedModel models': ['h5', 'hdf5', 'keras', 'json', 'pb'] },
  });
  return picked?.[0];
}

async function askNumber(prompt: string, value: number, field: NumberField): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    prompt,
    value: String(value),
    validateInput: (t) => formNumberMessage(field, t),
  });
  return text === undefined ? undefined : Number(text);
}

/** Asks the Train Model... questions; undefined when the user cancels. */
async function askSpec(model: vscode.Uri, specDir: string, previous: RunSpec | undefined): Promise<RunSpec | undefined> {
  const dataPick = await vscode.window.showQuickPick(
    [
      { label: 'Synthetic data', description: 'seeded Gaussian clusters shaped from the model', id: 'synthetic' },
      { label: 'Choose data file...', description: '.npy, .npz, .csv or .json', id: 'file' },
    ],
    { title: 'Train Model: data', placeHolder: 'Training data' },
  );
  if (!dataPick) {
    return undefined;
  }
  let data: string | undefined;
  if (dataPick.id === 'file') {
    const f = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Data: ['npy', 'npz', 'csv', 'json'] } });
    if (!f?.[0]) {
      return undefined;
    }
    data = path.relative(specDir, localPathOf(f[0], 'training'));
  }
  const loss = await vscode.window.showQuickPick(['auto (training config, else output activation)', 'categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError'], {
    title: 'Train Model: loss',
  });
  if (!loss) {
    return undefined;
  }
  const optimizer = (await vscode.window.showQuickPick(['adam', 'sgd', 'rmsprop'], { title: 'Train Model: optimizer' })) as RunSpec['optimizer'];
  if (!optimizer) {
    return undefined;
  }
  const learningRate = await askNumber('Learning rate', previous?.learningRate ?? runDefaults.learningRate, 'learningRate');
  const epochs = learningRate === undefined ? undefined : await askNumber('Epochs', previous?.epochs ?? runDefaults.epochs, 'epochs');
  const batchSize = epochs === undefined ? undefined : await askNumber('Batch size', previous?.batchSize ?? runDefaults.batchSize, 'batchSize');
  const validationSplit = batchSize === undefined ? undefined : await askNumber('Validation split (fraction held out)', previous?.validationSplit ?? runDefaults.validationSplit, 'validationSplit');
  if (learningRate === undefined || epochs === undefined || batchSize === undefined || validationSplit === undefined) {
    return undefined;
  }
  const reg = await vscode.window.showInputBox({
    prompt: 'Regularization overrides (optional), e.g. "l2=0.01 dropout=0.2"; empty keeps the model as it is',
    value: '',
    validateInput: (t) => {
      const parsed = parseOverrides(t);
      return 'message' in parsed ? parsed.message : undefined;
    },
  });
  if (reg === undefined) {
    return undefined;
  }
  const parsed = parseOverrides(reg);
  const overrides = 'overrides' in parsed ? parsed.overrides : {};
  return {
    model: path.relative(specDir, model.fsPath),
    ...(data ? { data } : {}),
    ...(loss.startsWith('auto') ? {} : { loss: loss as RunSpec['loss'] }),
    optimizer,
    learningRate,
    epochs,
    batchSize,
    validationSplit,
    ...overrides,
    stopOnNonFinite: settings().stopOnNonFinite,
  };
}

/** Tidying after stopped workers that is still going (JobRuns.afterFailure): deactivate waits for it (stopRuntimeSupport). */
const cleanups = new Set<Promise<void>>();

/**
 * After a job failed because its worker was stopped (any cause: see workerExitOf), once that worker
 * is gone: removes the hidden temporary checkpoint folders its saves left in the job's run folders,
 * and records in the run.json of a run that was still going that it stopped (JobRuns.afterFailure).
 */
function cleanUpAfterStop(ex: unknown, runs: JobRuns): void {
  const done = runs.afterFailure(ex, (message) => log().warn(message)).finally(() => cleanups.delete(done));
  cleanups.add(done);
}

/** The worker client of the registered runtime support (stopRuntimeSupport stops it). */
let activeClient: RuntimeClient | undefined;

/**
 * Stops the TF.js worker (the jobs running in it end as stopped) and resolves once the tidying
 * after them (cleanUpAfterStop), and any still going from earlier stops, is done: deactivate waits
 * for it, so that a run stopped by the extension shutting down keeps no temporary checkpoint folder.
 */
export async function stopRuntimeSupport(): Promise<void> {
  await activeClient?.dispose();
  await Promise.all([...cleanups]);
}

/** For a cancel the worker did not answer in time (WorkerStoppedError): that it was stopped (and, for a job that `saves` checkpoints, what became of one being saved), ending in '; '; else ''. */
function stoppedNote(ex: unknown, saves = true): string {
  return ex instanceof WorkerStoppedError
    ? `it did not stop within ${hardCancelMs / 1000} s (one step of this model takes longer), so the TensorFlow.js worker was stopped${saves ? ' (a checkpoint being saved was discarded, never left half written)' : ''}; `
    : '';
}

/** Registers the commands; returns their disposables (and the worker's). */
export function registerRuntimeSupport(context: vscode.ExtensionContext, deps: RuntimeSupportDeps = {}): vscode.Disposable[] {
  const dist = path.join(context.extensionPath, 'dist');
  const client = new RuntimeClient(path.join(dist, 'tfWorker.js'), dist);
  activeClient = client;

  const runTrain = async (spec: RunSpec, specFile: string): Promise<void> => {
    const name = modelLabel(spec.model);
    const panel = new TrainingPanel(context.extensionUri, `Training: ${name}`, 'train');
    const runs = new JobRuns(spec);
    try {
      const done = await client.run<Extract<TrainEvent, { type: 'done' }>>(
        { kind: 'train', spec, specDir: path.dirname(specFile), backend: settings().backend },
        {
          signal: panel.cancel.signal,
          onBackend: (b) => {
            panel.setBackend(b);
            logBackend(b);
          },
          onWaiting: (running) => {
            panel.setWaiting(running);
            log().info(`${panel.snapshot.title}: waits for the jobs ahead of it on the ${running} backend to end (TensorFlow.js uses one backend at a time)`);
          },
          onEvent: (e) => {
            const ev = e as TrainEvent;
            runs.onTrainEvent(ev);
            if (ev.type === 'start' && ev.backend.label !== panel.snapshot.backend) {
              panel.setBackend(ev.backend); // the run fell back to another backend (a kernel its gradients need is missing)
              logBackend(ev.backend);
            }
            panel.onTrainEvent(name, ev);
            if (ev.type === 'warning') {
              log().warn(`training ${name}: [${ev.diagnostic.code}] ${ev.diagnostic.message}`);
            }
          },
        },
      );
      const end = trainingEndMessage(done, path.dirname(specFile));
      panel.finish(end.status, end.message);
      log().info(`training ${name}: ${end.message}`);
    } catch (ex) {
      const cancelled = WeightFileError.is(ex, 'cancelled');
      panel.finish(cancelled ? 'cancelled' : 'failed', cancelled ? `Cancelled; ${stoppedNote(ex)}checkpoints of finished epochs were kept.` : `Failed: ${ex instanceof Error ? ex.message : String(ex)}`);
      cleanUpAfterStop(ex, runs);
      if (!cancelled) {
        logFailure(`training ${name}`, ex);
        void vscode.window.showErrorMessage(`Weightscope: training failed: ${ex instanceof Error ? ex.message : String(ex)}`);
      }
    }
    deps.refreshTree?.();
  };

  const trainModel = async (uri?: vscode.Uri): Promise<void> => {
    const target = await pickModel(uri, 'Train Model: choose a model file or a run spec');
    if (!target) {
      return;
    }
    const model = localPathOf(target, 'training'); // the worker reads it with Node's fs, and runs are written on the local disk
    if (model.endsWith('.run.json')) {
      await runTrain(await readRunSpec(model), model);
      return;
    }
    const root = (await runsRoot(context, target)).dir;
    const specFile = path.join(root, `${modelBaseName(model)}.run.json`);
    let previous: RunSpec | undefined;
    if (fs.existsSync(specFile)) {
      let unusable: unknown;
      previous = await readRunSpec(specFile).catch((ex: unknown) => {
        unusable = ex;
        return undefined;
      });
      if (unusable !== undefined) {
        // The spec is the user's (edited by hand, as offered below): it is replaced only when they say so.
        const reason = unusable instanceof Error ? unusable.message : String(unusable);
        const choice = await vscode.window.showWarningMessage(`Weightscope: the saved run spec cannot be used: ${reason}`, 'Edit the run spec file', 'Replace it');
        if (choice === 'Edit the run spec file') {
          await vscode.window.showTextDocument(vscode.Uri.file(specFile));
          return;
        }
        if (choice !== 'Replace it') {
          return;
        }
      }
      if (previous) {
        const choice = await vscode.window.showQuickPick(
          [
            { label: 'Run again with the saved settings', description: `${previous.optimizer ?? 'adam'} lr ${previous.learningRate ?? runDefaults.learningRate}, ${previous.epochs ?? runDefaults.epochs} epochs`, id: 'rerun' },
            { label: 'Change settings...', id: 'change' },
            { label: 'Edit the run spec file', id: 'edit' },
          ],
          { title: 'Train Model' },
        );
        if (!choice) {
          return;
        }
        if (choice.id === 'edit') {
          await vscode.window.showTextDocument(vscode.Uri.file(specFile));
          return;
        }
        if (choice.id === 'rerun') {
          await runTrain(previous, specFile);
          return;
        }
      }
    }
    const asked = await askSpec(target, root, previous);
    if (!asked) {
      return;
    }
    // held to the bounds a spec file is, as it will be saved, before it is written or run
    let spec: RunSpec;
    try {
      spec = checkedFormSpec(asked, specFile);
    } catch (ex) {
      void vscode.window.showErrorMessage(`Weightscope: ${ex instanceof Error ? ex.message : String(ex)}`);
      return;
    }
    await makeFolder(root);
    await writeFileAtomic(specFile, `${JSON.stringify(spec, null, 2)}\n`);
    log().info(`run spec written: ${specFile}`);
    await runTrain(spec, specFile);
  };

  const runExperiment = async (name?: ExperimentName, given?: RunExperimentArgs): Promise<void> => {
    // menus pass other arguments (URIs): only a plain object counts as options
    const args: RunExperimentArgs = typeof given === 'object' && given !== null && !Array.isArray(given) ? given : {};
    const labels: Record<ExperimentName, string> = {
      initialization: 'Initialization: 784-128-128-10, RandomUniform(-0.01, 0.01) vs GlorotUniform vs HeNormal',
      regularization: 'Regularization: plain 256-256 vs L2(0.01) + Dropout(0.2), train/validation curves',
      precision: 'Precision: float32 vs float16 vs int8-quantized weights, output drift and accuracy',
    };
    const named = typeof name === 'string' && (experimentNames as readonly string[]).includes(name);
    const experiment = named ? name : (await vscode.window.showQuickPick(experimentNames.map((e) => ({ label: labels[e], id: e })), { title: 'Run Experiment' }))?.id;
    if (!experiment) {
      return;
    }
    // With arguments (tests, keybindings) nothing is asked: synthetic data unless args.data says otherwise.
    let dataFile = typeof args.data === 'string' && args.data !== '' ? args.data : undefined;
    if (!named) {
      const pick = await vscode.window.showQuickPick(
        [
          { label: 'Synthetic (default)', description: 'the seeded Gaussian clusters of the experiment', id: 'synthetic' },
          { label: 'Choose data file...', description: '.npy, .npz, .csv or .json with class labels; input and output layers sized from it', id: 'file' },
        ],
        { title: `Run Experiment (${experiment}): data` },
      );
      if (!pick) {
        return;
      }
      if (pick.id === 'file') {
        const picked = (await vscode.window.showOpenDialog({ title: 'Run Experiment: data file', canSelectMany: false, filters: { Data: ['npy', 'npz', 'csv', 'json'] } }))?.[0];
        if (!picked) {
          return;
        }
        dataFile = localPathOf(picked, 'running an experiment');
      }
    }
    const fromSetting = settings().experimentEpochs;
    const epochs = Number.isInteger(args.epochs) && args.epochs! > 0 ? args.epochs : Number.isInteger(fromSetting) && fromSetting > 0 ? fromSetting : undefined;
    const suffix = dataFile ? ` on ${path.basename(dataFile)}` : '';
    const root = await runsRoot(context, undefined);
    // Runs on a data file get their own folder, so they do not replace the synthetic runs' checkpoints.
    const outDir = path.join(root.dir, 'experiments', ...(dataFile ? [path.basename(dataFile).replace(/\.[^.]+$/, '')] : []));
    if (root.inGlobalStorage) {
      void vscode.window.showInformationMessage(`Weightscope: no local folder is open, so the ${experiment} experiment writes its checkpoints under ${outDir}.`);
    }
    const panel = new TrainingPanel(context.extensionUri, `Experiment: ${experiment}${suffix}`, 'experiment');
    const runs = new JobRuns();
    try {
      const result = await client.run<ExperimentResult>(
        { kind: 'experiment', experiment, outDir, backend: settings().backend, ...(epochs ? { epochs } : {}), ...(dataFile ? { dataFile } : {}) },
        {
          signal: panel.cancel.signal,
          onBackend: (b) => {
            panel.setBackend(b);
            logBackend(b);
          },
          onWaiting: (running) => {
            panel.setWaiting(running);
            log().info(`${panel.snapshot.title}: waits for the jobs ahead of it on the ${running} backend to end (TensorFlow.js uses one backend at a time)`);
          },
          onEvent: (e) => {
            const ev = e as { variant: string; event: TrainEvent };
            runs.onTrainEvent(ev.event);
            panel.onTrainEvent(ev.variant, ev.event);
          },
        },
      );
      panel.showExperiment(result);
      panel.finish('done', `Done: checkpoints in ${result.outDir}`);
      log().info(`experiment ${experiment} on ${result.data}: checkpoints in ${result.outDir}`);
    } catch (ex) {
      const cancelled = WeightFileError.is(ex, 'cancelled');
      panel.finish(cancelled ? 'cancelled' : 'failed', cancelled ? `Cancelled; ${stoppedNote(ex)}checkpoints of finished epochs were kept under ${outDir}.` : `Failed: ${ex instanceof Error ? ex.message : String(ex)}`);
      cleanUpAfterStop(ex, runs);
      if (!cancelled) {
        logFailure(`experiment ${experiment}`, ex);
        if (!named) {
          void vscode.window.showErrorMessage(`Weightscope: experiment ${experiment} failed: ${ex instanceof Error ? ex.message : String(ex)}`);
        }
      }
    }
    deps.refreshTree?.();
  };

  /** Probes a model (file or SavedModel folder); resolves to the report, or undefined when cancelled or failed. */
  const probeGradients = async (uri?: vscode.Uri, given?: ProbeGradientsArgs): Promise<ProbeReport | undefined> => {
    // menus pass the selected URIs as the second argument: only a plain object counts as options
    const args = typeof given === 'object' && given !== null && !Array.isArray(given) ? given : undefined;
    const target = await pickModel(uri, 'Probe Gradients: choose a model file');
    if (!target) {
      return undefined;
    }
    const model = localPathOf(target, 'probing gradients'); // the worker reads it with Node's fs
    let distribution: 'normal' | 'uniform' = args?.distribution === 'uniform' ? 'uniform' : 'normal';
    let data = typeof args?.data === 'string' && args.data !== '' ? args.data : undefined;
    if (!args) {
      const input = await vscode.window.showQuickPick(
        [
          { label: 'Synthetic inputs, normal N(0, 1)', id: 'normal' },
          { label: 'Synthetic inputs, uniform U(-1, 1)', id: 'uniform' },
          { label: 'Inputs from a data file...', id: 'data' },
        ],
        { title: 'Probe Gradients: inputs' },
      );
      if (!input) {
        return undefined;
      }
      if (input.id === 'data') {
        const picked = (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Data: ['npy', 'npz', 'csv', 'json'] } }))?.[0];
        if (!picked) {
          return undefined;
        }
        data = localPathOf(picked, 'probing gradients');
      } else {
        distribution = input.id as 'normal' | 'uniform';
      }
    }
    const label = modelLabel(model);
    const panel = new TrainingPanel(context.extensionUri, `Gradient probe: ${label}`, 'probe');
    try {
      const report = await client.run<ProbeReport>(
        { kind: 'probe', file: model, options: { ...(data ? { data } : { distribution }) }, backend: settings().backend },
        {
          signal: panel.cancel.signal,
          onBackend: (b) => {
            panel.setBackend(b);
            logBackend(b);
          },
          onWaiting: (running) => {
            panel.setWaiting(running);
            log().info(`${panel.snapshot.title}: waits for the jobs ahead of it on the ${running} backend to end (TensorFlow.js uses one backend at a time)`);
          },
        },
      );
      panel.showProbe(report);
      for (const d of [...report.diagnostics, ...report.forecastDiagnostics]) {
        log().info(`probe ${label}: ${d.severity}[${d.code}] ${d.message}`);
      }
      return report;
    } catch (ex) {
      const cancelled = WeightFileError.is(ex, 'cancelled');
      panel.finish(cancelled ? 'cancelled' : 'failed', cancelled ? `Cancelled${ex instanceof WorkerStoppedError ? `; ${stoppedNote(ex, false).slice(0, -2)}.` : '.'}` : `Failed: ${ex instanceof Error ? ex.message : String(ex)}`);
      if (!cancelled) {
        logFailure(`probe ${model}`, ex);
        void vscode.window.showErrorMessage(`Weightscope: ${ex instanceof Error ? ex.message : String(ex)}`);
      }
      return undefined;
    }
  };

  const guard =
    <A extends unknown[], R>(name: string, fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R | undefined> => {
      try {
        return await fn(...a);
      } catch (ex) {
        logFailure(name, ex);
        void vscode.window.showErrorMessage(`Weightscope: ${ex instanceof Error ? ex.message : String(ex)}`);
        return undefined;
      }
    };
  // Explorer folders holding a saved_model.pb offer Probe Gradients and Train Model (package.json menus).
  let rescan: ReturnType<typeof setTimeout> | undefined;
  const rescanSavedModels = (): void => {
    clearTimeout(rescan);
    rescan = setTimeout(() => void updateSavedModelFolders().catch((ex: unknown) => logFailure('listing SavedModel folders', ex)), 500);
  };
  const watcher = vscode.workspace.createFileSystemWatcher('**/saved_model.pb', false, true, false);
  rescanSavedModels();
  return [
    watcher,
    watcher.onDidCreate(rescanSavedModels),
    watcher.onDidDelete(rescanSavedModels),
    vscode.workspace.onDidChangeWorkspaceFolders(rescanSavedModels),
    { dispose: () => clearTimeout(rescan) },
    vscode.commands.registerCommand(runtimeCommandIds.trainModel, guard('Train Model', trainModel)),
    vscode.commands.registerCommand(runtimeCommandIds.runExperiment, guard('Run Experiment', runExperiment)),
    vscode.commands.registerCommand(runtimeCommandIds.probeGradients, guard('Probe Gradients', probeGradients)),
    vscode.window.registerWebviewPanelSerializer(TrainingPanel.viewType, new TrainingPanelSerializer(context.extensionUri)),
    { dispose: () => void client.dispose() },
  ];
}
