/**
 * End-to-end scenario of a training run in the real workbench: "Weightscope: Train Model..." from
 * the palette on the Keras .h5 fixture (synthetic data), the training panel's live chart updating,
 * Cancel, and the per-epoch checkpoints present on disk and in the Weights tree.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { answerTrainingPrompts, canvasPaintedPixels as paintedPixels, closeAllEditors, runCommand, screenshot, waitForWorkbench, webviewFrame, weightscopeActivityIcon, type Scenario } from './workbench';

export const trainingScenarios: Scenario[] = [
  {
    name: 'Train Model from the palette: live chart, cancel, checkpoints in the tree',
    needsFixtures: true,
    async run(ctx) {
      const { page } = ctx;
      await ctx.openWorkbench({ 'weightscope.tfBackend': 'wasm' });
      await waitForWorkbench(page);
      await runCommand(page, 'Weightscope: Train Model...');
      const input = page.locator('.quick-input-widget input.input');
      await input.waitFor();
      await input.fill('AlphabetSoupCharity.h5');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'AlphabetSoupCharity.h5' }).first().waitFor();
      await page.keyboard.press('Enter');
      // data: synthetic; loss: auto; optimizer: adam; learning rate: default
      for (const title of ['Synthetic data', 'auto', 'adam']) {
        await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
        await page.keyboard.press('Enter');
      }
      await answerTrainingPrompts(page, 400);
      const frame = webviewFrame(page);
      await frame.locator('#training-title', { hasText: 'Training: AlphabetSoupCharity.h5' }).waitFor({ timeout: 60_000 });
      await frame.locator('#training-backend', { hasText: 'Backend: WebAssembly' }).waitFor({ timeout: 60_000 });
      // the summary row counts completed epochs (the status line moves on too fast to catch)
      const epochsDone = (n: number) => frame.locator('#training-summary tr[data-run] td:nth-child(2)', { hasText: new RegExp(`^([${n}-9]|[1-9][0-9]+)$`) }).first().waitFor({ timeout: 180_000 });
      await epochsDone(2);
      const before = await paintedPixels(frame, '#chart-loss');
      await epochsDone(4);
      // The chart redraws on the webview's animation frames, which a busy machine delays: poll.
      let after = await paintedPixels(frame, '#chart-loss');
      for (let i = 0; i < 120 && after === before; i++) {
        await page.waitForTimeout(500);
        after = await paintedPixels(frame, '#chart-loss');
      }
      assert.ok(before > 200 && after !== before, `the loss chart updates live (${before} -> ${after} painted pixels)`);
      assert.ok((await paintedPixels(frame, '#chart-grad')) > 200, 'gradient norm chart painted');
      await screenshot(ctx, 'training-panel-running', 300);
      await frame.locator('#training-cancel').click();
      await frame.locator('#training-status', { hasText: /Stopped \(cancelled\)|Cancelled/ }).waitFor({ timeout: 60_000 });
      await screenshot(ctx, 'training-panel-cancelled', 300);
      const runs = path.join(ctx.workspace, 'weightscope-runs', 'runs');
      const runDir = fs.readdirSync(runs).map((d) => path.join(runs, d))[0]!;
      const epochs = fs.readdirSync(runDir).filter((d) => d.startsWith('epoch-')).sort();
      assert.ok(epochs.length >= 5 && epochs.length < 401, `checkpoints kept: ${epochs.join(', ')}`);
      assert.ok(fs.existsSync(path.join(runDir, 'epoch-004', 'weights.bin')));
      assert.ok(fs.existsSync(path.join(ctx.workspace, 'weightscope-runs', 'AlphabetSoupCharity.run.json')), 'run spec remembered');
      // The Weights tree lists the checkpoints (model.json rows described by their run folder).
      await weightscopeActivityIcon(page).click();
      // the run folder sorts last (weightscope-runs/...): go to the end of the virtualized list, where the
      // newest checkpoint is (earlier ones may be scrolled out of the rendered rows)
      // The tree's file watcher may add the last checkpoints after the first End: press it again until
      // the newest row is rendered.
      await page.locator('.part.sidebar .pane-body .monaco-list-row').first().click();
      const newest = page.locator('.part.sidebar .pane-body .monaco-list-row', { hasText: epochs[epochs.length - 1]! }).first();
      for (let i = 0; i < 120 && !(await newest.isVisible()); i++) {
        await page.keyboard.press('End');
        await page.waitForTimeout(500);
      }
      await newest.waitFor({ timeout: 1_000 });
      await screenshot(ctx, 'training-checkpoints-tree', 300);
      await closeAllEditors(page);
    },
  },
];
