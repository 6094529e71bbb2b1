/**
 * End-to-end scenarios of fingerprints in the real workbench: the weights panel of an example model
 * shows its model fingerprint (equal to hashlib's over the canonical bytes) and each tensor's, and
 * the two identical copies the runner puts in duplicates/ (scripts/e2e/workspace.mjs) are grouped
 * under Duplicates in the Weightscope view after Find Duplicate Weights.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator } from 'playwright-core';
import { clickMenuItem, closeAllEditors, contextMenuItems, revealInExplorer, runCommand, screenshot, waitForWorkbench, webviewFrame, weightscopeActivityIcon, type Scenario, type ScenarioContext } from './workbench';

/** Repository root (this file runs as out/test/e2e/fingerprintScenarios.js). */
const repoRoot = path.resolve(__dirname, '..', '..', '..');

/** hashlib fingerprints of the example both copies are made from (scripts/reference-fingerprint.py). */
function reference(): { model: string; tensors: Record<string, string> } {
  const all = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'fingerprint.reference.json'), 'utf8')) as Record<string, { model: string; tensors: Record<string, string> }>;
  return all['examples/initialization/good-init-glorot-uniform/model.json']!;
}

/** A row of the Weightscope view whose label is exactly `label`. */
function treeRow(ctx: ScenarioContext, label: string): Locator {
  const page = ctx.page;
  return page
    .locator('.part.sidebar .pane-body .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) }) })
    .first();
}

/** Only the two copies are listed: the scenario is about them, and the search then reads nothing else. */
const settings = { 'weightscope.fileGlobs': ['duplicates/*/model.json'] };

export const fingerprintScenarios: Scenario[] = [
  {
    name: 'Fingerprints: the panel shows the model and tensor fingerprints; two identical files are grouped under Duplicates in the tree',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      const ref = reference();
      assert.ok(fs.existsSync(path.join(ctx.workspace, 'duplicates', 'copy-b', 'weights.bin')), 'the runner made the two copies');
      await ctx.openWorkbench(settings);
      await waitForWorkbench(page);

      // The panel: the model fingerprint in the header once the statistics and fingerprints are done.
      const row = await revealInExplorer(page, ['duplicates', 'copy-a', 'model.json']);
      await contextMenuItems(page, row);
      await clickMenuItem(page, 'Inspect Weights');
      const frame = webviewFrame(page);
      await frame.locator('.file-name', { hasText: 'model.json' }).waitFor({ timeout: 60_000 });
      await frame.locator('body[data-fingerprint="done"]').waitFor({ timeout: 90_000 });
      const model = frame.locator('#model-fingerprint');
      assert.equal((await model.textContent())?.trim(), ref.model.slice(0, 12), 'the short model fingerprint = hashlib reference');
      assert.ok((await model.getAttribute('title'))?.includes(ref.model), 'the full fingerprint in the title');
      await frame.locator('#copy-fingerprint').click();
      await frame.locator('.toast', { hasText: `Copied the model fingerprint ${ref.model.slice(0, 12)}` }).waitFor();
      // The selected tensor's detail and the table's column carry the tensor fingerprints.
      await frame.locator('.vt-row', { hasText: 'hidden1/kernel' }).first().click();
      const tensorFp = frame.locator('#tensor-fingerprint');
      await tensorFp.waitFor();
      assert.ok((await tensorFp.textContent())?.includes(ref.tensors['hidden1/kernel']!.slice(0, 12)), 'the tensor fingerprint in the detail');
      const cells = await frame.locator('.vt-row .vt-cell').allTextContents();
      assert.ok(cells.includes(ref.tensors['output/bias']!.slice(0, 12)), 'the fingerprint column of the table');
      await screenshot(ctx, 'fingerprint-panel', 300);
      await closeAllEditors(page);

      // Find Duplicate Weights lists the pair in a quick pick; the tree groups it under Duplicates.
      await runCommand(page, 'Weightscope: Find Duplicate Weights');
      const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'duplicates/copy-b/model.json' }).first();
      await pick.waitFor({ timeout: 90_000 });
      await page.keyboard.press('Escape');
      await weightscopeActivityIcon(page).click();
      const duplicates = treeRow(ctx, 'Duplicates');
      await duplicates.waitFor({ timeout: 30_000 });
      await duplicates.click();
      const group = treeRow(ctx, ref.model.slice(0, 12));
      await group.waitFor();
      assert.ok((await group.textContent())?.includes('2 files with the same weights'), await group.textContent() ?? '');
      for (const copy of ['copy-a', 'copy-b']) {
        await treeRow(ctx, `duplicates/${copy}/model.json`).waitFor();
      }
      // The file rows say which file has the same weights.
      await page.waitForFunction(
        `[...document.querySelectorAll('.part.sidebar .pane-body .monaco-list-row')].some((r) => (r.textContent ?? '').includes('same weights as duplicates/copy-b/model.json'))`,
        undefined,
        { timeout: 30_000 },
      );
      await screenshot(ctx, 'fingerprint-duplicates-tree', 300);
    },
  },
];
