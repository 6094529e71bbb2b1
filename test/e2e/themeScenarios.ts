/**
 * End-to-end scenario of theme changes: charts take the new theme's colours also when the theme
 * changes to another of the same kind (Dark Modern to Abyss, both dark), where the webview's body
 * class keeps its value and only the colour variables change. The built-in dark themes share their
 * chart colours, so Abyss gets its own through the user's colour customizations, as a user can.
 * (This workbench's webview host removes and adds the body's theme classes on every change, so
 * observing `class` alone already caught it there; the training panel did not observe anything.)
 */
import * as assert from 'node:assert/strict';
import type { FrameLocator } from 'playwright-core';
import { writeRun } from './diffScenarios';
import { canvasColours, clickMenuItem, closeAllEditors, contextMenuItems, inspectFromExplorer, pickQuickItem, revealInExplorer, screenshot, setTheme, waitForWorkbench, webviewFrame, type Scenario, type ScenarioContext } from './workbench';

/** Waits until a canvas is painted and returns its main colours. */
async function paintedColours(ctx: ScenarioContext, frame: FrameLocator, selector: string): Promise<string[]> {
  await frame.locator(selector).waitFor({ state: 'visible' });
  for (let i = 0; i < 60; i++) {
    const colours = await canvasColours(frame, selector);
    if (colours.length > 0) {
      return colours;
    }
    await ctx.page.waitForTimeout(250);
  }
  throw new Error(`${selector} is not painted`);
}

/** Waits until a canvas's main colours differ from `before` (redraws wait for the webview's animation frames). */
async function coloursChange(ctx: ScenarioContext, frame: FrameLocator, selector: string, before: string[]): Promise<string[]> {
  let after = await canvasColours(frame, selector);
  for (let i = 0; i < 40 && after.join(' ') === before.join(' '); i++) {
    await ctx.page.waitForTimeout(250);
    after = await canvasColours(frame, selector);
  }
  assert.notDeepEqual(after, before, `${selector} is redrawn in the new theme's colours (still ${before.join(' | ')})`);
  return after;
}

export const themeScenarios: Scenario[] = [
  {
    name: 'charts take the new colours when the theme changes to another dark theme (weights, gradient probe and history panels)',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      await writeRun(ctx);
      await ctx.openWorkbench({
        'weightscope.tfBackend': 'wasm',
        'workbench.colorCustomizations': { '[Abyss]': { 'charts.blue': '#ff00ff', 'charts.orange': '#00ff00', foreground: '#ffaa00' } },
      });
      await waitForWorkbench(page);
      // A weights panel with a tensor's histogram, Dark Modern -> Abyss.
      const { row: model, frame } = await inspectFromExplorer(page, ['duplicates', 'copy-a', 'model.json']);
      await frame.locator('#section-tensors .vt-row').first().click();
      const histogram = await paintedColours(ctx, frame, '#histogram-linear');
      await setTheme(ctx, 'Abyss');
      await frame.locator('body.vscode-dark[data-vscode-theme-id*="Abyss"]').waitFor();
      await coloursChange(ctx, frame, '#histogram-linear', histogram);
      await screenshot(ctx, 'theme-abyss-weights-panel', 300);

      // A gradient probe's chart, Abyss -> Dark Modern.
      await contextMenuItems(page, model);
      await clickMenuItem(page, 'Probe Gradients');
      await pickQuickItem(page, 'Synthetic inputs, normal N(0, 1)');
      const probe = webviewFrame(page);
      await probe.locator('#training-status', { hasText: /^Probe done in \d+ ms$/ }).waitFor({ timeout: 90_000 });
      const depth = await paintedColours(ctx, probe, '#chart-depth');
      await setTheme(ctx, 'Default Dark Modern');
      await probe.locator('body.vscode-dark[data-vscode-theme-id*="Dark Modern"]').waitFor();
      await coloursChange(ctx, probe, '#chart-depth', depth);

      // A history panel, Dark Modern -> Abyss.
      const folder = await revealInExplorer(page, ['diff-run']);
      await folder.click();
      await contextMenuItems(page, folder);
      await clickMenuItem(page, 'Show Weight History');
      const history = webviewFrame(page);
      await history.locator('#history-table tbody tr').nth(3).waitFor({ timeout: 60_000 });
      const lines = await paintedColours(ctx, history, '#history-lines');
      await setTheme(ctx, 'Abyss');
      await history.locator('body.vscode-dark[data-vscode-theme-id*="Abyss"]').waitFor();
      await coloursChange(ctx, history, '#history-lines', lines);
      await closeAllEditors(page);
    },
  },
];
