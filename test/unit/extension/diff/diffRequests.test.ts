/**
 * Tests of the checks of the diff webview's request parameters.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffSideOf, maxTensorNameChars, tensorPairingOf } from '../../../../src/extension/diff/diffRequests';

test("diffSideOf: 'a' and 'b' only; any other value is refused instead of being taken as B (saveSidecar would write B's sidecar)", () => {
  assert.equal(diffSideOf('a'), 'a');
  assert.equal(diffSideOf('b'), 'b');
  for (const bad of ['A', 'c', '', undefined, null, 0, 1, ['a'], { side: 'a' }]) {
    assert.throws(() => diffSideOf(bad), (ex: unknown) => ex instanceof RangeError && /must be 'a' or 'b'/.test(ex.message), String(bad));
  }
});

test('tensorPairingOf: a tensor name paired with a name or null; missing, empty, non-string or huge names are refused', () => {
  assert.deepEqual(tensorPairingOf('dense/kernel', 'dense_1/kernel'), ['dense/kernel', 'dense_1/kernel']);
  assert.deepEqual(tensorPairingOf('dense/kernel', null), ['dense/kernel', null]);
  assert.throws(() => tensorPairingOf(undefined, 'x'), /A's tensor of a pairing must be a tensor name, not undefined/);
  assert.throws(() => tensorPairingOf(3, 'x'), /A's tensor/);
  assert.throws(() => tensorPairingOf('', 'x'), /A's tensor/);
  assert.throws(() => tensorPairingOf('x', undefined), /B's tensor/);
  assert.throws(() => tensorPairingOf('x', { name: 'y' }), /B's tensor .* not \{"name":"y"\}/);
  assert.throws(() => tensorPairingOf('x'.repeat(maxTensorNameChars + 1), null), /A's tensor/);
});
