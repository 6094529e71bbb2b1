import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonDepth, maxJsonDepth, parseFileJson } from '../../../src/core/json';

test('jsonDepth counts nested arrays and objects, not brackets inside strings', () => {
  assert.equal(jsonDepth('1'), 0);
  assert.equal(jsonDepth('"[[{"'), 0);
  assert.equal(jsonDepth('[[], [[]]]'), 3);
  assert.equal(jsonDepth('{"a": "[[\\"{", "b": [{"c": "\\\\"}]}'), 3);
});

test('parseFileJson parses nesting up to maxJsonDepth and refuses deeper text with a SyntaxError', () => {
  const nested = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
  let v = parseFileJson(nested(maxJsonDepth)) as unknown[];
  let depth = 1;
  while (Array.isArray(v[0])) {
    v = v[0] as unknown[];
    depth++;
  }
  assert.equal(depth, maxJsonDepth);
  assert.throws(() => parseFileJson(nested(maxJsonDepth + 1)), (ex: unknown) => ex instanceof SyntaxError && /nested 513 levels deep, more than the 512 accepted/.test(ex.message));
  assert.throws(() => parseFileJson('{"a": '), SyntaxError);
});
