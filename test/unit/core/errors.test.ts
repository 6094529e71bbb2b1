import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { openLocalPath } from '../../../src/formats/registry';
import { makeTempDir } from '../helpers/fixtures';

test('a WeightFileError message stays on one line: control characters quoted from a file are escaped', () => {
  const e = new WeightFileError('corrupt', "x.h5: starts with 'a\nb\r\tc\u0001'.");
  assert.equal(e.message, "x.h5: starts with 'a\\nb\\r\\tc\\u0001'.");
});

test('a checkpoint state file of several lines is quoted in a one-line error', async () => {
  const dir = makeTempDir('weightscope-state-');
  const file = path.join(dir, 'checkpoint');
  fs.writeFileSync(file, 'all_model_checkpoint_paths: "x"\nfoo\n');
  await assert.rejects(openLocalPath(file), (ex: unknown) => {
    assert.ok(WeightFileError.is(ex, 'corrupt'), String(ex));
    assert.equal(ex.message, `${file}: the checkpoint state file has no model_checkpoint_path line (it starts 'all_model_checkpoint_paths: "x" foo').`);
    return true;
  });
});
