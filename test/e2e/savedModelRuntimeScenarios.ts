/**
 * End-to-end scenario of the TF.js runtime on a tf.keras SavedModel in the real workbench: the
 * explorer offers Probe Gradients and Train Model on a SavedModel folder and on its saved_model.pb
 * (not on a weights-only checkpoint folder), and probing the KWS DS-CNN folder on the WebAssembly
 * setting runs there (the convolution gradients WebAssembly lacks are supplied) with a gradient
 * norm per layer.
 */
import * as assert from 'node:assert/strict';
import { clickMenuItem, closeAllEditors, contextMenuItems, menuWith, pickQuickItem, revealInExplorer, screenshot, waitForWorkbench, webviewFrame, type Scenario } from './workbench';

export const savedModelRuntimeScenarios: Scenario[] = [
  {
    name: 'explorer: a SavedModel folder and its saved_model.pb offer Probe Gradients and Train Model; the probe of the KWS DS-CNN shows per-layer gradient norms',
    needsFixtures: true,
    async run(ctx) {
      const { page } = ctx;
      await ctx.openWorkbench({ 'weightscope.tfBackend': 'wasm' });
      await waitForWorkbench(page);
      const folder = await revealInExplorer(page, ['fixtures', 'tflite', 'mlperf-tiny-kws-dscnn-tf2.3', 'kws_ref_model']);
      const folderItems = await menuWith(page, folder, 'Probe Gradients');
      assert.ok(folderItems.includes('Probe Gradients') && folderItems.includes('Train Model...'), `SavedModel folder menu: ${folderItems.join(' | ')}`);
      // a weights-only checkpoint folder can be inspected but not run (it holds no architecture)
      const ckpt = await revealInExplorer(page, ['fixtures', 'tf-checkpoint-v2', 'keras-lso-ckpt-tf2.2']);
      const ckptItems = await menuWith(page, ckpt, 'Inspect Weights');
      assert.ok(ckptItems.includes('Inspect Weights'), `checkpoint folder menu: ${ckptItems.join(' | ')}`);
      assert.ok(!ckptItems.includes('Probe Gradients') && !ckptItems.includes('Train Model...'), `checkpoint folder menu: ${ckptItems.join(' | ')}`);
      const pb = await revealInExplorer(page, ['fixtures', 'tflite', 'mlperf-tiny-kws-dscnn-tf2.3', 'kws_ref_model', 'saved_model.pb']);
      const pbItems = await contextMenuItems(page, pb);
      await page.keyboard.press('Escape');
      assert.ok(pbItems.includes('Probe Gradients') && pbItems.includes('Train Model...'), `saved_model.pb menu: ${pbItems.join(' | ')}`);
      // probe the folder
      await contextMenuItems(page, folder);
      await clickMenuItem(page, 'Probe Gradients');
      await pickQuickItem(page, 'Synthetic inputs, normal N(0, 1)');
      const frame = webviewFrame(page);
      await frame.locator('#training-title', { hasText: 'Gradient probe: kws_ref_model' }).waitFor({ timeout: 60_000 });
      await frame.locator('#training-status', { hasText: /^Probe done in \d+ ms$/ }).waitFor({ timeout: 180_000 });
      await frame.locator('#training-backend', { hasText: 'Backend: WebAssembly' }).waitFor();
      const rows = frame.locator('#training-summary tr:not(:first-child)');
      const layers = await rows.locator('td:first-child').allTextContents();
      const norms = await rows.locator('td:nth-child(4)').allTextContents();
      for (const name of ['conv2d', 'depthwise_conv2d', 'batch_normalization', 'dense']) {
        const norm = Number(norms[layers.indexOf(name)]);
        assert.ok(layers.includes(name) && Number.isFinite(norm) && norm > 0, `${name}: gradient norm '${norms[layers.indexOf(name)]}' (layers ${layers.join(', ')})`);
      }
      await screenshot(ctx, 'probe-panel-kws-savedmodel', 300);
      await closeAllEditors(page);
    },
  },
];
