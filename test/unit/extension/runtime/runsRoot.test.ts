import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { chooseRunsRoot } from '../../../../src/extension/runtime/runsRoot';

const storage = path.join(path.sep, 'user-data', 'globalStorage', 'weightscope.weightscope');
const local = (p: string): { scheme: string; fsPath: string } => ({ scheme: 'file', fsPath: p });
const virtual = (p: string): { scheme: string; fsPath: string } => ({ scheme: 'vscode-vfs', fsPath: p });

test('with no folder open, Run Experiment writes into the global storage, not next to the working folder', () => {
  assert.deepEqual(chooseRunsRoot({ folders: [], globalStorage: storage }), { dir: path.join(storage, 'weightscope-runs'), inGlobalStorage: true });
});

test('a workspace folder of another file system does not hold runs: the first local folder does, else the global storage', () => {
  const remote = virtual(path.join(path.sep, 'o', 'r'));
  assert.deepEqual(chooseRunsRoot({ folders: [remote], globalStorage: storage }), { dir: path.join(storage, 'weightscope-runs'), inGlobalStorage: true });
  const ws = local(path.join(path.sep, 'ws'));
  assert.deepEqual(chooseRunsRoot({ folders: [remote, ws], globalStorage: storage }), { dir: path.join(ws.fsPath, 'weightscope-runs'), inGlobalStorage: false });
});

test('a model inside a local workspace folder runs there; a local model outside every folder runs beside itself', () => {
  const a = local(path.join(path.sep, 'a'));
  const b = local(path.join(path.sep, 'b'));
  const model = local(path.join(b.fsPath, 'm', 'model.h5'));
  assert.equal(chooseRunsRoot({ target: model, targetFolder: b, folders: [a, b], globalStorage: storage }).dir, path.join(b.fsPath, 'weightscope-runs'));
  const outside = local(path.join(path.sep, 'elsewhere', 'model.h5'));
  assert.equal(chooseRunsRoot({ target: outside, folders: [a], globalStorage: storage }).dir, path.join(a.fsPath, 'weightscope-runs'));
  assert.deepEqual(chooseRunsRoot({ target: outside, folders: [], globalStorage: storage }), { dir: path.join(path.sep, 'elsewhere', 'weightscope-runs'), inGlobalStorage: false });
});
