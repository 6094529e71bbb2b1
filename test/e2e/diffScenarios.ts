/**
 * End-to-end scenarios of Compare Weights in the real workbench: two per-epoch TF.js checkpoints
 * of a training run (written into the workspace by scripts/diff-training-run.cjs) are selected in
 * the explorer and compared; the diff panel must name the layer the NumPy reference says moved
 * most (test/unit/analysis/diff.reference.json).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canvasPaintedPixels, clickMenuItem, closeAllEditors, contextMenuItems, explorerRowAt, menuWith, revealInExplorer, screenshot, waitForWorkbench, webviewFrame, type Scenario, type ScenarioContext } from './workbench';

/** Repository root (this file runs as out/test/e2e/diffScenarios.js). */
const repoRoot = path.resolve(__dirname, '..', '..', '..');

interface Reference {
  pairs: { a: string; b: string; topLayers: string[]; relL2: number }[];
}

/** Writes the deterministic training run into the workspace once (diff-run/epoch-000 ... epoch-003). */
export async function writeRun(ctx: ScenarioContext): Promise<string> {
  const dir = path.join(ctx.workspace, 'diff-run');
  if (!fs.existsSync(path.join(dir, 'epoch-003', 'weights.bin'))) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const gen = require(path.join(repoRoot, 'scripts', 'diff-training-run.cjs')) as { writeDiffTrainingRun(out: string): Promise<string[]> };
    await gen.writeDiffTrainingRun(dir);
  }
  return dir;
}

/** Asserts a canvas in the webview has painted pixels. */
async function assertPainted(ctx: ScenarioContext, selector: string): Promise<void> {
  const canvas = webviewFrame(ctx.page).locator(selector);
  await canvas.waitFor({ state: 'visible' });
  await ctx.page.waitForTimeout(300);
  const painted = await canvasPaintedPixels(webviewFrame(ctx.page), selector);
  assert.ok(painted > 300, `${selector} has painted pixels (${painted})`);
}

/**
 * Two TF.js models side by side in the workspace: `diff-odd/a` lists a float32 kernel whose only
 * shard is missing (nothing of A can be read), `diff-odd/b` holds that kernel and a string weight
 * (no numeric values: listed, not compared).
 */
function writeOddPair(ctx: ScenarioContext): void {
  const dir = path.join(ctx.workspace, 'diff-odd');
  const model = (weights: { name: string; shape: number[]; dtype: string }[]): string =>
    JSON.stringify({ format: 'layers-model', generatedBy: 'weightscope e2e', modelTopology: null, weightsManifest: [{ paths: ['weights.bin'], weights }] });
  const kernel = { name: 'dense/kernel', shape: [2, 2], dtype: 'float32' };
  fs.mkdirSync(path.join(dir, 'a'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'b'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a', 'model.json'), model([kernel]));
  fs.writeFileSync(path.join(dir, 'b', 'model.json'), model([kernel, { name: 'vocab', shape: [2], dtype: 'string' }]));
  // TF.js string weights: each value is its UTF-8 byte count (uint32, little-endian), then the bytes.
  const words = ['cat', 'dog'].map((w) => Buffer.from(w, 'utf8'));
  const strings = words.flatMap((w) => [Buffer.from(new Uint32Array([w.length]).buffer), w]);
  fs.writeFileSync(path.join(dir, 'b', 'weights.bin'), Buffer.concat([Buffer.from(new Float32Array([0.5, -0.25, 1, 2]).buffer), ...strings]));
}

export const diffScenarios: Scenario[] = [
  {
    name: 'Compare Weights: two epochs selected in the explorer, the diff panel shows the most-changed layer',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      const ref = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'diff.reference.json'), 'utf8')) as Reference;
      const pair = ref.pairs.find((p) => p.a === 'epoch-000' && p.b === 'epoch-003')!;
      await writeRun(ctx);
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      await revealInExplorer(page, ['diff-run', 'epoch-000', 'model.json']);
      await revealInExplorer(page, ['diff-run', 'epoch-003', 'weights.bin']); // expands epoch-003
      await page.waitForTimeout(300);
      // Both folders are expanded: the model.json rows are epoch-000's, then epoch-003's.
      const modelRows = page.locator('.explorer-folders-view .monaco-list-row', { has: page.locator('.label-name', { hasText: /^model\.json$/ }) });
      await modelRows.nth(1).waitFor();
      assert.equal(await modelRows.count(), 2, 'two model.json rows visible');
      const first = modelRows.nth(0);
      const second = modelRows.nth(1);
      await first.click();
      await second.click({ modifiers: ['Control'] });
      await page.locator('.explorer-folders-view .monaco-list-row.selected', { has: page.locator('.label-name', { hasText: /^model\.json$/ }) }).nth(1).waitFor();
      // A menu opened at once can be built from the context keys of before the second selection.
      const items = await menuWith(page, second, 'Compare Weights');
      assert.ok(items.includes('Compare Weights'), `context menu has Compare Weights: ${items.join(' | ')}`);
      await contextMenuItems(page, second);
      await screenshot(ctx, 'explorer-compare-weights-menu', 300);
      await clickMenuItem(page, 'Compare Weights');

      const frame = webviewFrame(page);
      await frame.locator('#diff-title', { hasText: 'epoch-000/model.json' }).waitFor({ timeout: 60_000 });
      const top = frame.locator('#top-layers .top-layer .layer-name').first();
      await top.waitFor({ timeout: 60_000 });
      assert.equal(await top.textContent(), pair.topLayers[0], 'the most-changed layer matches the NumPy reference');
      await frame.locator('#diff-title', { hasText: 'epoch-000/model.json ↔ epoch-003/model.json' }).waitFor();
      const change = await frame.locator('#model-change').textContent();
      assert.ok(change?.startsWith(String(Number(pair.relL2.toPrecision(4)))), `model change ${change} vs NumPy ${pair.relL2}`);
      await assertPainted(ctx, '#layer-bars');
      // Selecting the most-changed layer's kernel overlays its histograms in both files.
      await frame.locator('#diff-table tbody tr', { hasText: `${pair.topLayers[0]}/kernel` }).first().click();
      await assertPainted(ctx, '#overlay-histogram');
      await screenshot(ctx, 'diff-panel-dark', 500);
      // The metadata cards: a note saved for A is written to A's sidecar, and what is being typed for B stays.
      await frame.locator('#notes-b').fill('typed for B, not saved');
      await frame.locator('#notes-a').fill('saved for A');
      await frame.locator('#save-a').click();
      await frame.locator('#diff-status', { hasText: 'Metadata saved to' }).waitFor({ timeout: 30_000 });
      const sidecarA = path.join(ctx.workspace, 'diff-run', 'epoch-000', 'model.json.weightscope.json');
      assert.equal((JSON.parse(fs.readFileSync(sidecarA, 'utf8')) as { notes?: string }).notes, 'saved for A');
      await page.waitForTimeout(1500); // the host pushes both sidecars again after the save
      assert.equal(await frame.locator('#notes-b').inputValue(), 'typed for B, not saved');
      assert.equal(await frame.locator('#notes-a').inputValue(), 'saved for A');
      assert.ok(!(await frame.locator('#notice-a').isVisible()), 'its own save is no change to warn of');
      await closeAllEditors(page);
    },
  },
  {
    name: 'Show Weight History on a run folder lists the epochs in order with the distance from the first',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      await writeRun(ctx);
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      const folder = await revealInExplorer(page, ['diff-run']);
      await folder.click(); // a single selection (the workbench may restore an earlier multi-selection)
      // Show Weight History is offered for one folder only: wait until the click has replaced the
      // previous scenario's two selected epochs.
      await page.waitForFunction(`document.querySelectorAll('.explorer-folders-view .monaco-list-row[aria-selected="true"]').length === 1`);
      const items = await menuWith(page, folder, 'Show Weight History');
      assert.ok(items.includes('Show Weight History'), `folder context menu has Show Weight History: ${items.join(' | ')}`);
      await contextMenuItems(page, folder);
      await clickMenuItem(page, 'Show Weight History');
      const frame = webviewFrame(page);
      await frame.locator('#diff-title', { hasText: 'Weight history: diff-run' }).waitFor({ timeout: 60_000 });
      const rows = frame.locator('#history-table tbody tr');
      await rows.nth(3).waitFor({ timeout: 60_000 });
      const labels = await frame.locator('#history-table tbody tr td:first-child').allTextContents();
      assert.deepEqual(labels, ['epoch-000', 'epoch-001', 'epoch-002', 'epoch-003']);
      assert.equal((await frame.locator('#history-table tbody tr:first-child td:nth-child(3)').textContent())?.trim(), '0');
      assert.ok(await frame.locator('#cancel').isDisabled(), 'Cancel is disabled once the history is read (nothing runs)');
      assert.ok(await frame.locator('#rerun').isEnabled(), 'Re-run stays available');
      await assertPainted(ctx, '#history-lines');
      await assertPainted(ctx, '#history-heatmap');
      for (const chart of ['#history-lines', '#layer-lines', '#history-heatmap']) {
        assert.equal(await frame.locator(chart).getAttribute('role'), 'img', chart);
        assert.ok(((await frame.locator(chart).getAttribute('aria-label')) ?? '').length > 10, `${chart} is named for screen readers`);
      }
      await screenshot(ctx, 'history-panel-dark', 500);
      await closeAllEditors(page);
    },
  },
  {
    name: 'Show Weight History on a folder without checkpoints shows the error alone, nothing to cancel',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      const dir = path.join(ctx.workspace, 'no-checkpoints');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'notes.txt'), 'training notes, no weights\n');
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      const folder = await revealInExplorer(page, ['no-checkpoints']);
      await folder.click();
      await page.waitForFunction(`document.querySelectorAll('.explorer-folders-view .monaco-list-row[aria-selected="true"]').length === 1`);
      await menuWith(page, folder, 'Show Weight History');
      await contextMenuItems(page, folder);
      await clickMenuItem(page, 'Show Weight History');
      const frame = webviewFrame(page);
      await frame.locator('#diff-title', { hasText: 'Weight history: no-checkpoints' }).waitFor({ timeout: 60_000 });
      await frame.locator('#diff-status.error', { hasText: 'no-checkpoints: the folder holds no checkpoints' }).waitFor({ timeout: 30_000 });
      // No empty charts, selects and table under the error.
      assert.ok(await frame.locator('.history-view').isHidden(), 'the empty history view is hidden');
      assert.ok(await frame.locator('.diff-view').isHidden(), 'the diff view is hidden');
      assert.ok(await frame.locator('#cancel').isDisabled(), 'Cancel is disabled: nothing runs');
      await screenshot(ctx, 'history-error-dark', 300);
      await closeAllEditors(page);
    },
  },
  {
    name: 'Compare Weights with Selected: a side whose shard is missing and a string weight are listed, not compared',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      writeOddPair(ctx);
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      // Both folders expanded; the two model.json rows told apart by their paths.
      await revealInExplorer(page, ['diff-odd', 'a', 'model.json']);
      await revealInExplorer(page, ['diff-odd', 'b', 'weights.bin']);
      const a = explorerRowAt(page, path.join(ctx.workspace, 'diff-odd', 'a', 'model.json'));
      const b = explorerRowAt(page, path.join(ctx.workspace, 'diff-odd', 'b', 'model.json'));
      await a.click();
      await contextMenuItems(page, a);
      await clickMenuItem(page, 'Select Weights for Compare');
      // The selection sets a context key; B's menu offers the comparison once it has.
      let items: string[] = [];
      for (let tries = 0; tries < 20 && !items.includes('Compare Weights with Selected'); tries++) {
        if (tries > 0) {
          await page.keyboard.press('Escape');
          await page.waitForTimeout(250);
        }
        await b.click();
        items = await contextMenuItems(page, b);
      }
      assert.ok(items.includes('Compare Weights with Selected'), `context menu has Compare Weights with Selected: ${items.join(' | ')}`);
      await clickMenuItem(page, 'Compare Weights with Selected');
      const frame = webviewFrame(page);
      await frame.locator('#diff-title', { hasText: /a\/model\.json ↔ .*b\/model\.json/ }).waitFor({ timeout: 60_000 });
      const notCompared = frame.locator('#non-numeric');
      await notCompared.waitFor({ timeout: 60_000 });
      assert.equal((await notCompared.textContent())?.trim(), 'no numeric values: A: none; B: vocab (string)');
      // A's only shard is missing: the panel says so among its warnings, and there is no model change to show.
      const unreadable = frame.locator('#diff-warnings li.warning');
      await unreadable.first().waitFor();
      const why = (await unreadable.allTextContents()).join(' | ');
      assert.ok(/weights\.bin/.test(why), `A's warning names its missing shard: ${why}`);
      assert.equal((await frame.locator('#model-change').textContent())?.trim().startsWith('–'), true, 'no model change when nothing was compared');
      await screenshot(ctx, 'diff-panel-unreadable-side', 300);
      await closeAllEditors(page);
    },
  },
];
