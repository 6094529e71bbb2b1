import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { makeFolder } from '../../../src/core/atomicWrite';
import { WeightFileError } from '../../../src/core/errors';
import { makeTempDir } from '../helpers/fixtures';

test('makeFolder creates missing parents, accepts an existing folder, and names what is in the way', async () => {
  const dir = makeTempDir();
  const deep = path.join(dir, 'a', 'b', 'c');
  await makeFolder(deep);
  assert.ok(fs.statSync(deep).isDirectory());
  await makeFolder(deep); // already there
  await Promise.all([1, 2, 3].map(() => makeFolder(path.join(dir, 'x', 'y')))); // made by another call meanwhile
  assert.ok(fs.statSync(path.join(dir, 'x', 'y')).isDirectory());
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, 'mine');
  const dangling = path.join(dir, 'dangling');
  fs.symlinkSync(path.join(dir, 'nowhere'), dangling);
  for (const [target, message] of [
    [file, `${file}: cannot create the folder: a file of that name is in the way.`],
    [path.join(file, 'sub'), `${path.join(file, 'sub')}: cannot create the folder: a part of its path is not a folder.`],
    [path.join(dangling, 'sub'), `${dangling}: cannot create the folder: a file of that name is in the way.`],
  ]) {
    await assert.rejects(makeFolder(target!), (ex: unknown) => {
      assert.ok(WeightFileError.is(ex, 'notFound'), String(ex));
      assert.equal(ex.message, message);
      return true;
    });
  }
  assert.equal(fs.readFileSync(file, 'utf8'), 'mine');
  assert.equal(fs.existsSync(path.join(dir, 'nowhere')), false, 'nothing made through the link');
});
