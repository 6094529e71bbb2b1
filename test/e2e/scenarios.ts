/**
 * End-to-end scenarios in the real workbench (code-server + Chromium, driven by Playwright).
 * Run by scripts/e2e/run.mjs, one fresh page per scenario.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator } from 'playwright-core';
import {
  clickMenuItem,
  closeAllEditors,
  contextMenuItems,
  reloadWindow,
  revealInExplorer,
  runCommand,
  screenshot,
  setTheme,
  waitForWorkbench,
  webviewFrame,
  weightscopeActivityIcon,
  type Scenario,
  type ScenarioContext,
} from './workbench';

const kerasDir = ['fixtures', 'keras-h5', 'alphabet-soup-charity-keras2.15'];
const kerasFile = 'AlphabetSoupCharity.h5';
const tfliteDir = ['fixtures', 'tflite', 'tflm-hello-world-tf2.11'];
const tfliteFile = 'hello_world_float.tflite';

/** The part of HTMLCanvasElement the checks use (the Node tsconfig has no DOM types). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}

/** A row of the Weightscope view whose label is exactly `label`. */
function treeRow(ctx: ScenarioContext, label: string): Locator {
  const page = ctx.page;
  return page
    .locator('.part.sidebar .pane-body .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) }) })
    .first();
}

/** Texts of the visible rows of a virtual table in the webview. */
async function tableColumn(ctx: ScenarioContext, sectionId: string, column: number): Promise<string[]> {
  const frame = webviewFrame(ctx.page);
  return frame.locator(`#${sectionId} .vt-row:not([hidden]) .vt-cell:nth-child(${column})`).allTextContents();
}

/** Waits until the webview of `fileName` shows its summary and finished analysing. */
async function waitForPanel(ctx: ScenarioContext, fileName: string): Promise<void> {
  const frame = webviewFrame(ctx.page);
  await frame.locator('.file-name', { hasText: fileName }).waitFor({ timeout: 60_000 });
  await frame.locator('body[data-analysis="done"]').waitFor({ timeout: 60_000 });
}

/** Asserts the histogram canvases of the selected tensor are drawn. */
async function assertHistograms(ctx: ScenarioContext): Promise<void> {
  const frame = webviewFrame(ctx.page);
  const canvas = frame.locator('#histogram-linear');
  await canvas.waitFor({ state: 'visible' });
  const size = await canvas.evaluate((c: CanvasLike) => ({ w: c.width, h: c.height }));
  assert.ok(size.w > 50 && size.h > 50, `the histogram canvas is drawn (${size.w}x${size.h})`);
  // Chart.js draws bars: some pixels of the canvas are not transparent.
  const painted = await canvas.evaluate((c: CanvasLike) => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) {
      if (data[i]! > 0) {
        n++;
      }
    }
    return n;
  });
  assert.ok(painted > 500, `the histogram has painted pixels (${painted})`);
  await frame.locator('#histogram-log').waitFor({ state: 'visible' });
}

/** Writes a TF.js graph model with `n` small float32 weights (4 per block) into `dir`. */
function writeManyTensorModel(dir: string, n: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const weights = Array.from({ length: n }, (_, i) => ({ name: `block_${String(Math.floor(i / 4)).padStart(4, '0')}/w${i % 4}`, shape: [2, 2], dtype: 'float32' }));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [{ paths: ['weights.bin'], weights }] }));
  const values = new Float32Array(n * 4).map((_, i) => Math.sin(i));
  fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(values.buffer));
}

export const scenarios: Scenario[] = [
  {
    name: 'explorer right-click on a Keras .h5 -> Inspect Weights shows its layers and a histogram',
    needsFixtures: true,
    async run(ctx) {
      const { page } = ctx;
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      // The entry is absent on files that are not weights.
      const readme = await revealInExplorer(page, ['fixtures', 'README.md']);
      assert.ok(!(await contextMenuItems(page, readme)).includes('Inspect Weights'), 'no Inspect Weights on README.md');
      await page.keyboard.press('Escape');
      const row = await revealInExplorer(page, [...kerasDir, kerasFile]);
      const items = await contextMenuItems(page, row);
      assert.ok(items.includes('Inspect Weights'), `context menu has Inspect Weights: ${items.join(' | ')}`);
      await screenshot(ctx, 'explorer-context-menu-h5', 400);
      await clickMenuItem(page, 'Inspect Weights');
      await waitForPanel(ctx, kerasFile);
      const frame = webviewFrame(page);
      await frame.locator('#tab-layers').click();
      const layers = await tableColumn(ctx, 'section-layers', 1);
      for (const name of ['dense', 'dense_1', 'dense_2']) {
        assert.ok(layers.includes(name), `layer ${name} listed (got ${layers.join(', ')})`);
      }
      const classes = await tableColumn(ctx, 'section-layers', 2);
      assert.ok(classes.includes('Dense'), 'layer classes from the architecture');
      await frame.locator('#tab-tensors').click();
      await frame.locator('#section-tensors .vt-row', { hasText: 'dense/kernel' }).first().click();
      await assertHistograms(ctx);
      await screenshot(ctx, 'panel-keras-h5-dark');
      await closeAllEditors(page);
    },
  },
  {
    name: 'the Weightscope view lists the workspace files and their layers',
    needsFixtures: true,
    async run(ctx) {
      const { page } = ctx;
      // A few files only (the setting is part of what is tested): the whole corpus does not fit the view.
      await ctx.openWorkbench({ 'weightscope.fileGlobs': ['fixtures/tflite/tflm-*/*.tflite', 'fixtures/keras-h5/alphabet-*/*.h5', 'fixtures/tf-checkpoint-v2/**/*.index', 'broken/*.h5'] });
      await waitForWorkbench(page);
      await weightscopeActivityIcon(page).click();
      const fileRow = treeRow(ctx, tfliteFile);
      await fileRow.waitFor({ timeout: 30_000 });
      for (const name of [kerasFile, 'hello_world_int8.tflite', 'ckpt.index', 'not-weights.h5']) {
        await treeRow(ctx, name).waitFor();
      }
      await fileRow.click();
      for (const layer of ['sequential/dense', 'sequential/dense_1', 'sequential/dense_2']) {
        await treeRow(ctx, layer).waitFor();
      }
      // Expanding a layer lists its tensors with shape, dtype and (once analysed) mean ± std.
      await treeRow(ctx, 'sequential/dense').click();
      await treeRow(ctx, 'MatMul').waitFor();
      await page.waitForFunction(
        `[...document.querySelectorAll('.part.sidebar .pane-body .monaco-list-row')].some((r) => /\\[16,1\\] float32 .+ ± /.test(r.textContent ?? ''))`,
        undefined,
        { timeout: 30_000 },
      );
      // A broken file expands to its error.
      const broken = treeRow(ctx, 'not-weights.h5');
      await broken.scrollIntoViewIfNeeded();
      await broken.click();
      await treeRow(ctx, 'error[unrecognized]').waitFor();
      await screenshot(ctx, 'tree-view');
    },
  },
  {
    name: 'palette Open Weights File... picks a file and opens the panel',
    needsFixtures: true,
    async run(ctx) {
      const { page } = ctx;
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      await runCommand(page, 'Weightscope: Open Weights File...');
      // code-server's file dialog is a quick input with a path box.
      const input = page.locator('.quick-input-widget input.input');
      await input.waitFor();
      // The dialog fills in its starting folder asynchronously and can overwrite a value typed too
      // early: type the path until it stays.
      const target = path.join(ctx.workspace, ...tfliteDir, tfliteFile);
      for (let attempt = 1; ; attempt++) {
        await page.waitForTimeout(300);
        await input.fill(target);
        await page.locator('.quick-input-list .monaco-list-row', { hasText: tfliteFile }).first().waitFor();
        await page.waitForTimeout(500);
        if ((await input.inputValue()) === target) {
          break;
        }
        assert.ok(attempt < 5, `the file dialog kept replacing the typed path (now '${await input.inputValue()}')`);
      }
      await screenshot(ctx, 'palette-open-file-picker', 100);
      await page.keyboard.press('Enter');
      await waitForPanel(ctx, tfliteFile);
      const names = await tableColumn(ctx, 'section-tensors', 1);
      assert.ok(names.includes('sequential/dense/MatMul'), `tensor rows (got ${names.join(', ')})`);
      await page.locator('.tabs-container .tab', { hasText: `Weights: ${tfliteFile}` }).first().waitFor();
      await closeAllEditors(page);
    },
  },
  {
    name: 'double-click opens the custom editor; dark and light theme screenshots',
    needsFixtures: true,
    async run(ctx) {
      const { page } = ctx;
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      const row = await revealInExplorer(page, [...tfliteDir, tfliteFile]);
      await row.dblclick();
      await page.locator('.tabs-container .tab', { hasText: tfliteFile }).first().waitFor();
      await waitForPanel(ctx, tfliteFile);
      const frame = webviewFrame(page);
      await frame.locator('#section-tensors .vt-row', { hasText: 'sequential/dense_1/MatMul' }).first().click();
      await assertHistograms(ctx);
      await frame.locator('body.vscode-dark').waitFor();
      await screenshot(ctx, 'custom-editor-dark', 500);
      // Copy the table as Markdown: the toast confirms, the clipboard holds the table.
      await frame.locator('#table-format').selectOption('markdown');
      await frame.locator('#copy-table').click();
      await frame.locator('.toast', { hasText: 'Copied 6 rows as Markdown.' }).waitFor();
      const clip = await page.evaluate('navigator.clipboard.readText()');
      assert.ok(typeof clip === 'string' && clip.startsWith('# hello_world_float.tflite\n'), `clipboard: ${String(clip).slice(0, 80)}`);
      assert.ok(clip.includes('| sequential/dense_1/MatMul | float32 | [16, 16] | 256 |'), 'the Markdown table row of the 16x16 kernel');
      // Keys do not reach the workbench while the webview has the focus: close the tab with the mouse,
      // switch the theme through the palette, and reopen.
      await page.locator('.tabs-container .tab', { hasText: tfliteFile }).first().locator('.codicon-close').click({ force: true });
      await page.locator('.tabs-container .tab', { hasText: tfliteFile }).first().waitFor({ state: 'detached' });
      await setTheme(ctx, 'Default Light Modern');
      await row.dblclick();
      await waitForPanel(ctx, tfliteFile);
      await frame.locator('body.vscode-light').waitFor({ timeout: 20_000 });
      await frame.locator('#section-tensors .vt-row', { hasText: 'sequential/dense_1/MatMul' }).first().click();
      await assertHistograms(ctx);
      await screenshot(ctx, 'custom-editor-light', 500);
      await frame.locator('#tab-warnings').click();
      await screenshot(ctx, 'custom-editor-light-warnings', 200);
      await page.locator('.tabs-container .tab', { hasText: tfliteFile }).first().locator('.codicon-close').click({ force: true });
      await closeAllEditors(page);
    },
  },
  {
    name: 'a broken file opens into the error state',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      const frame = await brokenFileErrorState(ctx, 'editor');
      const reason = await frame.locator('#error-state code').textContent();
      assert.equal(reason, 'unrecognized');
      await frame.locator('#reopen-with').waitFor();
      await screenshot(ctx, 'error-state-dark');
      await closeAllEditors(page);
    },
  },
  {
    name: 'Reopen With… in the error state of an Inspect panel offers the editors of the file',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      const frame = await brokenFileErrorState(ctx, 'inspect');
      await frame.locator('#reopen-with').click();
      // The workbench's editor picker, as from Reopen Editor With... on an editor of the file.
      const textEditor = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'Text Editor' });
      await textEditor.waitFor({ timeout: 15_000 });
      await textEditor.click();
      // The file (the line the workspace script wrote) in a text editor, in the panel's place.
      await page.locator('.monaco-editor .view-lines', { hasText: 'these are not weights, just a line of text' }).waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('.tabs-container .tab', { hasText: 'Weights: not-weights.h5' }).count(), 0, 'the Inspect panel is replaced');
      await closeAllEditors(page);
    },
  },
  {
    name: 'an inspect panel is restored after a reload (serializer)',
    needsFixtures: true,
    async run(ctx) {
      const { page } = ctx;
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      const row = await revealInExplorer(page, [...tfliteDir, tfliteFile]);
      await contextMenuItems(page, row); // right-click only: a click would open the default (custom) editor
      await clickMenuItem(page, 'Inspect Weights');
      await waitForPanel(ctx, tfliteFile);
      await page.locator('.tabs-container .tab', { hasText: `Weights: ${tfliteFile}` }).first().waitFor();
      await webviewFrame(page).locator('#tab-layers').click();
      await page.waitForTimeout(500); // the webview's new state reaches the workbench
      await reloadWindow(page);
      await waitForWorkbench(page);
      await page.locator('.tabs-container .tab', { hasText: `Weights: ${tfliteFile}` }).first().waitFor({ timeout: 90_000 });
      await waitForPanel(ctx, tfliteFile);
      await screenshot(ctx, 'panel-restored-after-reload');
      // UI state came back too: the Layers tab is selected.
      await webviewFrame(page).locator('#tab-layers[aria-selected="true"]').waitFor();
      await closeAllEditors(page);
    },
  },
  {
    name: 'a model with 5,000 tensors: the table renders only the rows in view and scrolls to the last one',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      await ctx.openWorkbench();
      writeManyTensorModel(path.join(ctx.workspace, 'many'), 5000);
      await waitForWorkbench(page);
      const row = await revealInExplorer(page, ['many', 'model.json']);
      await contextMenuItems(page, row);
      await clickMenuItem(page, 'Inspect Weights');
      const frame = webviewFrame(page);
      await frame.locator('.file-name', { hasText: 'model.json' }).waitFor({ timeout: 60_000 });
      await frame.locator('.row-count', { hasText: '5,000 tensors' }).waitFor();
      const rendered = await frame.locator('#section-tensors .vt-row').count();
      assert.ok(rendered > 10 && rendered < 150, `only the rows in view are in the DOM (${rendered} of 5000)`);
      await frame.locator('#section-tensors .vt-viewport').evaluate((v: { scrollTop: number; scrollHeight: number }) => {
        v.scrollTop = v.scrollHeight;
      });
      await frame.locator('#section-tensors .vt-row:not([hidden])', { hasText: 'block_1249/w3' }).waitFor();
      assert.ok((await frame.locator('#section-tensors .vt-row').count()) < 150, 'the row pool does not grow while scrolling');
      // Filtering narrows the 5,000 rows to one block.
      await frame.locator('#filter').fill('block_0042/');
      await frame.locator('.row-count', { hasText: '4 of 5,000 tensors' }).waitFor();
      await screenshot(ctx, 'panel-5000-tensors-filtered');
      await closeAllEditors(page);
    },
  },
  {
    name: 'explorer: folders holding a SavedModel offer Inspect Weights, plain folders do not',
    needsFixtures: true,
    async run(ctx) {
      const { page } = ctx;
      await ctx.openWorkbench();
      await waitForWorkbench(page);
      // Folders holding a SavedModel or a checkpoint offer Inspect Weights too (not plain folders).
      const modelFolder = await revealInExplorer(page, ['fixtures', 'tf-savedmodel', 'keras-lso-savedmodel-tf2.2']);
      let folderItems: string[] = [];
      for (let attempt = 0; attempt < 20 && !folderItems.includes('Inspect Weights'); attempt++) {
        // the folder list is a context key set after the extension's first scan
        folderItems = await contextMenuItems(page, modelFolder);
        await page.keyboard.press('Escape');
        if (!folderItems.includes('Inspect Weights')) {
          await page.waitForTimeout(500);
        }
      }
      assert.ok(folderItems.includes('Inspect Weights'), `SavedModel folder menu: ${folderItems.join(' | ')}`);
      const plainFolder = await revealInExplorer(page, ['fixtures', 'tflite']);
      assert.ok(!(await contextMenuItems(page, plainFolder)).includes('Inspect Weights'), 'no Inspect Weights on a plain folder');
      await page.keyboard.press('Escape');
      // Inspecting the folder opens the SavedModel inside it (README: variables sequential/dense/*).
      await contextMenuItems(page, modelFolder);
      await clickMenuItem(page, 'Inspect Weights');
      await waitForPanel(ctx, 'keras-lso-savedmodel-tf2.2');
      const names = await tableColumn(ctx, 'section-tensors', 1);
      assert.ok(names.includes('sequential/dense/kernel'), `SavedModel tensors (got ${names.join(', ')})`);
      await closeAllEditors(page);
    },
  },
];

/**
 * Opens the workbench and the broken file not-weights.h5 (a line of text) from the explorer, in the
 * custom editor (double-click) or an Inspect panel (context menu); returns the webview once it shows
 * the error state.
 */
async function brokenFileErrorState(ctx: ScenarioContext, how: 'editor' | 'inspect'): Promise<ReturnType<typeof webviewFrame>> {
  const { page } = ctx;
  await ctx.openWorkbench();
  await waitForWorkbench(page);
  const row = await revealInExplorer(page, ['broken', 'not-weights.h5']);
  if (how === 'editor') {
    await row.dblclick();
  } else {
    await contextMenuItems(page, row); // right-click only: a click would open the custom editor
    await clickMenuItem(page, 'Inspect Weights');
  }
  const frame = webviewFrame(page);
  await frame.locator('#error-state h2', { hasText: 'Cannot open not-weights.h5' }).waitFor({ timeout: 30_000 });
  return frame;
}
