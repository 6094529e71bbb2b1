import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { readAllValues } from '../../../src/core/tensorData';
import { WeightFileError } from '../../../src/core/errors';
import { fileSystemError, NodeFileSource, readFolder } from '../../../src/core/nodeFileSource';
import { openLocalPath } from '../../../src/formats/registry';
import { makeTempDir, repoRoot } from '../helpers/fixtures';
import { errnoError, failFsCall } from '../helpers/fsFailure';

const haveMkfifo = spawnSync('mkfifo', ['--version']).status === 0;

function makeFifo(file: string): void {
  assert.equal(spawnSync('mkfifo', [file]).status, 0, `mkfifo ${file}`);
}

test('a FIFO or a device is refused as notRegularFile, saying what it is', { skip: haveMkfifo ? false : 'no mkfifo' }, async () => {
  const fifo = path.join(makeTempDir('weightscope-fifo-'), 'weights.h5');
  makeFifo(fifo);
  await assert.rejects(NodeFileSource.open(fifo), { reason: 'notRegularFile', message: `${fifo}: is not a regular file (a FIFO).` });
  await assert.rejects(NodeFileSource.open('/dev/null'), { reason: 'notRegularFile', message: '/dev/null: is not a regular file (a device).' });
  await assert.rejects(NodeFileSource.open(path.dirname(fifo)), { reason: 'unrecognized', message: /is a folder, not a file\.$/ });
});

// Opening a FIFO for reading waits for a writer: these run in a child process that is killed
// when it hangs, so a regression fails the test instead of stopping the suite.
test('no reader opens a FIFO: HDF5 layout, raw values, sidecars and manifests refuse it first', { skip: haveMkfifo ? false : 'no mkfifo' }, () => {
  const dir = makeTempDir('weightscope-fifo-readers-');
  const fifo = path.join(dir, 'model.json');
  makeFifo(fifo);
  makeFifo(`${fifo}.weightscope.json`);
  const out = path.join(repoRoot, 'out', 'src');
  const script = `
    const fifo = ${JSON.stringify(fifo)};
    const reason = (p) => p.then(() => 'ok', (ex) => ex.reason ?? ex.code ?? String(ex));
    (async () => {
      const { locateRawDatasets, readHdf5Tree } = require(${JSON.stringify(path.join(out, 'formats', 'hdf5Layout.js'))});
      const { readRawValues } = require(${JSON.stringify(path.join(out, 'core', 'tensorData.js'))});
      const { readSidecar } = require(${JSON.stringify(path.join(out, 'core', 'sidecar.js'))});
      const { checkpointFiles } = require(${JSON.stringify(path.join(out, 'analysis', 'checkpointFiles.js'))});
      const values = async () => { for await (const _ of readRawValues({ localPath: fifo, offset: 0, byteLength: 4 }, 'float32')) {} };
      console.log(JSON.stringify({
        layout: locateRawDatasets(fifo).complete,
        tree: readHdf5Tree(fifo) === undefined,
        raw: await reason(values()),
        sidecar: await reason(readSidecar(fifo)),
        files: await checkpointFiles(fifo),
      }));
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, 'the child did not hang on the FIFO');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { layout: false, tree: true, raw: 'notRegularFile', sidecar: 'notRegularFile', files: [fifo] });
});

test('fileSystemError: EACCES, EPERM, EROFS, EISDIR, ENOENT, ELOOP, ENAMETOOLONG name the file; others pass through', () => {
  const f = '/data/w.h5';
  const cases: [string, string, string][] = [
    ['EACCES', 'permissionDenied', `${f}: cannot read the file: permission denied.`],
    ['EPERM', 'permissionDenied', `${f}: cannot read the file: permission denied.`],
    ['EROFS', 'permissionDenied', `${f}: cannot read the file: the file system is read-only.`],
    ['EISDIR', 'notRegularFile', `${f}: cannot read the file: it is a folder.`],
    ['ENOENT', 'notFound', `${f}: cannot read the file: no such file or folder.`],
    ['ELOOP', 'notFound', `${f}: cannot read the file: its path has a loop of symbolic links.`],
    ['ENAMETOOLONG', 'notFound', `${f}: cannot read the file: its path is too long.`],
  ];
  for (const [code, reason, message] of cases) {
    const cause = errnoError(code as 'EACCES', 'open', f);
    const e = fileSystemError(cause, f, 'read the file');
    assert.ok(WeightFileError.is(e, reason as 'notFound'), code);
    assert.equal(e.message, message);
    assert.equal(e.details.file, f);
    assert.equal(e.cause, cause);
  }
  const other = errnoError('EMFILE', 'open', f);
  assert.equal(fileSystemError(other, f, 'read the file'), other, 'not the file’s fault: unchanged');
  // A real error from the file system maps the same way.
  const missing = path.join(makeTempDir('weightscope-fserr-'), 'gone.h5');
  let real: unknown;
  try {
    fs.openSync(missing, 'r');
  } catch (ex) {
    real = ex;
  }
  assert.equal((fileSystemError(real, missing, 'read the file') as WeightFileError).reason, 'notFound');
});

test('a weight shard that cannot be read fails its tensors with permissionDenied naming the shard', async () => {
  const dir = makeTempDir('weightscope-eacces-shard-');
  const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
  for (const f of ['model.json', 'weights.bin']) {
    fs.copyFileSync(path.join(example, f), path.join(dir, f));
  }
  const shard = path.join(dir, 'weights.bin');
  const undo = failFsCall('open', shard, 'EACCES');
  try {
    const file = await openLocalPath(path.join(dir, 'model.json'));
    try {
      assert.ok(file.tensors.length > 0);
      for (const t of file.tensors) {
        await assert.rejects(readAllValues(t), { reason: 'permissionDenied', message: `${shard}: cannot read the file: permission denied.` }, t.name);
      }
    } finally {
      await file.close();
    }
  } finally {
    undo();
  }
});

test('an unreadable folder is reported as permissionDenied, not as empty', async () => {
  const dir = makeTempDir('weightscope-eacces-dir-');
  const undo = failFsCall('readdir', dir, 'EACCES');
  try {
    await assert.rejects(readFolder(dir), { reason: 'permissionDenied', message: `${dir}: cannot list the folder: permission denied.` });
  } finally {
    undo();
  }
});

test('small reads in a row share one read ahead and return the file bytes; a file that ends early still fails as truncated', async () => {
  const dir = makeTempDir();
  const file = path.join(dir, 'many-small.bin');
  const bytes = new Uint8Array(256 * 1024).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
  fs.writeFileSync(file, bytes);
  const probe = await fs.promises.open(file, 'r');
  const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  const original = proto.read;
  let reads = 0;
  proto.read = function (this: unknown, ...args: unknown[]) {
    reads++;
    return original.apply(this, args);
  };
  try {
    const source = await NodeFileSource.open(file);
    for (let at = 0; at < bytes.length; at += 64) {
      assert.deepEqual(await source.read(at, 64), bytes.subarray(at, at + 64), `bytes at ${at}`);
    }
    assert.ok(reads <= 3, `${reads} file reads for ${bytes.length / 64} small reads`);
    await source.close();

    // The file shrinks after it was opened: the read-ahead falls short and the read reports it.
    const shrunk = await NodeFileSource.open(file);
    assert.deepEqual(await shrunk.read(0, 16), bytes.subarray(0, 16));
    fs.truncateSync(file, 100);
    await assert.rejects(shrunk.read(16, 200), (ex: unknown) => ex instanceof WeightFileError && ex.reason === 'truncated' && ex.message.includes('offset 100'));
    await shrunk.close();
  } finally {
    proto.read = original;
  }
});
