/**
 * End-to-end scenario of the weights panel's Metadata tab in the real workbench: a copy of an
 * example model in a folder named by the naming convention shows the parsed fields; Create
 * metadata records the model fingerprint (equal to hashlib's); a note and tags typed and saved land
 * in the sidecar next to the model (whose bytes stay the same) and are shown again after the panel
 * is closed and reopened.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { clickMenuItem, closeAllEditors, contextMenuItems, revealInExplorer, screenshot, waitForWorkbench, webviewFrame, type Scenario } from './workbench';

/** Repository root (this file runs as out/test/e2e/metadataScenarios.js). */
const repoRoot = path.resolve(__dirname, '..', '..', '..');

/** The committed example the scenario copies. */
const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');

/** hashlib's model fingerprint of the example (scripts/reference-fingerprint.py). */
function referenceModel(): string {
  const all = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'fingerprint.reference.json'), 'utf8')) as Record<string, { model: string }>;
  return all['examples/initialization/good-init-glorot-uniform/model.json']!.model;
}

/** SHA-256 of the model's two files. */
function hashes(dir: string): string[] {
  return ['model.json', 'weights.bin'].map((f) => createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex'));
}

/** Opens the weights panel of `segments` from the explorer and shows its Metadata tab. */
async function openMetadataTab(page: Page, segments: string[]): Promise<FrameLocator> {
  const row = await revealInExplorer(page, segments);
  await contextMenuItems(page, row);
  await clickMenuItem(page, 'Inspect Weights');
  const frame = webviewFrame(page);
  await frame.locator('.file-name', { hasText: 'model.json' }).waitFor({ timeout: 60_000 });
  await frame.locator('#tab-metadata').click();
  await frame.locator('#naming-check').waitFor({ timeout: 30_000 });
  return frame;
}

const folder = 'mlp-e003-0.412';
const settings = { 'weightscope.namingConvention': '{model}-e{epoch:03d}-{val_loss:.3f}', 'weightscope.fileGlobs': [`${folder}/model.json`] };

export const metadataScenarios: Scenario[] = [
  {
    name: 'Metadata: the weights panel checks the name, creates the sidecar, saves a typed note and tags, and shows them after reopening',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      const dir = path.join(ctx.workspace, folder);
      fs.mkdirSync(dir, { recursive: true });
      for (const f of ['model.json', 'weights.bin']) {
        fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(example, f)));
      }
      const before = hashes(dir);
      const sidecar = path.join(dir, 'model.json.weightscope.json');
      const ref = referenceModel();
      await ctx.openWorkbench(settings);
      await waitForWorkbench(page);

      const frame = await openMetadataTab(page, [folder, 'model.json']);
      // The folder's name follows the convention: its fields are shown.
      const naming = frame.locator('#naming-check');
      assert.equal(await naming.getAttribute('data-state'), 'match', (await naming.textContent()) ?? '');
      const namingText = (await naming.textContent()) ?? '';
      assert.ok(namingText.includes(`'${folder}' follows`) && /epoch\s*3/.test(namingText) && /val_loss\s*0\.412/.test(namingText), namingText);

      // No sidecar yet: Create metadata once the fingerprint is known records it.
      await frame.locator('body[data-fingerprint="done"]').waitFor({ timeout: 90_000 });
      await frame.locator('#create-metadata').click();
      const recorded = frame.locator('#sidecar-fingerprint');
      await recorded.waitFor({ timeout: 30_000 });
      assert.equal((await recorded.textContent())?.trim(), `${ref.slice(0, 12)} (matches the file)`);
      assert.ok(fs.existsSync(sidecar), 'Create metadata wrote the sidecar');

      // Type a note and tags, save.
      const note = 'Glorot baseline, e2e run';
      await frame.locator('#notes-sidecar').fill(note);
      await frame.locator('#tags-sidecar').fill('baseline, e2e');
      await frame.locator('#save-sidecar').click();
      await frame.locator('#metadata-status', { hasText: 'Metadata saved to' }).waitFor({ timeout: 30_000 });
      const onDisk = JSON.parse(fs.readFileSync(sidecar, 'utf8')) as { notes?: string; tags?: string[]; fingerprints?: { model: string } };
      assert.equal(onDisk.notes, note);
      assert.deepEqual(onDisk.tags, ['baseline', 'e2e']);
      assert.equal(onDisk.fingerprints?.model, ref);
      assert.deepEqual(hashes(dir), before, 'the model files are unchanged');
      await screenshot(ctx, 'metadata-panel', 300);
      await closeAllEditors(page);

      // Reopened: the saved values are in the form.
      const again = await openMetadataTab(page, [folder, 'model.json']);
      const notes = again.locator('#notes-sidecar');
      await notes.waitFor({ timeout: 30_000 });
      assert.equal(await notes.inputValue(), note);
      assert.equal(await again.locator('#tags-sidecar').inputValue(), 'baseline, e2e');
      assert.equal((await again.locator('#sidecar-path').textContent())?.trim(), sidecar);

      // Typing, then the sidecar is edited on disk: what was typed stays, with a notice; Discard shows the file's.
      await again.locator('#notes-sidecar').fill('half-typed, not saved');
      const writeNotes = (notes: string): void => {
        const json = JSON.parse(fs.readFileSync(sidecar, 'utf8')) as Record<string, unknown>;
        fs.writeFileSync(sidecar, JSON.stringify({ ...json, notes }, null, 2));
      };
      writeNotes('edited elsewhere');
      const notice = again.locator('#notice-sidecar', { hasText: 'changed since you started editing' });
      await notice.waitFor({ timeout: 30_000 });
      assert.equal(await again.locator('#notes-sidecar').inputValue(), 'half-typed, not saved');
      await again.locator('#discard-sidecar').click();
      await again.locator('#notes-sidecar').waitFor({ timeout: 10_000 });
      assert.equal(await again.locator('#notes-sidecar').inputValue(), 'edited elsewhere');
      assert.ok(!(await again.locator('#notice-sidecar').isVisible()), 'no notice on a fresh form');
      // Nothing typed: an edit on disk simply shows.
      writeNotes('edited again');
      const deadline = Date.now() + 30_000;
      while ((await again.locator('#notes-sidecar').inputValue()) !== 'edited again') {
        assert.ok(Date.now() < deadline, 'the form shows the sidecar edited on disk');
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(!(await again.locator('#notice-sidecar').isVisible()));
    },
  },
];
