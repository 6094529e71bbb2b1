/**
 * End-to-end: the Diagnostics tab of the weights panel on the badly initialized example model
 * (examples/initialization/bad-init-uniform-0.01), in the real workbench.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clickMenuItem, closeAllEditors, contextMenuItems, revealInExplorer, screenshot, waitForWorkbench, webviewFrame, type Scenario } from './workbench';

/** Repository root (this file is out/test/e2e/diagnosticsScenarios.js once built). */
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const badInitDir = path.join(repoRoot, 'examples', 'initialization', 'bad-init-uniform-0.01');

/** The part of HTMLCanvasElement the check uses (the Node tsconfig has no DOM types). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}

/** Diagnostics scenarios (registered by scripts/e2e/run.mjs like every exported scenario array). */
export const diagnosticsScenarios: Scenario[] = [
  {
    name: 'the Diagnostics tab of a badly initialized model: initializer-scale errors, evidence, forecast chart; dark screenshot',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      const dir = path.join(ctx.workspace, 'bad-init');
      fs.mkdirSync(dir, { recursive: true });
      for (const f of ['model.json', 'weights.bin']) {
        fs.copyFileSync(path.join(badInitDir, f), path.join(dir, f));
      }
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      const row = await revealInExplorer(page, ['bad-init', 'model.json']);
      await contextMenuItems(page, row);
      await clickMenuItem(page, 'Inspect Weights');
      const frame = webviewFrame(page);
      await frame.locator('.file-name', { hasText: 'model.json' }).waitFor({ timeout: 60_000 });
      await frame.locator('body[data-diagnostics="done"]').waitFor({ timeout: 90_000 });
      await frame.locator('#tab-diagnostics', { hasText: /Diagnostics \(\d+\)/ }).click();
      const items = frame.locator('.diag-group-error .diag-item[data-code="initializer-scale"]');
      await items.first().waitFor();
      assert.equal(await items.count(), 3, 'one initializer-scale error per Dense kernel');
      const targets = await items.locator('.diag-target').allTextContents();
      assert.deepEqual(targets.sort(), ['hidden1/kernel', 'hidden2/kernel', 'output/kernel']);
      // The evidence disclosure shows the numbers.
      await items.first().locator('summary').click();
      await items.first().locator('.diag-evidence th', { hasText: 'observedStd' }).waitFor();
      // The forecast chart is drawn.
      const canvas = frame.locator('#forecast-chart');
      await canvas.waitFor({ state: 'visible' });
      const painted = await canvas.evaluate((c: CanvasLike) => {
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) {
          if (data[i]! > 0) {
            n++;
          }
        }
        return { w: c.width, h: c.height, n };
      });
      assert.ok(painted.w > 100 && painted.h > 100 && painted.n > 1000, `the forecast chart is drawn (${JSON.stringify(painted)})`);
      await frame.locator('body.vscode-dark').waitFor();
      await screenshot(ctx, 'diagnostics-dark', 500);
      // Layers table: per-layer badges.
      await frame.locator('#tab-layers').click();
      await frame.locator('#section-layers .vt-cell.diag-badge-cell', { hasText: '✕' }).first().waitFor();
      // A click on a finding selects its tensor in the table.
      await frame.locator('#tab-diagnostics').click();
      await frame.locator('.diag-target', { hasText: 'hidden2/kernel' }).first().click();
      await frame.locator('#tab-tensors[aria-selected="true"]').waitFor();
      await frame.locator('#section-tensors .vt-row.selected', { hasText: 'hidden2/kernel' }).waitFor();
      await frame.locator('.detail-title', { hasText: 'hidden2/kernel' }).waitFor();
      await screenshot(ctx, 'diagnostics-dark-tensor-badges', 300);
      await closeAllEditors(page);
    },
  },
];
