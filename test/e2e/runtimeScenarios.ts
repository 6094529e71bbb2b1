/**
 * End-to-end scenarios of the TF.js runtime panels in the real workbench (WebAssembly backend):
 * Probe Gradients on the badly initialized example model (per-layer gradient norms, chart, table,
 * vanishing verdict), Run Experiment -> Initialization with two epochs per variant (three variants'
 * curves, probe verdicts, checkpoints in the Weights tree), Run Experiment -> Precision on a CSV
 * chosen in the file dialog (layers sized from the data), and a training panel restored after a
 * window reload with the run shown as interrupted.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { answerTrainingPrompts, canvasPaintedPixels, chooseInFileDialog, closeAllEditors, pickQuickItem, runCommand, screenshot, waitForWorkbench, webviewFrame, weightscopeActivityIcon, type Scenario, type ScenarioContext } from './workbench';

/** Repository root (this file is out/test/e2e/runtimeScenarios.js once built). */
const repoRoot = path.resolve(__dirname, '..', '..', '..');

/** Copies a committed example model folder (examples/initialization/<name>) into the workspace as `<as>/`. */
function copyExample(ctx: ScenarioContext, name: string, as: string): void {
  const from = path.join(repoRoot, 'examples', 'initialization', name);
  const to = path.join(ctx.workspace, as);
  fs.mkdirSync(to, { recursive: true });
  for (const f of ['model.json', 'weights.bin']) {
    fs.copyFileSync(path.join(from, f), path.join(to, f));
  }
}

/** Picks the workspace model `<folder>/model.json` in the model quick pick (rows are described by their folder). */
async function pickWorkspaceModel(page: Page, folder: string): Promise<void> {
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor();
  await input.fill(folder);
  await pickQuickItem(page, folder);
}

/** Shows the Weights tree and waits for a row containing `text` (run folders sort last: jump to the end). */
async function treeRow(page: Page, text: string): Promise<void> {
  await weightscopeActivityIcon(page).click();
  await page.locator('.part.sidebar .pane-body .monaco-list-row').first().click();
  await page.keyboard.press('End');
  await page.locator('.part.sidebar .pane-body .monaco-list-row', { hasText: text }).first().waitFor({ timeout: 60_000 });
}

export const runtimeScenarios: Scenario[] = [
  {
    name: 'Probe Gradients from the palette: per-layer gradient norms (chart and table) and the vanishing verdict, back after a reload',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      copyExample(ctx, 'bad-init-uniform-0.01', 'bad-init');
      await ctx.openWorkbench({ 'weightscope.tfBackend': 'wasm' });
      await waitForWorkbench(page);
      await runCommand(page, 'Weightscope: Probe Gradients');
      await pickWorkspaceModel(page, 'bad-init');
      await pickQuickItem(page, 'Synthetic inputs, normal N(0, 1)');
      const frame = webviewFrame(page);
      await frame.locator('#training-title', { hasText: 'Gradient probe: model.json' }).waitFor({ timeout: 60_000 });
      await frame.locator('#training-status', { hasText: /^Probe done in \d+ ms$/ }).waitFor({ timeout: 90_000 });
      await frame.locator('#training-backend', { hasText: 'Backend: WebAssembly' }).waitFor();
      // the table: one row per layer of the 784-128-128-10 model, with a gradient norm each
      const rows = frame.locator('#training-summary tr:not(:first-child)');
      assert.deepEqual(await rows.locator('td:first-child').allTextContents(), ['hidden1', 'hidden2', 'output']);
      for (const norm of await rows.locator('td:nth-child(4)').allTextContents()) {
        assert.ok(Number.isFinite(Number(norm)) && Number(norm) > 0, `gradient norm '${norm}'`);
      }
      // the chart of the gradient norm by depth is drawn (poll: it paints on the next animation frame)
      let painted = 0;
      for (let i = 0; i < 40 && painted <= 200; i++) {
        painted = await canvasPaintedPixels(frame, '#chart-depth');
        if (painted <= 200) {
          await page.waitForTimeout(250);
        }
      }
      assert.ok(painted > 200, `gradient-norm chart painted (${painted} pixels)`);
      // the measured verdict on U(-0.01, 0.01): vanishing; the forecast from the weights alone agrees
      const measured = frame.locator('#probe-diagnostics .diag-column').first();
      await measured.locator('li', { hasText: 'gradient-vanishing' }).first().waitFor();
      await frame.locator('#probe-diagnostics .diag-column').nth(1).locator('li', { hasText: 'signal-vanishing' }).first().waitFor();
      await screenshot(ctx, 'probe-panel-bad-init', 300);
      // a finished probe comes back after a reload with its table, chart and verdicts
      await page.waitForTimeout(6000); // the workbench saves webview state on a delay
      await page.reload();
      await waitForWorkbench(page);
      await page.locator('.tabs-container .tab', { hasText: 'Gradient probe: model.json' }).first().waitFor({ timeout: 90_000 });
      const again = webviewFrame(page);
      await again.locator('#training-status[title="Restored after a window reload"]', { hasText: /^Probe done in \d+ ms$/ }).waitFor({ timeout: 60_000 });
      assert.deepEqual(await again.locator('#training-summary tr:not(:first-child) td:first-child').allTextContents(), ['hidden1', 'hidden2', 'output']);
      await again.locator('#probe-diagnostics .diag-column').first().locator('li', { hasText: 'gradient-vanishing' }).first().waitFor();
      painted = 0;
      for (let i = 0; i < 40 && painted <= 200; i++) {
        painted = await canvasPaintedPixels(again, '#chart-depth');
        if (painted <= 200) {
          await page.waitForTimeout(250);
        }
      }
      assert.ok(painted > 200, `restored gradient-norm chart painted (${painted} pixels)`);
      await closeAllEditors(page);
    },
  },
  {
    name: 'Run Experiment -> Initialization from the palette: three variants trained side by side, probe verdicts, checkpoints in the tree',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      await ctx.openWorkbench({ 'weightscope.tfBackend': 'wasm', 'weightscope.experimentEpochs': 2 });
      await waitForWorkbench(page);
      await runCommand(page, 'Weightscope: Run Experiment');
      await pickQuickItem(page, 'Initialization:');
      await pickQuickItem(page, 'Synthetic (default)');
      const frame = webviewFrame(page);
      await frame.locator('#training-title', { hasText: 'Experiment: initialization' }).waitFor({ timeout: 60_000 });
      await frame.locator('#training-status', { hasText: 'Done: checkpoints in' }).waitFor({ timeout: 150_000 });
      await frame.locator('#training-data', { hasText: 'Data: synthetic clusters: 640 samples, 784 features, 10 classes' }).waitFor();
      const variants = ['uniform-0.01', 'glorot-uniform', 'he-normal'];
      for (const v of variants) {
        const row = frame.locator(`#training-summary tr[data-run="${v}"]`);
        assert.equal(await row.locator('td:nth-child(2)').textContent(), '2', `${v}: two epochs`);
        assert.ok(Number(await row.locator('td:nth-child(4)').textContent()) > 0, `${v}: a validation loss`);
      }
      assert.match((await frame.locator('#training-summary tr[data-run="uniform-0.01"] td:nth-child(9)').textContent()) ?? '', /gradient-vanishing/);
      assert.equal(await frame.locator('#training-summary tr[data-run="he-normal"] td:nth-child(9)').textContent(), 'none');
      // both variants' curves: the loss chart holds 3 runs x (loss, val_loss) in its legend and is painted
      let painted = 0;
      for (let i = 0; i < 40 && painted <= 200; i++) {
        painted = await canvasPaintedPixels(frame, '#chart-loss');
        if (painted <= 200) {
          await page.waitForTimeout(250);
        }
      }
      assert.ok(painted > 200, `loss chart painted (${painted} pixels)`);
      await screenshot(ctx, 'experiment-initialization', 300);
      const out = path.join(ctx.workspace, 'weightscope-runs', 'experiments', 'initialization');
      for (const v of variants) {
        const epochs = fs.readdirSync(path.join(out, v)).filter((d) => d.startsWith('epoch-')).sort();
        assert.deepEqual(epochs, ['epoch-000', 'epoch-001', 'epoch-002'], `${v} checkpoints`);
        assert.ok(fs.statSync(path.join(out, v, 'epoch-002', 'weights.bin')).size > 4 * 784 * 128, `${v} weights written`);
      }
      await treeRow(page, 'epoch-002');
      await screenshot(ctx, 'experiment-checkpoints-tree', 300);
      await closeAllEditors(page);
    },
  },
  {
    name: 'Run Experiment -> Precision on a CSV chosen in the file dialog: layers sized from the data, float32/float16/int8 side by side',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      // three classes around 0, 5 and 10 on four features; header row, label in the last column, sorted by class
      const lines = ['a,b,c,d,label'];
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < 40; i++) {
          lines.push([0, 1, 2, 3].map((j) => (5 * c + Math.sin(3.7 * i + j + c)).toFixed(4)).concat(String(c)).join(','));
        }
      }
      const csv = path.join(ctx.workspace, 'data', 'blobs.csv');
      fs.mkdirSync(path.dirname(csv), { recursive: true });
      fs.writeFileSync(csv, `${lines.join('\n')}\n`);
      await ctx.openWorkbench({ 'weightscope.tfBackend': 'wasm', 'weightscope.experimentEpochs': 2 });
      await waitForWorkbench(page);
      await runCommand(page, 'Weightscope: Run Experiment');
      await pickQuickItem(page, 'Precision:');
      await pickQuickItem(page, 'Choose data file...');
      await chooseInFileDialog(page, csv);
      const frame = webviewFrame(page);
      await frame.locator('#training-title', { hasText: 'Experiment: precision on blobs.csv' }).waitFor({ timeout: 60_000 });
      await frame.locator('#training-status', { hasText: 'Done: checkpoints in' }).waitFor({ timeout: 120_000 });
      await frame.locator('#training-data', { hasText: 'Data: blobs.csv: 120 samples, 4 features, 3 classes' }).waitFor();
      for (const v of ['float32', 'float16', 'int8 (uint8 affine)']) {
        const row = frame.locator(`#training-summary tr[data-run="${v}"]`);
        const accuracy = Number(await row.locator('td:nth-child(8)').textContent());
        assert.ok(accuracy >= 0 && accuracy <= 1, `${v} accuracy ${accuracy}`);
        assert.ok(Number.isFinite(Number(await row.locator('td:nth-child(7)').textContent())), `${v} output drift`);
      }
      await screenshot(ctx, 'experiment-precision-csv', 300);
      const out = path.join(ctx.workspace, 'weightscope-runs', 'experiments', 'blobs', 'precision');
      for (const dir of ['float32/epoch-002', 'float16', 'uint8']) {
        const m = JSON.parse(fs.readFileSync(path.join(out, dir, 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
        const kernels = m.weightsManifest.flatMap((g) => g.weights).filter((w) => w.name.endsWith('kernel')).map((w) => w.shape);
        assert.deepEqual(kernels, [[4, 64], [64, 64], [64, 3]], `${dir}: input and output layers sized from the CSV`);
      }
      await closeAllEditors(page);
    },
  },
  {
    name: 'a training panel is restored after a reload (serializer): the interrupted run with its curves',
    needsFixtures: false,
    async run(ctx) {
      const { page } = ctx;
      copyExample(ctx, 'good-init-glorot-uniform', 'good-init');
      await ctx.openWorkbench({ 'weightscope.tfBackend': 'wasm' });
      await waitForWorkbench(page);
      await runCommand(page, 'Weightscope: Train Model...');
      await pickWorkspaceModel(page, 'good-init');
      // data: synthetic; loss: auto; optimizer: adam; then the numbers (400 epochs: still running at the reload)
      for (const title of ['Synthetic data', 'auto', 'adam']) {
        await pickQuickItem(page, title);
      }
      await answerTrainingPrompts(page, 400);
      let frame = webviewFrame(page);
      await frame.locator('#training-title', { hasText: 'Training: model.json' }).waitFor({ timeout: 60_000 });
      const epochCell = () => frame.locator('#training-summary tr[data-run] td:nth-child(2)').first();
      await frame.locator('#training-summary tr[data-run] td:nth-child(2)', { hasText: /^([2-9]|[1-9][0-9]+)$/ }).first().waitFor({ timeout: 120_000 });
      await page.waitForTimeout(6000); // the workbench saves webview state on a delay (longer on a busy machine)
      const before = Number(await epochCell().textContent());
      await page.reload();
      await waitForWorkbench(page);
      await page.locator('.tabs-container .tab', { hasText: 'Training: model.json' }).first().waitFor({ timeout: 90_000 });
      frame = webviewFrame(page);
      await frame.locator('#training-status', { hasText: /^Interrupted: the window reloaded while this ran, which stopped it\. Checkpoints were kept \(up to epoch-\d{3}\)\.$/ }).waitFor({ timeout: 60_000 });
      assert.ok(await frame.locator('#training-cancel').isHidden(), 'no Cancel on an interrupted run');
      const restored = Number(await epochCell().textContent());
      assert.ok(restored >= 2 && restored >= before, `restored epochs ${restored} (the panel had shown ${before})`);
      // the restored epochs are those of the run folder's checkpoints
      const runs = path.join(ctx.workspace, 'weightscope-runs', 'runs');
      const runDir = path.join(runs, fs.readdirSync(runs)[0]!);
      const status = (await frame.locator('#training-status').textContent()) ?? '';
      const last = /up to (epoch-\d{3})/.exec(status)![1]!;
      assert.equal(Number(last.slice(6)), restored, `status names the last restored checkpoint (${status})`);
      assert.ok(fs.existsSync(path.join(runDir, last, 'model.json')), `${last} is on disk`);
      // as the status says, the reload stopped the run: no checkpoint appears any more (an epoch takes under a second)
      const count = () => fs.readdirSync(runDir).filter((d) => d.startsWith('epoch-')).length;
      const atRestore = count();
      await page.waitForTimeout(4000);
      assert.equal(count(), atRestore, 'no epoch written after the reload');
      let painted = 0;
      for (let i = 0; i < 40 && painted <= 200; i++) {
        painted = await canvasPaintedPixels(frame, '#chart-loss');
        if (painted <= 200) {
          await page.waitForTimeout(250);
        }
      }
      assert.ok(painted > 200, `restored loss chart painted (${painted} pixels)`);
      assert.ok((await canvasPaintedPixels(frame, '#chart-grad')) > 200, 'restored gradient-norm chart painted (from the saved steps)');
      await screenshot(ctx, 'training-panel-restored', 300);
      await closeAllEditors(page);
    },
  },
];
