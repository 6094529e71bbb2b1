/**
 * The Metadata tab of the weights panel in the extension host: an example model opened in the
 * panel gets its sidecar created (creation time, the git commit `git rev-parse HEAD` names, the
 * model fingerprint hashlib computes) and saved through the panel's request handlers; the sidecar
 * holds the values while the checkpoint's bytes are unchanged (SHA-256 before and after); the name
 * is checked against weightscope.namingConvention; a file that is not local says why it has none.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WeightsDocument } from '../../src/extension/weightsDocument';
import { api, MemoryFs, repoRoot, tempDir, waitFor, watchersStarted } from './helpers';
import { skipReasons } from './index';

/** The committed example copied by the test (examples/initialization). */
const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');

/** hashlib's model fingerprint of the example (scripts/reference-fingerprint.py). */
const referenceModel = (
  JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'fingerprint.reference.json'), 'utf8')) as Record<string, { model: string }>
)['examples/initialization/good-init-glorot-uniform/model.json']!.model;

/** The naming convention the test sets. */
const pattern = '{model}-e{epoch:03d}-{val_loss:.3f}';

/** SHA-256 of every file of the checkpoint folder except sidecars and folders. */
function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, f);
    if (!f.endsWith('.weightscope.json') && fs.statSync(p).isFile()) {
      out[f] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  }
  return out;
}

/** Runs git in `cwd`; undefined when git is not installed. */
function git(cwd: string, ...args: string[]): string | undefined {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, encoding: 'utf8' });
  if (r.error) {
    return undefined;
  }
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

/** Waits until the document's statistics and fingerprints are done. */
async function settled(doc: WeightsDocument): Promise<void> {
  await doc.whenOpened();
  await waitFor('the statistics', () => doc.analysis.state === 'done', 60_000);
  await waitFor('the fingerprints', () => doc.fingerprintStatus.state === 'done' || doc.fingerprintStatus.state === 'failed', 60_000);
  assert.equal(doc.fingerprintStatus.state, 'done', JSON.stringify(doc.fingerprintStatus.error));
}


suite('metadata sidecars and the naming check in the weights panel', () => {
  const config = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('weightscope');

  teardown(async () => {
    await config().update('namingConvention', undefined, vscode.ConfigurationTarget.Global);
  });

  test('Create metadata and Save through the panel write the sidecar with the values; the checkpoint is unchanged', async function () {
    this.timeout(180_000);
    const a = await api();
    await config().update('namingConvention', pattern, vscode.ConfigurationTarget.Global);
    // The example in a git work tree, in a folder named by the convention (model.json is a generic name).
    const root = tempDir('weightscope-meta-');
    const dir = path.join(root, 'mlp-e003-0.412');
    fs.mkdirSync(dir);
    for (const f of ['model.json', 'weights.bin']) {
      fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(example, f)));
    }
    let head: string | undefined;
    if (git(root, 'init', '-q') !== undefined) {
      git(root, 'add', '.');
      git(root, 'commit', '-q', '-m', 'example');
      head = git(root, 'rev-parse', 'HEAD');
    }
    const entry = path.join(dir, 'model.json');
    const before = hashes(dir);
    const mtimes = Object.keys(before).map((f) => fs.statSync(path.join(dir, f)).mtimeMs);

    const view = a.panels.show(vscode.Uri.file(entry));
    try {
      await settled(view.document);
      const m0 = await view.metadata();
      assert.equal(m0.available, true);
      assert.equal(m0.error, undefined);
      assert.equal(m0.sidecar?.exists, false, 'no sidecar yet');
      assert.equal(m0.sidecarPath, `${entry}.weightscope.json`);
      assert.equal(m0.fingerprintToRecord, referenceModel, 'Create metadata would record the hashlib model fingerprint');
      assert.equal(m0.naming.state, 'match');
      assert.equal(m0.naming.name, 'mlp-e003-0.412', "model.json is checked by its folder's name");
      assert.deepEqual(m0.naming.fields, [
        { name: 'model', value: 'mlp' },
        { name: 'epoch', value: 3 },
        { name: 'val_loss', value: 0.412 },
      ]);

      const created = await view.requests.createSidecar({});
      assert.equal(created.exists, true);
      assert.equal(created.modelFingerprint, referenceModel);
      assert.ok(created.created && Math.abs(Date.parse(created.created) - Date.now()) < 120_000, `created now: ${created.created}`);
      if (head !== undefined) {
        assert.equal(created.gitCommit, head, 'the commit git rev-parse HEAD names');
      }

      const saved = await view.requests.saveSidecar({ notes: 'glorot baseline\nsecond line', tags: ['baseline', 'glorot'], parent: '../mlp-e002-0.500/model.json', metrics: { val_loss: 0.412, acc: 0.875 } });
      assert.deepEqual([saved.notes, saved.tags, saved.parent, saved.metrics], ['glorot baseline\nsecond line', ['baseline', 'glorot'], '../mlp-e002-0.500/model.json', { val_loss: 0.412, acc: 0.875 }]);
      const onDisk = JSON.parse(fs.readFileSync(`${entry}.weightscope.json`, 'utf8')) as Record<string, unknown>;
      assert.equal(onDisk['notes'], 'glorot baseline\nsecond line');
      assert.deepEqual(onDisk['tags'], ['baseline', 'glorot']);
      assert.equal(onDisk['parent'], '../mlp-e002-0.500/model.json');
      assert.deepEqual(onDisk['metrics'], { val_loss: 0.412, acc: 0.875 });
      assert.equal(onDisk['created'], created.created, 'created stays');
      assert.equal((onDisk['fingerprints'] as { model: string }).model, referenceModel, 'the recorded fingerprint stays');

      // A bad edit is refused with the reason and writes nothing.
      await assert.rejects(view.requests.saveSidecar({ notes: '', tags: ['a,b'], parent: '', metrics: {} }), /Tag "a,b" contains a comma/);
      assert.deepEqual(JSON.parse(fs.readFileSync(`${entry}.weightscope.json`, 'utf8')), onDisk);

      // The checkpoint's files: same bytes, same times; only the sidecar was added.
      assert.deepEqual(hashes(dir), before, 'model.json and weights.bin unchanged');
      assert.deepEqual(Object.keys(before).map((f) => fs.statSync(path.join(dir, f)).mtimeMs), mtimes);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'model.json.weightscope.json', 'weights.bin']);

      // The naming check follows the setting: under another convention the name is a mismatch.
      await config().update('namingConvention', 'run-{step:d}', vscode.ConfigurationTarget.Global);
      const m1 = await view.metadata();
      assert.equal(m1.naming.state, 'mismatch');
      assert.equal(m1.naming.message, "'mlp-e003-0.412' does not follow the naming convention 'run-{step:d}'.");
    } finally {
      view.panel.dispose();
    }

    // Reopened, the panel shows what was saved.
    await waitFor('the document to close', () => a.store.find(vscode.Uri.file(entry)) === undefined);
    const again = a.panels.show(vscode.Uri.file(entry));
    try {
      const m2 = await again.metadata();
      assert.equal(m2.sidecar?.exists, true);
      assert.equal(m2.sidecar?.notes, 'glorot baseline\nsecond line');
      assert.deepEqual(m2.sidecar?.tags, ['baseline', 'glorot']);
      assert.deepEqual(m2.sidecar?.metrics, { val_loss: 0.412, acc: 0.875 });
    } finally {
      again.panel.dispose();
    }
  });

  test('a sidecar saved in the weights panel or edited on disk shows in the open diff panel; one saved in the diff panel shows in the weights panel', async function () {
    this.timeout(120_000);
    const a = await api();
    const root = tempDir('weightscope-meta-diff-');
    const [fileA, fileB] = ['good-init-glorot-uniform', 'bad-init-uniform-0.01'].map((name) => {
      const dir = path.join(root, name);
      fs.mkdirSync(dir);
      for (const f of ['model.json', 'weights.bin']) {
        fs.copyFileSync(path.join(example, '..', name, f), path.join(dir, f));
      }
      return path.join(dir, 'model.json');
    }) as [string, string];
    // The diff panel opened last stays in front: its webview's 'ready' starts the comparison.
    const weights = a.panels.show(vscode.Uri.file(fileA));
    const diff = a.diff.panels.open({ mode: 'diff', a: vscode.Uri.file(fileA), b: vscode.Uri.file(fileB), labelA: 'A', labelB: 'B' });
    let metadataChanges = 0;
    const sub = weights.document.onDidChangeMetadata(() => metadataChanges++);
    try {
      await weights.document.whenOpened();
      const compared = await waitFor('the comparison', () => diff.diffResult, 60_000);
      assert.equal(compared.summary.paired, 6, 'the two examples were compared (six tensors each)');
      await watchersStarted();

      // Saved through the weights panel's Metadata tab: the diff panel is sent both sidecars again.
      await weights.requests.saveSidecar({ notes: 'saved in the weights panel', tags: ['glorot'], parent: '', metrics: { acc: 0.875 } });
      const posted = await waitFor('the diff panel to show the saved sidecar', () => diff.lastSidecarsPosted?.a?.notes === 'saved in the weights panel' && diff.lastSidecarsPosted);
      assert.deepEqual([posted.a?.tags, posted.a?.metrics, posted.a?.exists], [['glorot'], { acc: 0.875 }, true]);
      assert.equal(posted.b?.exists, false);

      // Written by another program: the diff panel shows it without any save through Weightscope.
      fs.writeFileSync(`${fileB}.weightscope.json`, JSON.stringify({ version: 1, notes: 'edited on disk', tags: ['uniform'] }));
      const edited = await waitFor('the diff panel to show the sidecar edited on disk', () => diff.lastSidecarsPosted?.b?.notes === 'edited on disk' && diff.lastSidecarsPosted);
      assert.deepEqual(edited.b?.tags, ['uniform']);
      assert.equal(edited.a?.notes, 'saved in the weights panel');

      // Saved through the diff panel: the weights panel's Metadata tab reads the sidecar again.
      const changesBefore = metadataChanges;
      await diff.requests.saveSidecar({ side: 'a', notes: 'saved in the diff panel', tags: [], parent: '', metrics: {} });
      await waitFor("the weights panel's Metadata tab to be refreshed", () => metadataChanges > changesBefore);
      assert.equal((await weights.metadata()).sidecar?.notes, 'saved in the diff panel');
      await waitFor('the diff panel to show its own save', () => diff.lastSidecarsPosted?.a?.notes === 'saved in the diff panel');
    } finally {
      sub.dispose();
      weights.panel.dispose();
      diff.panel.dispose();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('saving into a read-only folder is refused with a clear message; nothing is written', async function () {
    this.timeout(60_000);
    const a = await api();
    const dir = tempDir('weightscope-meta-ro-');
    for (const f of ['model.json', 'weights.bin']) {
      fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(example, f)));
    }
    // Root ignores file modes: an immutable folder (chattr +i) is read-only even for root.
    const root = process.getuid?.() === 0;
    const locked = root ? spawnSync('chattr', ['+i', dir]).status === 0 : (fs.chmodSync(dir, 0o555), true);
    if (!locked) {
      skipReasons.set(this.test?.fullTitle() ?? '', 'cannot make a folder read-only here (root without chattr)');
      this.skip();
    }
    const view = a.panels.show(vscode.Uri.file(path.join(dir, 'model.json')));
    try {
      await view.document.whenOpened();
      await assert.rejects(view.requests.saveSidecar({ notes: 'x', tags: [], parent: '', metrics: {} }), (ex: Error) => {
        assert.match(ex.message, /^Cannot save the metadata: the folder .*weightscope-meta-ro-.* is read-only \((EACCES|EPERM|EROFS)\), so model\.json\.weightscope\.json was not written; the checkpoint is unchanged\.$/);
        return true;
      });
    } finally {
      view.panel.dispose();
      if (root) {
        spawnSync('chattr', ['-i', dir]);
      } else {
        fs.chmodSync(dir, 0o755);
      }
    }
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'weights.bin']);
  });

  test('a file that is not local has no sidecar, and the panel says why', async function () {
    this.timeout(60_000);
    const a = await api();
    const provider = vscode.workspace.registerFileSystemProvider('weightscope-mem', new MemoryFs(new Map(['model.json', 'weights.bin'].map((f) => [`/mem/${f}`, fs.readFileSync(path.join(example, f))]))), { isReadonly: true });
    const view = a.panels.show(vscode.Uri.from({ scheme: 'weightscope-mem', path: '/mem/model.json' }));
    try {
      await view.document.whenOpened();
      assert.equal(view.document.status, 'open', JSON.stringify(view.document.error));
      const m = await view.metadata();
      assert.equal(m.available, false);
      assert.equal(m.sidecar, undefined);
      assert.equal(m.unavailableReason, "Metadata sidecars are kept next to local files only; model.json is opened through 'weightscope-mem:'.");
      await assert.rejects(view.requests.saveSidecar({ notes: 'x', tags: [], parent: '', metrics: {} }), /metadata sidecars are kept next to local files only \(scheme 'weightscope-mem'\)/);
      await assert.rejects(view.requests.createSidecar({}), /local files only/);
    } finally {
      view.panel.dispose();
      provider.dispose();
    }
  });
});
