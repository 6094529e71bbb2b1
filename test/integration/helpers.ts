/**
 * Shared helpers of the integration suites: the extension's API, the test workspace, polling,
 * and skipping with a reason when the shared fixtures are absent.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WeightscopeApi } from '../../src/extension/extension';
import { skipReasons, tempDirs } from './index';

/** Extension id (publisher.name). */
export const extensionId = 'weightscope.weightscope';

/** Repository root (this file is out/test/integration/helpers.js once built). */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');

/** A new empty folder in the OS temporary folder, removed when the run ends (and by the test if it likes). */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** The opened workspace folder. */
export function workspaceDir(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  assert.ok(f, 'the tests need a workspace folder');
  return f.uri.fsPath;
}

/** The copy of the shared fixtures inside the workspace, or undefined when absent. */
export function fixturesDir(): string | undefined {
  const d = path.join(workspaceDir(), 'fixtures');
  return fs.existsSync(path.join(d, 'README.md')) ? d : undefined;
}

/** Why fixture tests are skipped. */
export const missingFixturesReason = 'shared fixtures not found at ../shared/fixtures; fixture-based tests skipped';

/** A fixture's URI, or skips the running test (with the reason) when fixtures are absent. */
export function fixtureOrSkip(ctx: Mocha.Context, relative: string): vscode.Uri {
  const dir = fixturesDir();
  if (!dir) {
    skipReasons.set(ctx.test?.fullTitle() ?? '', missingFixturesReason);
    ctx.skip();
  }
  return vscode.Uri.file(path.join(dir!, relative));
}

/** A file in the workspace's broken/ folder (made by the runner). */
export function brokenFile(name: string): vscode.Uri {
  return vscode.Uri.file(path.join(workspaceDir(), 'broken', name));
}

/** Activates the extension and returns its API. */
export async function api(): Promise<WeightscopeApi> {
  const ext = vscode.extensions.getExtension<WeightscopeApi>(extensionId);
  assert.ok(ext, `extension ${extensionId} is not installed in the test host`);
  return ext.activate();
}

/** Polls `fn` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits for file watchers made just now to start: VS Code sets them up asynchronously (in its
 * file watcher process) and reports nothing written before, and there is no event for "ready".
 */
export async function watchersStarted(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1500));
}

/** Closes every editor tab. */
export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** Independent reference values (NumPy/h5py, scripts/make-reference.py) of the fixture corpus. */
export interface ReferenceTensor {
  dtype: string;
  shape: number[];
  group: string;
  stats: { count: number; mean: number | null; std: number | null; min: number | null; max: number | null; zeroCount: number };
}

/** Reference tensors of one fixture, keyed by tensor name. */
export function referenceOf(relative: string): Record<string, ReferenceTensor> {
  const file = path.join(repoRoot, 'test', 'unit', 'formats', 'corpus.reference.json');
  const all = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, ReferenceTensor>>;
  const ref = all[relative];
  assert.ok(ref, `no reference values for ${relative} in corpus.reference.json`);
  return ref;
}

/** The reference key of a tensor: its HDF5 dataset path when the reader records one, else its name. */
export function referenceKey(t: { name: string; extra?: Readonly<Record<string, unknown>> }): string {
  const h5 = t.extra?.['hdf5Path'];
  return typeof h5 === 'string' ? h5.replace(/^\//, '') : t.name;
}

/** Asserts |a - b| <= tol * max(1, |b|). */
export function assertClose(actual: number | null | undefined, expected: number | null | undefined, tol: number, what: string): void {
  if (expected === null || expected === undefined) {
    assert.equal(actual ?? null, null, what);
    return;
  }
  assert.ok(typeof actual === 'number', `${what}: expected ${expected}, got ${String(actual)}`);
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: expected ${expected}, got ${actual}`);
}

/** A read-only in-memory file system holding `files` (absolute paths); their parent folders exist. */
export class MemoryFs implements vscode.FileSystemProvider {
  private readonly folders = new Set<string>();
  private readonly emitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.emitter.event;

  constructor(private readonly files: ReadonlyMap<string, Uint8Array>) {
    for (const f of files.keys()) {
      for (let d = path.posix.dirname(f); d !== '/'; d = path.posix.dirname(d)) {
        this.folders.add(d);
      }
    }
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  stat(uri: vscode.Uri): vscode.FileStat {
    if (this.folders.has(uri.path)) {
      return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
    }
    return { type: vscode.FileType.File, ctime: 0, mtime: 0, size: this.readFile(uri).byteLength };
  }

  readDirectory(uri: vscode.Uri): [string, vscode.FileType][] {
    return [...this.files.keys()].filter((p) => path.posix.dirname(p) === uri.path).map((p) => [path.posix.basename(p), vscode.FileType.File]);
  }

  readFile(uri: vscode.Uri): Uint8Array {
    const b = this.files.get(uri.path);
    if (!b) {
      throw vscode.FileSystemError.FileNotFound(uri);
    }
    return b;
  }

  createDirectory(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  writeFile(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  delete(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  rename(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
}

/** Messages the extension showed while `capture` was on (window.show*Message replaced; the notifications are not shown). */
export interface CapturedMessages {
  /** Texts of showErrorMessage calls. */
  errors: string[];
  /** Texts of showInformationMessage calls. */
  infos: string[];
  /** Puts the real functions back. */
  restore(): void;
}

/**
 * Records the error and information messages shown from now on (the extension and the tests share
 * one `vscode` API object). Each call resolves as if dismissed. Call `restore()` in a finally.
 */
export function captureMessages(): CapturedMessages {
  const w = vscode.window as { showErrorMessage: unknown; showInformationMessage: unknown };
  const real = { showErrorMessage: w.showErrorMessage, showInformationMessage: w.showInformationMessage };
  const captured: CapturedMessages = {
    errors: [],
    infos: [],
    restore: () => Object.assign(w, real),
  };
  w.showErrorMessage = async (text: string) => {
    captured.errors.push(text);
    return undefined;
  };
  w.showInformationMessage = async (text: string) => {
    captured.infos.push(text);
    return undefined;
  };
  return captured;
}

/** Copies a committed example model (examples/initialization/<name>: model.json, weights.bin) into `dir`; returns its model.json. */
export function copyExample(name: string, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['model.json', 'weights.bin']) {
    fs.copyFileSync(path.join(repoRoot, 'examples', 'initialization', name, f), path.join(dir, f));
  }
  return path.join(dir, 'model.json');
}
