/**
 * Typed access to the `weightscope.*` settings, with the defaults package.json declares.
 */
import * as os from 'node:os';
import * as vscode from 'vscode';

/** Default globs of weight files listed in the Weightscope view. */
export const defaultFileGlobs: readonly string[] = [
  '**/*.{h5,hdf5,keras,safetensors,npz,npy,tflite}',
  '**/model.json',
  '**/*.index',
  '**/saved_model.pb',
];

/** The effective settings. */
export interface WeightscopeSettings {
  /** Glob patterns (workspace-relative) of the files the tree lists. */
  fileGlobs: string[];
  /** Bins of the linear and log histograms. */
  histogramBins: number;
  /** Files whose tensors hold more bytes than this are analysed only on request, in bytes. */
  autoAnalyzeMaxBytes: number;
  /** Worker threads computing statistics. */
  workerCount: number;
  /** Run the weight diagnostics once a file's statistics are complete. */
  diagnosticsEnabled: boolean;
  /** Include the precision passes in the diagnostics. */
  diagnosticsPrecision: boolean;
  /** Keep statistics and fingerprints of analysed files on disk (in the extension's global storage). */
  cacheOnDisk: boolean;
}

/** Reads the current settings, clamping out-of-range values. */
export function readSettings(): WeightscopeSettings {
  const c = vscode.workspace.getConfiguration('weightscope');
  const globs = c.get<unknown>('fileGlobs');
  const fileGlobs = Array.isArray(globs) ? globs.filter((g): g is string => typeof g === 'string' && g.trim() !== '') : [...defaultFileGlobs];
  const bins = Math.round(c.get<number>('histogramBins', 64));
  const workers = Math.round(c.get<number>('workerCount', 0));
  return {
    fileGlobs,
    histogramBins: Number.isFinite(bins) ? Math.min(1024, Math.max(4, bins)) : 64,
    autoAnalyzeMaxBytes: Math.max(0, c.get<number>('autoAnalyzeMaxBytes', 1024 * 1024 * 1024)),
    workerCount: workers > 0 ? Math.min(32, workers) : Math.max(1, Math.min(4, os.cpus().length - 1)),
    diagnosticsEnabled: c.get<boolean>('diagnostics.enabled', true) !== false,
    diagnosticsPrecision: c.get<boolean>('diagnostics.precision', true) !== false,
    cacheOnDisk: c.get<boolean>('cache.onDisk', true) !== false,
  };
}
