/**
 * Export and copy of a document's report: JSON (the `weightscope inspect --json` shape), Markdown
 * or CSV. Exports go to a new file chosen in a save dialog and are written atomically.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { buildFileReport, type FileReport } from '../analysis/report';
import { WeightFileError } from '../core/errors';
import type { TableFormat } from '../protocol/weightsPanel';
import { log } from './log';
import { exportFileName, formatExtensions, inputFilesOf, renderReport, restrictReport, writeFileAtomic } from './reportExport';
import type { WeightsDocument } from './weightsDocument';

/** Labels of the formats in pickers and dialogs. */
const formatLabels: Readonly<Record<TableFormat, string>> = { json: 'JSON', markdown: 'Markdown', csv: 'CSV' };

/** Builds the report of an open document (stats that are not computed are null). */
export function documentReport(document: WeightsDocument, names?: readonly string[]): FileReport {
  const file = document.weightFile;
  if (!file) {
    throw new Error(document.error ? document.error.message : `${document.fileName} is not open yet.`);
  }
  return restrictReport(buildFileReport(file, document.results), names);
}

/** True when `uri` is a folder (a SavedModel or checkpoint folder opened as one model). */
async function isFolder(uri: vscode.Uri): Promise<boolean> {
  try {
    return ((await vscode.workspace.fs.stat(uri)).type & vscode.FileType.Directory) !== 0;
  } catch {
    return false;
  }
}

/** Asks for an export format. */
export async function pickFormat(): Promise<TableFormat | undefined> {
  const picked = await vscode.window.showQuickPick(
    (Object.keys(formatLabels) as TableFormat[]).map((f) => ({ label: formatLabels[f], description: `.${formatExtensions[f]}`, format: f })),
    { title: 'Weightscope: Export Report', placeHolder: 'Format of the report' },
  );
  return picked?.format;
}

/** Runs the analysis to completion (with progress) when it has not run, so the export has stats. */
async function ensureAnalysed(document: WeightsDocument): Promise<void> {
  await document.whenOpened();
  const state = document.analysis.state;
  if (state === 'idle' || state === 'skipped' || state === 'cancelled' || state === 'running') {
    await document.analyze();
  }
  if (document.analysis.state === 'cancelled') {
    // Cancelled while the export waited for it (the progress notification's Cancel): no report with half the statistics.
    throw new WeightFileError('cancelled', `The analysis of ${document.fileName} was cancelled, so no report was written.`);
  }
}

/** Copies the report of `names` (all tensors when absent) to the clipboard; returns the row count. */
export async function copyReport(document: WeightsDocument, format: TableFormat, names?: readonly string[]): Promise<number> {
  const report = documentReport(document, names);
  await vscode.env.clipboard.writeText(renderReport(report, format));
  log().info(`copied ${report.tensors.length} rows of ${document.fileName} as ${formatLabels[format]}`);
  return report.tensors.length;
}

/**
 * Exports the report to a new file chosen in a save dialog; returns its path, or null when the
 * user cancelled. `target` skips the dialog (tests, automation).
 */
export async function exportReport(
  document: WeightsDocument,
  format: TableFormat,
  options: { names?: readonly string[]; target?: vscode.Uri } = {},
): Promise<string | null> {
  await ensureAnalysed(document);
  const report = documentReport(document, options.names);
  const folder = document.uri.scheme === 'file' ? vscode.Uri.file(path.dirname(document.uri.fsPath)) : undefined;
  const suggested = exportFileName(document.fileName, await isFolder(document.uri), format);
  const target =
    options.target ??
    (await vscode.window.showSaveDialog({
      title: `Export ${formatLabels[format]} report`,
      defaultUri: folder ? vscode.Uri.joinPath(folder, suggested) : undefined,
      filters: { [formatLabels[format]]: [formatExtensions[format]] },
      saveLabel: 'Export',
    }));
  if (!target) {
    return null;
  }
  const text = renderReport(report, format);
  if (target.scheme === 'file') {
    await writeFileAtomic(target.fsPath, text, document.uri.scheme === 'file' ? await inputFilesOf(document.uri.fsPath) : []);
  } else {
    if (target.toString() === document.uri.toString()) {
      throw new Error('Refusing to overwrite the input file; choose a new file for the export.');
    }
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
  }
  log().info(`exported ${report.tensors.length} tensors of ${document.fileName} to ${target.toString(true)}`);
  return target.scheme === 'file' ? target.fsPath : target.toString(true);
}
