import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../../src/cli/main';
import { captureIo } from '../../helpers/captureIo';
import { repoRoot } from '../../helpers/fixtures';

/** The committed regularization examples record loss/val_loss after 60 epochs in their metadata. */
async function gapOf(name: string): Promise<{ severity: string; message: string; evidence: Record<string, unknown> }> {
  const io = captureIo();
  const code = await runCli(['check', path.join(repoRoot, 'examples', 'regularization', name), '--json', '--no-precision', '--workers', '1'], io);
  assert.equal(code, 0, io.stderr.join('\n'));
  const r = JSON.parse(io.stdout.join('\n'));
  const d = r.diagnostics.filter((x: { code: string }) => x.code === 'train-validation-gap');
  assert.equal(d.length, 1, 'one train-validation-gap finding');
  return d[0];
}

test('the plain 256-256 net that overfits gets the train/validation gap warning with the advice', async () => {
  const d = await gapOf('overfitting-plain');
  assert.equal(d.severity, 'warning');
  assert.equal(d.evidence['loss'], 0.0003);
  assert.equal(d.evidence['valLoss'], 0.5552);
  assert.equal(d.evidence['regularizers'], 0);
  assert.match(d.message, /overfits; it has no regularizer or dropout/);
});

test('its L2(0.01) + Dropout(0.2) twin is not called overfitting', async () => {
  const d = await gapOf('regularized-l2-dropout');
  assert.equal(d.severity, 'info');
  assert.equal(d.evidence['dropoutLayers'], 2);
  assert.ok((d.evidence['regularizers'] as number) >= 2);
  assert.match(d.message, /no sign of overfitting/);
});
