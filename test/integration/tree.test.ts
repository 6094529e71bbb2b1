/**
 * The Weights tree over a workspace of fixtures: lists the weight files found by the default
 * globs, expands a file into its layers and tensors from the headers, and shows stats once the
 * analysis delivered them.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WeightsTreeNode } from '../../src/extension/weightsTree';
import { api, brokenFile, fixtureOrSkip, referenceKey, referenceOf, waitFor, workspaceDir } from './helpers';

suite('tree', () => {
  test('lists the workspace weight files found by the default globs', async function () {
    const a = await api();
    a.tree.refresh();
    const files = (await a.tree.listFiles()).map((u) => path.relative(workspaceDir(), u.fsPath));
    // broken/ is always made by the runner.
    for (const f of ['broken/truncated.h5', 'broken/not-weights.h5', 'broken/empty.safetensors']) {
      assert.ok(files.includes(f), `${f} listed (got ${files.length} files)`);
    }
    fixtureOrSkip(this, 'README.md');
    for (const f of [
      'fixtures/keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5',
      'fixtures/keras3-keras/keras-masking-lstm-3.8/model.keras',
      'fixtures/tfjs-layers/tfjs-e2e-layers-model/model.json',
      'fixtures/tf-checkpoint-v2/keras-lso-ckpt-tf2.2/ckpt.index',
      'fixtures/tf-savedmodel/keras-lso-savedmodel-tf2.2/saved_model.pb',
      'fixtures/tflite/tflm-hello-world-tf2.11/hello_world_float.tflite',
    ]) {
      assert.ok(files.includes(f), `${f} listed`);
    }
    assert.ok(!files.some((f) => f.endsWith('README.md') || f.endsWith('.bin')), 'no non-weight files');
  });

  test('a Keras .h5 expands to its layers and tensors, then shows mean ± std', async function () {
    this.timeout(60_000);
    const rel = 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5';
    const uri = fixtureOrSkip(this, rel);
    const a = await api();
    const roots = await a.tree.getChildren();
    const fileNode = roots.find((n) => n.kind === 'file' && n.uri.fsPath === uri.fsPath);
    assert.ok(fileNode, 'the file is a root node');
    const children = await a.tree.getChildren(fileNode);
    const layers = children.filter((n): n is WeightsTreeNode & { kind: 'layer' } => n.kind === 'layer');
    assert.deepEqual(
      layers.map((l) => l.layer).filter((n) => n.startsWith('dense')),
      ['dense', 'dense_1', 'dense_2'],
      'layer names from the model config (README: Dense 80, 30, 1)',
    );
    const ref = referenceOf(rel);
    const tensors = await a.tree.getChildren(layers[0]);
    const doc = a.store.find(uri)!;
    const infos = tensors.map((n) => doc.weightFile!.tensors.find((t) => n.kind === 'tensor' && t.name === n.tensor));
    assert.ok(infos.length >= 2 && infos.every((t) => t !== undefined && referenceKey(t) in ref), `tensors of 'dense' are reference tensors`);
    await waitFor('stats in the tree', () => doc.analysis.state === 'done', 60_000);
    const item = a.tree.getTreeItem(tensors[0]!);
    const shape = ref[referenceKey(infos[0]!)]!.shape;
    assert.match(String(item.description), new RegExp(`^\\[${shape.join(',')}\\] float32 .+ ± .+$`));
  });

  test('a broken file shows one error node with its reason', async () => {
    const a = await api();
    const uri = brokenFile('not-weights.h5');
    const children = await a.tree.getChildren({ kind: 'file', uri });
    assert.equal(children.length, 1);
    const node = children[0]!;
    assert.equal(node.kind, 'message');
    const item = a.tree.getTreeItem(node);
    assert.equal(item.label, 'error[unrecognized]');
    assert.ok(String(item.description).includes('not-weights.h5'), 'the message names the file');
    assert.ok(item.iconPath instanceof vscode.ThemeIcon && item.iconPath.id === 'error');
  });
});
